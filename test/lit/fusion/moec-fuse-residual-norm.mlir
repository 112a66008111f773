// RUN: moec-opt %s --split-input-file --moec-fuse-residual-norm | FileCheck %s

// Tests that a residual add (f32) feeding an rms_norm becomes one rms_norm
// launch with has_residual, whose second result (the sum) replaces the add's
// for its later readers.
// CHECK-LABEL: func.func @f32_add
// CHECK-NOT: kernel.launch "elementwise"
// CHECK: %[[N:.+]]:2 = kernel.launch "rms_norm"(%arg0, %arg1, %{{.+}}) {spec = {axis = 1 : i64, epsilon = 9.99999997E-7 : f32, has_residual = true, has_scale = true}} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: kernel.launch "elementwise"(%[[N]]#1, %[[N]]#0)
func.func @f32_add(%a: tensor<?x16xf32>, %b: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %w = kernel.constant dense<1.5> : tensor<16xf32> -> tensor<16xf32>
  %s = kernel.launch "elementwise"(%a, %b) {spec = {}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32, %y: f32):
    %r = arith.addf %x, %y : f32
    kernel.yield %r : f32
  }
  %n = kernel.launch "rms_norm"(%s, %w) {spec = {axis = 1 : i64, epsilon = 1.0e-6 : f32, has_scale = true}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %o = kernel.launch "elementwise"(%s, %n) {spec = {}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32, %y: f32):
    %r = arith.mulf %x, %y : f32
    kernel.yield %r : f32
  }
  return %o : tensor<?x16xf32>
}

// -----

// Tests the 16-bit form: the body extends to f32, adds and truncates once.
// CHECK-LABEL: func.func @bf16_add
// CHECK: kernel.launch "rms_norm"(%arg1, %arg0) {spec = {{{.*}}has_residual = true{{.*}}}} : (tensor<?x16xbf16>, tensor<?x16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>)
func.func @bf16_add(%a: tensor<?x16xbf16>, %b: tensor<?x16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  %s = kernel.launch "elementwise"(%b, %a) {spec = {}} : (tensor<?x16xbf16>, tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  ^bb0(%x: bf16, %y: bf16):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %r = arith.addf %yf, %xf : f32
    %t = arith.truncf %r : f32 to bf16
    kernel.yield %t : bf16
  }
  %n = kernel.launch "rms_norm"(%s) {spec = {axis = 1 : i64, epsilon = 1.0e-6 : f32, has_scale = false}} : (tensor<?x16xbf16>) -> tensor<?x16xbf16>
  return %n, %s : tensor<?x16xbf16>, tensor<?x16xbf16>
}

// -----

// Tests what stays as it is: an add that broadcasts a bias, a subtraction,
// and a sum read before the norm.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: has_residual
func.func @near_misses(%a: tensor<?x16xf32>, %b: tensor<?x16xf32>, %bias: tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
  %s1 = kernel.launch "elementwise"(%a, %bias) {spec = {}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32, %y: f32):
    %r = arith.addf %x, %y : f32
    kernel.yield %r : f32
  }
  %n1 = kernel.launch "rms_norm"(%s1) {spec = {axis = 1 : i64, epsilon = 1.0e-6 : f32, has_scale = false}} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %s2 = kernel.launch "elementwise"(%a, %b) {spec = {}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32, %y: f32):
    %r = arith.subf %x, %y : f32
    kernel.yield %r : f32
  }
  %n2 = kernel.launch "rms_norm"(%s2) {spec = {axis = 1 : i64, epsilon = 1.0e-6 : f32, has_scale = false}} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %s3 = kernel.launch "elementwise"(%a, %b) {spec = {}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32, %y: f32):
    %r = arith.addf %x, %y : f32
    kernel.yield %r : f32
  }
  %early = kernel.launch "elementwise"(%s3) {spec = {}} : (tensor<?x16xf32>) -> tensor<?x16xf32> {
  ^bb0(%x: f32):
    %r = arith.negf %x : f32
    kernel.yield %r : f32
  }
  %n3 = kernel.launch "rms_norm"(%s3) {spec = {axis = 1 : i64, epsilon = 1.0e-6 : f32, has_scale = false}} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %n1, %n2, %n3, %early : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
}
