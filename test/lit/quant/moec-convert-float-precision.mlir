// RUN: moec-opt %s --split-input-file --moec-convert-float-precision="to=bf16" | FileCheck %s

// Tests that the expert weights and activations become bf16, the model's
// f32 signature is kept with casts at the boundary, and the router (its
// logits linear, its weight and the router op) stays f32.
// CHECK-LABEL: func.func @moe_block
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xf32>) -> tensor<?x16xf32>
// CHECK: %[[XB:.+]] = moe.elementwise ins(%[[X]] : tensor<?x16xf32>) -> tensor<?x16xbf16>
// CHECK: arith.truncf
// CHECK: %[[RW:.+]] = onnx.Constant {{.*}} : () -> tensor<16x4xf32>
// CHECK: %[[FC1:.+]] = onnx.Constant {{.*}} : () -> tensor<4x32x16xbf16>
// CHECK: %[[FC2:.+]] = onnx.Constant {{.*}} : () -> tensor<4x16x32xbf16>
// CHECK: %[[L:.+]] = moe.linear %[[X]], %[[RW]] : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[L]] {{.*}} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK: %[[WB:.+]] = moe.elementwise ins(%[[W]] : tensor<?x2xf32>) -> tensor<?x2xbf16>
// CHECK: %[[Y:.+]] = moe.experts %[[XB]], %[[WB]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]]) {{.*}} -> tensor<?x16xbf16>
// CHECK: %[[YF:.+]] = moe.elementwise ins(%[[Y]] : tensor<?x16xbf16>) -> tensor<?x16xf32>
// CHECK: arith.extf
// CHECK: return %[[YF]]
func.func @moe_block(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %rw = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x32x16xf32>} : () -> tensor<4x32x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  %logits = moe.linear %x, %rw : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "silu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that an elementwise body keeps computing in f32 (extf on load, truncf
// on store) and that integer tensors are left alone.
// CHECK-LABEL: func.func @elementwise
// CHECK: moe.elementwise ins(%{{.+}}, %{{.+}} : tensor<?x8xbf16>, tensor<?x8xi64>) -> tensor<?x8xbf16>
// CHECK-NEXT: ^bb0(%[[A:.+]]: bf16, %[[I:.+]]: i64):
// CHECK-NEXT: %[[AF:.+]] = arith.extf %[[A]] : bf16 to f32
// CHECK: arith.sitofp %[[I]] : i64 to f32
// CHECK: %[[R:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT: moe.yield %[[R]] : bf16
func.func @elementwise(%a: tensor<?x8xf32>, %i: tensor<?x8xi64>) -> tensor<?x8xf32> {
  %r = moe.elementwise ins(%a, %i : tensor<?x8xf32>, tensor<?x8xi64>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %n: i64):
    %f = arith.sitofp %n : i64 to f32
    %m = arith.mulf %x, %f : f32
    moe.yield %m : f32
  }
  return %r : tensor<?x8xf32>
}

// -----

// Tests that a decomposed router (softmax feeding TopK) stays f32 and reads
// the f32 model input, while the expert computation on the same input is
// converted.
// CHECK-LABEL: func.func @decomposed_router
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xf32>)
// CHECK: %[[XB:.+]] = moe.elementwise ins(%[[X]] : tensor<?x16xf32>) -> tensor<?x16xbf16>
// CHECK: %[[L:.+]] = moe.linear %[[X]], %{{.+}} : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
// CHECK: %[[P:.+]] = onnx.Softmax %[[L]] {{.*}} -> tensor<?x4xf32>
// CHECK: onnx.TopK %[[P]], %{{.+}} : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
// CHECK: moe.linear %[[XB]], %{{.+}} : (tensor<?x16xbf16>, tensor<16x8xbf16>) -> tensor<?x8xbf16>
func.func @decomposed_router(%x: tensor<?x16xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x8xf32>) {
  %rw = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %ew = "onnx.Constant"() {value = dense<0.5> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
  %k = "onnx.Constant"() {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %logits = moe.linear %x, %rw : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %p = "onnx.Softmax"(%logits) {axis = -1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %v, %i = "onnx.TopK"(%p, %k) {axis = -1 : i64, largest = 1 : i64, sorted = 1 : i64} : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %y = moe.linear %x, %ew : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return %v, %i, %y : tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x8xf32>
}

// -----

// Tests that q, k, v and the output of moe.self_attention become bf16 while
// its sink logits stay f32, as the op requires.
// CHECK-LABEL: func.func @attention_sinks_stay_f32
// CHECK: %[[SINKS:.*]] = onnx.Constant {value = dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>}
// CHECK: moe.self_attention %{{.*}}, %{{.*}}, %{{.*}}, %[[SINKS]] {{.*}} : (tensor<1x2x?x4xbf16>, tensor<1x2x?x4xbf16>, tensor<1x2x?x4xbf16>, tensor<2xf32>) -> tensor<1x2x?x4xbf16>
func.func @attention_sinks_stay_f32(%q: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %sinks = onnx.Constant {value = dense<[0.5, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %o = moe.self_attention %q, %q, %q, %sinks {scale = 0.5 : f32} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<2xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}
