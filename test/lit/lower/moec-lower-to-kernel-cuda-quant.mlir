// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" | FileCheck %s

// Tests that on the cuda target a linear reads its int8 weight as stored:
// q [N, K] and the f32 scales after the other operands, the block size and
// bits in the spec (as on the host); nothing is dequantized at compile time.
// CHECK-LABEL: func.func @int8_linear
// CHECK-DAG: %[[Q:.+]] = kernel.constant {{.*}} : tensor<8x16xi8>
// CHECK-DAG: %[[S:.+]] = kernel.constant {{.*}} : tensor<8x2xf32>
// CHECK: kernel.launch "linear"(%{{.+}}, %[[Q]], %[[B:.+]], %[[S]]) {spec = {has_bias = true, quant_bits = 8 : i64, quant_group = 8 : i64, transpose_weight = true}} : (tensor<?x16xbf16>, tensor<8x16xi8>, tensor<8xbf16>, tensor<8x2xf32>) -> tensor<?x8xbf16>
// CHECK-NOT: dequantized
func.func @int8_linear(%x: tensor<?x16xbf16>) -> tensor<?x8xbf16> {
  %q = "onnx.Constant"() {value = dense<3> : tensor<8x16xi8>} : () -> tensor<8x16xi8>
  %s = "onnx.Constant"() {value = dense<0.01> : tensor<8x2xf32>} : () -> tensor<8x2xf32>
  %b = "onnx.Constant"() {value = dense<0.5> : tensor<8xbf16>} : () -> tensor<8xbf16>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 8 : i64} : (tensor<8x16xi8>, tensor<8x2xf32>) -> tensor<8x16xbf16>
  %y = moe.linear %x, %dq, %b {transpose_weight = true} : (tensor<?x16xbf16>, tensor<8x16xbf16>, tensor<8xbf16>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// Tests that a SwiGLU expert block (fusion 0: fc1 gate rows, fc3 linear
// rows) with packed int4 weights keeps them packed: the up-projection reads
// fc1 and fc3 ([E, rows, ceil(H/2)] bytes) with their scales after the other
// operands, the down-projection fc2 with its scales after the routing
// weights; both carry quant_groups {fc1, fc2, fc3} and quant_bits = 4.
// CHECK-LABEL: func.func @int4_experts
// CHECK: %[[P:.+]]:2 = kernel.launch "moe_permute"
// CHECK: %[[UP:.+]] = kernel.launch "moe_gemm_up"(%{{.+}}, %[[P]]#1, %[[P]]#0, %[[Q1:.+]], %[[Q3:.+]], %[[S1:.+]], %[[S3:.+]]) {spec = {{.*}}has_fc3 = true{{.*}}quant_bits = 4 : i64, quant_groups = array<i64: 16, 32, 16>{{.*}}} : (tensor<?x32xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x24x16xi8>, tensor<4x24x16xi8>, tensor<4x24x2xf32>, tensor<4x24x2xf32>) -> tensor<?x2x24xbf16>
// CHECK: kernel.launch "moe_gemm_down"(%[[UP]], %[[P]]#1, %[[P]]#0, %[[Q2:.+]], %[[W:.+]], %[[S2:.+]]) {spec = {{.*}}quant_bits = 4 : i64, quant_groups = array<i64: 16, 32, 16>{{.*}}} : (tensor<?x2x24xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x32x12xi8>, tensor<?x2xbf16>, tensor<4x32x1xf32>) -> tensor<?x2x32xbf16>
func.func @int4_experts(%x: tensor<?x32xbf16>, %w: tensor<?x2xbf16>, %ids: tensor<?x2xi64>) -> tensor<?x32xbf16> {
  %q1 = "onnx.Constant"() {value = dense<17> : tensor<4x24x16xi8>} : () -> tensor<4x24x16xi8>
  %s1 = "onnx.Constant"() {value = dense<0.02> : tensor<4x24x2xf32>} : () -> tensor<4x24x2xf32>
  %fc1 = moe.dequantize %q1, %s1 {axis = 2 : i64, block_size = 16 : i64, bits = 4 : i64} : (tensor<4x24x16xi8>, tensor<4x24x2xf32>) -> tensor<4x24x32xbf16>
  %q2 = "onnx.Constant"() {value = dense<-18> : tensor<4x32x12xi8>} : () -> tensor<4x32x12xi8>
  %s2 = "onnx.Constant"() {value = dense<0.03> : tensor<4x32x1xf32>} : () -> tensor<4x32x1xf32>
  %fc2 = moe.dequantize %q2, %s2 {axis = 2 : i64, block_size = 32 : i64, bits = 4 : i64} : (tensor<4x32x12xi8>, tensor<4x32x1xf32>) -> tensor<4x32x24xbf16>
  %q3 = "onnx.Constant"() {value = dense<33> : tensor<4x24x16xi8>} : () -> tensor<4x24x16xi8>
  %s3 = "onnx.Constant"() {value = dense<0.04> : tensor<4x24x2xf32>} : () -> tensor<4x24x2xf32>
  %fc3 = moe.dequantize %q3, %s3 {axis = 2 : i64, block_size = 16 : i64, bits = 4 : i64} : (tensor<4x24x16xi8>, tensor<4x24x2xf32>) -> tensor<4x24x32xbf16>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) fc3(%fc3) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x32xbf16>, tensor<?x2xbf16>, tensor<?x2xi64>, tensor<4x24x32xbf16>, tensor<4x32x24xbf16>, tensor<4x24x32xbf16>) -> tensor<?x32xbf16>
  return %y : tensor<?x32xbf16>
}

