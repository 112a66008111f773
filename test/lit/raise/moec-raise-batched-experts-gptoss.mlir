// RUN: moec-opt %s --split-input-file --moec-raise-batched-experts | FileCheck %s

// gpt-oss's batched_mm experts (transformers 5): weights stored [E, in, out],
// so each product is Squeeze(MatMul(Unsqueeze(v, 1), W[ids]), 1) + b[ids]
// (dynamo puts a Squeeze(Unsqueeze(., 1), 1) round trip after the bias);
// gate and up are the even and odd columns (Slices with step 2); the
// activation is (clamp(up, -l, l) + 1) * g * sigmoid(1.702 g) with
// g = min(gate, l). The router is a Linear with bias, TopK of the logits,
// Softmax over the k values. The clamps are written Min/Max here (torch
// exports Clip, which the pass reads the same way).

// Tests the whole form: fc1/fc2 transposed at compile time (non-splat weights:
// gate_up [[1 2] [3 4]] becomes [[1 3] [2 4]] per expert, the blob below),
// swiglu_fusion 1, alpha 1.702, beta 1 (the + 1), limit 1.5, both biases.
// CHECK-LABEL: func.func @gptoss
// CHECK-SAME: (%[[X:.+]]: tensor<?x2xf32>)
// CHECK: %[[LOGITS:.+]] = onnx.Gemm %[[X]]
// CHECK: %[[B1:.+]] = onnx.Constant {value = dense<5.000000e-02> : tensor<2x2xf32>}
// CHECK-NEXT: %[[B2:.+]] = onnx.Constant {value = dense<2.500000e-02> : tensor<2x2xf32>}
// CHECK-NEXT: %[[FC1:.+]] = onnx.Constant {value = dense_resource<[[BLOB1:experts_transposed]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense_resource<[[BLOB2:experts_transposed_1]]> : tensor<2x2x1xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]], %[[B1]]) fc2(%[[FC2]], %[[B2]]) {activation = "swiglu", alpha = 1.702000e+00 : f32, beta = 1.000000e+00 : f32, limit = 1.500000e+00 : f32, swiglu_fusion = 1 : i64}
// CHECK-NOT: onnx.Slice
// CHECK-NOT: onnx.GatherND
// CHECK: onnx.Reshape %[[Y]]
// CHECK: [[BLOB1]]: "0x010000000000803F0000404000000040000080400000A0400000E0400000C04000000041"
// CHECK-NEXT: [[BLOB2]]: "0x010000000000803F000000400000404000008040"
func.func @gptoss(%x: tensor<?x2xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<2xf32>} : () -> tensor<2xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1x2xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x2xf32>, tensor<3xi64>) -> tensor<?x2x2xf32>
  %rows = onnx.Constant {value = dense<[-1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x2xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]> : tensor<2x2x2xf32>} : () -> tensor<2x2x2xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<2x2x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<2x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_lo = onnx.Constant {value = dense<-1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_m = onnx.Min %us, %uc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc = onnx.Max %uc_m, %uc_lo : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<1.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %uc, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<[[[1.0, 2.0]], [[3.0, 4.0]]]> : tensor<2x1x2xf32>} : () -> tensor<2x1x2xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<2x1x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<2x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %wc = onnx.Unsqueeze %wf, %last : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %yw = onnx.Mul %y, %wc : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tkh = onnx.Constant {value = dense<[-1, 2, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %yt = onnx.Reshape %yw, %tkh : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %out = onnx.ReduceSum %yt, %one {keepdims = 0 : i64} : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %batch = onnx.Constant {value = dense<[1, -1, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %res = onnx.Reshape %out, %batch : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %res : tensor<*xf32>
}

// -----

// Tests the router as MatMul + Add (bias), no clamps (limit inf) and no + 1
// (beta 0): the attributes come from the graph, not from gpt-oss's defaults.
// Splat weights stay splats, with the transposed shapes.
// CHECK-LABEL: func.func @unclamped_matmul_router
// CHECK: %[[FC1:.+]] = onnx.Constant {value = dense<6.250000e-02> : tensor<3x8x8xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense<3.125000e-02> : tensor<3x8x4xf32>}
// CHECK-NEXT: moe.router
// CHECK-NEXT: moe.experts {{.*}} fc1(%[[FC1]], %{{.+}}) fc2(%[[FC2]], %{{.+}}) {activation = "swiglu", alpha = 1.702000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 1 : i64}
func.func @unclamped_matmul_router(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<8x3xf32>} : () -> tensor<8x3xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %mm = onnx.MatMul %x, %wg : (tensor<?x8xf32>, tensor<8x3xf32>) -> tensor<?x3xf32>
  %logits = onnx.Add %mm, %bg : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gs, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gs, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %act = onnx.Mul %us, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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

// Tests that a + 2 on up is beta 2.
// CHECK-LABEL: func.func @beta_two
// CHECK: moe.experts {{.*}} {activation = "swiglu", alpha = 1.702000e+00 : f32, beta = 2.000000e+00 : f32, limit = 1.500000e+00 : f32, swiglu_fusion = 1 : i64}
func.func @beta_two(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_lo = onnx.Constant {value = dense<-1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_m = onnx.Min %us, %uc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc = onnx.Max %uc_m, %uc_lo : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<2.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %uc, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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

// Tests that the block is left alone: gate clamped at 1.5 but up at 2: moe.experts has one limit.
// CHECK-LABEL: func.func @different_limits
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum
func.func @different_limits(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_hi = onnx.Constant {value = dense<2.0e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_lo = onnx.Constant {value = dense<-2.0e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_m = onnx.Min %us, %uc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc = onnx.Max %uc_m, %uc_lo : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<1.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %uc, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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

// Tests that the block is left alone: only the gate clamped: moe.experts clamps both or neither.
// CHECK-LABEL: func.func @gate_clamp_only
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum
func.func @gate_clamp_only(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<1.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %us, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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

// Tests that the block is left alone: the halves swapped, gate from the odd columns: fusion 1 reads gate from the even ones.
// CHECK-LABEL: func.func @odd_gate
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum
func.func @odd_gate(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_lo = onnx.Constant {value = dense<-1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_m = onnx.Min %us, %uc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc = onnx.Max %uc_m, %uc_lo : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<1.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %uc, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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

// Tests that the block is left alone: alpha a run-time value.
// CHECK-LABEL: func.func @alpha_not_constant
// CHECK-NOT: moe.
// CHECK: onnx.ReduceSum
func.func @alpha_not_constant(%x: tensor<?x8xf32>, %alpha: tensor<1xf32>) -> (tensor<*xf32>) {
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %end = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %wg = onnx.Constant {value = dense<1.0e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %bg = onnx.Constant {value = dense<2.0e-01> : tensor<3xf32>} : () -> tensor<3xf32>
  %logits = onnx.Gemm %x, %wg, %bg {transB = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %logits, %two {axis = -1 : i64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %reps = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %xe = onnx.Expand %xu, %reps : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %rows = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xr = onnx.Reshape %xe, %rows : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %flat = onnx.Reshape %ids, %last : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<*xi64>
  %idc = onnx.Unsqueeze %flat, %last : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %gu = onnx.Constant {value = dense<6.25e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %gub = onnx.Constant {value = dense<5.0e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w1 = onnx.GatherND %gu, %idc : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b1 = onnx.GatherND %gub, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_r = onnx.Unsqueeze %xr, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_p = onnx.MatMul %h_r, %w1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_s = onnx.Squeeze %h_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h_b = onnx.Add %h_s, %b1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %h_u = onnx.Unsqueeze %h_b, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %h = onnx.Squeeze %h_u, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %gs = onnx.Slice %h, %zero, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %us = onnx.Slice %h, %one, %end axes(%one) steps(%two) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %gc = onnx.Min %gs, %gc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_hi = onnx.Constant {value = dense<1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_lo = onnx.Constant {value = dense<-1.5e+00> : tensor<f32>} : () -> tensor<f32>
  %uc_m = onnx.Min %us, %uc_hi : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc = onnx.Max %uc_m, %uc_lo : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %ga = onnx.Mul %gc, %alpha : (tensor<*xf32>, tensor<1xf32>) -> tensor<*xf32>
  %sg = onnx.Sigmoid %ga : (tensor<*xf32>) -> tensor<*xf32>
  %glu = onnx.Mul %gc, %sg : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %beta = onnx.Constant {value = dense<1.0e+00> : tensor<f32>} : () -> tensor<f32>
  %up1 = onnx.Add %uc, %beta : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %act = onnx.Mul %up1, %glu : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn = onnx.Constant {value = dense<3.125e-02> : tensor<3x4x8xf32>} : () -> tensor<3x4x8xf32>
  %dnb = onnx.Constant {value = dense<2.5e-02> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %w2 = onnx.GatherND %dn, %idc : (tensor<3x4x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %b2 = onnx.GatherND %dnb, %idc : (tensor<3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_r = onnx.Unsqueeze %act, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y_p = onnx.MatMul %y_r, %w2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_s = onnx.Squeeze %y_p, %one : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %y = onnx.Add %y_s, %b2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
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
