// RUN: moec-opt %s --split-input-file --verify-diagnostics --moec-raise-rms-norm

// Tests that a used inv_std_var output is refused at the op, not dropped.
func.func @inv_std_var_used(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>) {
  // expected-error @+1 {{op 'SimplifiedLayerNormalization': the inv_std_var output is not supported}}
  %y, %r = "onnx.SimplifiedLayerNormalization"(%x, %w) : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>)
  return %y, %r : tensor<?x8xf32>, tensor<?x1xf32>
}

// -----

// Tests that a used mean output of the Skip form is refused at the op.
func.func @skip_mean_used(%x: tensor<?x8xf32>, %r: tensor<?x8xf32>, %g: tensor<8xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{op 'SkipSimplifiedLayerNormalization': the mean output is not supported}}
  %y, %m = "onnx.ms.SkipSimplifiedLayerNormalization"(%x, %r, %g) : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>)
  return %m : tensor<?x1xf32>
}

// -----

// Tests that normalizing over the token dimension is refused.
func.func @token_axis(%x: tensor<?x8xf32>, %w: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{op 'RMSNormalization': normalizing over the token dimension is not supported}}
  %y = "onnx.RMSNormalization"(%x, %w) {axis = 0 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
