// RUN: moec-opt %s --split-input-file --moec-awq-scale="activations=%S/Inputs/awq-activations format=int4" | FileCheck %s
// RUN: moec-opt %s --split-input-file --moec-awq-scale="activations=%S/Inputs/awq-activations format=int4" --moec-quantize-weights="format=int4" | FileCheck %s --check-prefix=QUANT
// RUN: not moec-opt %s --split-input-file --moec-awq-scale="activations=%S/Inputs/missing format=int4" 2>&1 | FileCheck %s --check-prefix=MISSING

// Inputs/awq-activations and the weights below come from
// Inputs/make_awq_activations.py: normed rows with two outlier channels.

// Tests the fold of one group: the RMSNorm's scale becomes 1/s (a new
// constant), and every reader of the normed x gets its weights multiplied by
// s: the quantized q linear, the router's linear (float, so that routing does
// not change) and the experts' fc1. fc2 of these non-gated (relu) experts is
// left alone, and so is /o/MatMul, whose input is the function argument (no
// producer to absorb 1/s). The measured errors go on the function.
// CHECK-LABEL: func.func @fold
// CHECK-SAME: moec.quantization = [
// CHECK-SAME: {{alpha = [1-9].[0-9]+e-01 : f64, awq = true, bytes_after = 32 : i64, bytes_before = 128 : i64, error_awq = .+, error_rtn = .+, format = "int4", group_size = 0 : i64, node = "/q/MatMul", op = "moe.linear", rows = 32 : i64, weight = "weight"}}
// CHECK-SAME: {{alpha = [1-9].[0-9]+e-01 : f64, awq = true, .+ node = "/moe/MoE", op = "moe.experts", rows = 32 : i64, weight = "fc1"}}
// CHECK-SAME: {{alpha = 0.000000e\+00 : f64, awq = false, .+ node = "/moe/MoE", op = "moe.experts", rows = 32 : i64, weight = "fc2"}}
// CHECK-SAME: {{alpha = 0.000000e\+00 : f64, awq = false, .+ node = "/o/MatMul", op = "moe.linear", rows = 32 : i64, weight = "weight"}}
// CHECK: %[[G:.+]] = onnx.Constant {value = dense_resource<{{awq.[0-9]+}}> : tensor<8xf32>}
// CHECK: moe.rms_norm %arg0, %[[G]]
// CHECK: %[[WQ:.+]] = onnx.Constant {value = dense_resource<{{awq.[0-9]+}}> : tensor<8x4xf32>}
// CHECK: moe.linear %{{.+}}, %[[WQ]] :
// CHECK: %[[WR:.+]] = onnx.Constant {value = dense_resource<{{awq.[0-9]+}}> : tensor<8x2xf32>}
// CHECK: moe.linear %{{.+}}, %[[WR]] :
// CHECK: %[[FC2:.+]] = onnx.Constant {value = dense<{{.+}}> : tensor<2x8x4xf32>}
// CHECK: %[[FC1:.+]] = onnx.Constant {value = dense_resource<{{awq.[0-9]+}}> : tensor<2x4x8xf32>}
// CHECK: moe.experts {{.+}} fc1(%[[FC1]]) fc2(%[[FC2]])
// CHECK: %[[WO:.+]] = onnx.Constant {value = dense<{{.+}}> : tensor<8x4xf32>}
// CHECK: moe.linear %arg0, %[[WO]] :
// The quantizer then rounds the scaled weights; the router stays float.
// QUANT-LABEL: func.func @fold
// QUANT: %[[DQ:.+]] = moe.dequantize {{.+}} -> tensor<4x8xf32>
// QUANT: moe.linear %{{.+}}, %[[DQ]] {transpose_weight = true}
// QUANT: moe.linear %{{.+}}, %{{.+}} : (tensor<?x8xf32>, tensor<8x2xf32>) -> tensor<?x2xf32>
func.func @fold(%x: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x8xf32>, tensor<?x4xf32>) {
  %g = "onnx.Constant"() {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>
  %n = moe.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-06 : f32} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> loc("/norm")
  %wq = "onnx.Constant"() {value = dense<[[ 0.29444772, 0.9621286, 0.92842156, 1.3320931 ], [ 0.80636305, -0.33560804, -0.054268945, 0.4942151 ], [-0.31029227, 0.5494388, 1.1536095, -0.801246 ], [-1.7703841, 1.193655, 0.01775991, 0.70866984 ], [-1.3323053, 1.7329925, 0.73861986, -0.12607418 ], [-0.35198805, 0.11389588, -0.16673134, -0.27869013 ], [-1.1195999, 1.2628094, -0.039577685, 0.07463564 ], [ 0.09291599, -2.3582172, 0.52714145, -0.32915494 ]]> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %y = moe.linear %n, %wq : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/q/MatMul")
  %wr = "onnx.Constant"() {value = dense<[[-0.28922847, 0.069787875], [-0.9724756, 0.8433808 ], [-0.6958646, -0.90365803 ], [-0.8621896, 0.1587527 ], [ 0.74577945, -0.59505326 ], [-1.5101867, 1.0624907 ], [-1.0650836, 1.1948304 ], [-0.054295875, -0.6983499 ]]> : tensor<8x2xf32>} : () -> tensor<8x2xf32>
  %logits = moe.linear %n, %wr : (tensor<?x8xf32>, tensor<8x2xf32>) -> tensor<?x2xf32> loc("/router/MatMul")
  %rw, %ids = moe.router %logits {k = 1 : i64, normalize = true, scoring = "softmax"} : tensor<?x2xf32> -> tensor<?x1xf32>, tensor<?x1xi64> loc("/moe/MoE")
  %fc1 = "onnx.Constant"() {value = dense<[[[-0.6400399, 0.46186617, 0.8893718, -0.19817023, 0.9469344, 2.0869782, -0.20830834, -1.1494466 ], [-1.0544003, -1.3903353, -0.6396654, -0.72377926, -1.3251033, 0.53018427, -2.611339, -1.320799 ], [ 2.0152519, 1.0378025, 0.5227917, 0.45725906, 1.7709372, 0.53562963, 0.077577084, -1.2301601 ], [-0.07366682, -0.733884, -0.70617527, -0.71423894, -0.044646863, -0.3297108, 0.8711105, -1.3261814 ]], [[-0.16947019, 1.8594975, 0.038897336, 1.1986152, 1.1368635, 1.3166478, 0.7381192, -1.3804461 ], [-0.26738772, -0.38033557, -1.5488553, -0.4638816, -1.2500799, -1.6655514, 0.21089625, -0.043591272], [-0.6878149, -0.9505864, -0.5412734, -0.39409038, -0.4081103, -0.052707747, -0.43554068, 0.38697198 ], [ 0.5228709, 0.35786968, -0.6631035, -0.61650616, 0.4348641, -0.19704278, -0.04315171, -2.4919953 ]]]> : tensor<2x4x8xf32>} : () -> tensor<2x4x8xf32>
  %fc2 = "onnx.Constant"() {value = dense<[[[-2.700104, 0.3371482, 0.32955867, 1.3934319 ], [ 0.7211631, 0.2217388, 0.016362457, -1.4267404 ], [ 0.8831759, -0.603586, 0.50248444, 0.20004165 ], [ 0.27209702, 0.8926752, -0.4898661, -0.3872352 ], [-0.8558615, -0.37715203, 1.6659408, -0.36331865 ], [ 1.1856163, 0.8260114, 0.7292818, 0.8030151 ], [-1.0142765, 0.3734477, 1.588412, -0.69579595 ], [-0.047107086, -0.68915915, 0.3170115, -1.0785301 ]], [[ 1.6096798, -0.37683478, -1.5426615, 1.7907909 ], [ 0.9705229, 0.5185115, 0.5325875, -0.357798 ], [-0.2232956, 0.7240192, 0.91762495, 0.9326124 ], [ 0.21255098, -0.4663881, -0.19208732, 1.1095997 ], [ 1.4399182, -0.34131238, -0.477304, 1.2475497 ], [ 0.723649, 0.6972582, -1.3123337, -0.37375745 ], [-0.5149955, 0.20790465, -1.684942, 1.2717528 ], [ 0.3001318, 0.434837, -1.1841403, -0.026420372]]]> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %e = moe.experts %n, %rw, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x8xf32>, tensor<?x1xf32>, tensor<?x1xi64>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<?x8xf32> loc("/moe/MoE")
  %wo = "onnx.Constant"() {value = dense<[[ 1.3346503, -1.5696956, 0.30576804, 0.6988049 ], [-0.6919471, 0.81474125, -0.33006904, 1.2297666 ], [ 0.5275118, 0.22436589, 2.008916, 0.8318965 ], [ 1.3086357, -1.1895196, -0.64660704, 0.836569 ], [ 0.9056119, -0.05574003, 0.7797265, -1.0583538 ], [ 0.21383522, -1.1472839, 0.34057054, -0.4861719 ], [-0.6409975, 0.05629903, 1.8174601, -1.0117618 ], [-0.6017506, 1.0676641, -0.42356667, 1.7692642 ]]> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %o = moe.linear %x, %wo : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/o/MatMul")
  return %y, %e, %o : tensor<?x4xf32>, tensor<?x8xf32>, tensor<?x4xf32>
}

// -----

// Tests a producer that cannot take 1/s exactly: the normed x also feeds an
// elementwise op (a residual-like use), so the norm and its readers stay as
// they are (and the errors are RTN's).
// CHECK-LABEL: func.func @other_use
// CHECK-SAME: {{alpha = 0.000000e\+00 : f64, awq = false, .+ node = "/q/MatMul"}}
// CHECK: %[[G:.+]] = onnx.Constant {value = dense<1.000000e+00> : tensor<8xf32>}
// CHECK: moe.rms_norm %arg0, %[[G]]
// CHECK-NOT: awq.
// CHECK: return
func.func @other_use(%x: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x8xf32>) {
  %g = "onnx.Constant"() {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>
  %n = moe.rms_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-06 : f32} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> loc("/norm")
  %wq = "onnx.Constant"() {value = dense<[[ 0.29444772, 0.9621286, 0.92842156, 1.3320931 ], [ 0.80636305, -0.33560804, -0.054268945, 0.4942151 ], [-0.31029227, 0.5494388, 1.1536095, -0.801246 ], [-1.7703841, 1.193655, 0.01775991, 0.70866984 ], [-1.3323053, 1.7329925, 0.73861986, -0.12607418 ], [-0.35198805, 0.11389588, -0.16673134, -0.27869013 ], [-1.1195999, 1.2628094, -0.039577685, 0.07463564 ], [ 0.09291599, -2.3582172, 0.52714145, -0.32915494 ]]> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %y = moe.linear %n, %wq : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/q/MatMul")
  %r = moe.elementwise ins(%n, %x : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    moe.yield %s : f32
  }
  return %y, %r : tensor<?x4xf32>, tensor<?x8xf32>
}

// MISSING: error: moec-awq-scale: {{.+}}Inputs/missing/index.json: cannot read it
