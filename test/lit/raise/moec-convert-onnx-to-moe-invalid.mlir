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

// -----

// Tests that unsigned integer arithmetic is refused with moec's message
// (arith has no unsigned ops on these types) instead of invalid IR.
func.func @unsigned_add(%a: tensor<3xui8>) -> tensor<3xui8> {
  // expected-error @+1 {{op 'Add' on 'ui8' elements is not supported (unsigned integers)}}
  %b = "onnx.Add"(%a, %a) : (tensor<3xui8>, tensor<3xui8>) -> tensor<3xui8>
  return %b : tensor<3xui8>
}

// -----

// Tests that Pow names the exponent's type when that is what is unsupported.
func.func @pow_int_exponent(%a: tensor<?x3xf32>, %e: tensor<3xi32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{op 'Pow' with a 'i32' exponent on 'f32' elements is not supported (the exponent must have the base's type)}}
  %b = "onnx.Pow"(%a, %e) : (tensor<?x3xf32>, tensor<3xi32>) -> tensor<?x3xf32>
  return %b : tensor<?x3xf32>
}
