// RUN: moec-opt %s --split-input-file --moec-raise-rms-norm | FileCheck %s

// Tests that the decomposed LlamaRMSNorm (Pow 2, ReduceMean with keepdims,
// Add eps, Sqrt, Reciprocal, Mul x, Mul weight) becomes one moe.rms_norm
// with the weight as its scale, and that nothing of the chain is left.
// CHECK-LABEL: func.func @decomposed_pow_reciprocal
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xf32>)
// CHECK: %[[W:.+]] = onnx.Constant {value = dense<1.500000e+00> : tensor<16xf32>}
// CHECK-NEXT: %[[Y:.+]] = moe.rms_norm %[[X]], %[[W]] {axis = 1 : i64, epsilon = 9.99999997E-7 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @decomposed_pow_reciprocal(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %two = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %axes = "onnx.Constant"() {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eps = "onnx.Constant"() {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %w = "onnx.Constant"() {value = dense<1.5> : tensor<16xf32>} : () -> tensor<16xf32>
  %sq = "onnx.Pow"(%x, %two) : (tensor<?x16xf32>, tensor<f32>) -> tensor<?x16xf32>
  %mean = "onnx.ReduceMean"(%sq, %axes) : (tensor<?x16xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %add = "onnx.Add"(%mean, %eps) : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %rms = "onnx.Sqrt"(%add) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %inv = "onnx.Reciprocal"(%rms) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %n = "onnx.Mul"(%x, %inv) : (tensor<?x16xf32>, tensor<?x1xf32>) -> tensor<?x16xf32>
  %y = "onnx.Mul"(%w, %n) : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests the other spellings: Mul(x, x) for the square, eps on the left of the
// Add, x divided by the Sqrt, and no weight (no scale operand).
// CHECK-LABEL: func.func @decomposed_mul_div_no_weight
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK: %[[Y:.+]] = moe.rms_norm %[[X]] {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @decomposed_mul_div_no_weight(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %axes = "onnx.Constant"() {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eps = "onnx.Constant"() {value = dense<1.0e-5> : tensor<1xf32>} : () -> tensor<1xf32>
  %sq = "onnx.Mul"(%x, %x) : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %mean = "onnx.ReduceMean"(%sq, %axes) : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %add = "onnx.Add"(%eps, %mean) : (tensor<1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %rms = "onnx.Sqrt"(%add) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %y = "onnx.Div"(%x, %rms) : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Tests that Div(1, Sqrt) counts as the reciprocal, and that a Cast of the
// normalized value before the weight is absorbed (the norm produces the
// Mul's type).
// CHECK-LABEL: func.func @decomposed_div_one_cast
// CHECK: %[[Y:.+]] = moe.rms_norm %{{.+}}, %{{.+}} {axis = 1 : i64, epsilon = {{.+}} : f32} : (tensor<?x8xf32>, tensor<8xf16>) -> tensor<?x8xf16>
// CHECK-NOT: onnx.Div
// CHECK-NOT: onnx.Cast
// CHECK: return %[[Y]]
func.func @decomposed_div_one_cast(%x: tensor<?x8xf32>) -> tensor<?x8xf16> {
  %two = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %one = "onnx.Constant"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %axes = "onnx.Constant"() {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eps = "onnx.Constant"() {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %w = "onnx.Constant"() {value = dense<1.5> : tensor<8xf16>} : () -> tensor<8xf16>
  %sq = "onnx.Pow"(%x, %two) : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %mean = "onnx.ReduceMean"(%sq, %axes) : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %add = "onnx.Add"(%mean, %eps) : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %rms = "onnx.Sqrt"(%add) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %inv = "onnx.Div"(%one, %rms) : (tensor<f32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %n = "onnx.Mul"(%inv, %x) : (tensor<?x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %c = "onnx.Cast"(%n) {to = f16} : (tensor<?x8xf32>) -> tensor<?x8xf16>
  %y = "onnx.Mul"(%c, %w) : (tensor<?x8xf16>, tensor<8xf16>) -> tensor<?x8xf16>
  return %y : tensor<?x8xf16>
}

// -----

// Tests the near misses that must stay as they are: a cube instead of a
// square, a mean over a leading axis instead of the trailing ones,
// keepdims = 0, and a chain whose mean is also used elsewhere.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: moe.rms_norm
// CHECK: onnx.Pow
// CHECK: onnx.ReduceMean
// CHECK: onnx.ReduceMean
// CHECK: onnx.ReduceMean
// CHECK: onnx.ReduceMean
// CHECK-NOT: moe.rms_norm
// CHECK: return
func.func @near_misses(%x: tensor<?x8xf32>, %z: tensor<4x?x8xf32>) -> (tensor<?x8xf32>, tensor<4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x1xf32>) {
  %two = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %three = "onnx.Constant"() {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %last = "onnx.Constant"() {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %first = "onnx.Constant"() {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eps = "onnx.Constant"() {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  // x^3
  %cube = "onnx.Pow"(%x, %three) : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %m0 = "onnx.ReduceMean"(%cube, %last) : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %a0 = "onnx.Add"(%m0, %eps) : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %s0 = "onnx.Sqrt"(%a0) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %y0 = "onnx.Div"(%x, %s0) : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  // mean over axis 0 of a rank-3 tensor
  %sq1 = "onnx.Mul"(%z, %z) : (tensor<4x?x8xf32>, tensor<4x?x8xf32>) -> tensor<4x?x8xf32>
  %m1 = "onnx.ReduceMean"(%sq1, %first) : (tensor<4x?x8xf32>, tensor<1xi64>) -> tensor<1x?x8xf32>
  %a1 = "onnx.Add"(%m1, %eps) : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %s1 = "onnx.Sqrt"(%a1) : (tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %y1 = "onnx.Div"(%z, %s1) : (tensor<4x?x8xf32>, tensor<1x?x8xf32>) -> tensor<4x?x8xf32>
  // keepdims = 0
  %sq2 = "onnx.Mul"(%x, %x) : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %m2 = "onnx.ReduceMean"(%sq2, %last) {keepdims = 0 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?xf32>
  %a2 = "onnx.Add"(%m2, %eps) : (tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
  %s2 = "onnx.Sqrt"(%a2) : (tensor<?xf32>) -> tensor<?xf32>
  %u2 = "onnx.Unsqueeze"(%s2, %last) : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %y2 = "onnx.Div"(%x, %u2) : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  // the mean square is also an output
  %sq3 = "onnx.Pow"(%x, %two) : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %m3 = "onnx.ReduceMean"(%sq3, %last) : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %a3 = "onnx.Add"(%m3, %eps) : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %s3 = "onnx.Sqrt"(%a3) : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %y3 = "onnx.Div"(%x, %s3) : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  return %y0, %y1, %y2, %y3, %m3 : tensor<?x8xf32>, tensor<4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x1xf32>
}

// -----

// Tests that RMSNormalization (opset 23) and SimplifiedLayerNormalization are
// raised with their epsilon and axis, a broadcasting constant scale is
// expanded to the normalized shape, and the leading axes stay rows.
// CHECK-LABEL: func.func @explicit_ops
// CHECK: %[[S:.+]] = onnx.Constant {value = dense<2.000000e+00> : tensor<4x8xf32>}
// CHECK: %[[A:.+]] = moe.rms_norm %{{.+}}, %[[S]] {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x4x8xf32>, tensor<4x8xf32>) -> tensor<?x4x8xf32>
// CHECK: %[[B:.+]] = moe.rms_norm %[[A]], %{{.+}} {axis = 2 : i64, epsilon = 1.000000e-03 : f32} : (tensor<?x4x8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
// CHECK: return %[[B]]
func.func @explicit_ops(%x: tensor<?x4x8xf32>, %w: tensor<8xf32>) -> tensor<?x4x8xf32> {
  %s = "onnx.Constant"() {value = dense<2.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %a = "onnx.RMSNormalization"(%x, %s) {axis = 1 : i64} : (tensor<?x4x8xf32>, tensor<1x8xf32>) -> tensor<?x4x8xf32>
  %b = "onnx.SimplifiedLayerNormalization"(%a, %w) {epsilon = 1.0e-3 : f32} : (tensor<?x4x8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  return %b : tensor<?x4x8xf32>
}

// -----

// Tests that a run-time scale that only broadcasts is applied by a Mul after
// an unscaled norm.
// CHECK-LABEL: func.func @runtime_broadcast_scale
// CHECK: %[[N:.+]] = moe.rms_norm %{{.+}} {axis = 1 : i64, {{.+}}} : (tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
// CHECK: onnx.Mul %[[N]], %{{.+}} : (tensor<?x4x8xf32>, tensor<1x8xf32>) -> tensor<?x4x8xf32>
func.func @runtime_broadcast_scale(%x: tensor<?x4x8xf32>, %s: tensor<1x8xf32>) -> tensor<?x4x8xf32> {
  %a = "onnx.RMSNormalization"(%x, %s) {axis = 1 : i64} : (tensor<?x4x8xf32>, tensor<1x8xf32>) -> tensor<?x4x8xf32>
  return %a : tensor<?x4x8xf32>
}

// -----

// Tests that SkipSimplifiedLayerNormalization becomes the residual sum
// (+ bias) as onnx.Add ops, a norm of it, and that its fourth output is the
// sum.
// CHECK-LABEL: func.func @skip_norm
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[R:.+]]: tensor<?x8xf32>, %[[G:.+]]: tensor<8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK: %[[S0:.+]] = onnx.Add %[[X]], %[[R]]
// CHECK: %[[S:.+]] = onnx.Add %[[S0]], %[[B]]
// CHECK: %[[Y:.+]] = moe.rms_norm %[[S]], %[[G]] {axis = 1 : i64, epsilon = 9.99999997E-7 : f32}
// CHECK: return %[[Y]], %[[S]]
func.func @skip_norm(%x: tensor<?x8xf32>, %r: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %y, %m, %i, %s = "onnx.ms.SkipSimplifiedLayerNormalization"(%x, %r, %g, %b) {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x8xf32>)
  return %y, %s : tensor<?x8xf32>, tensor<?x8xf32>
}
