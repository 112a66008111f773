// RUN: moec-opt %s --split-input-file --moec-quantize-weights | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-quantize-weights="group-size=8" | FileCheck %s --check-prefix=GROUP

// Tests that a linear's [K, N] weight is stored transposed as int8 [N, K]
// with one scale per output row (block = K), exactly: the row [1, -2, 0.5,
// 4] has scale 4/127 and q = rint(w / scale) = [32, -64, 16, 127].
// CHECK-LABEL: func.func @linear
// CHECK: %[[Q:.+]] = onnx.Constant {value = dense_resource<{{.+}}.int8> : tensor<2x4xi8>}
// CHECK: %[[S:.+]] = onnx.Constant {value = dense_resource<{{.+}}.int8_scale> : tensor<2x1xf32>}
// CHECK: %[[W:.+]] = moe.dequantize %[[Q]], %[[S]] {axis = 1 : i64, block_size = 4 : i64} : (tensor<2x4xi8>, tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK: moe.linear %{{.+}}, %[[W]] {transpose_weight = true} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
// GROUP-LABEL: func.func @linear
// GROUP: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 4 : i64}
func.func @linear(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = "onnx.Constant"() {value = dense<[[1.0, 0.0], [-2.0, 0.0], [0.5, 0.0], [4.0, 0.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %y = moe.linear %x, %w : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that expert weights are quantized along their last axis, with
// group-size blocks when asked (fc1 [4, 16, 16]: 2 scales per row of 16).
// CHECK-LABEL: func.func @experts
// CHECK: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x16x16xi8>, tensor<4x16x1xf32>) -> tensor<4x16x16xf32>
// CHECK: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x16x16xi8>, tensor<4x16x1xf32>) -> tensor<4x16x16xf32>
// CHECK: moe.experts
// GROUP-LABEL: func.func @experts
// GROUP: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x16x16xi8>, tensor<4x16x2xf32>) -> tensor<4x16x16xf32>
func.func @experts(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>) -> tensor<?x16xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x16x16xf32>} : () -> tensor<4x16x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x16xf32>} : () -> tensor<4x16x16xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x16xf32>, tensor<4x16x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests what stays float: the router's linear (routing decisions are
// discrete), a linear feeding a Softmax, and a weight that is a run-time
// value.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: moe.dequantize
// CHECK: return
func.func @left_alone(%x: tensor<?x16xf32>, %b: tensor<16x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %r = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %logits = moe.linear %x, %r : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %l2 = moe.linear %x, %s : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %p = "onnx.Softmax"(%l2) {axis = -1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %m = moe.matmul %x, %b : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  return %w, %ids, %p, %m : tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=int4 group-size=8" | FileCheck %s --check-prefix=INT4
// Tests that int4 packs two values per byte along the reduction axis (the
// stored last dimension halves, rounded up for odd sizes) and records bits;
// a group larger than the row is one block per row.
// INT4-LABEL: func.func @int4_odd
// INT4: moe.dequantize {{.+}} {axis = 1 : i64, bits = 4 : i64, block_size = 5 : i64} : (tensor<2x3xi8>, tensor<2x1xf32>) -> tensor<2x5xf32>
func.func @int4_odd(%x: tensor<?x5xf32>) -> tensor<?x2xf32> {
  %w = "onnx.Constant"() {value = dense<0.5> : tensor<5x2xf32>} : () -> tensor<5x2xf32>
  %y = moe.linear %x, %w : (tensor<?x5xf32>, tensor<5x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
