// RUN: moec-opt %s --split-input-file --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05" 2>/dev/null | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05" 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: moec-opt %s --split-input-file --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05 max-pruned=1" 2>&1 >/dev/null | FileCheck %s --check-prefix=CAP

// What moec-prune-experts leaves alone, each with a one-line remark; in every
// case the IR keeps its four experts.

// Tests that a group-limited sigmoid router is refused: a group's score sums
// its two best experts, so removing one would change the groups that compete
// for tokens that never chose it.
// CHECK-LABEL: func.func @groups
// CHECK: note = "group-limited routing
// CHECK-SAME: pruned = array<i64>
// CHECK: moe.router %{{.+}} : tensor<?x4xf32>
// CHECK: moe.experts {{.+}} tensor<4x2x2xf32>, tensor<4x2x2xf32>
// REMARK: router '/groups/router' left alone: group-limited routing (groups = 2) is not pruned: a group's score sums its best experts, so removing one changes which groups compete even for tokens that never chose it; threshold 0.05 of 200 routed slots (100 tokens, k = 2): 0: 100 (50.00%), 1: 2 (1.00%), 2: 50 (25.00%), 3: 48 (24.00%)
func.func @groups(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "sigmoid", groups = 2 : i64, topk_groups = 1 : i64} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/groups/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that experts whose routing comes from the caller (no moe.router) are
// left alone.
// CHECK-LABEL: func.func @no_router
// CHECK: moe.experts {{.+}} tensor<4x2x2xf32>, tensor<4x2x2xf32>
// REMARK: moec-prune-experts: left alone: its weights and expert ids do not come from one moe.router
func.func @no_router(%x: tensor<?x2xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>) -> tensor<?x2xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a router whose logits are an input (no moe.linear to prune the
// columns of) is left alone.
// CHECK-LABEL: func.func @logits_from_caller
// CHECK: moe.router %arg1 {{.+}} : tensor<?x4xf32>
// REMARK: router '/logits/router' left alone: its logits are not computed by a moe.linear;
func.func @logits_from_caller(%x: tensor<?x2xf32>, %l: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/logits/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a run-time expert weight (fc2 from the caller) is refused before
// anything changes: the router and fc1 keep their four experts too.
// CHECK-LABEL: func.func @runtime_weight
// CHECK: moe.linear {{.+}} -> tensor<?x4xf32>
// CHECK: moe.experts {{.+}} tensor<4x2x2xf32>, tensor<4x2x2xf32>
// REMARK: router '/runtime/router' left alone: the experts' fc2 is not a compile-time constant;
func.func @runtime_weight(%x: tensor<?x2xf32>, %fc2: tensor<4x2x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/runtime/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a weight quantized in blocks that span experts (axis 0, two
// experts per scale) is refused: the pruned expert's block is shared.
// CHECK-LABEL: func.func @blocks_across_experts
// CHECK: moe.dequantize {{.+}} -> tensor<4x2x2xf32>
// REMARK: router '/axis0/router' left alone: the experts' fc1 is quantized in blocks along the expert axis;
func.func @blocks_across_experts(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %q = "onnx.Constant"() {value = dense<3> : tensor<4x2x2xi8>} : () -> tensor<4x2x2xi8>
  %s = "onnx.Constant"() {value = dense<0.5> : tensor<2x2x2xf32>} : () -> tensor<2x2x2xf32>
  %fc1 = moe.dequantize %q, %s {axis = 0 : i64, block_size = 2 : i64} : (tensor<4x2x2xi8>, tensor<2x2x2xf32>) -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/axis0/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests that a router whose expert ids are also a result of the function is
// left alone: renumbering the experts would change what the caller reads.
// CHECK-LABEL: func.func @ids_escape
// CHECK: moe.router %{{.+}} : tensor<?x4xf32>
// REMARK: router '/shared/router' left alone: its routing weights or expert ids have users besides the moe.experts;
func.func @ids_escape(%x: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/shared/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y, %ids : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

// Tests that a router the calibration data does not know is left alone.
// CHECK-LABEL: func.func @unknown
// CHECK-NOT: moec.pruned_experts
// CHECK: moe.router %{{.+}} : tensor<?x4xf32>
// REMARK: router '/not/calibrated' left alone: the calibration data in '{{.+}}Inputs/routing' has no routing counts for it
func.func @unknown(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/not/calibrated")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Tests max-pruned: of the three experts below the threshold only the
// least routed goes (CAP run); without the cap two go (k = 2 must remain).
// CHECK-LABEL: func.func @capped
// CHECK: pruned = array<i64: 0, 1>
// REMARK: router '/cap/router': pruned 2 of 4 experts (3 are below the threshold; at least k = 2 must remain)
// CAP: router '/cap/router': pruned 1 of 4 experts (3 are below the threshold; max-pruned = 1); threshold 0.05 of 200 routed slots (100 tokens, k = 2): 0: 1 (0.50%) pruned, 1: 2 (1.00%), 2: 3 (1.50%), 3: 194 (97.00%)
func.func @capped(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/cap/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
