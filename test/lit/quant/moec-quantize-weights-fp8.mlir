// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=fp8" | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=fp8 group-size=2" | FileCheck %s --check-prefix=GROUP
// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=fp8" --mlir-print-elementsattrs-with-hex-if-larger=1 | FileCheck %s --check-prefix=HEX
// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=fp8 group-size=2" --mlir-print-elementsattrs-with-hex-if-larger=1 | FileCheck %s --check-prefix=GHEX
// RUN: echo '{"rules": [{"match": "/moe/", "format": "fp8", "group_size": 8}]}' > %t.json
// RUN: moec-opt %s --split-input-file --moec-quantize-weights="format=int8 config=%t.json" | FileCheck %s --check-prefix=CONFIG

// Tests fp8 (E4M3FN) per output row on an [N, K] weight whose first row has
// max |w| = 448, so its scale is exactly 1 and q is w rounded to E4M3FN,
// nearest, ties to the even code: 448 -> 0x7E (the largest finite value),
// 17 -> 16 (0x58; a tie between 16 and 18), 19 -> 20 (0x5A; a tie between
// 18 and 20), -2^-10 -> -0 (0x80; a tie between 0 and the smallest
// subnormal 2^-9), 300 -> 288 (0x79; nearer than 320). The second row is
// all zeros: scale 0 and q 0.
// CHECK-LABEL: func.func @per_row
// CHECK: %[[Q:.+]] = onnx.Constant {value = dense_resource<{{.+}}.fp8> : tensor<2x5xf8E4M3FN>}
// CHECK: %[[S:.+]] = onnx.Constant {value = dense_resource<{{.+}}.fp8_scale> : tensor<2x1xf32>}
// CHECK: %[[W:.+]] = moe.dequantize %[[Q]], %[[S]] {axis = 1 : i64, block_size = 5 : i64} : (tensor<2x5xf8E4M3FN>, tensor<2x1xf32>) -> tensor<2x5xf32>
// CHECK: moe.linear %{{.+}}, %[[W]] {transpose_weight = true}
// GROUP-LABEL: func.func @per_row
// GROUP: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 2 : i64} : (tensor<2x5xf8E4M3FN>, tensor<2x3xf32>) -> tensor<2x5xf32>
// HEX: w.fp8: "0x{{[0-9A-F]+}}7E585A80790000000000"
// HEX: w.fp8_scale: "0x{{[0-9A-F]+}}0000803F00000000"
func.func @per_row(%x: tensor<?x5xf32>) -> tensor<?x2xf32> {
  %w = "onnx.Constant"() {value = dense<[[448.0, 17.0, 19.0, -0.0009765625, 300.0], [0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<2x5xf32>} : () -> tensor<2x5xf32> loc("w")
  %y = moe.linear %x, %w {transpose_weight = true} : (tensor<?x5xf32>, tensor<2x5xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests blocks along K of a [K, N] weight (stored [N, K]): with group-size 2
// the column [1, -2, 0.5, 4] is two blocks, [1, -2] with scale 2/448 and
// [0.5, 4] with scale 4/448; w / scale gives 224 (0x76), -448 (0xFE), 56
// (0x66) and 448 (0x7E). The second column [0.5, 0.5, 0.5, 0.5] is 448 in
// every block.
// GROUP-LABEL: func.func @blocked
// GROUP: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 2 : i64} : (tensor<2x4xf8E4M3FN>, tensor<2x2xf32>) -> tensor<2x4xf32>
// GHEX-LABEL: func.func @blocked
// GHEX: k.fp8: "0x{{[0-9A-F]+}}76FE667E7E7E7E7E"
// Per row instead (one block of 4, scale 4/448): 112 (0x6E), -224 (0xF6),
// 56 (0x66), 448 (0x7E).
// HEX-LABEL: func.func @blocked
// HEX: k.fp8: "0x{{[0-9A-F]+}}6EF6667E7E7E7E7E"
func.func @blocked(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = "onnx.Constant"() {value = dense<[[1.0, 0.5], [-2.0, 0.5], [0.5, 0.5], [4.0, 0.5]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32> loc("k")
  %y = moe.linear %x, %w : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that expert weights become f8E4M3FN along their last axis, and the
// config's "fp8" rule applies to the op under /moe/ (group 8), while the
// linear no rule matches takes the default (int8).
// CHECK-LABEL: func.func @experts
// CHECK: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x16x16xf8E4M3FN>, tensor<4x16x1xf32>) -> tensor<4x16x16xf32>
// CHECK: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x16x16xf8E4M3FN>, tensor<4x16x1xf32>) -> tensor<4x16x16xf32>
// CHECK: moe.experts
// CONFIG-LABEL: func.func @experts
// CONFIG: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x16x16xf8E4M3FN>, tensor<4x16x2xf32>) -> tensor<4x16x16xf32>
// CONFIG: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x16x16xf8E4M3FN>, tensor<4x16x2xf32>) -> tensor<4x16x16xf32>
// CONFIG: moe.experts
// CONFIG: moe.dequantize {{.+}} : (tensor<2x16xi8>, tensor<2x1xf32>) -> tensor<2x16xf32>
func.func @experts(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>) -> tensor<?x2xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x16x16xf32>} : () -> tensor<4x16x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x16xf32>} : () -> tensor<4x16x16xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x16xf32>, tensor<4x16x16xf32>) -> tensor<?x16xf32> loc("/layers.0/moe/MoE")
  %h = "onnx.Constant"() {value = dense<0.5> : tensor<16x2xf32>} : () -> tensor<16x2xf32>
  %o = moe.linear %y, %h : (tensor<?x16xf32>, tensor<16x2xf32>) -> tensor<?x2xf32> loc("/lm_head/MatMul")
  return %o : tensor<?x2xf32>
}

// -----

// Tests that the router's linear stays float in fp8 as in the other formats
// (routing decisions are discrete), as do a linear feeding a Softmax and a
// run-time weight.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: moe.dequantize
// CHECK-NOT: f8E4M3FN
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