// -----

// Tests that fp8 E4M3 weights stay one byte each (the emitter decodes them
// on sm_89 and newer).
// CHECK-LABEL: func.func @fp8_linear
// CHECK: kernel.launch "linear"(%{{.+}}, %{{.+}}, %{{.+}}) {spec = {has_bias = false, quant_bits = 8 : i64, quant_group = 16 : i64, transpose_weight = true}} : (tensor<?x16xbf16>, tensor<8x16xf8E4M3FN>, tensor<8x1xf32>) -> tensor<?x8xbf16>
func.func @fp8_linear(%x: tensor<?x16xbf16>) -> tensor<?x8xbf16> {
  %q = "onnx.Constant"() {value = dense<1.5> : tensor<8x16xf8E4M3FN>} : () -> tensor<8x16xf8E4M3FN>
  %s = "onnx.Constant"() {value = dense<0.01> : tensor<8x1xf32>} : () -> tensor<8x1xf32>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 16 : i64} : (tensor<8x16xf8E4M3FN>, tensor<8x1xf32>) -> tensor<8x16xbf16>
  %y = moe.linear %x, %dq {transpose_weight = true} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// Tests what still folds to float constants: an experts op whose weights mix
// formats (int8 fc1, int4 fc2: both fold, so the op reads floats), and a
// weight that a non-GEMM op also reads (the batch matmul; then the linear
// reads the folded floats too). q = 2 with scale 0.5 folds to 1.0 (bf16
// 0x3F80); q = 3 (int4 0x33: 3, 3) with scale 0.25 to 0.75 (0x3F40).
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: xi8>) -> tensor<?x2x8xbf16>
// CHECK: kernel.launch "moe_gemm_up"({{.*}}) {{.*}} : (tensor<?x16xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x8x16xbf16>) -> tensor<?x2x8xbf16>
// CHECK: kernel.launch "moe_gemm_down"({{.*}}) {{.*}} : (tensor<?x2x8xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x16x8xbf16>, tensor<?x2xbf16>) -> tensor<?x2x16xbf16>
// CHECK: kernel.launch "linear"(%{{.+}}, %[[F:.+]]) {spec = {has_bias = false, transpose_weight = true}} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
// CHECK: kernel.launch "batch_matmul"(%{{.+}}, %[[F]])
// CHECK: dequantized: "0x{{[0-9A-F]+}}803F803F
// CHECK: dequantized{{.*}}: "0x{{[0-9A-F]+}}403F403F
func.func @near_misses(%x: tensor<?x16xbf16>, %w: tensor<?x2xbf16>, %ids: tensor<?x2xi64>, %a: tensor<?x4x8xbf16>) -> (tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x4x16xbf16>) {
  %q1 = "onnx.Constant"() {value = dense<2> : tensor<4x8x16xi8>} : () -> tensor<4x8x16xi8>
  %s1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x8x1xf32>} : () -> tensor<4x8x1xf32>
  %fc1 = moe.dequantize %q1, %s1 {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x8x16xi8>, tensor<4x8x1xf32>) -> tensor<4x8x16xbf16>
  %q2 = "onnx.Constant"() {value = dense<51> : tensor<4x16x4xi8>} : () -> tensor<4x16x4xi8>
  %s2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x1xf32>} : () -> tensor<4x16x1xf32>
  %fc2 = moe.dequantize %q2, %s2 {axis = 2 : i64, block_size = 8 : i64, bits = 4 : i64} : (tensor<4x16x4xi8>, tensor<4x16x1xf32>) -> tensor<4x16x8xbf16>
  %e = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xbf16>, tensor<?x2xbf16>, tensor<?x2xi64>, tensor<4x8x16xbf16>, tensor<4x16x8xbf16>) -> tensor<?x16xbf16>
  %q = "onnx.Constant"() {value = dense<3> : tensor<8x16xi8>} : () -> tensor<8x16xi8>
  %s = "onnx.Constant"() {value = dense<0.01> : tensor<8x1xf32>} : () -> tensor<8x1xf32>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 16 : i64} : (tensor<8x16xi8>, tensor<8x1xf32>) -> tensor<8x16xbf16>
  %y = moe.linear %x, %dq {transpose_weight = true} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %m = moe.matmul %a, %dq : (tensor<?x4x8xbf16>, tensor<8x16xbf16>) -> tensor<?x4x16xbf16>
  return %e, %y, %m : tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x4x16xbf16>
}

