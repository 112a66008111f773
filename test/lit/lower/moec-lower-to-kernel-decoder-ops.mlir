// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel --verify-diagnostics | FileCheck %s

// Range, CumSum and ScatterND become one launch each. Range reads its three
// scalars at run time (the kernel checks them against the planned length);
// CumSum's axis is compile-time information folded into the spec.

// Tests that Range(0, T, 1) reads T from a shape_of + gather at run time,
// with its constant scalars as kernel.constant operands, and that CumSum's
// axis (negative) is normalized into the spec while the axis constant
// disappears.
// CHECK-LABEL: func.func @positions
// CHECK: %[[S:.+]] = kernel.launch "shape_of"() {spec = {dims = array<i64: -1, 8>}}
// CHECK: %[[Z:.+]] = kernel.constant dense<0> : tensor<i64>
// CHECK: %[[T:.+]] = kernel.launch "gather"(%[[S]], %[[Z]])
// CHECK: %[[O:.+]] = kernel.constant dense<1> : tensor<i64>
// CHECK: %[[R:.+]] = kernel.launch "range"(%[[Z]], %[[T]], %[[O]]) {spec = {}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK: %[[C:.+]] = kernel.launch "cumsum"(%{{.+}}) {spec = {axis = 0 : i64, exclusive = true, reverse = false}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK-NOT: dense<-2>
// CHECK: return %[[R]], %[[C]]
func.func @positions(%x: tensor<?x8xf32>) -> (tensor<?xi64>, tensor<?x8xf32>) {
  %shape = "onnx.Shape"(%x) : (tensor<?x8xf32>) -> tensor<2xi64>
  %zero = "onnx.Constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %t = "onnx.Gather"(%shape, %zero) {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %one = "onnx.Constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %pos = "onnx.Range"(%zero, %t, %one) : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %axis = "onnx.Constant"() {value = dense<-2> : tensor<i64>} : () -> tensor<i64>
  %c = "onnx.CumSum"(%x, %axis) {exclusive = 1 : i64} : (tensor<?x8xf32>, tensor<i64>) -> tensor<?x8xf32>
  return %pos, %c : tensor<?xi64>, tensor<?x8xf32>
}

// -----

// Tests that ScatterND keeps its three operands and its reduction.
// CHECK-LABEL: func.func @scatter
// CHECK: kernel.launch "scatter_nd"(%{{.+}}, %{{.+}}, %{{.+}}) {spec = {reduction = "add"}} : (tensor<?x8xf32>, tensor<3x1xi64>, tensor<3x8xf32>) -> tensor<?x8xf32>
func.func @scatter(%x: tensor<?x8xf32>, %i: tensor<3x1xi64>, %u: tensor<3x8xf32>) -> tensor<?x8xf32> {
  %y = "onnx.ScatterND"(%x, %i, %u) {reduction = "add"} : (tensor<?x8xf32>, tensor<3x1xi64>, tensor<3x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Tests that a CumSum axis computed at run time is refused at the op.
func.func @cumsum_runtime_axis(%x: tensor<?x8xf32>, %axis: tensor<i64>) -> tensor<?x8xf32> {
  // expected-error @+1 {{op 'CumSum': axis must be known at compile time}}
  %c = "onnx.CumSum"(%x, %axis) : (tensor<?x8xf32>, tensor<i64>) -> tensor<?x8xf32>
  return %c : tensor<?x8xf32>
}

// -----

// Tests that ScatterND index tuples of token-count length are refused.
func.func @scatter_token_tuples(%x: tensor<4x8xf32>, %i: tensor<2x?xi64>, %u: tensor<*xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{op 'ScatterND': index tuples of token-count length are not supported}}
  %y = "onnx.ScatterND"(%x, %i, %u) : (tensor<4x8xf32>, tensor<2x?xi64>, tensor<*xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
