// RUN: moec-opt %s --split-input-file --moec-raise-dense-moe | FileCheck %s

// The MoE block as exporters write it when they compute every expert for
// every token: a softmax router with top-k, a routing weight per expert picked
// out of the top k (zero when the expert is not chosen), every expert's FFN
// and the sum of the weighted outputs. Weights are splats here: their layout
// is checked value by value in @layout, and numerically in
// test/e2e/test_dense_moe.py.

// Tests the form of test/models/mixtral_moe_decomposed.onnx (renormalized
// softmax top-2, Cast+Mul and Where selections, Unsqueeze to a column, SwiGLU
// with silu as Mul(g, Sigmoid(g)), a left-to-right Add chain): one
// moe.router + one moe.experts with the stacked weights, nothing dense left.
// CHECK-LABEL: func.func @fixture_form
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x3xf32>)
// CHECK-NEXT: %[[FC1:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<3x16x8xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<3x8x16xf32>}
// CHECK-NEXT: %[[FC3:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<3x16x8xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x3xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]]) fc3(%[[FC3]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64}
// CHECK-NEXT: return %[[Y]]
func.func @fixture_form(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel0 = onnx.Mul %isf0, %w : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg0 = onnx.Sigmoid %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu0 = onnx.Mul %w1_0_y, %sg0 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_0 = onnx.Constant {value = dense<1.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_0_y = onnx.MatMul %x, %w3_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Mul %silu0, %w3_0_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %sel1 = onnx.Where %is1, %w, %zero : (tensor<?x2xi1>, tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg1 = onnx.Sigmoid %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu1 = onnx.Mul %w1_1_y, %sg1 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_1 = onnx.Constant {value = dense<2.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_1_y = onnx.MatMul %x, %w3_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Mul %silu1, %w3_1_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is2 = onnx.Equal %idx, %e2 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf2 = onnx.Cast %is2 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel2 = onnx.Mul %isf2, %w : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r2 = onnx.ReduceSum %sel2, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw2 = onnx.Unsqueeze %r2, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_2 = onnx.Constant {value = dense<3.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_2_y = onnx.MatMul %x, %w1_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg2 = onnx.Sigmoid %w1_2_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu2 = onnx.Mul %w1_2_y, %sg2 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_2 = onnx.Constant {value = dense<3.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_2_y = onnx.MatMul %x, %w3_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h2 = onnx.Mul %silu2, %w3_2_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_2 = onnx.Constant {value = dense<3.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_2_y = onnx.MatMul %h2, %w2_2 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy2 = onnx.Mul %w2_2_y, %rw2 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %acc1 = onnx.Add %acc0, %wy2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc1 : tensor<?x8xf32>
}

// -----

// Tests the other spellings: Where selections reduced with keepdims (no
// Unsqueeze), routing weight on the left of the Mul, silu as
// Mul(Sigmoid(g), g), the linear branch on the left of the SwiGLU product,
// biases as Add(b, MatMul), and the sum as t0 + (t1 + t2).
// CHECK-LABEL: func.func @where_keepdims_tree_swapped_biases
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x3xf32>)
// CHECK-NEXT: %[[FC1:.+]] = onnx.Constant {{.+}} : tensor<3x16x8xf32>
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {{.+}} : tensor<3x8x16xf32>
// CHECK-NEXT: %[[FC3:.+]] = onnx.Constant {{.+}} : tensor<3x16x8xf32>
// CHECK-NEXT: %[[B1:.+]] = onnx.Constant {{.+}} : tensor<3x16xf32>
// CHECK-NEXT: %[[B2:.+]] = onnx.Constant {{.+}} : tensor<3x8xf32>
// CHECK-NEXT: %[[B3:.+]] = onnx.Constant {{.+}} : tensor<3x16xf32>
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]], %[[B1]]) fc2(%[[FC2]], %[[B2]]) fc3(%[[FC3]], %[[B3]]) {activation = "swiglu"
// CHECK-NEXT: return %[[Y]]
func.func @where_keepdims_tree_swapped_biases(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %sel0 = onnx.Where %is0, %w, %zero : (tensor<?x2xi1>, tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  %rw0 = onnx.ReduceSum %sel0, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_0_out = onnx.Add %w1_0_b, %w1_0_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %sg0 = onnx.Sigmoid %w1_0_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu0 = onnx.Mul %sg0, %w1_0_out : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_0 = onnx.Constant {value = dense<1.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_0_y = onnx.MatMul %x, %w3_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w3_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w3_0_out = onnx.Add %w3_0_b, %w3_0_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Mul %w3_0_out, %silu0 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_0_out = onnx.Add %w2_0_b, %w2_0_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %rw0, %w2_0_out : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %sel1 = onnx.Where %is1, %w, %zero : (tensor<?x2xi1>, tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  %rw1 = onnx.ReduceSum %sel1, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_1_out = onnx.Add %w1_1_b, %w1_1_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %sg1 = onnx.Sigmoid %w1_1_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu1 = onnx.Mul %sg1, %w1_1_out : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_1 = onnx.Constant {value = dense<2.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_1_y = onnx.MatMul %x, %w3_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w3_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w3_1_out = onnx.Add %w3_1_b, %w3_1_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Mul %w3_1_out, %silu1 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_1_out = onnx.Add %w2_1_b, %w2_1_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %rw1, %w2_1_out : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is2 = onnx.Equal %idx, %e2 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %sel2 = onnx.Where %is2, %w, %zero : (tensor<?x2xi1>, tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  %rw2 = onnx.ReduceSum %sel2, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_2 = onnx.Constant {value = dense<3.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_2_y = onnx.MatMul %x, %w1_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_2_out = onnx.Add %w1_2_b, %w1_2_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %sg2 = onnx.Sigmoid %w1_2_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu2 = onnx.Mul %sg2, %w1_2_out : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_2 = onnx.Constant {value = dense<3.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_2_y = onnx.MatMul %x, %w3_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w3_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w3_2_out = onnx.Add %w3_2_b, %w3_2_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h2 = onnx.Mul %w3_2_out, %silu2 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_2 = onnx.Constant {value = dense<3.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_2_y = onnx.MatMul %h2, %w2_2 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_2_out = onnx.Add %w2_2_b, %w2_2_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy2 = onnx.Mul %rw2, %w2_2_out : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %inner = onnx.Add %wy1, %wy2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %outer = onnx.Add %wy0, %inner : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %outer : tensor<?x8xf32>
}

// -----

// Tests the other router order: TopK of the logits, then Softmax over the k
// values (the same experts, renormalized weights: normalize = true). Also
// Mul(w, Cast(..)) and a Reshape to the [T, 1] column.
// CHECK-LABEL: func.func @topk_then_softmax
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x3xf32>)
// CHECK-NOT: onnx.TopK
// CHECK: moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: moe.experts %[[X]]
// CHECK-NOT: onnx.
// CHECK: return
func.func @topk_then_softmax(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %idx = onnx.TopK %logits, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel0 = onnx.Mul %w, %isf0 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %colshape = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw0 = onnx.Reshape %r0, %colshape : (tensor<?xf32>, tensor<2xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg0 = onnx.Sigmoid %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu0 = onnx.Mul %w1_0_y, %sg0 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_0 = onnx.Constant {value = dense<1.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_0_y = onnx.MatMul %x, %w3_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Mul %silu0, %w3_0_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel1 = onnx.Mul %w, %isf1 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Reshape %r1, %colshape : (tensor<?xf32>, tensor<2xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg1 = onnx.Sigmoid %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu1 = onnx.Mul %w1_1_y, %sg1 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_1 = onnx.Constant {value = dense<2.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_1_y = onnx.MatMul %x, %w3_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Mul %silu1, %w3_1_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is2 = onnx.Equal %idx, %e2 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf2 = onnx.Cast %is2 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel2 = onnx.Mul %w, %isf2 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r2 = onnx.ReduceSum %sel2, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw2 = onnx.Reshape %r2, %colshape : (tensor<?xf32>, tensor<2xi64>) -> tensor<?x1xf32>
  %w1_2 = onnx.Constant {value = dense<3.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_2_y = onnx.MatMul %x, %w1_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg2 = onnx.Sigmoid %w1_2_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu2 = onnx.Mul %w1_2_y, %sg2 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w3_2 = onnx.Constant {value = dense<3.300e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w3_2_y = onnx.MatMul %x, %w3_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h2 = onnx.Mul %silu2, %w3_2_y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_2 = onnx.Constant {value = dense<3.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_2_y = onnx.MatMul %h2, %w2_2 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy2 = onnx.Mul %w2_2_y, %rw2 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %acc1 = onnx.Add %acc0, %wy2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc1 : tensor<?x8xf32>
}

// -----

// Tests top-1 of the softmax without renormalization (normalize = false),
// four experts with a Relu FFN and biases.
// CHECK-LABEL: func.func @not_normalized_relu_bias
// CHECK-NOT: onnx.MatMul
// CHECK-NOT: onnx.Gemm
// CHECK-NOT: onnx.TopK
// CHECK: moe.router %{{.+}} {k = 1 : i64, normalize = false, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x1xf32>, tensor<?x1xi64>
// CHECK-NEXT: moe.experts {{.+}} fc1(%{{.+}}, %{{.+}}) fc2(%{{.+}}, %{{.+}}) {activation = "relu"
// CHECK-SAME: (tensor<?x8xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<4x16x8xf32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
// CHECK-NOT: onnx.
// CHECK: return
func.func @not_normalized_relu_bias(%x: tensor<?x8xf32>, %logits: tensor<?x4xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_0_out = onnx.Add %w1_0_b, %w1_0_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_0_out = onnx.Add %w2_0_b, %w2_0_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_out, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_1_out = onnx.Add %w1_1_b, %w1_1_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_1_out = onnx.Add %w2_1_b, %w2_1_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_out, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is2 = onnx.Equal %idx, %e2 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf2 = onnx.Cast %is2 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel2 = onnx.Mul %isf2, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r2 = onnx.ReduceSum %sel2, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw2 = onnx.Unsqueeze %r2, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_2 = onnx.Constant {value = dense<3.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_2_y = onnx.MatMul %x, %w1_2 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_2_out = onnx.Add %w1_2_b, %w1_2_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h2 = onnx.Relu %w1_2_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_2 = onnx.Constant {value = dense<3.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_2_y = onnx.MatMul %h2, %w2_2 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_2_out = onnx.Add %w2_2_b, %w2_2_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy2 = onnx.Mul %w2_2_out, %rw2 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e3 = onnx.Constant {value = dense<3> : tensor<i64>} : () -> tensor<i64>
  %is3 = onnx.Equal %idx, %e3 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf3 = onnx.Cast %is3 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel3 = onnx.Mul %isf3, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r3 = onnx.ReduceSum %sel3, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw3 = onnx.Unsqueeze %r3, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_3 = onnx.Constant {value = dense<4.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_3_y = onnx.MatMul %x, %w1_3 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %w1_3_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_3_out = onnx.Add %w1_3_b, %w1_3_y : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %h3 = onnx.Relu %w1_3_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_3 = onnx.Constant {value = dense<4.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_3_y = onnx.MatMul %h3, %w2_3 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_3_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_3_out = onnx.Add %w2_3_b, %w2_3_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy3 = onnx.Mul %w2_3_out, %rw3 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %acc1 = onnx.Add %acc0, %wy2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %acc2 = onnx.Add %acc1, %wy3 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc2 : tensor<?x8xf32>
}

// -----

// Tests a silu FFN whose first linear is a Gemm with transB and a bias, and
// whose second is a MatMul by the Transpose of an [out, in] constant plus a bias.
// CHECK-LABEL: func.func @silu_gemm_transpose
// CHECK-NOT: onnx.MatMul
// CHECK-NOT: onnx.Gemm
// CHECK-NOT: onnx.TopK
// CHECK: moe.router
// CHECK-NEXT: moe.experts {{.+}} {activation = "silu"
// CHECK-SAME: tensor<3x16x8xf32>, tensor<3x16xf32>, tensor<3x8x16xf32>, tensor<3x8xf32>
// CHECK-NOT: onnx.
// CHECK: return
func.func @silu_gemm_transpose(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel0 = onnx.Mul %isf0, %w : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w1_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_0_out = onnx.Gemm %x, %w1_0, %w1_0_b {transB = 1 : i64} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %sg0 = onnx.Sigmoid %w1_0_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu0 = onnx.Mul %w1_0_out, %sg0 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w2_0_t = onnx.Transpose %w2_0 {perm = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %silu0, %w2_0_t : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_0_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_0_out = onnx.Add %w2_0_b, %w2_0_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_out, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel1 = onnx.Mul %isf1, %w : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w1_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_1_out = onnx.Gemm %x, %w1_1, %w1_1_b {transB = 1 : i64} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %sg1 = onnx.Sigmoid %w1_1_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu1 = onnx.Mul %w1_1_out, %sg1 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w2_1_t = onnx.Transpose %w2_1 {perm = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %silu1, %w2_1_t : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_1_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_1_out = onnx.Add %w2_1_b, %w2_1_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_out, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is2 = onnx.Equal %idx, %e2 : (tensor<?x2xi64>, tensor<i64>) -> tensor<?x2xi1>
  %isf2 = onnx.Cast %is2 {to = f32} : (tensor<?x2xi1>) -> tensor<?x2xf32>
  %sel2 = onnx.Mul %isf2, %w : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %r2 = onnx.ReduceSum %sel2, %last {keepdims = 0 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw2 = onnx.Unsqueeze %r2, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_2 = onnx.Constant {value = dense<3.100e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w1_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<16xf32>} : () -> tensor<16xf32>
  %w1_2_out = onnx.Gemm %x, %w1_2, %w1_2_b {transB = 1 : i64} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %sg2 = onnx.Sigmoid %w1_2_out : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu2 = onnx.Mul %w1_2_out, %sg2 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_2 = onnx.Constant {value = dense<3.200e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w2_2_t = onnx.Transpose %w2_2 {perm = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %w2_2_y = onnx.MatMul %silu2, %w2_2_t : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %w2_2_b = onnx.Constant {value = dense<2.0e-02> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2_2_out = onnx.Add %w2_2_b, %w2_2_y : (tensor<8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %wy2 = onnx.Mul %w2_2_out, %rw2 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %acc1 = onnx.Add %acc0, %wy2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc1 : tensor<?x8xf32>
}

// -----

// Tests the weight layout value by value: fc1 is [E, I, H] and fc2 [E, H, I],
// i.e. each expert's MatMul weight [in, out] transposed (expert 0), or an
// [out, in] weight used through a Transpose or a Gemm with transB copied as
// it is (expert 1). Selections compare the id on either side of the Equal.
// CHECK-LABEL: func.func @layout
// CHECK: %[[FC1:.+]] = onnx.Constant {value = dense_resource<[[FC1KEY:.+]]> : tensor<2x3x2xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense_resource<[[FC2KEY:.+]]> : tensor<2x2x3xf32>}
// CHECK: moe.experts %{{.+}}, %{{.+}}, %{{.+}} fc1(%[[FC1]]) fc2(%[[FC2]]) {activation = "relu"
// fc1: expert 0 = [[1, 4], [2, 5], [3, 6]], expert 1 = [[7, 8], [9, 10], [11, 12]]
// CHECK: [[FC1KEY]]: "0x{{[0-9A-F]+}}0000803F00008040000000400000A040000040400000C0400000E0400000004100001041000020410000304100004041"
// fc2: expert 0 = [[1, 3, 5], [2, 4, 6]], expert 1 = [[7, 8, 9], [10, 11, 12]]
// CHECK-NEXT: [[FC2KEY]]: "0x{{[0-9A-F]+}}0000803F000040400000A04000000040000080400000C0400000E0400000004100001041000020410000304100004041"
func.func @layout(%x: tensor<?x2xf32>, %logits: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %sel0 = onnx.Where %is0, %v, %zero : (tensor<?x1xi1>, tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %rw0 = onnx.ReduceSum %sel0, %last : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %is1 = onnx.Equal %e1, %idx : (tensor<i64>, tensor<?x1xi64>) -> tensor<?x1xi1>
  %sel1 = onnx.Where %is1, %v, %zero : (tensor<?x1xi1>, tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %rw1 = onnx.ReduceSum %sel1, %last : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  // expert 0: [in, out] weights, as MatMul reads them
  %w1_0 = onnx.Constant {value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %w2_0 = onnx.Constant {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %g0 = onnx.MatMul %x, %w1_0 : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
  %h0 = onnx.Relu %g0 : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %y0 = onnx.MatMul %h0, %w2_0 : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  // expert 1: [out, in] weights, through a Transpose and a Gemm with transB
  %w1_1 = onnx.Constant {value = dense<[[7.0, 8.0], [9.0, 10.0], [11.0, 12.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %w2_1 = onnx.Constant {value = dense<[[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %w1_1t = onnx.Transpose %w1_1 {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %g1 = onnx.MatMul %x, %w1_1t : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
  %h1 = onnx.Relu %g1 : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %y1 = onnx.Gemm %h1, %w2_1 {transB = 1 : i64} : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  %wy0 = onnx.Mul %y0, %rw0 : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %wy1 = onnx.Mul %rw1, %y1 : (tensor<?x1xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %y = onnx.Add %wy1, %wy0 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests the smallest block (two experts, top-1, Relu): the base that each
// near miss below changes in one place.
// CHECK-LABEL: func.func @small_base
// CHECK: moe.router
// CHECK-NEXT: moe.experts
func.func @small_base(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests selections from a router an earlier pass raised (here a sigmoid
// router, as moec-raise-sigmoid-router writes it): that router is reused,
// only the experts are grouped.
// CHECK-LABEL: func.func @raised_sigmoid_router
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x2xf32>)
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 1 : i64, normalize = false, scoring = "sigmoid"}
// CHECK-NOT: moe.router
// CHECK: moe.experts %[[X]], %[[W]], %[[IDS]]
// CHECK-NOT: onnx.MatMul
// CHECK: return
func.func @raised_sigmoid_router(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %idx = moe.router %logits {k = 1 : i64, normalize = false, scoring = "sigmoid"} : tensor<?x2xf32> -> tensor<?x1xf32>, tensor<?x1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: expert 0 selected twice, expert 1 never.
// CHECK-LABEL: func.func @miss_repeated_expert
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_repeated_expert(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %is1 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: the ids are 0 and 2 for two experts.
// CHECK-LABEL: func.func @miss_expert_id_out_of_range
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_expert_id_out_of_range(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e2 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: three experts routed, two summed.
// CHECK-LABEL: func.func @miss_sum_without_expert
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_sum_without_expert(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: expert 1 is selected by the indices of
// another TopK (with the weights of the first).
// CHECK-LABEL: func.func @miss_two_topks
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_two_topks(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %probsb = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %vb, %idxb = onnx.TopK %probsb, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idxb, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: expert 1's second weight is a function argument.
// CHECK-LABEL: func.func @miss_runtime_weight
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_runtime_weight(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>, %w2_rt1: tensor<16x8xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_rt1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: expert 0 uses Relu, expert 1 silu.
// CHECK-LABEL: func.func @miss_structure_differs
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_structure_differs(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %sg1 = onnx.Sigmoid %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %silu1 = onnx.Mul %w1_1_y, %sg1 : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %silu1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: expert 1's output is also returned.
// CHECK-LABEL: func.func @miss_intermediate_used
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_intermediate_used(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %idx = onnx.TopK %probs, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0, %w2_1_y : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Tests that a near miss is left alone: top-1 of the raw logits, used as weights.
// CHECK-LABEL: func.func @miss_not_softmax
// CHECK-NOT: moe.
// CHECK: return
func.func @miss_not_softmax(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %idx = onnx.TopK %logits, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is0 = onnx.Equal %idx, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf0 = onnx.Cast %is0 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel0 = onnx.Mul %isf0, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %sel0, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %col = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rw0 = onnx.Unsqueeze %r0, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_0 = onnx.Constant {value = dense<1.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_0_y = onnx.MatMul %x, %w1_0 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h0 = onnx.Relu %w1_0_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_0 = onnx.Constant {value = dense<1.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_0_y = onnx.MatMul %h0, %w2_0 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy0 = onnx.Mul %w2_0_y, %rw0 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %is1 = onnx.Equal %idx, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %isf1 = onnx.Cast %is1 {to = f32} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %sel1 = onnx.Mul %isf1, %v : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %sel1, %last {keepdims = 0 : i64} : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
  %rw1 = onnx.Unsqueeze %r1, %col : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w1_1 = onnx.Constant {value = dense<2.100e-02> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %w1_1_y = onnx.MatMul %x, %w1_1 : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  %h1 = onnx.Relu %w1_1_y : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %w2_1 = onnx.Constant {value = dense<2.200e-02> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %w2_1_y = onnx.MatMul %h1, %w2_1 : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %wy1 = onnx.Mul %w2_1_y, %rw1 : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %acc0 = onnx.Add %wy0, %wy1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %acc0 : tensor<?x8xf32>
}
