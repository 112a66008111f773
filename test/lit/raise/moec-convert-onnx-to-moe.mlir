// RUN: moec-opt %s --split-input-file --moec-convert-onnx-to-moe | FileCheck %s

// Tests that com.microsoft.MoE becomes a softmax top-k router and grouped
// experts that carry the activation and the SwiGLU packing.
// CHECK-LABEL: func.func @moe_node
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xf32>, %[[L:.+]]: tensor<?x4xf32>)
// CHECK: %[[FC1:.+]] = onnx.Constant
// CHECK: %[[FC2:.+]] = onnx.Constant
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[L]] {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 1 : i64}
// CHECK: return %[[Y]]
func.func @moe_node(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>) -> tensor<?x16xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x64x16xf32>} : () -> tensor<4x64x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  %y = "onnx.ms.MoE"(%x, %logits, %fc1, %fc2) {activation_type = "swiglu", k = 2 : i64, normalize_routing_weights = 1 : i64, swiglu_fusion = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0>} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x64x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that a MatMul by a constant matrix is a linear layer and a MatMul of
// two run-time tensors is not.
// CHECK-LABEL: func.func @matmuls
// CHECK: %[[L:.+]] = moe.linear %{{.+}}, %{{.+}} : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
// CHECK: moe.matmul %[[L]], %{{.+}} : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
func.func @matmuls(%x: tensor<?x16xf32>, %b: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %w = "onnx.Constant"() {value = dense<0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %l = "onnx.MatMul"(%x, %w) : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %m = "onnx.MatMul"(%l, %b) : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return %m : tensor<?x8xf32>
}

// -----

// Tests that Gemm with transB and a bias vector is a linear layer with a
// transposed weight and a bias.
// CHECK-LABEL: func.func @gemm
// CHECK: moe.linear %{{.+}}, %{{.+}}, %{{.+}} {transpose_weight = true} : (tensor<?x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<?x4xf32>
func.func @gemm(%x: tensor<?x16xf32>) -> tensor<?x4xf32> {
  %w = "onnx.Constant"() {value = dense<0.5> : tensor<4x16xf32>} : () -> tensor<4x16xf32>
  %b = "onnx.Constant"() {value = dense<0.1> : tensor<4xf32>} : () -> tensor<4xf32>
  %y = "onnx.Gemm"(%x, %w, %b) {transB = 1 : i64} : (tensor<?x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// Tests that elementwise ops become single-op regions (fusion merges them
// later), Cast picks the conversion by types, and Softmax is left alone.
// CHECK-LABEL: func.func @elementwise
// CHECK: moe.elementwise ins(%{{.+}} : tensor<?x4xi64>) -> tensor<?x4xf32>
// CHECK: arith.sitofp %{{.+}} : i64 to f32
// CHECK: moe.elementwise ins(%{{.+}} : tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK: math.exp
// CHECK: onnx.Softmax
// CHECK: moe.elementwise ins(%{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xi1>
// CHECK: arith.cmpf oeq
func.func @elementwise(%i: tensor<?x4xi64>) -> tensor<?x4xi1> {
  %f = "onnx.Cast"(%i) {to = f32} : (tensor<?x4xi64>) -> tensor<?x4xf32>
  %s = "onnx.Sigmoid"(%f) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %p = "onnx.Softmax"(%s) {axis = -1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %e = "onnx.Equal"(%p, %s) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xi1>
  return %e : tensor<?x4xi1>
}

// -----

// Tests that integer arithmetic on compile-time values (a shape divided by
// two, as exporters compute head_dim / 2 for a Slice) becomes a constant,
// while the same arithmetic on run-time data stays an elementwise region.
// CHECK-LABEL: func.func @known_int_arithmetic
// CHECK: %[[HALF:.+]] = onnx.Constant {value = dense<4> : tensor<1xi64>}
// CHECK: onnx.Slice %{{.+}}, %{{.+}}, %[[HALF]] axes(%{{.+}})
// CHECK: moe.elementwise ins(%{{.+}}, %{{.+}} : tensor<?x1xi64>, tensor<1xi64>) -> tensor<?x1xi64>
// CHECK: arith.divsi
func.func @known_int_arithmetic(%x: tensor<?x8xf32>, %i: tensor<?x1xi64>) -> (tensor<?x4xf32>, tensor<?x1xi64>) {
  %s = "onnx.Shape"(%x) {start = 1 : i64} : (tensor<?x8xf32>) -> tensor<1xi64>
  %two = "onnx.Constant"() {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = "onnx.Constant"() {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = "onnx.Constant"() {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %half = "onnx.Div"(%s, %two) : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %y = "onnx.Slice"(%x, %zero, %half, %one) {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
  %d = "onnx.Div"(%i, %two) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  return %y, %d : tensor<?x4xf32>, tensor<?x1xi64>
}

// -----

// Tests that GroupQueryAttention in the fixed-capacity cache form becomes
// moe.attention with the default scale 1/sqrt(head size) resolved, the
// rotary caches passed through and the window of local_window_size.
// CHECK-LABEL: func.func @gqa
// CHECK: %[[O:.+]], %[[PK:.+]], %[[PV:.+]] = moe.attention %arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %{{.+}}, %{{.+}} {kv_heads = 2 : i64, num_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>, rotary_interleaved = true, scale = 2.500000e-01 : f32, window = 3 : i64}
// CHECK-SAME: -> (tensor<1x?x64xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>)
// CHECK: return %[[O]], %[[PK]], %[[PV]]
func.func @gqa(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x32x16xf32>, %pv: tensor<1x2x32x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>) {
  %cos = "onnx.Constant"() {value = dense<1.0> : tensor<32x8xf32>} : () -> tensor<32x8xf32>
  %sin = "onnx.Constant"() {value = dense<0.0> : tensor<32x8xf32>} : () -> tensor<32x8xf32>
  %o, %nk, %nv = "onnx.ms.GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tl, %cos, %sin) {num_heads = 4 : i64, kv_num_heads = 2 : i64, do_rotary = 1 : i64, rotary_interleaved = 1 : i64, local_window_size = 3 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1xi32>, tensor<i32>, tensor<32x8xf32>, tensor<32x8xf32>) -> (tensor<1x?x64xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>)
  return %o, %nk, %nv : tensor<1x?x64xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
}

// -----

// Tests the packed form (query holds q | k | v; key and value absent), an
// explicit scale, no rotary, and that local_window_size = -1 means no window.
// CHECK-LABEL: func.func @gqa_packed
// (Attributes at their defaults, rotary_interleaved = false and window = 0,
// are not printed.)
// CHECK: moe.attention %arg0, %arg1, %arg2, %arg3, %arg4 {kv_heads = 1 : i64, num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 0, 0, 1, 1, 1, 1, 0, 0>, scale = 1.250000e-01 : f32, softcap = 5.000000e+01 : f32}
// CHECK-NOT: onnx.ms.GroupQueryAttention
func.func @gqa_packed(%qkv: tensor<1x?x128xf32>, %pk: tensor<1x1x8x32xf32>, %pv: tensor<1x1x8x32xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> tensor<1x?x64xf32> {
  %o, %nk, %nv = "onnx.ms.GroupQueryAttention"(%qkv, %pk, %pv, %sl, %tl) {num_heads = 2 : i64, kv_num_heads = 1 : i64, scale = 0.125 : f32, softcap = 50.0 : f32, local_window_size = -1 : i64, operandSegmentSizes = array<i32: 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0>} : (tensor<1x?x128xf32>, tensor<1x1x8x32xf32>, tensor<1x1x8x32xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x1x8x32xf32>, tensor<1x1x8x32xf32>)
  return %o : tensor<1x?x64xf32>
}

// -----

// Tests that RotaryEmbedding becomes moe.rotary with the head size taken from
// num_heads (3-D input) and the rotary dim from rotary_embedding_dim; and,
// without num_heads, from the cos cache; and that a 4-D input is heads_first.
// CHECK-LABEL: func.func @rotary
// CHECK: moe.rotary %arg0, %arg1, %{{.+}}, %{{.+}} {head_size = 32 : i64, interleaved = true, rotary_dim = 16 : i64} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<40x8xf32>, tensor<40x8xf32>) -> tensor<1x?x64xf32>
// CHECK: moe.rotary %arg2, %arg3, %{{.+}}, %{{.+}} {head_size = 16 : i64, rotary_dim = 16 : i64}
// CHECK: moe.rotary %arg4, %arg3, %{{.+}}, %{{.+}} {head_size = 16 : i64, heads_first = true, rotary_dim = 16 : i64}
// CHECK-NOT: onnx.ms.RotaryEmbedding
func.func @rotary(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>, %y: tensor<1x?x48xf32>, %o: tensor<1xi64>, %z: tensor<1x3x?x16xf32>) -> (tensor<1x?x64xf32>, tensor<1x?x48xf32>, tensor<1x3x?x16xf32>) {
  %cos = "onnx.Constant"() {value = dense<1.0> : tensor<40x8xf32>} : () -> tensor<40x8xf32>
  %sin = "onnx.Constant"() {value = dense<0.0> : tensor<40x8xf32>} : () -> tensor<40x8xf32>
  %a = "onnx.ms.RotaryEmbedding"(%x, %p, %cos, %sin) {num_heads = 2 : i64, rotary_embedding_dim = 16 : i64, interleaved = 1 : i64} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<40x8xf32>, tensor<40x8xf32>) -> tensor<1x?x64xf32>
  %b = "onnx.ms.RotaryEmbedding"(%y, %o, %cos, %sin) : (tensor<1x?x48xf32>, tensor<1xi64>, tensor<40x8xf32>, tensor<40x8xf32>) -> tensor<1x?x48xf32>
  %c = "onnx.ms.RotaryEmbedding"(%z, %o, %cos, %sin) : (tensor<1x3x?x16xf32>, tensor<1xi64>, tensor<40x8xf32>, tensor<40x8xf32>) -> tensor<1x3x?x16xf32>
  return %a, %b, %c : tensor<1x?x64xf32>, tensor<1x?x48xf32>, tensor<1x3x?x16xf32>
}

// -----

// Tests that routing handed to the MoE node as a log-scatter of a router's
// weights (softmax over log(w) at the chosen experts, -1e30 elsewhere: w
// renormalized) feeds the experts directly, through the same router made
// normalizing and unscaled, instead of a second softmax router.
// CHECK-LABEL: func.func @moe_log_scatter
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %arg1 {k = 2 : i64, normalize = true, scoring = "sigmoid"}
// CHECK-NOT: scoring = "softmax"
// CHECK: moe.experts %arg0, %[[W]], %[[IDS]]
func.func @moe_log_scatter(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>) -> tensor<?x16xf32> {
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = false, scoring = "sigmoid", scaling = 2.5 : f32} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %log = "onnx.Log"(%w) : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %shape = "onnx.Constant"() {value = dense<[1, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %fill = "onnx.ConstantOfShape"(%shape) {value = dense<-1.0e+30> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
  %probs = "onnx.ScatterElements"(%fill, %ids, %log) {axis = 1 : i64} : (tensor<?x4xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x4xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x64x16xf32>} : () -> tensor<4x64x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  %y = "onnx.ms.MoE"(%x, %probs, %fc1, %fc2) {activation_type = "swiglu", k = 2 : i64, swiglu_fusion = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0>} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x64x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that MatMul by the Transpose of a constant (torch's Linear export) is
// a linear layer reading the [N, K] constant as it is, while the transpose of
// a run-time value stays a transpose feeding moe.matmul.
// CHECK-LABEL: func.func @matmul_transposed_weight
// CHECK: %[[W:.+]] = onnx.Constant
// CHECK: moe.linear %arg0, %[[W]] {transpose_weight = true} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
// CHECK: %[[T:.+]] = onnx.Transpose %arg1
// CHECK: moe.matmul %arg0, %[[T]]
func.func @matmul_transposed_weight(%x: tensor<?x16xf32>, %r: tensor<8x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = "onnx.Constant"() {value = dense<0.5> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %wt = "onnx.Transpose"(%w) : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %y = "onnx.MatMul"(%x, %wt) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %rt = "onnx.Transpose"(%r) : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %z = "onnx.MatMul"(%x, %rt) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return %y, %z : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Tests that Gelu becomes one elementwise region in the form the node asks
// for: erf of x/sqrt(2) by default, tanh of sqrt(2/pi)(x + 0.044715 x^3)
// with approximate = "tanh".
// CHECK-LABEL: func.func @gelu
// CHECK: moe.elementwise
// CHECK: math.erf
// CHECK-NOT: math.tanh
// CHECK: moe.elementwise
// CHECK: arith.constant 4.471500e-02
// CHECK: math.tanh
func.func @gelu(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %a = "onnx.Gelu"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %b = "onnx.Gelu"(%x) {approximate = "tanh"} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %a, %b : tensor<?x16xf32>, tensor<?x16xf32>
}

// -----

// Tests the ops of exported decoders that are elementwise: Cos and Sin
// become math.cos / math.sin, LessOrEqual / GreaterOrEqual ordered float
// (false with NaN) or signed integer comparisons.
// CHECK-LABEL: func.func @decoder_elementwise
// CHECK: math.cos
// CHECK: math.sin
// CHECK: arith.cmpf ole
// CHECK: arith.cmpi sge
func.func @decoder_elementwise(%x: tensor<?x8xf32>, %i: tensor<?x8xi64>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xi1>, tensor<?x8xi1>) {
  %c = "onnx.Cos"(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %s = "onnx.Sin"(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %le = "onnx.LessOrEqual"(%c, %s) : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xi1>
  %ge = "onnx.GreaterOrEqual"(%i, %i) : (tensor<?x8xi64>, tensor<?x8xi64>) -> tensor<?x8xi1>
  return %c, %s, %le, %ge : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xi1>, tensor<?x8xi1>
}

// -----

// Tests IsNaN: the unordered "not equal" of x with itself, true only for NaN.
// CHECK-LABEL: func.func @is_nan
// CHECK: ^bb0(%[[X:.*]]: f32):
// CHECK: arith.cmpf une, %[[X]], %[[X]] : f32
func.func @is_nan(%x: tensor<?x8xf32>) -> tensor<?x8xi1> {
  %n = "onnx.IsNaN"(%x) : (tensor<?x8xf32>) -> tensor<?x8xi1>
  return %n : tensor<?x8xi1>
}
