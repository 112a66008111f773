// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel | FileCheck %s --check-prefix=LOWER
// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel --moec-emit-host="compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=HOST
// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=CUDA
// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" --moec-emit-cuda="arch=sm_80 compile=false" | FileCheck %s --check-prefix=GEOM
// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" --moec-emit-cuda="arch=sm_90a fail-on-spills=true" | FileCheck %s --check-prefix=NVRTC
// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel --moec-write-report="format=json" -o /dev/null | FileCheck %s --check-prefix=COST

// Tests that moe.self_attention is one "self_attention" launch reading
// query, key, value and the sinks (a constant, now a kernel.constant), with
// scale, softcap, window and has_sinks in its spec; that the host call is
// specialized on every size but S = T, with the sinks as in3; and that on the
// GPU D and Dv (16 and 8 here: they may differ) are template parameters and
// the grid covers B * N * ceil(T / 8) tiles of 8 query rows:
// ceil((2*4*7 + 2*4*T) / 8) blocks.
// LOWER-LABEL: func.func @gqa_sinks_window_softcap
// LOWER: %[[SINKS:.+]] = kernel.constant {{.*}} : tensor<4xf32>
// LOWER: %[[O:.+]] = kernel.launch "self_attention"(%arg0, %arg1, %arg2, %[[SINKS]]) {spec = {has_sinks = true, scale = 2.500000e-01 : f32, softcap = 3.000000e+01 : f32, window = 3 : i64}} : (tensor<2x4x?x16xf32>, tensor<2x2x?x16xf32>, tensor<2x2x?x8xf32>, tensor<4xf32>) -> tensor<2x4x?x8xf32>
// LOWER-NOT: moe.self_attention
// LOWER: return %[[O]]
// HOST-LABEL: moec_k{{[0-9]+}}_self_attention
// HOST: shape.batch = 2;
// HOST: shape.seq = T;
// HOST: shape.num_heads = 4;
// HOST: shape.kv_heads = 2;
// HOST: shape.head_dim = 16;
// HOST: shape.value_dim = 8;
// HOST: shape.scale = 0x1p-2f;
// HOST: shape.softcap = 0x1.ep+4f;
// HOST: shape.window = 3;
// HOST: return moec_hk::self_attention<float>(in0, in1, in2, in3, out0, shape);
// CUDA-LABEL: __launch_bounds__(256) moec_k{{[0-9]+}}_self_attention(moec_cuda_args args)
// CUDA: shape.seq = T;
// CUDA: shape.window = 3;
// CUDA: moec_ck::self_attention<float, 256, 16, 8>(in0, in1, in2, in3, out0, shape, status);
// GEOM: kernel.launch "self_attention"{{.*}}block = 256 : i64, grid = array<i64: 56, 8, 8, 1, 0, 1>
// NVRTC compiles the emitted wrapper for sm_90a (no GPU needed) without spills.
// NVRTC: kernel.launch "self_attention"{{.*}}registers = {{[0-9]+}} : i64{{.*}}spill_bytes = 0 : i64
// The cost (Cost.cpp): with S = T and a window, at most 3 keys per query,
// 2 * (16 + 8) flops each: 2 * 4 * 3 * 48 = 1152 per token.
// COST: "kernel": "self_attention",
// COST: "flops": {
// COST-NEXT: "base": 0,
// COST-NEXT: "per_token": 1152
func.func @gqa_sinks_window_softcap(%q: tensor<2x4x?x16xf32>, %k: tensor<2x2x?x16xf32>, %v: tensor<2x2x?x8xf32>) -> tensor<2x4x?x8xf32> {
  %sinks = "onnx.Constant"() {value = dense<[0.5, -1.0, 2.0, 0.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %o = moe.self_attention %q, %k, %v, %sinks {scale = 0.25 : f32, softcap = 30.0 : f32, window = 3 : i64} : (tensor<2x4x?x16xf32>, tensor<2x2x?x16xf32>, tensor<2x2x?x8xf32>, tensor<4xf32>) -> tensor<2x4x?x8xf32>
  return %o : tensor<2x4x?x8xf32>
}

// -----

// Tests the plain form: no sinks (a typed null on both targets), softcap and
// window at their defaults of 0; and a
// static sequence: the grid is B * N * ceil(S / 8) = 1 * 2 * 2 blocks.
// LOWER-LABEL: func.func @mha_plain
// LOWER: kernel.launch "self_attention"(%arg0, %arg1, %arg2) {spec = {has_sinks = false, scale = 1.250000e-01 : f32, softcap = 0.000000e+00 : f32, window = 0 : i64}}
// HOST-LABEL: moec_k{{[0-9]+}}_self_attention
// HOST: shape.seq = 9;
// HOST: return moec_hk::self_attention<float>(in0, in1, in2, static_cast<const float*>(nullptr), out0, shape);
// CUDA-LABEL: moec_k{{[0-9]+}}_self_attention(moec_cuda_args args)
// CUDA: moec_ck::self_attention<float, 256, 64, 64>(in0, in1, in2, static_cast<const float*>(nullptr), out0, shape, status);
// GEOM: kernel.launch "self_attention"{{.*}}grid = array<i64: 4, 0, 1, 1, 0, 1>
// The cost is exact for a static sequence: 9 * 10 / 2 = 45 causal pairs per
// head, 2 * (64 + 64) flops each: 2 * 45 * 256 = 23040.
// COST: "kernel": "self_attention",
// COST: "flops": {
// COST-NEXT: "base": 23040,
// COST-NEXT: "per_token": 0
func.func @mha_plain(%q: tensor<1x2x9x64xf32>, %k: tensor<1x2x9x64xf32>, %v: tensor<1x2x9x64xf32>) -> tensor<1x2x9x64xf32> {
  %o = moe.self_attention %q, %k, %v {scale = 0.125 : f32} : (tensor<1x2x9x64xf32>, tensor<1x2x9x64xf32>, tensor<1x2x9x64xf32>) -> tensor<1x2x9x64xf32>
  return %o : tensor<1x2x9x64xf32>
}

// -----

// Tests that with S = T and no window the cost is quadratic in T: T(T+1)/2
// query-key pairs per head, 2 * (16 + 16) flops each, 2 heads: 64*T^2 + 64*T.
// LOWER-LABEL: func.func @no_window_dynamic
// COST: "kernel": "self_attention",
// COST: "flops": {
// COST-NEXT: "base": 0,
// COST-NEXT: "per_token": 64,
// COST-NEXT: "per_token_squared": 64
func.func @no_window_dynamic(%q: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %o = moe.self_attention %q, %q, %q {scale = 0.25 : f32} : (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
