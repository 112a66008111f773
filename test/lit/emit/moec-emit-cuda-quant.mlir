// RUN: moec-opt %s --split-input-file --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-emit-cuda="arch=sm_90a gemm=wgmma compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=WGMMA
// RUN: moec-opt %s --split-input-file --moec-emit-cuda="arch=sm_89 compile=false" -o /dev/null
// RUN: not moec-opt %s --split-input-file --moec-emit-cuda="arch=sm_80 compile=false" -o /dev/null 2>&1 | FileCheck %s --check-prefix=SM80

// Tests that GEMM launches over quantized weights instantiate the *_q
// templates with the weight format read from the weight operand's element
// type (1 = int8, 2 = packed int4, 3 = fp8 E4M3), the group from the spec
// and the scales as the last operand(s); sizes come from the activations
// (an int4 weight's last dimension is ceil(K/2)); decode tiles use TK = 64.
// With --gpu-gemm=wgmma they stay on mma.sync. fp8 weights are refused
// below sm_89, naming the node.

// CHECK-LABEL: moec_k0_linear_decode(moec_cuda_args args)
// CHECK: const signed char* in1 = static_cast<const signed char*>(args.ptr[1]);
// CHECK: moec_ck::linear_q<__nv_bfloat16, 1, 16, 32, 64, 4, 6>(in0, in1, in3, 8, in2, out0, T, 16, 8);
// CHECK-LABEL: moec_k0_linear_prefill(moec_cuda_args args)
// CHECK: moec_ck::linear_q<__nv_bfloat16, 1, 128, 128, 32, 8, 4>(in0, in1, in3, 8, in2, out0, T, 16, 8);
// WGMMA: moec_ck::linear_q<__nv_bfloat16, 1, 16, 32, 64, 4, 6>(
// WGMMA: moec_ck::linear_q<__nv_bfloat16, 1, 128, 128, 32, 8, 4>(
// WGMMA-NOT: sm90::linear
module {
  func.func @main(%x: tensor<?x16xbf16>) -> tensor<?x8xbf16> {
    %q = kernel.constant dense<3> : tensor<8x16xi8> -> tensor<8x16xi8>
    %b = kernel.constant dense<0.5> : tensor<8xbf16> -> tensor<8xbf16>
    %s = kernel.constant dense<0.01> : tensor<8x2xf32> -> tensor<8x2xf32>
    %y = kernel.launch "linear" (%x, %q, %b, %s) {spec = {transpose_weight = true, has_bias = true, quant_group = 8 : i64, quant_bits = 8 : i64}} : (tensor<?x16xbf16>, tensor<8x16xi8>, tensor<8xbf16>, tensor<8x2xf32>) -> tensor<?x8xbf16>
    return %y : tensor<?x8xbf16>
  }
}

// -----

// CHECK-LABEL: moec_k1_moe_gemm_up_decode(moec_cuda_args args)
// CHECK: moec_ck::moe_gemm_up_q<__nv_bfloat16, 2, 16, 32, 64, 4, 6>(in0, in1, in2, in3, in5, nullptr, in4, in6, nullptr, out0, T, 2, 4, 33, 24, 16, 3, 0,
// CHECK-LABEL: moec_k2_moe_gemm_down_decode(moec_cuda_args args)
// CHECK: moec_ck::moe_gemm_down_q<__nv_bfloat16, 2, 16, 32, 64, 4, 6>(in0, in1, in2, in3, in5, nullptr, in4, out0, T, 2, 4, 33, 24, 24);
// WGMMA: moec_ck::moe_gemm_up_q<__nv_bfloat16, 2, 16, 32, 64, 4, 6>(
// WGMMA-NOT: sm90::moe_gemm
module {
  func.func @main(%x: tensor<?x33xbf16>, %w: tensor<?x2xbf16>, %ids: tensor<?x2xi64>) -> tensor<?x33xbf16> {
    %q1 = kernel.constant dense<17> : tensor<4x24x17xi8> -> tensor<4x24x17xi8>
    %s1 = kernel.constant dense<0.02> : tensor<4x24x3xf32> -> tensor<4x24x3xf32>
    %q3 = kernel.constant dense<17> : tensor<4x24x17xi8> -> tensor<4x24x17xi8>
    %s3 = kernel.constant dense<0.02> : tensor<4x24x3xf32> -> tensor<4x24x3xf32>
    %q2 = kernel.constant dense<17> : tensor<4x33x12xi8> -> tensor<4x33x12xi8>
    %s2 = kernel.constant dense<0.02> : tensor<4x33x1xf32> -> tensor<4x33x1xf32>
    %p:2 = kernel.launch "moe_permute" (%ids) {spec = {experts = 4 : i64}} : (tensor<?x2xi64>) -> (tensor<5xi32>, tensor<?x2xi32>)
    %h = kernel.launch "moe_gemm_up" (%x, %p#1, %p#0, %q1, %q3, %s1, %s3) {spec = {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64, has_fc1_bias = false, has_fc2_bias = false, has_fc3 = true, has_fc3_bias = false, quant_groups = array<i64: 16, 24, 16>, quant_bits = 4 : i64}} : (tensor<?x33xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x24x17xi8>, tensor<4x24x17xi8>, tensor<4x24x3xf32>, tensor<4x24x3xf32>) -> tensor<?x2x24xbf16>
    %d = kernel.launch "moe_gemm_down" (%h, %p#1, %p#0, %q2, %w, %s2) {spec = {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64, has_fc1_bias = false, has_fc2_bias = false, has_fc3 = true, has_fc3_bias = false, quant_groups = array<i64: 16, 24, 16>, quant_bits = 4 : i64}} : (tensor<?x2x24xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x33x12xi8>, tensor<?x2xbf16>, tensor<4x33x1xf32>) -> tensor<?x2x33xbf16>
    %y = kernel.launch "moe_combine" (%d) {spec = {}} : (tensor<?x2x33xbf16>) -> tensor<?x33xbf16>
    return %y : tensor<?x33xbf16>
  }
}

// -----

// CHECK-LABEL: moec_k0_linear_decode(moec_cuda_args args)
// CHECK: const unsigned char* in1 = static_cast<const unsigned char*>(args.ptr[1]);
// CHECK: moec_ck::linear_q<__nv_bfloat16, 3, 16, 32, 64, 4, 6>(in0, in1, in2, 7, nullptr, out0, T, 16, 8);
// SM80: error: fp8 weights need --target sm_89 or newer (the target is sm_80)
module {
  func.func @main(%x: tensor<?x16xbf16>) -> tensor<?x8xbf16> {
    %q = kernel.constant dense<1.5> : tensor<8x16xf8E4M3FN> -> tensor<8x16xf8E4M3FN>
    %s = kernel.constant dense<0.01> : tensor<8x3xf32> -> tensor<8x3xf32>
    %y = kernel.launch "linear" (%x, %q, %s) {spec = {transpose_weight = true, has_bias = false, quant_group = 7 : i64, quant_bits = 8 : i64}} : (tensor<?x16xbf16>, tensor<8x16xf8E4M3FN>, tensor<8x3xf32>) -> tensor<?x8xbf16>
    return %y : tensor<?x8xbf16>
  }
}
