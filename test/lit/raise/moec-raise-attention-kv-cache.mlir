// RUN: moec-opt %s --split-input-file --moec-raise-attention | FileCheck %s

// Tests that attention over a growing cache the importer made fixed-capacity
// (keys Concat(past_key, k), the mask over past + T keys) becomes one
// moe.attention reading the cache buffers, seqlens_k and total_sequence_length,
// with GQA's repeat_kv read from the KV heads and the grown Concats replaced
// by the op's present results.
// CHECK-LABEL: func.func @cached_gqa
// CHECK-SAME: %[[PK:[a-z0-9]+]]: tensor<1x2x16x8xf32> {onnx.name = "past_key_0"}, %[[PV:[a-z0-9]+]]: tensor<1x2x16x8xf32> {onnx.name = "past_value_0"}, %[[SL:[a-z0-9]+]]: tensor<1xi32> {onnx.name = "seqlens_k"}, %[[TL:[a-z0-9]+]]: tensor<1xi32> {onnx.name = "total_sequence_length"}
// CHECK: %[[O:.*]], %[[PRK:.*]], %[[PRV:.*]] = moe.attention %{{.*}}, %{{.*}}, %{{.*}}, %[[PK]], %[[PV]], %[[SL]], %[[TL]] {kv_heads = 2 : i64, num_heads = 4 : i64
// CHECK-SAME: scale = 2.500000e-01 : f32
// CHECK-NOT: onnx.Softmax
// CHECK-NOT: onnx.Concat %[[PK]]
// CHECK: return %{{.*}}, %[[PRK]], %[[PRV]]
module attributes {moec.kv_cache_capacity = 16 : i64} {
func.func @cached_gqa(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
    %pk: tensor<1x2x16x8xf32> {onnx.name = "past_key_0"}, %pv: tensor<1x2x16x8xf32> {onnx.name = "past_value_0"},
    %seqlens: tensor<1xi32> {onnx.name = "seqlens_k"}, %total: tensor<1xi32> {onnx.name = "total_sequence_length"})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  // past = total - T, as the importer computes it.
  %total64 = onnx.Cast %total {to = i64} : (tensor<1xi32>) -> tensor<1xi64>
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x4x?x8xf32>) -> tensor<1xi64>
  %past = onnx.Sub %total64, %tdim : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %p = onnx.Squeeze %past, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %len = onnx.Add %p, %t : (tensor<i64>, tensor<i64>) -> tensor<i64>
  // Query positions past + i, key positions 0 .. past + T - 1.
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %qpos = onnx.Add %ar, %p : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %kpos = onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  %rows = onnx.Unsqueeze %qpos, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %kpos, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %keep = onnx.LessOrEqual %cols, %rows : (tensor<*xi64>, tensor<?x1xi64>) -> tensor<*xi1>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %ninf : (tensor<*xi1>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %kall = onnx.Concat %pk, %k {axis = -2 : i64} : (tensor<1x2x16x8xf32>, tensor<1x2x?x8xf32>) -> tensor<*xf32>
  %vall = onnx.Concat %pv, %v {axis = -2 : i64} : (tensor<1x2x16x8xf32>, tensor<1x2x?x8xf32>) -> tensor<*xf32>
  // repeat_kv to 4 heads over past + T rows.
  %lenv = onnx.Unsqueeze %len, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %head = onnx.Constant {value = dense<[1, 2, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %eight = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep = onnx.Concat %head, %lenv, %eight {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %heads = onnx.Constant {value = dense<[1, 4, -1, 8]> : tensor<4xi64>} : () -> tensor<4xi64>
  %ku = onnx.Unsqueeze %kall, %ax2 : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %ke = onnx.Expand %ku, %rep : (tensor<*xf32>, tensor<5xi64>) -> tensor<*xf32>
  %kr = onnx.Reshape %ke, %heads : (tensor<*xf32>, tensor<4xi64>) -> tensor<*xf32>
  %vu = onnx.Unsqueeze %vall, %ax2 : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %ve = onnx.Expand %vu, %rep : (tensor<*xf32>, tensor<5xi64>) -> tensor<*xf32>
  %vr = onnx.Reshape %ve, %heads : (tensor<*xf32>, tensor<4xi64>) -> tensor<*xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<*xf32>) -> tensor<*xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x4x?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %c = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %ss = onnx.Mul %s, %c : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sm = onnx.Add %ss, %mask : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %p2 = onnx.Softmax %sm {axis = -1 : i64} : (tensor<*xf32>) -> tensor<*xf32>
  %o = onnx.MatMul %p2, %vr : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return %o, %kall, %vall : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}
}

