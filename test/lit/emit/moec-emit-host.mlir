// RUN: moec-opt %s --moec-emit-host="compile=false print-source=true" -o /dev/null | FileCheck %s

// Tests that the host emitter specializes each kernel on the static sizes,
// keeps the token count T symbolic, and inlines fused elementwise bodies.

// CHECK: extern "C" int32_t moec_k0_softmax(void* const* args, int64_t T)
// CHECK: moec_hk::softmax<float>(in0, out0, T, 8, 1);
// CHECK: extern "C" int32_t moec_k1_elementwise(void* const* args, int64_t T)
// CHECK: for (int64_t i0 = 0; i0 < T; ++i0)
// CHECK: for (int64_t i1 = 0; i1 < 8; ++i1)
// CHECK: const auto a1 = in1[(0) * (8) + i1];
// CHECK: const float v0 = static_cast<float>(a0 * a1);
// CHECK: out0[i] = v0;
// CHECK: extern "C" int32_t moec_k2_linear(void* const* args, int64_t T)
// CHECK: moec_hk::linear<float>(in0, in1, nullptr, out0, T, 8, 4, false);
module {
  func.func @main(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
    %w = kernel.constant dense<0.5> : tensor<8xf32> -> tensor<8xf32>
    %m = kernel.constant dense<0.5> : tensor<8x4xf32> -> tensor<8x4xf32>
    %s = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    %e = kernel.launch "elementwise" (%s, %w) {spec = {}} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
    ^bb0(%a: f32, %b: f32):
      %p = arith.mulf %a, %b : f32
      kernel.yield %p : f32
    }
    %y = kernel.launch "linear" (%e, %m) {spec = {transpose_weight = false, has_bias = false}} : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
