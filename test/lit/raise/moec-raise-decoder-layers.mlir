// RUN: moec-opt %s --moec-raise-decoder-layers | FileCheck %s
// RUN: moec-opt %s --moec-raise-attention | FileCheck %s --check-prefix=ATTENTION-ONLY

// A decoder layer's attention whose input is an MoE block's output: the
// block's k*T rows leave that output unranked until an expert raiser replaces
// the block, so moec-raise-attention alone cannot match q, k and v (it leaves
// them without a diagnostic). moec-raise-decoder-layers runs the raisers in
// rounds, re-inferring shapes between them: the block in round one, the
// attention in round two. (The block is @dynamo_renormalized of
// moec-raise-batched-experts.mlir.)

// CHECK-LABEL: func.func @experts_then_attention
// CHECK: moe.router
// CHECK: %[[Y:.+]] = moe.experts
// CHECK: moe.self_attention %{{.+}}, %{{.+}}, %{{.+}} {scale = 5.000000e-01 : f32}
// CHECK-NOT: onnx.Softmax
// CHECK-NOT: onnx.GatherND
// CHECK: return

// ATTENTION-ONLY-LABEL: func.func @experts_then_attention
// ATTENTION-ONLY-NOT: moe.
// ATTENTION-ONLY: onnx.Softmax
// ATTENTION-ONLY-NOT: moe.
func.func @experts_then_attention(%x: tensor<?x8xf32>) -> (tensor<*xf32>) {
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
  %heads = onnx.Constant {value = dense<[1, -1, 2, 4]> : tensor<4xi64>} : () -> tensor<4xi64>
  %h4 = onnx.Reshape %res, %heads : (tensor<*xf32>, tensor<4xi64>) -> tensor<*xf32>
  %q = onnx.Transpose %h4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<*xf32>) -> tensor<*xf32>
  %kt = onnx.Transpose %q {perm = array<i64: 0, 1, 3, 2>} : (tensor<*xf32>) -> tensor<*xf32>
  %s = onnx.MatMul %q, %kt : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %half = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %ss = onnx.Mul %s, %half : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %tdim = onnx.Shape %x {start = 0 : i64, end = 1 : i64} : (tensor<?x8xf32>) -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %step = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %t = onnx.Squeeze %tdim, %ax0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
  %ar = onnx.Range %zero, %t, %step : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rowsi = onnx.Unsqueeze %ar, %one : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %colsi = onnx.Unsqueeze %ar, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %colsi, %rowsi : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %sm = onnx.Where %keep, %ss, %ninf : (tensor<?x?xi1>, tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<*xf32>) -> tensor<*xf32>
  %o = onnx.MatMul %p, %q : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return %o : tensor<*xf32>
}
