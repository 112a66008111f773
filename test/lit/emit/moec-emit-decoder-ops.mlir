// RUN: moec-opt %s --moec-emit-host="compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=HOST
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=CUDA
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false" | FileCheck %s --check-prefix=GEOM

// Tests how both emitters call the range, cumsum and scatter_nd templates:
// Range gets its planned length (T, or a static size), CumSum the
// [outer, axis, inner] view around its axis, ScatterND data's shape, the
// tuple count and length; Cos / Sin in an elementwise body become the
// prelude's moec_cos / moec_sin. On the GPU, ScatterND is one block of 1024
// threads, Range covers its length (plus one block so the check always
// runs), CumSum one thread per line.

// HOST: moec_k0_range
// HOST: return moec_hk::range<int64_t>(in0, in1, in2, out0, T);
// HOST: moec_k1_range
// HOST: return moec_hk::range<float>(in0, in1, in2, out0, 5);
// HOST: moec_k2_cumsum
// HOST: moec_hk::cumsum<float>(in0, out0, T, 4, 2, false, true);
// HOST: moec_k3_scatter_nd
// HOST: const moec_hk::index_t data_shape[] = {T, 4, 2};
// HOST: return moec_hk::scatter_nd<float, int64_t>(in0, in1, in2, out0, 3, data_shape, 3, 1, moec_hk::ScatterReduction::Mul);
// HOST: moec_k4_elementwise
// HOST: moec_cos(a0)
// HOST: moec_sin(v0)

// CUDA: moec_ck::range<long long, 256>(in0, in1, in2, out0, T, status);
// CUDA: moec_ck::range<float, 256>(in0, in1, in2, out0, 5, status);
// CUDA: moec_ck::cumsum<float, 256>(in0, out0, T, 4, 2, false, true);
// CUDA: const long long data_shape[] = {T, 4, 2};
// CUDA: moec_ck::scatter_nd<float, long long, 1024>(in0, in1, in2, out0, 3, data_shape, 3, 1, moec_ck::ScatterReduction::Mul, status);
// CUDA: moec_cos(a0)
// CUDA: moec_sin(v0)

// GEOM: kernel.launch "range"{{.*}}block = 256 : i64, grid = array<i64: 1, 1, 256, 1, 0, 1>
// GEOM: kernel.launch "range"{{.*}}block = 256 : i64, grid = array<i64: 6, 0, 256, 1, 0, 1>
// GEOM: kernel.launch "cumsum"{{.*}}block = 256 : i64, grid = array<i64: 0, 2, 256, 1, 0, 1>
// GEOM: kernel.launch "scatter_nd"{{.*}}block = 1024 : i64, grid = array<i64: 1, 0, 1, 1, 0, 1>
module {
  func.func @main(%x: tensor<?x4x2xf32>, %t: tensor<i64>, %i: tensor<3x1xi64>, %u: tensor<3x4x2xf32>)
      -> (tensor<?xi64>, tensor<5xf32>, tensor<?x4x2xf32>, tensor<?x4x2xf32>, tensor<?x4x2xf32>) {
    %z = kernel.constant dense<0> : tensor<i64> -> tensor<i64>
    %o = kernel.constant dense<1> : tensor<i64> -> tensor<i64>
    %fz = kernel.constant dense<0.0> : tensor<f32> -> tensor<f32>
    %fl = kernel.constant dense<1.0> : tensor<f32> -> tensor<f32>
    %fd = kernel.constant dense<0.2> : tensor<f32> -> tensor<f32>
    %r = kernel.launch "range" (%z, %t, %o) {spec = {}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    %f = kernel.launch "range" (%fz, %fl, %fd) {spec = {}} : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<5xf32>
    %c = kernel.launch "cumsum" (%x) {spec = {axis = 1 : i64, exclusive = false, reverse = true}} : (tensor<?x4x2xf32>) -> tensor<?x4x2xf32>
    %s = kernel.launch "scatter_nd" (%x, %i, %u) {spec = {reduction = "mul"}} : (tensor<?x4x2xf32>, tensor<3x1xi64>, tensor<3x4x2xf32>) -> tensor<?x4x2xf32>
    %e = kernel.launch "elementwise" (%x) {spec = {}} : (tensor<?x4x2xf32>) -> tensor<?x4x2xf32> {
    ^bb0(%a: f32):
      %p = math.cos %a : f32
      %q = math.sin %p : f32
      kernel.yield %q : f32
    }
    return %r, %f, %c, %s, %e : tensor<?xi64>, tensor<5xf32>, tensor<?x4x2xf32>, tensor<?x4x2xf32>, tensor<?x4x2xf32>
  }
}
