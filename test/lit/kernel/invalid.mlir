// RUN: moec-opt %s --split-input-file --verify-diagnostics

// Tests that only elementwise launches may have a body.
func.func @body_on_softmax(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{only elementwise launches have a body}}
  %s = kernel.launch "softmax" (%x) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32):
    kernel.yield %a : f32
  }
  return
}

// -----

// Tests that an elementwise launch needs its body.
func.func @elementwise_without_body(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{an elementwise launch needs a body}}
  %s = kernel.launch "elementwise" (%x) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that a weight must have a static shape matching its value.
func.func @constant_type() {
  // expected-error @+1 {{value type does not match the result type}}
  %w = kernel.constant dense<1.0> : tensor<8xf32> -> tensor<4xf32>
  return
}
