// RUN: not moec-opt %s --moec-prune-experts="threshold=0.05" 2>&1 | FileCheck %s --check-prefix=NODIR
// RUN: not moec-opt %s --moec-prune-experts="activations=%S/Inputs/routing threshold=1.5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not moec-opt %s --moec-prune-experts="activations=%S/Inputs/missing threshold=0.05" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not moec-opt %s --moec-prune-experts="activations=%S/Inputs/routing threshold=0.05" 2>&1 | FileCheck %s --check-prefix=COUNT

// Bad options and calibration data that does not fit the model are one-line
// errors naming what is wrong.
// NODIR: error: moec-prune-experts: activations=DIR (a calibration directory) is required
// RANGE: error: moec-prune-experts: threshold must be in [0, 1), got 1.5
// MISSING: error: moec-prune-experts: {{.+}}Inputs/missing
// COUNT: error: {{.*}}moec-prune-experts: {{.+}}Inputs/routing: router '/eight/router' has counts for 8 experts but the model has 4 (calibration data from another model?)
func.func @eight(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %wr = "onnx.Constant"() {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x2x2xf32>} : () -> tensor<4x2x2xf32>
  %l = moe.linear %x, %wr {transpose_weight = true} : (tensor<?x2xf32>, tensor<4x2xf32>) -> tensor<?x4xf32>
  %w, %ids = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64> loc("/eight/router")
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "relu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x2x2xf32>, tensor<4x2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
