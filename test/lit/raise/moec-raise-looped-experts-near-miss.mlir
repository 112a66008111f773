// RUN: moec-opt %s --split-input-file --moec-raise-looped-experts | FileCheck %s

// Near-misses of the unrolled experts loop (see moec-raise-looped-experts.mlir
// for the forms it raises): each is the raised @split_gather_casts form with
// one change that would change the result, left alone without a diagnostic.

// Tests that the loop is left alone with one of the E = 2 iterations missing
// (the Split still has 2 rows).
// CHECK-LABEL: func.func @missing_expert
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @missing_expert(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %tok_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %choice_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_0 : tensor<?x8xf32>
}

// -----

// Tests that the loop is left alone with hit row 0 taken by both iterations.
// CHECK-LABEL: func.func @same_expert_twice
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @same_expert_twice(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %tok_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %choice_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_1 = onnx.Gather %nz_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_1 = onnx.Gather %nz_1, %c1_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_1:2 = onnx.Split %h_1 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_1 = onnx.Sigmoid %halves_1#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %halves_1#0, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %halves_1#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_1 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %kc, %tok_1 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %tk_1, %choice_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_1 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %yc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %yc_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_1 : tensor<?x8xf32>
}

// -----

// Tests that the loop is left alone with silu applied to the second half of h (the linear one).
// CHECK-LABEL: func.func @halves_swapped
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @halves_swapped(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#1, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %tok_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %choice_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_1 = onnx.Gather %nz_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_1 = onnx.Gather %nz_1, %c1_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_1:2 = onnx.Split %h_1 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_1 = onnx.Sigmoid %halves_1#1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %halves_1#1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %halves_1#0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_1 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %kc, %tok_1 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %tk_1, %choice_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_1 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %yc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %yc_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_1 : tensor<?x8xf32>
}

// -----

// Tests that the loop is left alone with the multiplier read from another [T, k]
// value, not the router's w.
// CHECK-LABEL: func.func @foreign_multiplier
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @foreign_multiplier(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>, %other: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %other, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %tok_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %choice_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_1 = onnx.Gather %nz_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_1 = onnx.Gather %nz_1, %c1_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_1:2 = onnx.Split %h_1 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_1 = onnx.Sigmoid %halves_1#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %halves_1#0, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %halves_1#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_1 = onnx.Reshape %other, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %kc, %tok_1 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %tk_1, %choice_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_1 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %yc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %yc_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_1 : tensor<?x8xf32>
}

// -----

// Tests that the loop is left alone with the flat index written choice * k + token.
// CHECK-LABEL: func.func @token_choice_swapped
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @token_choice_swapped(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %choice_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %tok_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_1 = onnx.Gather %nz_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_1 = onnx.Gather %nz_1, %c1_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_1:2 = onnx.Split %h_1 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_1 = onnx.Sigmoid %halves_1#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %halves_1#0, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %halves_1#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_1 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %kc, %choice_1 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %tk_1, %tok_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_1 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %yc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %yc_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_1 : tensor<?x8xf32>
}

// -----

// Tests that the loop is left alone with the one-hot mask also returned: the loop cannot be erased.
// CHECK-LABEL: func.func @outside_use
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @outside_use(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>, tensor<2x2x?xi64>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x8x8xf32>} : () -> tensor<2x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x8x4xf32>} : () -> tensor<2x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %probs_c = onnx.Cast %probs {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs_c, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Cast %v {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<2x2x?xi64>, tensor<2xi64>) -> tensor<2xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<2xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hit:2 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_0 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_0 = onnx.Gather %nz_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_0 = onnx.Gather %nz_0, %c1_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_0:2 = onnx.Split %h_0 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_0 = onnx.Sigmoid %halves_0#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %halves_0#0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %halves_0#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_0 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %kc, %tok_0 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %tk_0, %choice_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_0 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %yc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %yc_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %c1_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %choice_1 = onnx.Gather %nz_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tok_1 = onnx.Gather %nz_1, %c1_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %halves_1:2 = onnx.Split %h_1 {axis = -1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %sg_1 = onnx.Sigmoid %halves_1#0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %halves_1#0, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %halves_1#1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wf_1 = onnx.Reshape %w, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %kc, %tok_1 : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %tk_1, %choice_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %col_1 = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %yc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %yc_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<?x8xf32>
  return %acc_1, %maskT : tensor<?x8xf32>, tensor<2x2x?xi64>
}
