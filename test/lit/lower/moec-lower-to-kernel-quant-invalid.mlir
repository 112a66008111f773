// RUN: moec-opt %s --moec-lower-to-kernel="target=cuda" --verify-diagnostics -o /dev/null

// Tests that the cuda target refuses int8 weights at the op (its GEMMs do
// not read them yet) instead of computing something else.
func.func @quantized_linear(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %q = "onnx.Constant"() {value = dense<3> : tensor<8x16xi8>} : () -> tensor<8x16xi8>
  %s = "onnx.Constant"() {value = dense<0.01> : tensor<8x2xf32>} : () -> tensor<8x2xf32>
  // expected-error @+1 {{quantized weights are not supported by the cuda target yet}}
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xf32>
  %y = moe.linear %x, %dq {transpose_weight = true} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
