// RUN: moec-opt %s --split-input-file --verify-diagnostics --moec-raise-attention

// Near-misses of exported attention (moec-raise-attention.mlir shows the
// forms it raises): [T, T] scores it must not raise. They have no place in the
// memory plan either, so each is an error that says why.

// A mask that lets query i see key i + 1: not causal.
func.func @not_causal(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %tdim = onnx.Shape %q {start = 2 : i64, end = 3 : i64} : (tensor<1x2x?x4xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = onnx.Unsqueeze %ar, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %cols = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %next = onnx.Add %rows, %one : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %keep = onnx.LessOrEqual %cols, %next : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %sm = onnx.Where %keep, %s, %ninf : (tensor<?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  // expected-error @+1 {{attention over [T, T] scores was not raised to moe.self_attention: the mask is not causal at T = 16 (query 0, key 1)}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// A padding mask read from an input: its data is not known at compile time.
func.func @mask_from_input(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>, %mask: tensor<1x1x?x?xf32>) -> tensor<1x2x?x4xf32> {
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<1x2x?x?xf32>
  // expected-error @+1 {{attention over [T, T] scores was not raised to moe.self_attention: an Add to the scores that is not a mask computed from T}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// Probabilities that are also a result (output_attentions): they would need
// their [T, T] buffer.
func.func @probabilities_returned(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> (tensor<1x2x?x4xf32>, tensor<1x2x?x?xf32>) {
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  // expected-error @+1 {{attention over [T, T] scores was not raised to moe.self_attention: the probabilities have other uses}}
  %p = onnx.Softmax %s {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o, %p : tensor<1x2x?x4xf32>, tensor<1x2x?x?xf32>
}

// -----

// A mask value of -50 is above the -1e4 at or below which a key counts as
// masked: a bias (ALiBi-like), refused.
func.func @bias_above_threshold(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
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
  %fill = onnx.Constant {value = dense<-5.000000e+01> : tensor<f32>} : () -> tensor<f32>
  %zf = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %mask = onnx.Where %keep, %zf, %fill : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  // expected-error @+1 {{the mask adds a bias other than 0 and <= -1e4}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// A Where fill of -9000: above -1e4, so the key would keep a weight moec
// cannot prove to be 0; refused.
func.func @fill_above_threshold(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
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
  %fill = onnx.Constant {value = dense<-9.000000e+03> : tensor<f32>} : () -> tensor<f32>
  %sm = onnx.Where %keep, %s, %fill : (tensor<?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  // expected-error @+1 {{a Where over the scores whose fill is above -1e4 (not a mask)}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}
