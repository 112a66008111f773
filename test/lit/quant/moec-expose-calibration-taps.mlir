// RUN: moec-opt %s --split-input-file --moec-expose-calibration-taps | FileCheck %s

// Tests that the values a calibration run samples become extra results, each
// once, named moec.tap.N and described on the function by key: the input of
// a quantizable linear, the input and expert_ids of the experts, the
// router's expert_ids (the same value as the experts', so one result). The
// router's own linear is not tapped (its logits stay float) and the
// original result stays first.
// CHECK-LABEL: func.func @taps
// CHECK-SAME: -> (tensor<?x4xf32> {onnx.name = "y"}, tensor<?x4xf32> {onnx.name = "moec.tap.0"}, tensor<?x1xi64> {onnx.name = "moec.tap.1"})
// CHECK-SAME: moec.calibration_taps = [
// CHECK-SAME: {key = "/q/MatMul", op = "moe.linear", output = "moec.tap.0", value = "input"},
// CHECK-SAME: {key = "/moe/MoE", op = "moe.router", output = "moec.tap.1", value = "expert_ids"},
// CHECK-SAME: {key = "/moe/MoE", op = "moe.experts", output = "moec.tap.0", value = "input"},
// CHECK-SAME: {key = "/moe/MoE", op = "moe.experts", output = "moec.tap.1", value = "expert_ids"}]
// CHECK: %[[N:.+]] = moe.rms_norm
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router
// CHECK: %[[E:.+]] = moe.experts
// CHECK: return %[[E]], %[[N]], %[[IDS]] : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x1xi64>
func.func @taps(%x: tensor<?x4xf32> {onnx.name = "x"}) -> (tensor<?x4xf32> {onnx.name = "y"}) {
  %g = "onnx.Constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %n = moe.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-06 : f32} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %q = "onnx.Constant"() {value = dense<0.5> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %qy = moe.linear %n, %q : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc("/q/MatMul")
  %r = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %logits = moe.linear %qy, %r : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32> loc("/router/MatMul")
  %w, %ids = moe.router %logits {k = 1 : i64, normalize = true, scoring = "softmax"} : tensor<?x2xf32> -> tensor<?x1xf32>, tensor<?x1xi64> loc("/moe/MoE")
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<2x4x8xf32>} : () -> tensor<2x4x8xf32>
  %e = moe.experts %n, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x4xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<?x4xf32> loc("/moe/MoE")
  return %e : tensor<?x4xf32>
}

// -----

// Tests what is not tapped: a linear whose weight is a run-time value or a
// pre-quantized moe.dequantize (nothing to round), and a linear that only
// feeds a router. Without taps the function keeps its signature.
// CHECK-LABEL: func.func @none
// CHECK-SAME: -> (tensor<?x2xf32> {onnx.name = "y"}, tensor<?x1xi64> {onnx.name = "moec.tap.0"})
// CHECK-SAME: moec.calibration_taps = [{key = "/router", op = "moe.router", output = "moec.tap.0", value = "expert_ids"}]
// CHECK: return %{{.+}}, %{{.+}} : tensor<?x2xf32>, tensor<?x1xi64>
func.func @none(%x: tensor<?x4xf32>, %b: tensor<4x2xf32>) -> (tensor<?x2xf32> {onnx.name = "y"}) {
  %m = moe.linear %x, %b : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32> loc("/runtime/MatMul")
  %q = "onnx.Constant"() {value = dense<1> : tensor<2x2xi8>} : () -> tensor<2x2xi8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 2 : i64} : (tensor<2x2xi8>, tensor<2x1xf32>) -> tensor<2x2xf32>
  %l = moe.linear %m, %dq {transpose_weight = true} : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32> loc("/prequantized/MatMul")
  %r = "onnx.Constant"() {value = dense<0.5> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %logits = moe.linear %l, %r : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32> loc("/router/MatMul")
  %w, %ids = moe.router %logits {k = 1 : i64, normalize = true, scoring = "softmax"} : tensor<?x2xf32> -> tensor<?x1xf32>, tensor<?x1xi64> loc("/router")
  return %l : tensor<?x2xf32>
}
