// RUN: moec-opt %s --moec-emit-host="compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=HOST
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=CUDA
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_80 compile=false" | FileCheck %s --check-prefix=GEOM

// Tests that an rms_norm launch is specialized on the normalized size (the
// product of the axes from `axis` on) with the rows as a function of T, the
// epsilon as an exact float literal, and a typed null scale when it has none;
// on the GPU one warp per row, so 8 rows per 256-thread block.
// HOST-LABEL: moec_k0_rms_norm
// HOST: moec_hk::rms_norm<float, float, float>(in0, in1, out0, 4 * T, 16, 0x1.0c6f7ap-20f);
// HOST-LABEL: moec_k1_rms_norm
// HOST: moec_hk::rms_norm<float, float, float>(in0, static_cast<const float*>(nullptr), out0, T, 64, 0x1.4f8b58p-17f);
// CUDA-LABEL: __launch_bounds__(256) moec_k0_rms_norm(moec_cuda_args args)
// CUDA: moec_ck::rms_norm<float, float, float, 256>(in0, in1, out0, 4 * T, 16, 0x1.0c6f7ap-20f);
// CUDA-LABEL: moec_k1_rms_norm(moec_cuda_args args)
// CUDA: moec_ck::rms_norm<float, float, float, 256>(in0, static_cast<const float*>(nullptr), out0, T, 64, 0x1.4f8b58p-17f);
// GEOM: kernel.launch "rms_norm"{{.*}}block = 256 : i64, grid = array<i64: 0, 4, 8, 1, 0, 1>
// GEOM: kernel.launch "rms_norm"{{.*}}block = 256 : i64, grid = array<i64: 0, 1, 8, 1, 0, 1>
// With a fused residual (moec-fuse-residual-norm) the call reads x and the
// residual and writes the norm and the sum.
// HOST-LABEL: moec_k2_rms_norm
// HOST: moec_hk::rms_norm_residual<float, float, float>(in0, in1, in2, out0, out1, T, 64, 0x1.4f8b58p-17f);
// CUDA-LABEL: moec_k2_rms_norm(moec_cuda_args args)
// CUDA: moec_ck::rms_norm_residual<float, float, float, 256>(in0, in1, in2, out0, out1, T, 64, 0x1.4f8b58p-17f);
module {
  func.func @main(%x: tensor<?x4x16xf32>, %z: tensor<?x64xf32>) -> (tensor<?x4x16xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
    %w = kernel.constant dense<1.5> : tensor<16xf32> -> tensor<16xf32>
    %y = kernel.launch "rms_norm" (%x, %w) {spec = {axis = 2 : i64, epsilon = 1.0e-6 : f32, has_scale = true}} : (tensor<?x4x16xf32>, tensor<16xf32>) -> tensor<?x4x16xf32>
    %n = kernel.launch "rms_norm" (%z) {spec = {axis = 1 : i64, epsilon = 1.0e-5 : f32, has_scale = false}} : (tensor<?x64xf32>) -> tensor<?x64xf32>
    %w64 = kernel.constant dense<0.5> : tensor<64xf32> -> tensor<64xf32>
    %r:2 = kernel.launch "rms_norm" (%z, %n, %w64) {spec = {axis = 1 : i64, epsilon = 1.0e-5 : f32, has_scale = true, has_residual = true}} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>)
    return %y, %n, %r#0, %r#1 : tensor<?x4x16xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
  }
}
