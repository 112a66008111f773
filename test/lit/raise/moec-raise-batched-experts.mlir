// RUN: moec-opt %s --split-input-file --moec-raise-batched-experts | FileCheck %s

// transformers 5's batched_mm experts: each (token, choice) row gathers its
// expert's stacked weights and runs a batched matrix-vector product. The
// pass replaces the block by moe.router + moe.experts that read the stacked
// weights as they are (gate_up_proj as fc1 with swiglu_fusion = 2). Inside
// the block values are unranked, as the importer leaves T*k-row values.
// Weights are splats: the pass passes the constants through unchanged, and
// test/e2e checks the numbers on the exported fixtures.
// 
// Tests the dynamo form (Mixtral): renormalized softmax top-2, Expand + Reshape
// repeat, GatherND by Unsqueeze(Reshape(ids, [-1]), -1), Split halves. Nothing of the
// gathered form is left.
// CHECK-LABEL: func.func @dynamo_renormalized
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[WG:.+]] = onnx.Constant {value = dense<1.000000e-01> : tensor<8x3xf32>}
// CHECK-NEXT: %[[LOGITS:.+]] = onnx.MatMul %[[X]], %[[WG]]
// CHECK-NEXT: %[[GU:.+]] = onnx.Constant {value = dense<6.250000e-02> : tensor<3x8x8xf32>}
// CHECK: %[[DN:.+]] = onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[GU]]) fc2(%[[DN]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 2 : i64} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<3x8x8xf32>, tensor<3x8x4xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[B:.+]] = onnx.Constant {value = dense<[1, -1, 8]> : tensor<3xi64>}
// CHECK-NEXT: %[[R:.+]] = onnx.Reshape %[[Y]], %[[B]] : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<*xf32>
// CHECK-NEXT: return %[[R]]
func.func @dynamo_renormalized(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %batch = onnx.Constant {value = dense<[1, -1, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %res = onnx.Reshape %out, %batch : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %res : tensor<*xf32>
}

// -----
// 
// Tests the torchscript form (OLMoE, Qwen2-MoE): no renormalization, no-op Casts
// between the Softmax and the TopK and on the weights, the repeats of Tile computed by
// a OneHot, Flatten, Gather on axis 0, chunk(2) as two Slices bounded by
// (Shape(h)[-1] + 1) / 2, the [T, k, H] target from Shape(x); the Cast after the sum
// now reads moe.experts.
// CHECK-LABEL: func.func @torchscript_casts
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[WG:.+]] = onnx.Constant {value = dense<1.000000e-01> : tensor<8x3xf32>}
// CHECK-NEXT: %[[LOGITS:.+]] = onnx.MatMul %[[X]], %[[WG]]
// CHECK-NEXT: %[[GU:.+]] = onnx.Constant {value = dense<6.250000e-02> : tensor<3x8x8xf32>}
// CHECK-NEXT: %[[DN:.+]] = onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = false, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[GU]]) fc2(%[[DN]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 2 : i64} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<3x8x8xf32>, tensor<3x8x4xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[C:.+]] = onnx.Cast %[[Y]] {to = f32} : (tensor<?x8xf32>) -> tensor<*xf32>
// CHECK-NEXT: return %[[C]]
func.func @torchscript_casts(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs_c, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %three = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %offon = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hot = onnx.OneHot %one, %three, %offon : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<1x3xi64>
  %reps = onnx.Reshape %hot, %last : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<3xi64>
  %xt = onnx.Tile %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  %xr = onnx.Flatten %xt {axis = 2 : i64} : (tensor<*xf32>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.Gather %gu, %flat {axis = 0 : i64} : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %hs = onnx.Shape %h : (tensor<*xf32>) -> tensor<2xi64>
  %hw = onnx.Gather %hs, %last {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>) -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %hw1 = onnx.Add %hw, %one : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %half = onnx.Div %hw1, %two : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %s = onnx.Mul %half, %one : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %e = onnx.Mul %half, %two : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %g = onnx.Slice %h, %zero0, %s axes(%last) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u = onnx.Slice %h, %s, %e axes(%last) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.Gather %dn, %flat {axis = 0 : i64} : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %xs = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %zero1 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Gather %xs, %zero1 {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>) -> tensor<1xi64>
  %kh = onnx.Constant {value = dense<[2, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %tkh = onnx.Concat %t, %kh {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %outc = onnx.Cast %out {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  return %outc : tensor<*xf32>
}

// -----
// 
// Tests a router without renormalization and without Casts (top-k values are the
// weights) and a sum whose axes say -2.
// CHECK-LABEL: func.func @plain_router
// CHECK: onnx.MatMul
// CHECK-NEXT: onnx.Constant {value = dense<6.250000e-02> : tensor<3x8x8xf32>}
// CHECK-NEXT: onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: moe.router %{{.+}} {k = 2 : i64, normalize = false, scoring = "softmax"}
// CHECK-NEXT: moe.experts
// CHECK-NEXT: return
func.func @plain_router(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %m2 = onnx.Constant {value = dense<-2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %m2 {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a moe.router that moec-raise-sigmoid-router made (DeepSeek-V3): it is
// reused as it is.
// CHECK-LABEL: func.func @raised_router
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %{{.+}} {k = 2 : i64, normalize = true, scaling = 2.500000e+00 : f32, scoring = "sigmoid"}
// CHECK-NEXT: onnx.Constant {value = dense<6.250000e-02> : tensor<3x8x8xf32>}
// CHECK-NEXT: onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: moe.experts %{{.+}}, %[[W]], %[[IDS]]
// CHECK-NEXT: return
func.func @raised_router(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scaling = 2.500000e+00 : f32, scoring = "sigmoid"} : tensor<?x3xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests separate gate and up weights [E, I, H] (older layouts: two gathers, two
// products of the same rows) with gathered biases on every product: fc1, fc3 and
// swiglu_fusion = 0, biases passed through.
// CHECK-LABEL: func.func @separate_gate_up_biases
// CHECK-NEXT: onnx.Constant {value = dense<1.000000e-01> : tensor<8x3xf32>}
// CHECK-NEXT: onnx.MatMul
// CHECK-NEXT: %[[GP:.+]] = onnx.Constant {value = dense<1.250000e-01> : tensor<3x4x8xf32>}
// CHECK-NEXT: %[[UP:.+]] = onnx.Constant {value = dense<2.500000e-01> : tensor<3x4x8xf32>}
// CHECK-NEXT: %[[GB:.+]] = onnx.Constant {value = dense<5.000000e-01> : tensor<3x4xf32>}
// CHECK-NEXT: %[[UB:.+]] = onnx.Constant {value = dense<7.500000e-01> : tensor<3x4xf32>}
// CHECK-NEXT: %[[DN:.+]] = onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: %[[DB:.+]] = onnx.Constant {value = dense<1.500000e+00> : tensor<3x8xf32>}
// CHECK-NEXT: moe.router
// CHECK-NEXT: moe.experts %{{.+}}, %{{.+}}, %{{.+}} fc1(%[[GP]], %[[GB]]) fc2(%[[DN]], %[[DB]]) fc3(%[[UP]], %[[UB]]) {activation = "swiglu"{{.+}}swiglu_fusion = 0 : i64}
// CHECK-NEXT: return
func.func @separate_gate_up_biases(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gp = onnx.Constant {value = dense<1.25e-01> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %upw = onnx.Constant {value = dense<2.5e-01> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %w1 = onnx.Gather %gp, %flat {axis = 0 : i64} : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %w3 = onnx.Gather %upw, %flat {axis = 0 : i64} : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %g0_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g0_p = onnx.MatMul %w1, %g0_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g0 = onnx.Squeeze %g0_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %u0_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %u0_p = onnx.MatMul %w3, %u0_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %u0 = onnx.Squeeze %u0_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gb = onnx.Constant {value = dense<5.0e-01> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %ub = onnx.Constant {value = dense<7.5e-01> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %gbs = onnx.Gather %gb, %flat {axis = 0 : i64} : (tensor<3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ubs = onnx.Gather %ub, %flat {axis = 0 : i64} : (tensor<3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %g = onnx.Add %g0, %gbs : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %u = onnx.Add %ubs, %u0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.Gather %dn, %flat {axis = 0 : i64} : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y0_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y0_p = onnx.MatMul %w2, %y0_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y0 = onnx.Squeeze %y0_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %db = onnx.Constant {value = dense<1.5> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %dbs = onnx.Gather %db, %flat {axis = 0 : i64} : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y = onnx.Add %y0, %dbs : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: Tile(x, [k, 1]) repeats the whole matrix, not each row k
// CHECK-LABEL: func.func @whole_matrix_tile
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @whole_matrix_tile(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %reps = onnx.Constant {value = dense<[2, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Tile %x, %reps : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: Expand(Unsqueeze(x, 0), [k, 1, 1]) repeats the whole matrix too
// CHECK-LABEL: func.func @whole_matrix_expand
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @whole_matrix_expand(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %xu = onnx.Unsqueeze %x, %zero : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<1x?x8xf32>
  %reps = onnx.Constant {value = dense<[2, 1, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<1x?x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: the experts are gathered by the ids of another TopK than the one whose values weight them
// CHECK-LABEL: func.func @ids_of_another_topk
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @ids_of_another_topk(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %k1 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v2, %ids2 = onnx.TopK %logits, %k1 {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids2, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: gate_up_proj is a function argument, not a constant
// CHECK-LABEL: func.func @weights_not_constant
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @weights_not_constant(%x: tensor<?x8xf32>, %gu: tensor<3x8x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: the sum runs over axis 0 (tokens), not over the k choices
// CHECK-LABEL: func.func @sum_over_tokens
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @sum_over_tokens(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero_ax = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %zero_ax {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: silu is applied to the second half and multiplied by the first
// CHECK-LABEL: func.func @activation_on_second_half
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @activation_on_second_half(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %u : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %u, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %g : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----
// 
// Tests a near-miss that is left alone: the gate_up product is also returned
// CHECK-LABEL: func.func @intermediate_used_outside
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum %{{.+}}, %{{.+}} {keepdims = 0 : i64}
func.func @intermediate_used_outside(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %logits = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %k {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_c = onnx.Unsqueeze %xr, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %w1, %h_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %g, %u = onnx.Split %h {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg = onnx.Sigmoid %g : (tensor<*xf32>) -> tensor<*xf32>
  %silu = onnx.Mul %g, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a = onnx.Mul %silu, %u : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_c = onnx.Unsqueeze %a, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %w2, %y_c : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = onnx.Squeeze %y_p, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out, %h : tensor<?x8xf32>, tensor<*xf32>
}

