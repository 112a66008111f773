// RUN: moec-opt %s --split-input-file --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05" 2>/dev/null | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// Tests that a softmax router with renormalization loses the rarely routed
// expert 1 (2 of 200 slots = 1% < 5%) everywhere: the router's logits
// linear keeps rows 0, 2, 3 of its [E, H] weight and bias, fc1 and fc2 keep
// experts 0, 2, 3, and the router (k = 2 still) scores 3 experts. The
// renormalization cancels the softmax denominator, so nothing else is needed.
// The histogram is recorded on the function for the compile report.
// CHECK-LABEL: func.func @softmax_normalized
// CHECK-SAME: moec.pruned_experts = [{counts = array<i64: 100, 2, 50, 48>, experts = 4 : i64, k = 2 : i64, node = "/norm/router", note = "", pruned = array<i64: 1>, threshold = 5.000000e-02 : f64, tokens = 100 : i64}]
// CHECK-DAG: %[[FC1:.+]] = onnx.Constant {value = dense_resource<[[FC1KEY:.+]]> : tensor<3x2x2xf32>}
// CHECK-DAG: %[[FC2:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<3x2x2xf32>}
// CHECK-DAG: %[[WR:.+]] = onnx.Constant {value = dense_resource<[[WRKEY:.+]]> : tensor<3x2xf32>}
// CHECK-DAG: %[[BR:.+]] = onnx.Constant {value = dense_resource<[[BRKEY:.+]]> : tensor<3xf32>}
// CHECK: %[[L:.+]] = moe.linear %arg0, %[[WR]], %[[BR]] {transpose_weight = true} : (tensor<?x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<?x3xf32>
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[L]] {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x3xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK-NEXT: moe.experts %arg0, %[[W]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]])
// CHECK-NOT: tensor<4x
// CHECK-DAG: [[FC1KEY]]: "0x010000000000803F0000803F0000803F0000803F0000404000004040000040400000404000008040000080400000804000008040"
// CHECK-DAG: [[WRKEY]]: "0x01000000000000000000000000000040000000400000404000004040"
// CHECK-DAG: [[BRKEY]]: "0x01000000000000000000004000004040"
func.func @softmax_normalized(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %br = "onnx.Constant"() {value = dense<[0.0, 1.0, 2.0, 3.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %fc1 = "onnx.Constant"() {value = dense<[[[1.0, 1.0], [1.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]], [[3.0, 3.0], [3.0, 3.0]], [[4.0, 4.0], [4.0, 4.0]]]> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<[[[1.0, 1.0], [1.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]], [[3.0, 3.0], [3.0, 3.0]], [[4.0, 4.0], [4.0, 4.0]]]> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr, %br {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // REMARK: moec-prune-experts: router '/norm/router': pruned 1 of 4 experts; threshold 0.05 of 200 routed slots (100 tokens, k = 2): 0: 100 (50.00%), 1: 2 (1.00%) pruned, 2: 50 (25.00%), 3: 48 (24.00%)
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/norm/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a softmax router WITHOUT renormalization keeps the original
// denominator: the kept router's weights exp(l_e) / Z_kept are multiplied by
// Z_kept / Z_all, the kept entries of the softmax over all four logits
// (the original [H, E] linear, untransposed, still computes them; a [4, 1]
// 0/1 mask sums them), so a token that never chose expert 1 gets exactly its
// original weights. The [H, E] weight loses column 1.
// CHECK-LABEL: func.func @softmax_plain
// CHECK: %[[WR:.+]] = onnx.Constant {value = dense<{{.+}}> : tensor<2x4xf32>}
// CHECK-NEXT: %[[ALL:.+]] = moe.linear %arg0, %[[WR]] : (tensor<?x2xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
// CHECK: %[[WK:.+]] = onnx.Constant {value = dense_resource<[[WKKEY:.+]]> : tensor<2x3xf32>}
// CHECK: %[[KL:.+]] = moe.linear %arg0, %[[WK]] : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[KL]] {k = 2 : i64, normalize = false, scaling = 2.500000e+00 : f32, scoring = "softmax"} : tensor<?x3xf32>
// CHECK-NEXT: %[[P:.+]] = onnx.Softmax %[[ALL]] {axis = -1 : i64}
// CHECK-NEXT: %[[MASK:.+]] = onnx.Constant {value = dense<{{\[\[}}1.000000e+00], [0.000000e+00], [1.000000e+00], [1.000000e+00]]> : tensor<4x1xf32>}
// CHECK-NEXT: %[[MASS:.+]] = moe.linear %[[P]], %[[MASK]] : (tensor<?x4xf32>, tensor<4x1xf32>) -> tensor<?x1xf32>
// CHECK-NEXT: %[[RW:.+]] = moe.elementwise ins(%[[W]], %[[MASS]] : tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
// CHECK: arith.mulf
// CHECK: moe.experts %arg0, %[[RW]], %[[IDS]] fc1(%{{.+}}) fc2(%{{.+}}) {{.+}} tensor<3x2x2xf32>, tensor<3x2x2xf32>
// CHECK: [[WKKEY]]: "0x010000000000000000000040000040400000803F0000A0400000C040"
func.func @softmax_plain(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<[[0.0, 1.0, 2.0, 3.0], [1.0, 4.0, 5.0, 6.0]]> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr : (tensor<?x2xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
  // REMARK: router '/plain/router': pruned 1 of 4 experts
  %w, %ids = moe.router %l {k = 2 : i64, normalize = false, scoring = "softmax", scaling = 2.5 : f32} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/plain/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a sigmoid router (scores independent per expert) drops the
// pruned expert's selection bias entry and keeps normalize/scaling; fc3 and
// the three expert biases are pruned too.
// CHECK-LABEL: func.func @sigmoid
// CHECK: moe.router %{{.+}} {bias = array<f32: 1.000000e-01, 3.000000e-01, 4.000000e-01>, k = 2 : i64, normalize = true, scaling = 2.000000e+00 : f32, scoring = "sigmoid"} : tensor<?x3xf32>
// CHECK: moe.experts {{.+}} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<3x2x2xf32>, tensor<3x2xf32>, tensor<3x2x2xf32>, tensor<3x2xf32>, tensor<3x2x2xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
func.func @sigmoid(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc3 = "onnx.Constant"() {value = dense<0.125> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %b1 = "onnx.Constant"() {value = dense<0.1> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %b2 = "onnx.Constant"() {value = dense<0.2> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %b3 = "onnx.Constant"() {value = dense<0.3> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  // REMARK: router '/sigmoid/router': pruned 1 of 4 experts
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "sigmoid", scaling = 2.0 : f32, bias = array<f32: 0.1, 0.2, 0.3, 0.4>} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/sigmoid/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1, %b1) fc2(%fc2, %b2) fc3(%fc3, %b3) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2xf32>, tensor<4x2x2xf32>, tensor<4x2xf32>, tensor<4x2x2xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that quantized expert weights are pruned in their stored form: the
// int8 values and the block scales (blocked along the hidden axis) both
// lose expert 1, and the old moe.dequantize is gone.
// CHECK-LABEL: func.func @quantized
// CHECK: %[[DQ:.+]] = moe.dequantize %{{.+}}, %{{.+}} {axis = 2 : i64, block_size = 2 : i64} : (tensor<3x2x2xi8>, tensor<3x2x1xf32>) -> tensor<3x2x2xf32>
// CHECK-NOT: tensor<4x2x2xi8>
// CHECK: moe.experts %{{.+}} fc1(%[[DQ]])
func.func @quantized(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %q = "onnx.Constant"() {value = dense<3> : tensor<4x2x2xi8>} : () -> tensor<4x2x2xi8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x1xf32>} : () -> tensor<4x2x1xf32>
  %fc1 = moe.dequantize %q, %s {axis = 2 : i64, block_size = 2 : i64} : (tensor<4x2x2xi8>, tensor<4x2x1xf32>) -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  // REMARK: router '/quant/router': pruned 1 of 4 experts
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/quant/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that at least k experts remain: experts 0, 1 and 2 are all below 5%
// but with E = 4 and k = 2 only the two least routed (0 and 1) go.
// CHECK-LABEL: func.func @keeps_k
// CHECK: pruned = array<i64: 0, 1>
// CHECK: moe.router %{{.+}} : tensor<?x2xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
func.func @keeps_k(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  // REMARK: router '/cap/router': pruned 2 of 4 experts (3 are below the threshold; at least k = 2 must remain); threshold 0.05 of 200 routed slots (100 tokens, k = 2): 0: 1 (0.50%) pruned, 1: 2 (1.00%) pruned, 2: 3 (1.50%), 3: 194 (97.00%)
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/cap/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a router whose experts are all above the threshold is left as
// it is, its histogram still reported.
// CHECK-LABEL: func.func @popular
// CHECK: pruned = array<i64>
// CHECK: moe.router %{{.+}} : tensor<?x4xf32>
func.func @popular(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  // REMARK: router '/popular/router': no expert below the threshold; threshold 0.05 of 200 routed slots (100 tokens, k = 2): 0: 50 (25.00%), 1: 50 (25.00%), 2: 50 (25.00%), 3: 50 (25.00%)
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/popular/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
