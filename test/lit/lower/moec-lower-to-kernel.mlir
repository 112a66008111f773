// RUN: moec-opt %s --split-input-file --moec-lower-to-kernel --verify-diagnostics | FileCheck %s

// Tests that a shape computation feeding Reshape is folded away (it never
// runs), the Reshape becomes a copy, and TopK's K lands in the spec.
// CHECK-LABEL: func.func @shape_chain
// CHECK-NOT: onnx.
// CHECK: %[[C:.+]] = kernel.launch "copy"(%{{.+}}) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x2x4xf32>
// CHECK: %[[V:.+]]:2 = kernel.launch "topk"(%[[C]]) {spec = {axis = 2 : i64, k = 2 : i64, largest = true}}
// CHECK-NOT: onnx.
// CHECK: return %[[V]]#0, %[[V]]#1
func.func @shape_chain(%x: tensor<?x8xf32>) -> (tensor<?x2x2xf32>, tensor<?x2x2xi64>) {
  %shape = "onnx.Shape"(%x) : (tensor<?x8xf32>) -> tensor<2xi64>
  %zero = "onnx.Constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %t = "onnx.Gather"(%shape, %zero) {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %axes = "onnx.Constant"() {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %t1 = "onnx.Unsqueeze"(%t, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rest = "onnx.Constant"() {value = dense<[2, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %target = "onnx.Concat"(%t1, %rest) {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %r = "onnx.Reshape"(%x, %target) : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x2x4xf32>
  %k = "onnx.Constant"() {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = "onnx.TopK"(%r, %k) {axis = -1 : i64} : (tensor<?x2x4xf32>, tensor<1xi64>) -> (tensor<?x2x2xf32>, tensor<?x2x2xi64>)
  return %v, %i : tensor<?x2x2xf32>, tensor<?x2x2xi64>
}

// -----

// Tests that a graph output that is a graph input, or that is returned
// twice, gets its own copy launch so every output has one producer.
// CHECK-LABEL: func.func @outputs
// CHECK: %[[S:.+]] = kernel.launch "softmax"(%[[X:.+]]) {spec = {axis = 1 : i64}}
// CHECK: %[[C1:.+]] = kernel.launch "copy"(%[[S]])
// CHECK: %[[C2:.+]] = kernel.launch "copy"(%{{.+}})
// CHECK: return %[[S]], %[[C1]], %[[C2]]
func.func @outputs(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %s = "onnx.Softmax"(%x) {axis = -1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %s, %s, %x : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Tests that the experts op becomes one launch with its workspace size and
// that its weights become kernel.constant.
// CHECK-LABEL: func.func @experts
// CHECK: kernel.launch "moe_route"
// CHECK: %[[FC1:.+]] = kernel.constant
// CHECK: %[[FC2:.+]] = kernel.constant
// CHECK: kernel.launch "moe_experts"(%{{.+}}, %{{.+}}, %{{.+}}, %[[FC1]], %[[FC2]]) {scratch_bytes = array<i64: {{[0-9]+}}, {{[0-9]+}}>, spec = {activation = "silu"
func.func @experts(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>) -> tensor<?x16xf32> {
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x32x16xf32>} : () -> tensor<4x32x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "silu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that an op the host target cannot run is reported at the op.
func.func @unraised(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{op 'Add' (opset 17) is not supported by the host target (run moec-convert-onnx-to-moe first)}}
  %y = "onnx.Add"(%x, %x) : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Tests that moe.rms_norm becomes one rms_norm launch with its axis, epsilon
// and whether it has a scale in the spec, the scale weight a kernel.constant.
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[W:.+]] = kernel.constant
// CHECK: kernel.launch "rms_norm"(%{{.+}}, %[[W]]) {spec = {axis = 1 : i64, epsilon = 9.99999997E-7 : f32, has_scale = true}}
// CHECK: kernel.launch "rms_norm"(%{{.+}}) {spec = {axis = 1 : i64, epsilon = 9.99999974E-6 : f32, has_scale = false}}
func.func @rms_norm(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %w = "onnx.Constant"() {value = dense<1.5> : tensor<16xf32>} : () -> tensor<16xf32>
  %a = moe.rms_norm %x, %w {axis = 1 : i64, epsilon = 1.0e-6 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %b = moe.rms_norm %a {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %b : tensor<?x16xf32>
}

// -----

// Tests that a constant returned directly as a graph output becomes a
// kernel.constant copied into the output buffer (it is data, not a
// compile-time operand to fold away).
// CHECK-LABEL: func.func @constant_output
// CHECK: %[[C:.+]] = kernel.constant
// CHECK: %[[Y:.+]] = kernel.launch "copy"(%[[C]])
// CHECK: return %[[Y]]
func.func @constant_output() -> tensor<2x2xf32> {
  %c = "onnx.Constant"() {value = dense<[[1.5, -2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  return %c : tensor<2x2xf32>
}

// -----

// Tests that moe.attention becomes two launches: the cache append, whose
// results are the present caches, then the attention, which reads the
// queries and the present (not the past) caches. Both carry the same spec;
// the append says its results may share the past caches' buffers.
// CHECK-LABEL: func.func @attention
// CHECK: %[[COS:.+]] = kernel.constant
// CHECK: %[[CACHE:.+]]:2 = kernel.launch "attention_kv_append"(%arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %[[COS]], %[[COS]]) {inplace_operands = array<i64: 2, 3>, spec = {kv_heads = 2 : i64, num_heads = 4 : i64, packed = false, rotary_dim = 8 : i64, rotary_interleaved = false, scale = 2.500000e-01 : f32, softcap = 3.000000e+01 : f32, window = 4 : i64}}
// CHECK: %[[OUT:.+]] = kernel.launch "attention"(%arg0, %[[CACHE]]#0, %[[CACHE]]#1, %arg5, %arg6, %[[COS]], %[[COS]])
// CHECK: return %[[OUT]], %[[CACHE]]#0, %[[CACHE]]#1
func.func @attention(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) {
  %cos = "onnx.Constant"() {value = dense<1.0> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %0:3 = moe.attention %q, %k, %v, %pk, %pv, %sl, %tl, %cos, %cos {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, softcap = 30.0 : f32, window = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>, tensor<8x4xf32>, tensor<8x4xf32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
}

// -----

// Tests the packed form: the append reads key and value out of the query.
// CHECK-LABEL: func.func @attention_packed
// CHECK: kernel.launch "attention_kv_append"(%arg0, %arg1, %arg1, %arg2, %arg3) {inplace_operands = array<i64: 1, 2>, spec = {{{.*}}packed = true, rotary_dim = 0 : i64
// CHECK: kernel.launch "attention"(%arg0,
func.func @attention_packed(%q: tensor<1x?x128xf32>, %pk: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> tensor<1x?x64xf32> {
  %0:3 = moe.attention %q, %pk, %pk, %sl, %tl {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 0, 0, 1, 1, 1, 1, 0, 0>} : (tensor<1x?x128xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return %0#0 : tensor<1x?x64xf32>
}

// -----

// Tests that moe.rotary becomes one rotary launch whose spec says the layout
// and whether positions are per token or one offset.
// CHECK-LABEL: func.func @rotary
// CHECK: kernel.launch "rotary"(%arg0, %arg1, %{{.+}}, %{{.+}}) {spec = {head_size = 16 : i64, heads_first = false, interleaved = false, per_token = true, rotary_dim = 8 : i64}}
func.func @rotary(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>) -> tensor<1x?x64xf32> {
  %cos = "onnx.Constant"() {value = dense<1.0> : tensor<40x4xf32>} : () -> tensor<40x4xf32>
  %y = moe.rotary %x, %p, %cos, %cos {head_size = 16 : i64, rotary_dim = 8 : i64} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<40x4xf32>, tensor<40x4xf32>) -> tensor<1x?x64xf32>
  return %y : tensor<1x?x64xf32>
}

// -----

// Tests that a sigmoid router is one moe_route_sigmoid launch with its
// selection bias as a constant input and groups/scaling in the spec.
// CHECK-LABEL: func.func @sigmoid_router
// CHECK: %[[BIAS:.+]] = kernel.constant {{.*}} : tensor<4xf32>
// CHECK: kernel.launch "moe_route_sigmoid"(%arg0, %[[BIAS]]) {spec = {groups = 2 : i64, has_bias = true, k = 2 : i64, normalize = true, scaling = 2.500000e+00 : f32, topk_groups = 1 : i64}}
func.func @sigmoid_router(%l: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %w, %i = moe.router %l {k = 2 : i64, normalize = true, scoring = "sigmoid", groups = 2 : i64, topk_groups = 1 : i64, scaling = 2.5 : f32, bias = array<f32: 0.1, 0.2, 0.3, 0.4>} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi64>
}
