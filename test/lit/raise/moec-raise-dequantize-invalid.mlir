// RUN: moec-opt %s --split-input-file --verify-diagnostics --moec-raise-dequantize

// Tests that dequantizing a run-time value (an activation) is refused at the
// node: moec keeps weights quantized, it does not quantize activations.
func.func @activation(%q: tensor<?x4xi8>) -> tensor<?x4xf32> {
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  // expected-error @+1 {{op 'DequantizeLinear': only weights (initializers) can be dequantized; moec does not quantize activations}}
  %w = "onnx.DequantizeLinear"(%q, %s) : (tensor<?x4xi8>, tensor<f32>) -> tensor<?x4xf32>
  return %w : tensor<?x4xf32>
}

// -----

// Tests that act-order (a g_idx that permutes the blocks) is refused rather
// than ignored.
func.func @act_order(%x: tensor<?x32xf32>) -> tensor<?x1xf32> {
  %b = "onnx.Constant"() {value = dense<136> : tensor<1x2x8xui8>} : () -> tensor<1x2x8xui8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<2xf32>} : () -> tensor<2xf32>
  %g = "onnx.Constant"() {value = dense<[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<32xi32>} : () -> tensor<32xi32>
  // expected-error @+1 {{op 'MatMulNBits': a g_idx that reorders the blocks (act-order) is not supported}}
  %y = "onnx.ms.MatMulNBits"(%x, %b, %s, %g) {K = 32 : i64, N = 1 : i64, bits = 4 : i64, block_size = 16 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0>} : (tensor<?x32xf32>, tensor<1x2x8xui8>, tensor<2xf32>, tensor<32xi32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// Tests that QMoE's float formats are refused by name rather than misread
// as integers.
func.func @qmoe_fp8(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w1 = "onnx.Constant"() {value = dense<159> : tensor<2x4x2xui8>} : () -> tensor<2x4x2xui8>
  %s1 = "onnx.Constant"() {value = dense<0.5> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  // expected-error @+1 {{op 'QMoE': quant_type 'fp8' is not supported (only int)}}
  %y = "onnx.ms.QMoE"(%x, %logits, %w1, %s1, %w1, %s1) {quant_type = "fp8", operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
