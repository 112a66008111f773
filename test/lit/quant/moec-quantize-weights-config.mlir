// RUN: echo '{"rules": [{"match": "/attn/", "format": "int8"}, {"match": "/moe/", "format": "int4", "group_size": 4}, {"match": "/attn/o_proj", "format": "int4"}]}' > %t.json
// RUN: moec-opt %s --moec-quantize-weights="format=none config=%t.json" | FileCheck %s
// RUN: echo '{"rules": [{"match": "x", "format": "int3"}]}' > %t.bad.json
// RUN: not moec-opt %s --moec-quantize-weights="format=int8 config=%t.bad.json" 2>&1 | FileCheck %s --check-prefix=BAD

// Tests per-layer overrides: the first rule whose match is in the op's ONNX
// node name decides (o_proj matches "/attn/" first, so int8 per row, not
// int4); experts under "/moe/" get int4 in groups of 4; an op no rule
// matches keeps the default format, here none (float).
// CHECK-LABEL: func.func @layers
// CHECK: moe.dequantize %{{.+}}, %{{.+}} {axis = 1 : i64, block_size = 8 : i64} : (tensor<4x8xi8>, tensor<4x1xf32>) -> tensor<4x8xf32>
// CHECK: moe.linear %arg0, %{{.+}} {transpose_weight = true}
// CHECK: moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, bits = 4 : i64, block_size = 4 : i64}
// CHECK: moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, bits = 4 : i64, block_size = 4 : i64}
// CHECK: moe.experts
// CHECK: moe.linear %{{.+}}, %[[HEAD:.+]] : (tensor<?x8xf32>, tensor<8x4xf32>)
// BAD: quantization config {{.*}}.bad.json: rule 0: format must be none, int8, int4 or fp8, got 'int3'
func.func @layers(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>) -> (tensor<?x4xf32>, tensor<?x8xf32>, tensor<?x4xf32>) {
  %wo = "onnx.Constant"() {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %o = moe.linear %x, %wo : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/model/layers.0/attn/o_proj/MatMul")
  %fc1 = "onnx.Constant"() {value = dense<0.25> : tensor<2x16x8xf32>} : () -> tensor<2x16x8xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.125> : tensor<2x8x16xf32>} : () -> tensor<2x8x16xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", swiglu_fusion = 0 : i64, alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<2x16x8xf32>, tensor<2x8x16xf32>) -> tensor<?x8xf32> loc("/model/layers.0/moe/MoE")
  %wh = "onnx.Constant"() {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %h = moe.linear %y, %wh : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/lm_head/MatMul")
  return %o, %y, %h : tensor<?x4xf32>, tensor<?x8xf32>, tensor<?x4xf32>
}
