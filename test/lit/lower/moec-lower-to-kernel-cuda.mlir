// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" | FileCheck %s

// Tests that on the GPU a router and the linear layer computing its logits
// become one launch, with the router weight transposed to [experts, hidden];
// and that the expert block becomes permute, two grouped GEMMs and a combine.
// CHECK-LABEL: func.func @moe_block
// CHECK: %[[WR:.+]] = kernel.constant {{.*}} -> tensor<4x16xf32>
// CHECK: %[[R:.+]]:2 = kernel.launch "moe_route_linear"(%[[X:.+]], %[[WR]]) {spec = {has_bias = false, k = 2 : i64, normalize = true}}
// CHECK-NOT: kernel.launch "linear"
// CHECK: %[[P:.+]]:2 = kernel.launch "moe_permute"(%[[R]]#1) {spec = {experts = 4 : i64}} : (tensor<?x2xi64>) -> (tensor<5xi32>, tensor<?x2xi32>)
// CHECK: %[[UP:.+]] = kernel.launch "moe_gemm_up"(%[[X]], %[[P]]#1, %[[P]]#0, %{{.+}}) {{.*}} -> tensor<?x2x32xf32>
// CHECK: %[[DOWN:.+]] = kernel.launch "moe_gemm_down"(%[[UP]], %[[P]]#1, %[[P]]#0, %{{.+}}, %[[R]]#0) {{.*}} -> tensor<?x2x16xf32>
// CHECK: %[[Y:.+]] = kernel.launch "moe_combine"(%[[DOWN]]) {spec = {}} : (tensor<?x2x16xf32>) -> tensor<?x16xf32>
// CHECK: return %[[Y]]
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

// Tests that a linear layer with other users is not fused into the router:
// its result must exist anyway, so it stays a GEMM (weight transposed to
// the [N, K] layout the tensor-core kernel reads).
// CHECK-LABEL: func.func @shared_logits
// CHECK: %[[W:.+]] = kernel.constant {{.*}} -> tensor<4x16xf32>
// CHECK: %[[L:.+]] = kernel.launch "linear"(%{{.+}}, %[[W]]) {spec = {has_bias = false, transpose_weight = true}}
// CHECK: kernel.launch "moe_route"(%[[L]])
func.func @shared_logits(%x: tensor<?x16xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x4xf32>) {
  %rw = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %logits = moe.linear %x, %rw : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return %w, %ids, %logits : tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x4xf32>
}
