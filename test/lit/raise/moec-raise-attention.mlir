// RUN: moec-opt %s --split-input-file --moec-raise-attention | FileCheck %s

// The pass replaces attention written in plain ops over [T, T] scores by one
// moe.self_attention, after evaluating the mask at compile time. The mask here
// is built the way exported decoders build it: from Range over Shape(q).

// Tests a causal mask (additive, Where of a LessOrEqual), a constant scale,
// and k, v repeated from 2 KV heads to 4 (read from the KV heads afterwards).
// CHECK-LABEL: func.func @causal_gqa
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x?x8xf32>, %[[K:.*]]: tensor<1x2x?x8xf32>, %[[V:.*]]: tensor<1x2x?x8xf32>)
// CHECK-NOT: onnx.
// CHECK: %[[O:.*]] = moe.self_attention %[[Q]], %[[K]], %[[V]] {scale = 2.500000e-01 : f32}
// CHECK-NOT: onnx.
// CHECK: return %[[O]]
func.func @causal_gqa(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>) -> tensor<1x4x?x8xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x4x?x8xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %cols, %rows : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %ninf : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %rep_shape_head = onnx.Constant {value = dense<[1, 2, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %eight = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep_shape = onnx.Concat %rep_shape_head, %tdim, %eight {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %heads_shape = onnx.Constant {value = dense<[1, 4, -1, 8]> : tensor<4xi64>} : () -> tensor<4xi64>
  %ku = onnx.Unsqueeze %k, %ax2 : (tensor<1x2x?x8xf32>, tensor<1xi64>) -> tensor<1x2x1x?x8xf32>
  %ke = onnx.Expand %ku, %rep_shape : (tensor<1x2x1x?x8xf32>, tensor<5xi64>) -> tensor<1x2x2x?x8xf32>
  %kr = onnx.Reshape %ke, %heads_shape : (tensor<1x2x2x?x8xf32>, tensor<4xi64>) -> tensor<1x4x?x8xf32>
  %vu = onnx.Unsqueeze %v, %ax2 : (tensor<1x2x?x8xf32>, tensor<1xi64>) -> tensor<1x2x1x?x8xf32>
  %ve = onnx.Expand %vu, %rep_shape : (tensor<1x2x1x?x8xf32>, tensor<5xi64>) -> tensor<1x2x2x?x8xf32>
  %vr = onnx.Reshape %ve, %heads_shape : (tensor<1x2x2x?x8xf32>, tensor<4xi64>) -> tensor<1x4x?x8xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x?x8xf32>) -> tensor<1x4x8x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x4x?x8xf32>, tensor<1x4x8x?xf32>) -> tensor<1x4x?x?xf32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %ss = onnx.Mul %s, %scale : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %sm = onnx.Add %ss, %mask : (tensor<1x4x?x?xf32>, tensor<?x?xf32>) -> tensor<1x4x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %o = onnx.MatMul %p, %vr : (tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}

// -----

// Tests a sliding window of 3 written as a second condition (as gpt-oss's
// export does: keys newer than i - 3), a Div scale, a boolean Where mask on
// the scores, and a sink column: Concat, minus the row max, Softmax, Slice.
// CHECK-LABEL: func.func @window_sinks
// CHECK: %[[SINKS:.*]] = onnx.Constant {{.*}} : () -> tensor<2xf32>
// CHECK: moe.self_attention %{{.*}}, %{{.*}}, %{{.*}}, %[[SINKS]] {scale = 5.000000e-01 : f32, window = 3 : i64}
// CHECK-NOT: onnx.Softmax
// The sink logits, 0.5 and -1.0 as f32 [2]:
// CHECK: attention_sinks: "0x010000000000003F000080BF"
func.func @window_sinks(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %three = onnx.Constant {value = dense<3> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %causal = onnx.LessOrEqual %cols, %rows : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %oldest = onnx.Sub %rows, %three : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %recent = onnx.Greater %cols, %oldest : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %keep = onnx.And %causal, %recent : (tensor<?x?xi1>, tensor<?x?xi1>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %two = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %ss = onnx.Div %s, %two : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %sm = onnx.Where %keep, %ss, %ninf : (tensor<?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %sink = onnx.Constant {value = dense<[[[[0.5]], [[-1.0]]]]> : tensor<1x2x1x1xf32>} : () -> tensor<1x2x1x1xf32>
  %sink_shape_head = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %sink_shape = onnx.Concat %sink_shape_head, %tdim, %ax1 {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %sinks = onnx.Expand %sink, %sink_shape : (tensor<1x2x1x1xf32>, tensor<4xi64>) -> tensor<1x2x?x1xf32>
  %cat = onnx.Concat %sm, %sinks {axis = -1 : i64} : (tensor<1x2x?x?xf32>, tensor<1x2x?x1xf32>) -> tensor<1x2x?x?xf32>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %mx = onnx.ReduceMax %cat, %last {keepdims = 1 : i64} : (tensor<1x2x?x?xf32>, tensor<1xi64>) -> tensor<1x2x?x1xf32>
  %centered = onnx.Sub %cat, %mx : (tensor<1x2x?x?xf32>, tensor<1x2x?x1xf32>) -> tensor<1x2x?x?xf32>
  %p = onnx.Softmax %centered {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %zero1 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %three1 = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %pk = onnx.Slice %p, %zero1, %last axes(%three1) steps(%ax1) : (tensor<1x2x?x?xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %pk, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// Tests a causal mask computed another way, so that the evaluation, not a
// pattern, decides: column and row numbers by CumSum over a ConstantOfShape
// of ones ([T, T] from the shape of q), the rows by a Transpose, the columns
// reversed twice by step -1 Slices; keep where j + 1 <= i + 1.
// CHECK-LABEL: func.func @causal_by_cumsum
// CHECK: moe.self_attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f32}
// CHECK-NOT: onnx.CumSum
// CHECK: return
func.func @causal_by_cumsum(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %square = onnx.Concat %tdim, %tdim {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %ones = onnx.ConstantOfShape %square {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<?x?xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %col1 = onnx.CumSum %ones, %ax1 : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi64>
  %row1 = onnx.Transpose %col1 {perm = array<i64: 1, 0>} : (tensor<?x?xi64>) -> tensor<?x?xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %before = onnx.Constant {value = dense<-9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %axis1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rev = onnx.Slice %col1, %last, %before axes(%axis1) steps(%last) : (tensor<?x?xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xi64>
  %col = onnx.Slice %rev, %last, %before axes(%axis1) steps(%last) : (tensor<?x?xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xi64>
  %keep = onnx.LessOrEqual %col, %row1 : (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi1>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %big = onnx.Constant {value = dense<-1.0e+38> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %big : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %sm = onnx.Add %mask, %s : (tensor<?x?xf32>, tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// Tests transformers' "sdpa" attention as torch.onnx decomposes it: q and kᵀ
// each scaled by sqrt(scale), kᵀ written Reshape(Transpose(Reshape(k,
// [B*N, T, D]), [0, 2, 1]), [B, N, D, T]), and the NaN rows of fully masked
// queries zeroed after the softmax (never NaN under a causal mask).
// CHECK-LABEL: func.func @sdpa_decomposition
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x?x4xf32>, %[[K:.*]]: tensor<1x2x?x4xf32>, %[[V:.*]]: tensor<1x2x?x4xf32>)
// The product of the two f32 factors sqrt(0.5), rounded:
// CHECK: moe.self_attention %[[Q]], %[[K]], %[[V]] {scale = 0.49999997 : f32}
// CHECK-NOT: onnx.IsNaN
// CHECK: return
func.func @sdpa_decomposition(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %cols, %rows : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %ninf : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %flat_shape = onnx.Constant {value = dense<[2, -1, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %kf = onnx.Reshape %k, %flat_shape : (tensor<1x2x?x4xf32>, tensor<3xi64>) -> tensor<2x?x4xf32>
  %kft = onnx.Transpose %kf {perm = array<i64: 0, 2, 1>} : (tensor<2x?x4xf32>) -> tensor<2x4x?xf32>
  %kt_shape = onnx.Constant {value = dense<[1, 2, 4, -1]> : tensor<4xi64>} : () -> tensor<4xi64>
  %kt = onnx.Reshape %kft, %kt_shape : (tensor<2x4x?xf32>, tensor<4xi64>) -> tensor<1x2x4x?xf32>
  %root_scale = onnx.Constant {value = dense<0.707106769> : tensor<f32>} : () -> tensor<f32>
  %qs = onnx.Mul %q, %root_scale : (tensor<1x2x?x4xf32>, tensor<f32>) -> tensor<1x2x?x4xf32>
  %kts = onnx.Mul %kt, %root_scale : (tensor<1x2x4x?xf32>, tensor<f32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %qs, %kts : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %nan = onnx.IsNaN %p : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xi1>
  %pz = onnx.Where %nan, %zf, %p : (tensor<1x2x?x?xi1>, tensor<f32>, tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %pz, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// Tests that a softmax whose input is not [.., T, T] (a router) is left alone.
// CHECK-LABEL: func.func @router_softmax
// CHECK: onnx.Softmax
// CHECK-NOT: moe.
func.func @router_softmax(%logits: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %p = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %p : tensor<?x8xf32>
}

// -----

// Tests that the float16 minimum, which fp16 exports fill masked scores
// with, masks like -inf: exp of it relative to the row maximum is 0 in f32.
// CHECK-LABEL: func.func @fp16_min_fill
// CHECK: moe.self_attention
// CHECK-NOT: onnx.Softmax
func.func @fp16_min_fill(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %cols, %rows : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %fill = onnx.Constant {value = dense<-6.550400e+04> : tensor<f32>} : () -> tensor<f32>
  %sm = onnx.Where %keep, %s, %fill : (tensor<?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// Tests that an additive -1e4 mask (older exports) is raised too.
// CHECK-LABEL: func.func @minus_1e4_additive
// CHECK: moe.self_attention
// CHECK-NOT: onnx.Softmax
func.func @minus_1e4_additive(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %cols, %rows : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %fill = onnx.Constant {value = dense<-1.000000e+04> : tensor<f32>} : () -> tensor<f32>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %fill : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}
