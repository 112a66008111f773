// RUN: moec-opt %s --split-input-file --moec-convert-onnx-to-moe --verify-diagnostics

// Tests that the sparse mixer routing, which moec does not implement, is
// refused at the node instead of being computed as plain top-k.
func.func @sparse_mixer(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>) -> tensor<?x16xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x32x16xf32>} : () -> tensor<4x32x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  // expected-error @+1 {{op 'MoE': use_sparse_mixer = 1 is not supported yet}}
  %y = "onnx.ms.MoE"(%x, %logits, %fc1, %fc2) {activation_type = "relu", k = 2 : i64, use_sparse_mixer = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0>} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that expert weights that are graph inputs (not initializers) are
// refused: the kernels need them at compile time to fix their layout.
func.func @runtime_weights(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>, %fc1: tensor<4x32x16xf32>) -> tensor<?x16xf32> {
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  // expected-error @+1 {{expert weights and biases must be initializers}}
  %y = "onnx.ms.MoE"(%x, %logits, %fc1, %fc2) {activation_type = "relu", k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0>} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
