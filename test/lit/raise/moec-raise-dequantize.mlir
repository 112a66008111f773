// RUN: moec-opt %s --split-input-file --moec-raise-dequantize | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-raise-dequantize --mlir-print-elementsattrs-with-hex-if-larger=1 | FileCheck %s --check-prefix=HEX

// Tests that a per-axis int8 weight [K, N] with axis = 1 (one scale per output
// column) becomes blocks along K spanning it: scale [1, N], the int8 data
// untouched.
// CHECK-LABEL: func.func @per_axis
// CHECK: %[[Q:.+]] = onnx.Constant {value = dense<{{.+}}> : tensor<3x2xi8>}
// CHECK: %[[S:.+]] = onnx.Constant {value = dense_resource<"/dq.scale"> : tensor<1x2xf32>}
// CHECK: moe.dequantize %[[Q]], %[[S]] {axis = 0 : i64, block_size = 3 : i64} : (tensor<3x2xi8>, tensor<1x2xf32>) -> tensor<3x2xf32>
func.func @per_axis(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %q = "onnx.Constant"() {value = dense<[[1, 2], [3, 4], [5, 6]]> : tensor<3x2xi8>} : () -> tensor<3x2xi8>
  %s = "onnx.Constant"() {value = dense<[0.5, 0.25]> : tensor<2xf32>} : () -> tensor<2xf32>
  %w = "onnx.DequantizeLinear"(%q, %s) {axis = 1 : i64} : (tensor<3x2xi8>, tensor<2xf32>) -> tensor<3x2xf32> loc("/dq")
  %y = "onnx.MatMul"(%x, %w) : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that the blocked form (opset 21) keeps its axis and block size, and a
// per-tensor scale becomes one block per row of the last axis.
// CHECK-LABEL: func.func @blocked_and_per_tensor
// CHECK: moe.dequantize {{.+}} {axis = 2 : i64, block_size = 2 : i64} : (tensor<2x3x4xi8>, tensor<2x3x2xf32>) -> tensor<2x3x4xf32>
// CHECK: moe.dequantize {{.+}} {axis = 1 : i64, block_size = 4 : i64} : (tensor<3x4xi8>, tensor<3x1xf32>) -> tensor<3x4xf32>
func.func @blocked_and_per_tensor() -> (tensor<2x3x4xf32>, tensor<3x4xf32>) {
  %q = "onnx.Constant"() {value = dense<7> : tensor<2x3x4xi8>} : () -> tensor<2x3x4xi8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<2x3x2xf32>} : () -> tensor<2x3x2xf32>
  %w = "onnx.DequantizeLinear"(%q, %s) {axis = 2 : i64, block_size = 2 : i64} : (tensor<2x3x4xi8>, tensor<2x3x2xf32>) -> tensor<2x3x4xf32>
  %q2 = "onnx.Constant"() {value = dense<7> : tensor<3x4xi8>} : () -> tensor<3x4xi8>
  %s2 = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %w2 = "onnx.DequantizeLinear"(%q2, %s2) : (tensor<3x4xi8>, tensor<f32>) -> tensor<3x4xf32>
  return %w, %w2 : tensor<2x3x4xf32>, tensor<3x4xf32>
}

// -----

// Tests that a nonzero zero point (asymmetric uint8) folds to the exact
// floats (q - zp) * scale: [10, 20] with zp 12 and scale 0.5 -> [-1.0, 4.0].
// CHECK-LABEL: func.func @zero_point_folds
// CHECK-NOT: moe.dequantize
// CHECK: onnx.Constant {value = dense_resource<"/zp.dequantized"> : tensor<1x2xf32>}
// HEX-LABEL: func.func @zero_point_folds
// HEX: "/zp.dequantized": "0x{{[0-9A-F]+}}000080BF00008040"
func.func @zero_point_folds() -> tensor<1x2xf32> {
  %q = "onnx.Constant"() {value = dense<[[10, 20]]> : tensor<1x2xui8>} : () -> tensor<1x2xui8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %z = "onnx.Constant"() {value = dense<12> : tensor<ui8>} : () -> tensor<ui8>
  %w = "onnx.DequantizeLinear"(%q, %s, %z) : (tensor<1x2xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x2xf32> loc("/zp")
  return %w : tensor<1x2xf32>
}

// -----

// Tests that a 4-bit MatMulNBits with the default zero point (8) becomes a
// linear over a packed int4 [N, K] weight holding q - 8: the byte 0x2F packs
// k = 0 -> 15 and k = 1 -> 2, i.e. 7 and -6, repacked as the nibbles 0x7 and
// 0xA (0xA7); 0x88 packs two 8s (0). The block scales become [N, k_blocks].
// CHECK-LABEL: func.func @matmul_nbits
// CHECK: %[[Q:.+]] = onnx.Constant {value = dense_resource<"/mm.int4"> : tensor<1x8xi8>}
// CHECK: %[[S:.+]] = onnx.Constant {value = dense_resource<"/mm.scale"> : tensor<1x1xf32>}
// CHECK: %[[W:.+]] = moe.dequantize %[[Q]], %[[S]] {axis = 1 : i64, bits = 4 : i64, block_size = 16 : i64}
// CHECK: moe.linear %{{.+}}, %[[W]] {transpose_weight = true} : (tensor<?x16xf32>, tensor<1x16xf32>) -> tensor<?x1xf32>
// HEX-LABEL: func.func @matmul_nbits
// HEX: "/mm.int4": "0x{{[0-9A-F]+}}A700000000000000"
func.func @matmul_nbits(%x: tensor<?x16xf32>) -> tensor<?x1xf32> {
  %b = "onnx.Constant"() {value = dense<[[[47, 136, 136, 136, 136, 136, 136, 136]]]> : tensor<1x1x8xui8>} : () -> tensor<1x1x8xui8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<1xf32>} : () -> tensor<1xf32>
  %y = "onnx.ms.MatMulNBits"(%x, %b, %s) {K = 16 : i64, N = 1 : i64, bits = 4 : i64, block_size = 16 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>} : (tensor<?x16xf32>, tensor<1x1x8xui8>, tensor<1xf32>) -> tensor<?x1xf32> loc("/mm")
  return %y : tensor<?x1xf32>
}