// -----

// Tests that a router's linear (fused into moe_route_linear, which reads
// float weights) folds its quantized weight, and that fc1 and fc3 with
// different groups fold (the up-projection reads both with one group).
// CHECK-LABEL: func.func @router_and_groups
// CHECK: kernel.launch "moe_route_linear"(%{{.+}}, %{{.+}}) {{.*}} : (tensor<?x16xf32>, tensor<4x16xf32>)
// CHECK: kernel.launch "moe_gemm_up"({{.*}}) {{.*}} : (tensor<?x16xf32>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>) -> tensor<?x2x8xf32>
// CHECK-NOT: quant_groups
func.func @router_and_groups(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %rq = "onnx.Constant"() {value = dense<1> : tensor<4x16xi8>} : () -> tensor<4x16xi8>
  %rs = "onnx.Constant"() {value = dense<0.5> : tensor<4x1xf32>} : () -> tensor<4x1xf32>
  %rw = moe.dequantize %rq, %rs {axis = 1 : i64, block_size = 16 : i64} : (tensor<4x16xi8>, tensor<4x1xf32>) -> tensor<4x16xf32>
  %logits = moe.linear %x, %rw {transpose_weight = true} : (tensor<?x16xf32>, tensor<4x16xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %q1 = "onnx.Constant"() {value = dense<2> : tensor<4x8x16xi8>} : () -> tensor<4x8x16xi8>
  %s1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x8x2xf32>} : () -> tensor<4x8x2xf32>
  %fc1 = moe.dequantize %q1, %s1 {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x8x16xi8>, tensor<4x8x2xf32>) -> tensor<4x8x16xf32>
  %q2 = "onnx.Constant"() {value = dense<2> : tensor<4x16x8xi8>} : () -> tensor<4x16x8xi8>
  %s2 = "onnx.Constant"() {value = dense<0.5> : tensor<4x16x1xf32>} : () -> tensor<4x16x1xf32>
  %fc2 = moe.dequantize %q2, %s2 {axis = 2 : i64, block_size = 8 : i64} : (tensor<4x16x8xi8>, tensor<4x16x1xf32>) -> tensor<4x16x8xf32>
  %q3 = "onnx.Constant"() {value = dense<2> : tensor<4x8x16xi8>} : () -> tensor<4x8x16xi8>
  %s3 = "onnx.Constant"() {value = dense<0.5> : tensor<4x8x1xf32>} : () -> tensor<4x8x1xf32>
  %fc3 = moe.dequantize %q3, %s3 {axis = 2 : i64, block_size = 16 : i64} : (tensor<4x8x16xi8>, tensor<4x8x1xf32>) -> tensor<4x8x16xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) fc3(%fc3) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
