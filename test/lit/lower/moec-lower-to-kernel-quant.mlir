// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel | FileCheck %s

// Tests that on the host a linear and the experts read their int8 weights
// directly (the int8 constant, then the scales after the other operands,
// the block sizes in the spec), and that a dequantize feeding anything else
// is computed by its own launch, placed before the first user.
// CHECK-LABEL: func.func @quantized
// CHECK-DAG: %[[Q:.+]] = kernel.constant {{.*}} : tensor<8x16xi8>
// CHECK-DAG: %[[S:.+]] = kernel.constant {{.*}} : tensor<8x2xf32>
// CHECK: %[[D:.+]] = kernel.launch "dequantize"(%[[Q]], %[[S]]) {spec = {axis = 1 : i64, bits = 8 : i64, block_size = 8 : i64}} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xf32>
// CHECK: kernel.launch "linear"(%{{.+}}, %[[Q]], %[[S]]) {spec = {has_bias = false, quant_bits = 8 : i64, quant_group = 8 : i64, transpose_weight = true}}
// CHECK: kernel.launch "moe_experts"(%{{.+}}, %{{.+}}, %{{.+}}, %[[Q1:.+]], %[[Q2:.+]], %[[S1:.+]], %[[S2:.+]]) {{.*}}quant_groups = array<i64: 16, 8, 0>{{.*}} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x8x16xi8>, tensor<4x16x8xi8>, tensor<4x8x1xf32>, tensor<4x16x1xf32>)
// CHECK: kernel.launch "batch_matmul"(%{{.+}}, %[[D]])
func.func @quantized(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>, %a: tensor<?x4x8xf32>) -> (tensor<?x8xf32>, tensor<?x16xf32>, tensor<?x4x16xf32>) {
  %q = "onnx.Constant"() {value = dense<3> : tensor<8x16xi8>} : () -> tensor<8x16xi8>
  %s = "onnx.Constant"() {value = dense<0.01> : tensor<8x2xf32>} : () -> tensor<8x2xf32>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xf32>
  %y = moe.linear %x, %dq {transpose_weight = true} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %q1 = "onnx.Constant"() {value = dense<1> : tensor<4x8x16xi8>} : () -> tensor<4x8x16xi8>
  %s1 = "onnx.Constant"() {value = dense<0.02> : tensor<4x8x1xf32>} : () -> tensor<4x8x1xf32>
  %fc1 = moe.dequantize %q1, %s1 {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x8x16xi8>, tensor<4x8x1xf32>) -> tensor<4x8x16xf32>
  %q2 = "onnx.Constant"() {value = dense<2> : tensor<4x16x8xi8>} : () -> tensor<4x16x8xi8>
  %s2 = "onnx.Constant"() {value = dense<0.03> : tensor<4x16x1xf32>} : () -> tensor<4x16x1xf32>
  %fc2 = moe.dequantize %q2, %s2 {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x16x8xi8>, tensor<4x16x1xf32>) -> tensor<4x16x8xf32>
  %e = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x16xf32>
  %m = moe.matmul %a, %dq : (tensor<?x4x8xf32>, tensor<8x16xf32>) -> tensor<?x4x16xf32>
  return %y, %e, %m : tensor<?x8xf32>, tensor<?x16xf32>, tensor<?x4x16xf32>
}
