// RUN: moec-opt %s --moec-emit-host="compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=HOST
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_90a compile=false print-source=true" -o /dev/null | FileCheck %s --check-prefix=CUDA
// RUN: moec-opt %s --moec-emit-cuda="arch=sm_80 compile=false" | FileCheck %s --check-prefix=GEOM

// Tests that the two attention launches are specialized on the model's
// static sizes (heads, head size, capacity, row strides, rotary width, scale
// as an exact float) with only the token count S = T left to run time; that
// a packed QKV input is read at offsets N*HD and (N+KV)*HD of each row with
// the packed row stride; that no rotary passes typed nulls; and that on the
// GPU the head size is a template parameter, the append takes one warp per
// static cache row and the attention one per (batch, token, head) row.
// HOST-LABEL: moec_k0_attention_kv_append
// HOST: shape.seq = T;
// HOST: shape.num_heads = 4;
// HOST: shape.kv_heads = 2;
// HOST: shape.head_dim = 16;
// HOST: shape.capacity = 8;
// HOST: shape.q_stride = 64;
// HOST: shape.k_stride = 32;
// HOST: shape.rotary_dim = 8;
// HOST: shape.rotary_rows = 8;
// HOST: shape.scale = 0x1p-2f;
// HOST: shape.softcap = 0x1.ep+4f;
// HOST: shape.window = 4;
// HOST: return moec_hk::attention_kv_append<float, float>(in0, in1, in2, in3, in4, in5, in6, in7, out0, out1, shape);
// HOST-LABEL: moec_k1_attention
// HOST: return moec_hk::attention<float, float>(in0, in1, in2, in3, in4, in5, in6, out0, shape);
// HOST-LABEL: moec_k2_attention_kv_append
// HOST: shape.q_stride = 128;
// HOST: shape.k_stride = 128;
// HOST: shape.v_stride = 128;
// HOST: shape.rotary_dim = 0;
// HOST: return moec_hk::attention_kv_append<float, float>(in0 + 64, in0 + 96, in1, in2, in3, in4, static_cast<const float*>(nullptr), static_cast<const float*>(nullptr), out0, out1, shape);
// CUDA-LABEL: __launch_bounds__(256) moec_k0_attention_kv_append(moec_cuda_args args)
// CUDA: moec_ck::attention_kv_append<float, float, 256>(in0, in1, in2, in3, in4, in5, in6, in7, out0, out1, shape, status);
// CUDA-LABEL: __launch_bounds__(256) moec_k1_attention(moec_cuda_args args)
// CUDA: moec_ck::attention<float, float, 256, 16>(in0, in1, in2, in3, in4, in5, in6, out0, shape, status);
// GEOM: kernel.launch "attention_kv_append"{{.*}}block = 256 : i64, grid = array<i64: 16, 0, 8, 1, 0, 1>
// GEOM: kernel.launch "attention"{{.*}}block = 256 : i64, grid = array<i64: 0, 4, 8, 1, 0, 1>
// The rotary launch: heads from the width and head size, the sequence is T,
// one thread per element on the GPU.
// HOST-LABEL: moec_k4_rotary
// HOST: shape.seq = T;
// HOST: shape.heads = 4;
// HOST: shape.head_size = 16;
// HOST: shape.rotary_dim = 8;
// HOST: shape.rows = 8;
// HOST: shape.per_token = true;
// HOST: return moec_hk::rotary<float, float>(in0, in1, in2, in3, out0, shape);
// CUDA-LABEL: moec_k4_rotary(moec_cuda_args args)
// CUDA: moec_ck::rotary<float, float, 256>(in0, in1, in2, in3, out0, shape, status);
// GEOM: kernel.launch "rotary"{{.*}}block = 256 : i64, grid = array<i64: 0, 64, 256, 1, 0, 1>
module {
  func.func @main(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>, %qkv: tensor<1x?x128xf32>, %ids: tensor<1x?xi64>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>) {
    %cos = kernel.constant dense<1.0> : tensor<8x4xf32> -> tensor<8x4xf32>
    %c:2 = kernel.launch "attention_kv_append"(%k, %v, %pk, %pv, %sl, %tl, %cos, %cos) {spec = {kv_heads = 2 : i64, num_heads = 4 : i64, packed = false, rotary_dim = 8 : i64, rotary_interleaved = false, scale = 2.500000e-01 : f32, softcap = 3.000000e+01 : f32, window = 4 : i64}} : (tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>, tensor<8x4xf32>, tensor<8x4xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
    %o = kernel.launch "attention"(%q, %c#0, %c#1, %sl, %tl, %cos, %cos) {spec = {kv_heads = 2 : i64, num_heads = 4 : i64, packed = false, rotary_dim = 8 : i64, rotary_interleaved = false, scale = 2.500000e-01 : f32, softcap = 3.000000e+01 : f32, window = 4 : i64}} : (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<1x?x64xf32>
    %p:2 = kernel.launch "attention_kv_append"(%qkv, %pk, %pv, %sl, %tl) {spec = {kv_heads = 2 : i64, num_heads = 4 : i64, packed = true, rotary_dim = 0 : i64, rotary_interleaved = false, scale = 2.500000e-01 : f32, softcap = 0.0 : f32, window = 0 : i64}} : (tensor<1x?x128xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
    %po = kernel.launch "attention"(%qkv, %p#0, %p#1, %sl, %tl) {spec = {kv_heads = 2 : i64, num_heads = 4 : i64, packed = true, rotary_dim = 0 : i64, rotary_interleaved = false, scale = 2.500000e-01 : f32, softcap = 0.0 : f32, window = 0 : i64}} : (tensor<1x?x128xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> tensor<1x?x64xf32>
    %r = kernel.launch "rotary"(%q, %ids, %cos, %cos) {spec = {head_size = 16 : i64, heads_first = false, interleaved = false, per_token = true, rotary_dim = 8 : i64}} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<1x?x64xf32>
    return %o, %c#0, %c#1, %po, %r : tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>
  }
}
