// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false" | FileCheck %s --check-prefix=GEOM
// RUN: not moec-opt %s --moec-emit-cuda="arch=sm_75 compile=false" 2>&1 | FileCheck %s --check-prefix=ARCH

// Tests that the CUDA emitter specializes each wrapper on the static sizes
// (T stays symbolic), picks the architecture's tile configuration for the
// tensor-core GEMM, and records launch geometry as affine-ceil functions of T.

// CHECK: struct moec_cuda_args { void* ptr[24]; long long tokens; };
// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(256) moec_k0_softmax(moec_cuda_args args)
// CHECK: const long long T = args.tokens;
// CHECK: const __nv_bfloat16* in0 = static_cast<const __nv_bfloat16*>(args.ptr[0]);
// CHECK: moec_ck::softmax<__nv_bfloat16, 256>(in0, out0, T, 8, 1);
// CHECK-LABEL: moec_k1_elementwise(moec_cuda_args args)
// CHECK: const long long n = 8 * T;
// CHECK: i += static_cast<long long>(gridDim.x) * 256
// CHECK: const auto a1 = in1[(0) * (8) + i1];
// CHECK: static_cast<float>(a0)
// CHECK: static_cast<__nv_bfloat16>(
// A token-dependent tensor-core GEMM gets a decode and a prefill variant.
// CHECK: [decode tile, T in [0, 64]]
// CHECK-LABEL: moec_k2_linear_decode(moec_cuda_args args)
// CHECK: moec_ck::linear<__nv_bfloat16, 16, 32, 64, 4, 6>(in0, in1, nullptr, out0, T, 8, 4);
// CHECK: [prefill tile, T in [65, inf]]
// CHECK-LABEL: moec_k2_linear_prefill(moec_cuda_args args)
// CHECK: moec_ck::linear<__nv_bfloat16, 128, 128, 32, 8, 4>(in0, in1, nullptr, out0, T, 8, 4);

// Softmax: one warp per row, 8 rows per block: ceil(T / 8) blocks.
// GEOM: kernel.launch "softmax"{{.*}}block = 256 : i64, grid = array<i64: 0, 1, 8, 1, 0, 1>
// Elementwise over 8*T elements, 4 per thread: ceil(8T / 1024).
// GEOM: kernel.launch "elementwise"{{.*}}block = 256 : i64, grid = array<i64: 0, 8, 1024, 1, 0, 1>
// GEOM: kernel.launch "linear"{{.*}}variants = [{block = 128 : i64, grid = array<i64: 15, 1, 16, 1, 0, 1>, max_tokens = 64 : i64, min_tokens = 0 : i64, shared_bytes = {{[1-9][0-9]*}} : i64, symbol = "moec_k2_linear_decode"}, {block = 256 : i64, {{.*}}min_tokens = 65 : i64{{.*}}symbol = "moec_k2_linear_prefill"}]

// ARCH: unknown CUDA architecture 'sm_75' (supported: sm_80, sm_86, sm_89, sm_90a)
module {
  func.func @main(%x: tensor<?x8xbf16>) -> tensor<?x4xbf16> {
    %w = kernel.constant dense<0.5> : tensor<8xbf16> -> tensor<8xbf16>
    %m = kernel.constant dense<0.5> : tensor<4x8xbf16> -> tensor<4x8xbf16>
    %s = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<?x8xbf16>) -> tensor<?x8xbf16>
    %e = kernel.launch "elementwise" (%s, %w) {spec = {}} : (tensor<?x8xbf16>, tensor<8xbf16>) -> tensor<?x8xbf16> {
    ^bb0(%a: bf16, %b: bf16):
      %af = arith.extf %a : bf16 to f32
      %bf = arith.extf %b : bf16 to f32
      %p = arith.mulf %af, %bf : f32
      %r = arith.truncf %p : f32 to bf16
      kernel.yield %r : bf16
    }
    %y = kernel.launch "linear" (%e, %m) {spec = {transpose_weight = true, has_bias = false}} : (tensor<?x8xbf16>, tensor<4x8xbf16>) -> tensor<?x4xbf16>
    return %y : tensor<?x4xbf16>
  }
}
