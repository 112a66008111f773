// RUN: moec-opt %s --split-input-file --moec-raise-sigmoid-router | FileCheck %s

// Tests that DeepSeek-V3's group-limited sigmoid router (bias, 3 groups of 4,
// top-2 groups, top-3 experts, weights from the unbiased scores times 1.5,
// no renormalization) becomes one moe.router whose results replace the
// weights and the TopK indices, and that the dead subgraph is gone.
// CHECK-LABEL: func.func @grouped
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %arg0 {bias = array<f32: -0.00999999977, 2.000000e-02, 0.000000e+00, 3.000000e-02, -2.000000e-02, 0.000000e+00, 0.00999999977, 0.000000e+00, 4.000000e-02, 0.000000e+00, -3.000000e-02, 0.000000e+00>, groups = 3 : i64, k = 3 : i64, normalize = false, scaling = 1.500000e+00 : f32, scoring = "sigmoid", topk_groups = 2 : i64} : tensor<?x12xf32> -> tensor<?x3xf32>, tensor<?x3xi64>
// CHECK-NOT: onnx.
// CHECK: return %[[W]], %[[IDS]]
func.func @grouped(%arg0: tensor<?x12xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>) {
  %0 = onnx.Sigmoid %arg0 : (tensor<?x12xf32>) -> tensor<?x12xf32>
  %1 = onnx.Constant {value = dense<[-0.01, 0.02, 0.0, 0.03, -0.02, 0.0, 0.01, 0.0, 0.04, 0.0, -0.03, 0.0]> : tensor<12xf32>} : () -> tensor<12xf32>
  %2 = onnx.Add %0, %1 : (tensor<?x12xf32>, tensor<12xf32>) -> tensor<?x12xf32>
  %3 = onnx.Constant {value = dense<[-1, 3, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %4 = onnx.Reshape %2, %3 : (tensor<?x12xf32>, tensor<3xi64>) -> tensor<?x3x4xf32>
  %5 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %4, %5 : (tensor<?x3x4xf32>, tensor<1xi64>) -> (tensor<?x3x2xf32>, tensor<?x3x2xi64>)
  %6 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %7 = onnx.ReduceSum %v, %6 {keepdims = 0 : i64} : (tensor<?x3x2xf32>, tensor<1xi64>) -> tensor<?x3xf32>
  %gv, %gi = onnx.TopK %7, %5 {sorted = 0 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %9 = onnx.Shape %7 : (tensor<?x3xf32>) -> tensor<2xi64>
  %10 = onnx.Shape %gi : (tensor<?x2xi64>) -> tensor<2xi64>
  %11 = onnx.ConstantOfShape %10 {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x2xf32>
  %13 = onnx.ConstantOfShape %9 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x3xf32>
  %14 = onnx.ScatterElements %13, %gi, %11 {axis = 1 : i64} : (tensor<?x3xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x3xf32>
  %15 = onnx.Unsqueeze %14, %5 : (tensor<?x3xf32>, tensor<1xi64>) -> tensor<?x3x1xf32>
  %16 = onnx.Constant {value = dense<1.0> : tensor<1x1x4xf32>} : () -> tensor<1x1x4xf32>
  %17 = onnx.Mul %15, %16 : (tensor<?x3x1xf32>, tensor<1x1x4xf32>) -> tensor<?x3x4xf32>
  %18 = onnx.Constant {value = dense<[-1, 12]> : tensor<2xi64>} : () -> tensor<2xi64>
  %19 = onnx.Reshape %17, %18 : (tensor<?x3x4xf32>, tensor<2xi64>) -> tensor<?x12xf32>
  %20 = onnx.Cast %19 {to = i1} : (tensor<?x12xf32>) -> tensor<?x12xi1>
  %21 = onnx.Constant {value = dense<-1.0e+30> : tensor<f32>} : () -> tensor<f32>
  %22 = onnx.Where %20, %2, %21 : (tensor<?x12xi1>, tensor<?x12xf32>, tensor<f32>) -> tensor<?x12xf32>
  %23 = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %tv, %ti = onnx.TopK %22, %23 : (tensor<?x12xf32>, tensor<1xi64>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  %24 = onnx.GatherElements %0, %ti {axis = 1 : i64} : (tensor<?x12xf32>, tensor<?x3xi64>) -> tensor<?x3xf32>
  %25 = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %26 = onnx.Mul %24, %25 : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  return %26, %ti : tensor<?x3xf32>, tensor<?x3xi64>
}

// -----

// Tests the plain form (no bias, no groups) with renormalization.
// CHECK-LABEL: func.func @plain_normalized
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %arg0 {k = 2 : i64, normalize = true, scoring = "sigmoid"}
// CHECK: return %[[W]], %[[IDS]]
func.func @plain_normalized(%arg0: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %0 = onnx.Sigmoid %arg0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %0, %k : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.GatherElements %0, %i {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  %ax = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s = onnx.ReduceSum %w, %ax : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %n = onnx.Div %w, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  return %n, %i : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

// Tests near misses that must stay as they are: weights gathered from the
// biased scores (not DeepSeek's rule), a run-time bias, and the smallest
// scores selected (largest = 0).
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: moe.router
// CHECK: return
func.func @near_misses(%arg0: tensor<?x8xf32>, %bias: tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) {
  %0 = onnx.Sigmoid %arg0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %c = onnx.Constant {value = dense<0.01> : tensor<8xf32>} : () -> tensor<8xf32>
  %b = onnx.Add %0, %c : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %b, %k : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %biased = onnx.GatherElements %b, %i {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  %rb = onnx.Add %0, %bias : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %v2, %i2 = onnx.TopK %rb, %k : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %runtime = onnx.GatherElements %0, %i2 {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  %v3, %i3 = onnx.TopK %0, %k {largest = 0 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %smallest = onnx.GatherElements %0, %i3 {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  return %biased, %runtime, %smallest : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// Tests that a group score other than the sum of the two best (here the
// best alone, TopK k = 1) is not DeepSeek's rule: left alone.
// CHECK-LABEL: func.func @group_score_max
// CHECK-NOT: moe.router
func.func @group_score_max(%arg0: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %0 = onnx.Sigmoid %arg0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %3 = onnx.Constant {value = dense<[-1, 2, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %4 = onnx.Reshape %0, %3 : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x2x4xf32>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %4, %one : (tensor<?x2x4xf32>, tensor<1xi64>) -> (tensor<?x2x1xf32>, tensor<?x2x1xi64>)
  %6 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %7 = onnx.ReduceSum %v, %6 {keepdims = 0 : i64} : (tensor<?x2x1xf32>, tensor<1xi64>) -> tensor<?x2xf32>
  %gv, %gi = onnx.TopK %7, %one : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %z = onnx.Constant {value = dense<0.0> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %o = onnx.Constant {value = dense<1.0> : tensor<1x1xf32>} : () -> tensor<1x1xf32>
  %14 = onnx.ScatterElements %z, %gi, %o {axis = 1 : i64} : (tensor<1x2xf32>, tensor<?x1xi64>, tensor<1x1xf32>) -> tensor<?x2xf32>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %15 = onnx.Unsqueeze %14, %two : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %16 = onnx.Constant {value = dense<1.0> : tensor<1x1x4xf32>} : () -> tensor<1x1x4xf32>
  %17 = onnx.Mul %15, %16 : (tensor<?x2x1xf32>, tensor<1x1x4xf32>) -> tensor<?x2x4xf32>
  %18 = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %19 = onnx.Reshape %17, %18 : (tensor<?x2x4xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  %20 = onnx.Cast %19 {to = i1} : (tensor<?x8xf32>) -> tensor<?x8xi1>
  %21 = onnx.Constant {value = dense<-1.0e+30> : tensor<f32>} : () -> tensor<f32>
  %22 = onnx.Where %20, %0, %21 : (tensor<?x8xi1>, tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %tv, %ti = onnx.TopK %22, %two : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %24 = onnx.GatherElements %0, %ti {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  return %24 : tensor<?x2xf32>
}

// -----

// Tests the plain sigmoid top-k (Flint): no selection bias, no groups, the
// weights are the TopK's own values, renormalized and scaled.
// CHECK-LABEL: func.func @plain_topk_of_sigmoid
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.router %{{.*}} {k = 2 : i64, normalize = true, scaling = 2.500000e+00 : f32, scoring = "sigmoid"}
// CHECK-NOT: onnx.
// CHECK: return %[[W]], %[[IDS]]
func.func @plain_topk_of_sigmoid(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s = onnx.Sigmoid %logits : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %v, %ids = onnx.TopK %s, %k {axis = -1 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %sum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %sum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %c = onnx.Constant {value = dense<2.5> : tensor<f32>} : () -> tensor<f32>
  %ws = onnx.Mul %w, %c : (tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  return %ws, %ids : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

// Tests that the TopK of a softmax (not a sigmoid) is left to the softmax
// routers' matchers.
// CHECK-LABEL: func.func @topk_of_softmax_left_alone
// CHECK-NOT: moe.router
// CHECK: onnx.TopK
func.func @topk_of_softmax_left_alone(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %s = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %v, %ids = onnx.TopK %s, %k {axis = -1 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %v, %ids : tensor<?x2xf32>, tensor<?x2xi64>
}
