// RUN: moec-opt %s --split-input-file --moec-raise-dequantize | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-raise-dequantize --mlir-print-elementsattrs-with-hex-if-larger=1 | FileCheck %s --check-prefix=HEX

// Tests that a per-axis float8 E4M3FN weight [K, N] (axis = 1, one scale per
// output column) stays fp8: moe.dequantize reads the same f8E4M3FN constant,
// blocked along K with scale [1, N]; nothing is requantized.
// CHECK-LABEL: func.func @per_axis
// CHECK: %[[Q:.+]] = onnx.Constant {value = dense<{{.+}}> : tensor<2x3xf8E4M3FN>}
// CHECK: %[[S:.+]] = onnx.Constant {value = dense_resource<"/dq.scale"> : tensor<1x3xf32>}
// CHECK: %[[W:.+]] = moe.dequantize %[[Q]], %[[S]] {axis = 0 : i64, block_size = 2 : i64} : (tensor<2x3xf8E4M3FN>, tensor<1x3xf32>) -> tensor<2x3xf32>
// CHECK: onnx.MatMul %{{.+}}, %[[W]]
// The bytes are the initializer's: 1, 2, 3, 0.5, -4, 448 in E4M3FN.
// HEX-LABEL: func.func @per_axis
// HEX: onnx.Constant {value = dense<"0x38404430C87E"> : tensor<2x3xf8E4M3FN>}
func.func @per_axis(%x: tensor<?x2xf32>) -> tensor<?x3xf32> {
  %q = "onnx.Constant"() {value = dense<[[1.0, 2.0, 3.0], [0.5, -4.0, 448.0]]> : tensor<2x3xf8E4M3FN>} : () -> tensor<2x3xf8E4M3FN>
  %s = "onnx.Constant"() {value = dense<[0.5, 0.25, 2.0]> : tensor<3xf32>} : () -> tensor<3xf32>
  %w = "onnx.DequantizeLinear"(%q, %s) {axis = 1 : i64} : (tensor<2x3xf8E4M3FN>, tensor<3xf32>) -> tensor<2x3xf32> loc("/dq")
  %y = "onnx.MatMul"(%x, %w) : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

// Tests that the blocked form (opset 21) keeps its axis and block size, a zero
// zero point counts as none, and a per-tensor scale becomes one block per row.
// CHECK-LABEL: func.func @blocked_and_per_tensor
// CHECK: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 2 : i64} : (tensor<3x4xf8E4M3FN>, tensor<3x2xf32>) -> tensor<3x4xf32>
// CHECK: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 4 : i64} : (tensor<3x4xf8E4M3FN>, tensor<3x1xf32>) -> tensor<3x4xf32>
func.func @blocked_and_per_tensor() -> (tensor<3x4xf32>, tensor<3x4xf32>) {
  %q = "onnx.Constant"() {value = dense<1.5> : tensor<3x4xf8E4M3FN>} : () -> tensor<3x4xf8E4M3FN>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %z = "onnx.Constant"() {value = dense<0.0> : tensor<3x2xf8E4M3FN>} : () -> tensor<3x2xf8E4M3FN>
  %w = "onnx.DequantizeLinear"(%q, %s, %z) {axis = 1 : i64, block_size = 2 : i64} : (tensor<3x4xf8E4M3FN>, tensor<3x2xf32>, tensor<3x2xf8E4M3FN>) -> tensor<3x4xf32>
  %s2 = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %w2 = "onnx.DequantizeLinear"(%q, %s2) : (tensor<3x4xf8E4M3FN>, tensor<f32>) -> tensor<3x4xf32>
  return %w, %w2 : tensor<3x4xf32>, tensor<3x4xf32>
}

// -----

// Tests that the other float8 types fold to their exact float values
// q * scale: E5M2 [1.5, -0.75] (both exact in E5M2) with scale 2 -> [3.0,
// -1.5] (float32 0x40400000, 0xBFC00000); E4M3FNUZ [0.5, 4.0] with scale 0.25
// -> [0.125, 1.0] (0x3E000000, 0x3F800000).
// CHECK-LABEL: func.func @other_float8_fold
// CHECK-NOT: moe.dequantize
// CHECK: onnx.Constant {value = dense_resource<"/e5m2.dequantized"> : tensor<1x2xf32>}
// CHECK: onnx.Constant {value = dense_resource<"/fnuz.dequantized"> : tensor<1x2xf32>}
// HEX-LABEL: func.func @other_float8_fold
// HEX: "/e5m2.dequantized": "0x{{[0-9A-F]+}}000040400000C0BF"
// HEX: "/fnuz.dequantized": "0x{{[0-9A-F]+}}0000003E0000803F"
func.func @other_float8_fold() -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %q = "onnx.Constant"() {value = dense<[[1.5, -0.75]]> : tensor<1x2xf8E5M2>} : () -> tensor<1x2xf8E5M2>
  %s = "onnx.Constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %w = "onnx.DequantizeLinear"(%q, %s) : (tensor<1x2xf8E5M2>, tensor<f32>) -> tensor<1x2xf32> loc("/e5m2")
  %q2 = "onnx.Constant"() {value = dense<[[0.5, 4.0]]> : tensor<1x2xf8E4M3FNUZ>} : () -> tensor<1x2xf8E4M3FNUZ>
  %s2 = "onnx.Constant"() {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %w2 = "onnx.DequantizeLinear"(%q2, %s2) : (tensor<1x2xf8E4M3FNUZ>, tensor<f32>) -> tensor<1x2xf32> loc("/fnuz")
  return %w, %w2 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// Tests that an E4M3FN weight with a nonzero zero point folds to (q - zp) *
// scale instead of staying fp8: [2, 4] - 1 = [1, 3], times 0.5 -> [0.5, 1.5]
// (0x3F000000, 0x3FC00000).
// CHECK-LABEL: func.func @zero_point_folds
// CHECK-NOT: moe.dequantize
// CHECK: return
// HEX-LABEL: func.func @zero_point_folds
// HEX: "/zp.dequantized": "0x{{[0-9A-F]+}}0000003F0000C03F"
func.func @zero_point_folds() -> tensor<1x2xf32> {
  %q = "onnx.Constant"() {value = dense<[[2.0, 4.0]]> : tensor<1x2xf8E4M3FN>} : () -> tensor<1x2xf8E4M3FN>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %z = "onnx.Constant"() {value = dense<1.0> : tensor<f8E4M3FN>} : () -> tensor<f8E4M3FN>
  %w = "onnx.DequantizeLinear"(%q, %s, %z) : (tensor<1x2xf8E4M3FN>, tensor<f32>, tensor<f8E4M3FN>) -> tensor<1x2xf32> loc("/zp")
  return %w : tensor<1x2xf32>
}