// -----

// Tests that QMoE becomes the MoE node over dequantized experts: 4-bit
// weights (default zero point 8) stay packed, q - 8 being q with each
// nibble's top bit flipped (0x9F -> 0x17: 15 -> 7, 9 -> 1); per-row scales
// [E, rows] become [E, rows, 1]; the MoE attributes carry over.
// CHECK-LABEL: func.func @qmoe
// CHECK: %[[W1:.+]] = moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, bits = 4 : i64, block_size = 4 : i64} : (tensor<2x4x2xi8>, tensor<2x4x1xf32>) -> tensor<2x4x4xf32>
// CHECK: %[[W2:.+]] = moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, bits = 4 : i64, block_size = 4 : i64} : (tensor<2x4x2xi8>, tensor<2x4x1xf32>) -> tensor<2x4x4xf32>
// CHECK: onnx.ms.MoE %{{.+}}, %{{.+}}, %[[W1]], %[[W2]] {activation_type = "silu", k = 2 : i64, normalize_routing_weights = 1 : i64}
// HEX-LABEL: func.func @qmoe
// HEX: "/qmoe.fc1.int4": "0x{{[0-9A-F]+}}17171717171717171717171717171717"
func.func @qmoe(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w1 = "onnx.Constant"() {value = dense<159> : tensor<2x4x2xui8>} : () -> tensor<2x4x2xui8>
  %s1 = "onnx.Constant"() {value = dense<0.5> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %w2 = "onnx.Constant"() {value = dense<136> : tensor<2x4x2xui8>} : () -> tensor<2x4x2xui8>
  %s2 = "onnx.Constant"() {value = dense<0.25> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %y = "onnx.ms.QMoE"(%x, %logits, %w1, %s1, %w2, %s2) {k = 2 : i64, activation_type = "silu", normalize_routing_weights = 1 : i64, expert_weight_bits = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>) -> tensor<?x4xf32> loc("/qmoe")
  return %y : tensor<?x4xf32>
}

// -----

// Tests explicit 4-bit zero points (one scale per row, zero points packed
// two per byte along the rows: 0x21 = 1 for even rows, 2 for odd ones):
// q - zp reaches 14 (15 - 1), beyond int4, so the weight is stored exactly
// as int8, one byte a weight (rows 0: 14, 8; row 1: 13, 7).
// CHECK-LABEL: func.func @qmoe_zero_points
// CHECK: moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, block_size = 4 : i64} : (tensor<2x4x4xi8>, tensor<2x4x1xf32>) -> tensor<2x4x4xf32>
// HEX-LABEL: func.func @qmoe_zero_points
// HEX: "/qmoe_zp.fc1.int8": "0x{{[0-9A-F]*}}0E080E080D070D07
func.func @qmoe_zero_points(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w1 = "onnx.Constant"() {value = dense<159> : tensor<2x4x2xui8>} : () -> tensor<2x4x2xui8>
  %s1 = "onnx.Constant"() {value = dense<0.5> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %z1 = "onnx.Constant"() {value = dense<33> : tensor<2x2xui8>} : () -> tensor<2x2xui8>
  %w2 = "onnx.Constant"() {value = dense<136> : tensor<2x4x2xui8>} : () -> tensor<2x4x2xui8>
  %s2 = "onnx.Constant"() {value = dense<0.25> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %y = "onnx.ms.QMoE"(%x, %logits, %w1, %s1, %w2, %s2, %z1) {k = 2 : i64, activation_type = "silu", normalize_routing_weights = 1 : i64, expert_weight_bits = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0>} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>, tensor<2x4x2xui8>, tensor<2x4xf32>, tensor<2x2xui8>) -> tensor<?x4xf32> loc("/qmoe_zp")
  return %y : tensor<?x4xf32>
}
