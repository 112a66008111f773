// RUN: moec-opt %s --verify-diagnostics --moec-raise-dequantize

// Tests that dequantizing a run-time value (an activation) is refused at the
// node: moec keeps weights quantized, it does not quantize activations.
func.func @activation(%q: tensor<?x4xi8>) -> tensor<?x4xf32> {
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  // expected-error @+1 {{op 'DequantizeLinear': only weights (initializers) can be dequantized; moec does not quantize activations}}
  %w = "onnx.DequantizeLinear"(%q, %s) : (tensor<?x4xi8>, tensor<f32>) -> tensor<?x4xf32>
  return %w : tensor<?x4xf32>
}
