// RUN: moec-opt %s | moec-opt | FileCheck %s

// Tests that kernel ops print and parse back to themselves.
// CHECK-LABEL: func.func @launches
func.func @launches(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK: kernel.constant dense<1.000000e+00> : tensor<8xf32> -> tensor<8xf32>
  %w = kernel.constant dense<1.0> : tensor<8xf32> -> tensor<8xf32>
  // CHECK: kernel.launch "softmax"(%{{.+}}) {spec = {axis = 1 : i64}}
  %s = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: kernel.launch "elementwise"
  // CHECK: kernel.yield
  %e = kernel.launch "elementwise" (%s, %w) {spec = {}} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %b : f32
    kernel.yield %m : f32
  }
  return %e : tensor<?x8xf32>
}
