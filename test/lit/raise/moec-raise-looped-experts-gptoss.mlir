// RUN: moec-opt %s --split-input-file --moec-raise-looped-experts | FileCheck %s

// gpt-oss's MoE block as torch.onnx (torchscript) exports transformers 5's
// eager experts loop: the loop of moec-raise-looped-experts.mlir, but the
// experts are stored [E, in, out] (gate_up [E, H, 2I], down [E, I, H]) and
// read as MatMul(rows, Gather(W, e)) without a Transpose, each layer adds
// Gather(bias, e), gate and up are h's even and odd columns (Slices with step
// 2), and the activation is the clamped SwiGLU
// (clamp(up, -l, l) + 1) * (g * sigmoid(g * 1.702)) with g = min(gate, l).
// Here E = 2, k = 2, H = 4, I = 3 (I != H so a weight left untransposed
// shows). Numerically checked end to end on
// test/models/hf/gpt_oss/block_eager_torchscript.onnx.

// Tests that the loop becomes one moe.router + one moe.experts with
// swiglu_fusion 1 (interleaved), alpha 1.702, beta 1 (the + 1), limit 1.5,
// the weights transposed at compile time into [E, out, in] (gate_up
// 2x4x6 -> 2x6x4, down 2x3x4 -> 2x4x3; splats stay splats) and the biases
// [E, 2I] and [E, H] as they are. Nothing of the loop is left.
// CHECK-LABEL: func.func @gpt_oss_loop
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>, %[[LOGITS:.+]]: tensor<?x2xf32>)
// CHECK-DAG: %[[B1:.+]] = onnx.Constant {value = dense<2.100000e-02> : tensor<2x6xf32>}
// CHECK-DAG: %[[B2:.+]] = onnx.Constant {value = dense<2.200000e-02> : tensor<2x4xf32>}
// CHECK-DAG: %[[FC1:.+]] = onnx.Constant {value = dense<1.100000e-02> : tensor<2x6x4xf32>}
// CHECK-DAG: %[[FC2:.+]] = onnx.Constant {value = dense<1.200000e-02> : tensor<2x4x3xf32>}
// CHECK-NOT: onnx.{{[A-Za-z]+}} %
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]], %[[B1]]) fc2(%[[FC2]], %[[B2]]) {activation = "swiglu", alpha = 1.702000e+00 : f32, beta = 1.000000e+00 : f32, limit = 1.500000e+00 : f32, swiglu_fusion = 1 : i64} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<2x6x4xf32>, tensor<2x6xf32>, tensor<2x4x3xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %[[OUT:.+]] = onnx.Identity %[[Y]]
// CHECK-NEXT: return %[[OUT]]
func.func @gpt_oss_loop(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x4xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x4x6xf32>} : () -> tensor<2x4x6xf32>
  %gate_up_b = onnx.Constant {value = dense<2.100e-02> : tensor<2x6xf32>} : () -> tensor<2x6xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x3x4xf32>} : () -> tensor<2x3x4xf32>
  %down_b = onnx.Constant {value = dense<2.200e-02> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %lim = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %ulo = onnx.Constant {value = dense<-1.5> : tensor<f32>} : () -> tensor<f32>
  %uhi = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %one_f = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %v, %ids = onnx.TopK %logits, %kc {axis = -1 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %sm = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %w = onnx.Cast %sm {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
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
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xshape = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
  %first_s = onnx.Constant {value = dense<[0, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_e = onnx.Constant {value = dense<[1, 9223372036854775807]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_a = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_0 = onnx.MatMul %rows_0, %gu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_0 = onnx.Gather %gate_up_b, %e_0 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_0 = onnx.Add %p_0, %gub_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_0 = onnx.Slice %h_0, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_0 = onnx.Slice %h_0, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_0 = onnx.Clip %g_0 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_0 = onnx.Clip %u_0 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_0 = onnx.Mul %gc_0, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %ga_0 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_0 = onnx.Mul %gc_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_0 = onnx.Add %uc_0, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %up1_0, %glu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_0 = onnx.MatMul %a_0, %dn_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_0 = onnx.Gather %down_b, %e_0 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_0 = onnx.Add %q_0, %dnb_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_0 = onnx.Shape %flat_0 : (tensor<*xi64>) -> tensor<*xi64>
  %col_0 = onnx.Concat %n_0, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_0 = onnx.Slice %acc, %first_s, %first_e axes(%first_a) : (tensor<?x4xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_0 = onnx.Shape %r0_0 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_0 = onnx.Expand %ys_0, %rshape_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %upd_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x4xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %upd_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x4xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_1 = onnx.MatMul %rows_1, %gu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_1 = onnx.Gather %gate_up_b, %e_1 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_1 = onnx.Add %p_1, %gub_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_1 = onnx.Slice %h_1, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_1 = onnx.Slice %h_1, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_1 = onnx.Clip %g_1 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_1 = onnx.Clip %u_1 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_1 = onnx.Mul %gc_1, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %ga_1 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_1 = onnx.Mul %gc_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_1 = onnx.Add %uc_1, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %up1_1, %glu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_1 = onnx.MatMul %a_1, %dn_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_1 = onnx.Gather %down_b, %e_1 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_1 = onnx.Add %q_1, %dnb_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_1 = onnx.Shape %flat_1 : (tensor<*xi64>) -> tensor<*xi64>
  %col_1 = onnx.Concat %n_1, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_1 = onnx.Slice %acc_0, %first_s, %first_e axes(%first_a) : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_1 = onnx.Shape %r0_1 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_1 = onnx.Expand %ys_1, %rshape_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %upd_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %upd_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

// -----

// Tests that the loop is left alone when up is clamped to [-2, 2] but the
// gate to 1.5: moe.experts has one limit for both.
// CHECK-LABEL: func.func @other_up_limit
// CHECK-NOT: moe.
// CHECK-COUNT-2: onnx.ScatterElements
// CHECK-NOT: moe.
func.func @other_up_limit(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x4xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x4x6xf32>} : () -> tensor<2x4x6xf32>
  %gate_up_b = onnx.Constant {value = dense<2.100e-02> : tensor<2x6xf32>} : () -> tensor<2x6xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x3x4xf32>} : () -> tensor<2x3x4xf32>
  %down_b = onnx.Constant {value = dense<2.200e-02> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %lim = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %ulo = onnx.Constant {value = dense<-2.0> : tensor<f32>} : () -> tensor<f32>
  %uhi = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %one_f = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %v, %ids = onnx.TopK %logits, %kc {axis = -1 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %sm = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %w = onnx.Cast %sm {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
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
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xshape = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
  %first_s = onnx.Constant {value = dense<[0, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_e = onnx.Constant {value = dense<[1, 9223372036854775807]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_a = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_0 = onnx.MatMul %rows_0, %gu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_0 = onnx.Gather %gate_up_b, %e_0 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_0 = onnx.Add %p_0, %gub_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_0 = onnx.Slice %h_0, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_0 = onnx.Slice %h_0, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_0 = onnx.Clip %g_0 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_0 = onnx.Clip %u_0 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_0 = onnx.Mul %gc_0, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %ga_0 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_0 = onnx.Mul %gc_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_0 = onnx.Add %uc_0, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %up1_0, %glu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_0 = onnx.MatMul %a_0, %dn_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_0 = onnx.Gather %down_b, %e_0 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_0 = onnx.Add %q_0, %dnb_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_0 = onnx.Shape %flat_0 : (tensor<*xi64>) -> tensor<*xi64>
  %col_0 = onnx.Concat %n_0, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_0 = onnx.Slice %acc, %first_s, %first_e axes(%first_a) : (tensor<?x4xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_0 = onnx.Shape %r0_0 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_0 = onnx.Expand %ys_0, %rshape_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %upd_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x4xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %upd_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x4xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_1 = onnx.MatMul %rows_1, %gu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_1 = onnx.Gather %gate_up_b, %e_1 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_1 = onnx.Add %p_1, %gub_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_1 = onnx.Slice %h_1, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_1 = onnx.Slice %h_1, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_1 = onnx.Clip %g_1 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_1 = onnx.Clip %u_1 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_1 = onnx.Mul %gc_1, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %ga_1 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_1 = onnx.Mul %gc_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_1 = onnx.Add %uc_1, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %up1_1, %glu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_1 = onnx.MatMul %a_1, %dn_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_1 = onnx.Gather %down_b, %e_1 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_1 = onnx.Add %q_1, %dnb_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_1 = onnx.Shape %flat_1 : (tensor<*xi64>) -> tensor<*xi64>
  %col_1 = onnx.Concat %n_1, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_1 = onnx.Slice %acc_0, %first_s, %first_e axes(%first_a) : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_1 = onnx.Shape %r0_1 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_1 = onnx.Expand %ys_1, %rshape_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %upd_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %upd_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

// -----

// Tests that the loop is left alone when the second iteration adds the
// biases of the first expert (Gather(bias, e_0)) to the second expert's
// products: each iteration must read weights and biases at its own e.
// CHECK-LABEL: func.func @bias_of_other_expert
// CHECK-NOT: moe.
// CHECK-COUNT-2: onnx.ScatterElements
// CHECK-NOT: moe.
func.func @bias_of_other_expert(%x: tensor<?x4xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x4xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<2x4x6xf32>} : () -> tensor<2x4x6xf32>
  %gate_up_b = onnx.Constant {value = dense<2.100e-02> : tensor<2x6xf32>} : () -> tensor<2x6xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<2x3x4xf32>} : () -> tensor<2x3x4xf32>
  %down_b = onnx.Constant {value = dense<2.200e-02> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %lim = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %ulo = onnx.Constant {value = dense<-1.5> : tensor<f32>} : () -> tensor<f32>
  %uhi = onnx.Constant {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %one_f = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %v, %ids = onnx.TopK %logits, %kc {axis = -1 : i64} : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %sm = onnx.Softmax %v {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %w = onnx.Cast %sm {to = f32} : (tensor<?x2xf32>) -> tensor<?x2xf32>
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
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %xshape = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
  %first_s = onnx.Constant {value = dense<[0, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_e = onnx.Constant {value = dense<[1, 9223372036854775807]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_a = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_0 = onnx.MatMul %rows_0, %gu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_0 = onnx.Gather %gate_up_b, %e_0 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_0 = onnx.Add %p_0, %gub_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_0 = onnx.Slice %h_0, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_0 = onnx.Slice %h_0, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_0 = onnx.Clip %g_0 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_0 = onnx.Clip %u_0 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_0 = onnx.Mul %gc_0, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %ga_0 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_0 = onnx.Mul %gc_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_0 = onnx.Add %uc_0, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %up1_0, %glu_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_0 = onnx.MatMul %a_0, %dn_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_0 = onnx.Gather %down_b, %e_0 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_0 = onnx.Add %q_0, %dnb_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_0 = onnx.Shape %flat_0 : (tensor<*xi64>) -> tensor<*xi64>
  %col_0 = onnx.Concat %n_0, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_0 = onnx.Reshape %rw0_0, %col_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_0 = onnx.Slice %acc, %first_s, %first_e axes(%first_a) : (tensor<?x4xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_0 = onnx.Shape %r0_0 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_0 = onnx.Expand %ys_0, %rshape_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %upd_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x4xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %upd_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x4xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<2x4x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %p_1 = onnx.MatMul %rows_1, %gu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %gub_1 = onnx.Gather %gate_up_b, %e_0 {axis = 0 : i64} : (tensor<2x6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %h_1 = onnx.Add %p_1, %gub_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %g_1 = onnx.Slice %h_1, %ax0, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_1 = onnx.Slice %h_1, %ax1, %big axes(%ax1) steps(%ax2) : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %gc_1 = onnx.Clip %g_1 max(%lim) : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %uc_1 = onnx.Clip %u_1 min(%ulo) max(%uhi) : (tensor<*xf32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  %ga_1 = onnx.Mul %gc_1, %alpha : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %ga_1 : (tensor<*xf32>) -> tensor<*xf32>
  %glu_1 = onnx.Mul %gc_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up1_1 = onnx.Add %uc_1, %one_f : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %up1_1, %glu_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %q_1 = onnx.MatMul %a_1, %dn_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dnb_1 = onnx.Gather %down_b, %e_0 {axis = 0 : i64} : (tensor<2x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %y_1 = onnx.Add %q_1, %dnb_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_1 = onnx.Shape %flat_1 : (tensor<*xi64>) -> tensor<*xi64>
  %col_1 = onnx.Concat %n_1, %ax1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_1 = onnx.Reshape %rw0_1, %col_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %r0_1 = onnx.Slice %acc_0, %first_s, %first_e axes(%first_a) : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_1 = onnx.Shape %r0_1 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_1 = onnx.Expand %ys_1, %rshape_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %upd_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %upd_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}
