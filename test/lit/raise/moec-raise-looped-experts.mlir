// RUN: moec-opt %s --split-input-file --moec-raise-looped-experts | FileCheck %s

// The MoE block of transformers 5 models with stacked expert weights
// (gate_up [E, 2I, H], down [E, H, I]) as torch.onnx (torchscript) exports the
// eager experts loop: unrolled once per expert that got a token, each
// iteration gathering its tokens' rows, applying gate_up[e] / down[e] with
// silu(gate) * up, scaling by w[token, choice] and adding the rows into zeros
// with ScatterElements. The values inside the loop are unranked, as the
// importer defers their data-dependent shapes. Numerically checked end to end
// on test/models/hf/*/block_eager_torchscript.onnx.

// Tests the form of test/models/hf/mixtral/block_eager_torchscript.onnx with
// E = 3, k = 2: a renormalized softmax router, NonZero rows by Transpose +
// Split + Squeeze, the halves by Slices whose bounds come from Shape(h), the
// routing weight from Flatten(Unsqueeze(w)) at token * k + choice reshaped to
// a column, Expand/Cast around the updates. One moe.router + one moe.experts
// reading gate_up as it is (swiglu_fusion = 2), nothing of the loop left.
// CHECK-LABEL: func.func @fixture_form
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x3xf32>)
// CHECK-DAG: %[[GU:.+]] = onnx.Constant {value = dense<1.100000e-02> : tensor<3x8x8xf32>}
// CHECK-DAG: %[[DOWN:.+]] = onnx.Constant {value = dense<1.200000e-02> : tensor<3x8x4xf32>}
// CHECK-NOT: onnx.{{[A-Za-z]+}} %
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x3xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[GU]]) fc2(%[[DOWN]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 2 : i64} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<3x8x8xf32>, tensor<3x8x4xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[OUT:.+]] = onnx.Identity %[[Y]]
// CHECK-NEXT: return %[[OUT]]
func.func @fixture_form(%x: tensor<?x8xf32>, %logits: tensor<?x3xf32>) -> (tensor<?x8xf32>) {
  %gate_up = onnx.Constant {value = dense<1.100e-02> : tensor<3x8x8xf32>} : () -> tensor<3x8x8xf32>
  %down = onnx.Constant {value = dense<1.200e-02> : tensor<3x8x4xf32>} : () -> tensor<3x8x4xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %probs = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %last : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %depth = onnx.Constant {value = dense<3> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x3xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x3xi64>) -> tensor<3x2x?xi64>
  %kt_axes = onnx.Constant {value = dense<[-1, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %counts = onnx.ReduceSum %maskT, %kt_axes {keepdims = 0 : i64} : (tensor<3x2x?xi64>, tensor<2xi64>) -> tensor<3xi64>
  %zero_i = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %is_hit = onnx.Greater %counts, %zero_i : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %hit_nz = onnx.NonZero %is_hit : (tensor<3xi1>) -> tensor<*xi64>
  %hit_t = onnx.Transpose %hit_nz {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %ones_e = onnx.Constant {value = dense<[1, 1, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %hit:3 = onnx.Split %hit_t, %ones_e {axis = 0 : i64} : (tensor<*xi64>, tensor<3xi64>) -> (tensor<*xi64>, tensor<*xi64>, tensor<*xi64>)
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %xshape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %acc = onnx.ConstantOfShape %xshape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %first_s = onnx.Constant {value = dense<[0, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_e = onnx.Constant {value = dense<[1, 9223372036854775807]> : tensor<2xi64>} : () -> tensor<2xi64>
  %first_a = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_0 = onnx.Gather %hs_0, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<3x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %m_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %ones2_0 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2_0 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_0 = onnx.Gather %x, %tok_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_0 = onnx.Gather %gate_up, %e_0 {axis = 0 : i64} : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_0 = onnx.Transpose %gu_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_0 = onnx.MatMul %rows_0, %guT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hshape_0 = onnx.Shape %h_0 : (tensor<*xf32>) -> tensor<*xi64>
  %width_0 = onnx.Gather %hshape_0, %last {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %wp1_0 = onnx.Add %width_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %half_0 = onnx.Div %wp1_0, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mid_0 = onnx.Mul %half_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %end_0 = onnx.Mul %half_0, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Slice %h_0, %ax0, %mid_0 axes(%last) : (tensor<*xf32>, tensor<1xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_0 = onnx.Slice %h_0, %mid_0, %end_0 axes(%last) : (tensor<*xf32>, tensor<*xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %g_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %g_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %u_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_0 = onnx.Gather %down, %e_0 {axis = 0 : i64} : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_0 = onnx.Transpose %dn_0 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %dnT_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wshape_0 = onnx.Shape %wu_0 : (tensor<?x2x1xf32>) -> tensor<3xi64>
  %kk_0 = onnx.Gather %wshape_0, %ax1 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %one_0 = onnx.Gather %wshape_0, %ax2 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kk_0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_0 = onnx.Shape %flat_0 : (tensor<*xi64>) -> tensor<*xi64>
  %col0_0 = onnx.Concat %last, %one_0 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %rw1_0 = onnx.Reshape %rw0_0, %col0_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %col1_0 = onnx.Concat %n_0, %one_0 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_0 = onnx.Reshape %rw1_0, %col1_0 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_0 = onnx.Cast %ys_0 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %r0_0 = onnx.Slice %acc, %first_s, %first_e axes(%first_a) : (tensor<?x8xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x8xf32>
  %rshape_0 = onnx.Shape %r0_0 : (tensor<1x8xf32>) -> tensor<2xi64>
  %upd_0 = onnx.Expand %yc_0, %rshape_0 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %upd_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<?x8xf32>) -> tensor<2xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x8xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %upd_0 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<?x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_1 = onnx.Gather %hs_1, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<3x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %m_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %ones2_1 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2_1 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_1 = onnx.Gather %x, %tok_1 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_1 = onnx.Gather %gate_up, %e_1 {axis = 0 : i64} : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_1 = onnx.Transpose %gu_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_1 = onnx.MatMul %rows_1, %guT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hshape_1 = onnx.Shape %h_1 : (tensor<*xf32>) -> tensor<*xi64>
  %width_1 = onnx.Gather %hshape_1, %last {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %wp1_1 = onnx.Add %width_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %half_1 = onnx.Div %wp1_1, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mid_1 = onnx.Mul %half_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %end_1 = onnx.Mul %half_1, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Slice %h_1, %ax0, %mid_1 axes(%last) : (tensor<*xf32>, tensor<1xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_1 = onnx.Slice %h_1, %mid_1, %end_1 axes(%last) : (tensor<*xf32>, tensor<*xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %g_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %g_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %u_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_1 = onnx.Gather %down, %e_1 {axis = 0 : i64} : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_1 = onnx.Transpose %dn_1 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %dnT_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wshape_1 = onnx.Shape %wu_1 : (tensor<?x2x1xf32>) -> tensor<3xi64>
  %kk_1 = onnx.Gather %wshape_1, %ax1 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %one_1 = onnx.Gather %wshape_1, %ax2 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kk_1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_1 = onnx.Shape %flat_1 : (tensor<*xi64>) -> tensor<*xi64>
  %col0_1 = onnx.Concat %last, %one_1 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %rw1_1 = onnx.Reshape %rw0_1, %col0_1 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %col1_1 = onnx.Concat %n_1, %one_1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_1 = onnx.Reshape %rw1_1, %col1_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_1 = onnx.Cast %ys_1 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %r0_1 = onnx.Slice %acc_0, %first_s, %first_e axes(%first_a) : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_1 = onnx.Shape %r0_1 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_1 = onnx.Expand %yc_1, %rshape_1 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %upd_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %upd_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_2 = onnx.Squeeze %hit#2, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %e_2 = onnx.Gather %hs_2, %c0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %m_2 = onnx.Gather %maskT, %e_2 {axis = 0 : i64} : (tensor<3x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %mb_2 = onnx.Cast %m_2 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_2 = onnx.NonZero %mb_2 : (tensor<*xi1>) -> tensor<*xi64>
  %ones2_2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %nzt_2 = onnx.Transpose %nz_2 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_2:2 = onnx.Split %nzt_2, %ones2_2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_2 = onnx.Squeeze %nzs_2#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_2 = onnx.Squeeze %nzs_2#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rows_2 = onnx.Gather %x, %tok_2 {axis = 0 : i64} : (tensor<?x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %gu_2 = onnx.Gather %gate_up, %e_2 {axis = 0 : i64} : (tensor<3x8x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %guT_2 = onnx.Transpose %gu_2 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %h_2 = onnx.MatMul %rows_2, %guT_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hshape_2 = onnx.Shape %h_2 : (tensor<*xf32>) -> tensor<*xi64>
  %width_2 = onnx.Gather %hshape_2, %last {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %wp1_2 = onnx.Add %width_2, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %half_2 = onnx.Div %wp1_2, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mid_2 = onnx.Mul %half_2, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %end_2 = onnx.Mul %half_2, %ax2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_2 = onnx.Slice %h_2, %ax0, %mid_2 axes(%last) : (tensor<*xf32>, tensor<1xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %u_2 = onnx.Slice %h_2, %mid_2, %end_2 axes(%last) : (tensor<*xf32>, tensor<*xi64>, tensor<*xi64>, tensor<1xi64>) -> tensor<*xf32>
  %sg_2 = onnx.Sigmoid %g_2 : (tensor<*xf32>) -> tensor<*xf32>
  %act_2 = onnx.Mul %g_2, %sg_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %a_2 = onnx.Mul %act_2, %u_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %dn_2 = onnx.Gather %down, %e_2 {axis = 0 : i64} : (tensor<3x8x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  %dnT_2 = onnx.Transpose %dn_2 {perm = array<i64: 1, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  %y_2 = onnx.MatMul %a_2, %dnT_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %wu_2 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wshape_2 = onnx.Shape %wu_2 : (tensor<?x2x1xf32>) -> tensor<3xi64>
  %kk_2 = onnx.Gather %wshape_2, %ax1 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %one_2 = onnx.Gather %wshape_2, %ax2 {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %wf_2 = onnx.Flatten %wu_2 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_2 = onnx.Mul %tok_2, %kk_2 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_2 = onnx.Add %choice_2, %tk_2 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_2 = onnx.Gather %wf_2, %flat_2 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %n_2 = onnx.Shape %flat_2 : (tensor<*xi64>) -> tensor<*xi64>
  %col0_2 = onnx.Concat %last, %one_2 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %rw1_2 = onnx.Reshape %rw0_2, %col0_2 : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %col1_2 = onnx.Concat %n_2, %one_2 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rw_2 = onnx.Reshape %rw1_2, %col1_2 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %ys_2 = onnx.Mul %y_2, %rw_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %yc_2 = onnx.Cast %ys_2 {to = f32} : (tensor<*xf32>) -> tensor<*xf32>
  %r0_2 = onnx.Slice %acc_1, %first_s, %first_e axes(%first_a) : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %rshape_2 = onnx.Shape %r0_2 : (tensor<*xf32>) -> tensor<*xi64>
  %upd_2 = onnx.Expand %yc_2, %rshape_2 : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %tcol_2 = onnx.Unsqueeze %tok_2, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_2 = onnx.Shape %upd_2 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_2 = onnx.Expand %tcol_2, %ushape_2 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_2 = onnx.Shape %acc_1 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_2 = onnx.ConstantOfShape %zshape_2 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_2 = onnx.ScatterElements %zeros_2, %tidx_2, %upd_2 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_2 = onnx.Add %acc_1, %term_2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_2 : (tensor<*xf32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

// Tests the other spellings with E = 2, k = 2, as OLMoE and Qwen2-MoE write
// the router (casts to f32 of f32 values between Softmax and TopK and on the
// weights, not renormalized): NonZero rows by Gather, the halves by Split,
// w flattened by Reshape, token * k written k * token, no Expand around the
// updates, the last Add already ranked and returned.
// CHECK-LABEL: func.func @split_gather_casts
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[LOGITS:.+]]: tensor<?x2xf32>)
// CHECK-DAG: %[[GU:.+]] = onnx.Constant {value = dense<1.100000e-02> : tensor<2x8x8xf32>}
// CHECK-DAG: %[[DOWN:.+]] = onnx.Constant {value = dense<1.200000e-02> : tensor<2x8x4xf32>}
// CHECK-NOT: onnx.{{[A-Za-z]+}} %
// CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = false, scoring = "softmax"} : tensor<?x2xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[GU]]) fc2(%[[DOWN]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 2 : i64} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<2x8x8xf32>, tensor<2x8x4xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @split_gather_casts(%x: tensor<?x8xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x8xf32>) {
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
  return %acc_1 : tensor<?x8xf32>
}
