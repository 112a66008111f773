// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a gemm=wgmma compile=false print-source=true" -o /dev/null | FileCheck %s
// RUN: not moec-opt %s --moec-emit-cuda="arch=sm_80 gemm=wgmma compile=false" 2>&1 | FileCheck %s --check-prefix=ARCH

// Tests that the opt-in Hopper path includes the wgmma header and
// instantiates the sm90 GEMMs with their tile rules (TK = 64, 64-row
// warpgroups plus one producer warp: 5 warps for 64 rows, 9 for 128), and
// that it is refused for an architecture without wgmma.
// CHECK: #include "moec_cuda_gemm_sm90.cuh"
// CHECK: __launch_bounds__(160) moec_k0_linear_decode(moec_cuda_args args)
// CHECK: moec_ck::sm90::linear<__nv_bfloat16, 64, 128, 64, 5, 6>(in0, in1, nullptr, out0, T, 64, 32);
// CHECK: __launch_bounds__(288) moec_k0_linear_prefill(moec_cuda_args args)
// CHECK: moec_ck::sm90::linear<__nv_bfloat16, 128, 128, 64, 9, 4>(in0, in1, nullptr, out0, T, 64, 32);
// ARCH: the wgmma GEMM kernels need sm_90a, not sm_80
module {
  func.func @main(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
    %m = kernel.constant dense<0.5> : tensor<32x64xbf16> -> tensor<32x64xbf16>
    %y = kernel.launch "linear" (%x, %m) {spec = {transpose_weight = true, has_bias = false}} : (tensor<?x64xbf16>, tensor<32x64xbf16>) -> tensor<?x32xbf16>
    return %y : tensor<?x32xbf16>
  }
}
