// RUN: moec-opt %s --split-input-file --moec-raise-looped-experts | FileCheck %s

// The MoE blocks of transformers 4.x (Mixtral, Qwen2-MoE, OLMoE), where each
// expert is its own module with nn.Linear weights, as torch.onnx (torchscript)
// exports the per-expert loop: hidden_states[None, top_x].reshape(-1, H) as
// Reshape(Gather(Unsqueeze(x, 0), token, axis 1), [-1, H]), each Linear a
// MatMul by its own constant (or a Gemm with transB), the accumulator zeros of
// shape Concat(batch * seq, H). The expert weights are stacked at compile time
// into moe.experts' layout: fc1 [E, I, H] the gate (the Linear under the
// silu), fc3 [E, I, H] the up, fc2 [E, H, I] the down, swiglu_fusion 0.
// Expert i is the one the iteration's mask row says, not its position in the
// sum: the weights here are distinct per expert and role (gate 1 + i, up 3 + i,
// down 5 + i), and the checks read the stacked bytes. Numerically checked end
// to end on test/models/hf4/*/block_torchscript.onnx.
// E = 2, k = 2, H = I = 2; values inside the loop are unranked, as imported.

// Tests the loop over the experts hit (Mixtral and Qwen2-MoE in 4.57): expert
// e = Squeeze(hit_r, [0]), a [1] index whose mask row is squeezed; the
// iteration of hit row 1 comes first in the sum, and its weights land at
// expert 1. Only the reshape of x (used by moe.experts) stays.
// CHECK-LABEL: func.func @hit_rows
// CHECK-SAME: (%[[HS:.+]]: tensor<1x?x2xf32>, %[[LOGITS:.+]]: tensor<?x2xf32>)
// CHECK-NOT: onnx.{{NonZero|OneHot|TopK|MatMul|Gemm|ScatterElements}}
// CHECK: %[[X:.+]] = onnx.Reshape %[[HS]], %{{.+}} : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
// CHECK-NEXT: %[[FC1:.+]] = onnx.Constant {value = dense_resource<[[FC1KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense_resource<[[FC2KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[FC3:.+]] = onnx.Constant {value = dense_resource<[[FC3KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]]) fc3(%[[FC3]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64}
// CHECK-NEXT: %[[OUT:.+]] = onnx.Identity %[[Y]]
// CHECK-NEXT: return %[[OUT]]
// CHECK: [[FC1KEY]]: "0x010000000000803F0000803F0000803F0000803F00000040000000400000004000000040"
// CHECK-NEXT: [[FC2KEY]]: "0x010000000000A0400000A0400000A0400000A0400000C0400000C0400000C0400000C040"
// CHECK-NEXT: [[FC3KEY]]: "0x010000000000404000004040000040400000404000008040000080400000804000008040"
func.func @hit_rows(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<1.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<2.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
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
  %hit:2 = onnx.Split %hit_t, %ones2 {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %hs_0 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %hs_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_0 = onnx.Squeeze %m_0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0 = onnx.MatMul %rows_0, %w3_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %up_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %hs_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_1 = onnx.Squeeze %m_1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.MatMul %rows_1, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.MatMul %rows_1, %w3_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}

// -----

// Tests the loop over all E experts (OLMoE in 4.57): e a constant scalar, no
// hit list, the iterations in the opposite order to @hit_rows (the sum is
// matched from its last Add; only the mask rows give the right order both
// times). Expert 0 is written with MatMuls by [in, out] constants, transposed
// when stacked (gate [[1, 2], [3, 4]] -> 1, 3, 2, 4), its up by the Transpose
// of a constant, and the Mul as up * silu(gate): gate and up are told apart by
// the silu, not by the operand order, so fc1 still holds the gates and fc3 the
// ups. Expert 1 is written as Gemms with transB, its weights [out, in] kept as
// they are (gate [[5, 6], [7, 8]]).
// CHECK-LABEL: func.func @all_experts
// CHECK-SAME: (%[[HS:.+]]: tensor<1x?x2xf32>, %[[LOGITS:.+]]: tensor<?x2xf32>)
// CHECK-NOT: onnx.{{NonZero|OneHot|TopK|MatMul|Gemm|ScatterElements}}
// CHECK: %[[X:.+]] = onnx.Reshape %[[HS]], %{{.+}} : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
// CHECK-NEXT: %[[FC1:.+]] = onnx.Constant {value = dense_resource<[[FC1KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[FC2:.+]] = onnx.Constant {value = dense_resource<[[FC2KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[FC3:.+]] = onnx.Constant {value = dense_resource<[[FC3KEY:.+]]> : tensor<2x2x2xf32>}
// CHECK-NEXT: %[[W:.+]], %[[IDS:.+]] = moe.router %[[LOGITS]] {k = 2 : i64, normalize = true, scoring = "softmax"}
// CHECK-NEXT: %[[Y:.+]] = moe.experts %[[X]], %[[W]], %[[IDS]] fc1(%[[FC1]]) fc2(%[[FC2]]) fc3(%[[FC3]]) {activation = "swiglu", alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64}
// CHECK-NEXT: %[[OUT:.+]] = onnx.Identity %[[Y]]
// CHECK-NEXT: return %[[OUT]]
// CHECK: [[FC1KEY]]: "0x010000000000803F0000404000000040000080400000A0400000C0400000E04000000041"
// CHECK-NEXT: [[FC2KEY]]: "0x010000000000A0400000A0400000A0400000A0400000C0400000C0400000C0400000C040"
// CHECK-NEXT: [[FC3KEY]]: "0x010000000000404000004040000040400000404000008040000080400000804000008040"
func.func @all_experts(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %e_0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %ms_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<i64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0_t = onnx.Transpose %w3_0 {perm = array<i64: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  %up_0 = onnx.MatMul %rows_0, %up_0_t : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %up_0, %act_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %e_1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ms_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<i64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.Gemm %rows_1, %w1_1 {transB = 1 : i64} : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.Gemm %rows_1, %w3_1 {transB = 1 : i64} : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.Gemm %a_1, %w2_1 {transB = 1 : i64} : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}

// -----

// Tests that the loop is left alone with one expert's weights of another shape (I = 3 where
// the other has I = 2): they cannot be stacked.
// CHECK-LABEL: func.func @other_shape
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @other_shape(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<1.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<2.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
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
  %hit:2 = onnx.Split %hit_t, %ones2 {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %hs_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_0 = onnx.Squeeze %m_0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0 = onnx.MatMul %rows_0, %w3_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %up_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %hs_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_1 = onnx.Squeeze %m_1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.MatMul %rows_1, %w1_1 : (tensor<*xf32>, tensor<2x3xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.MatMul %rows_1, %w3_1 : (tensor<*xf32>, tensor<2x3xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %w2_1 : (tensor<*xf32>, tensor<3x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}

// -----

// Tests that the loop is left alone with two iterations reading the same hit row (expert 0
// twice, expert 1 never).
// CHECK-LABEL: func.func @same_row
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @same_row(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<1.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<2.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
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
  %hit:2 = onnx.Split %hit_t, %ones2 {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %hs_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_0 = onnx.Squeeze %m_0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0 = onnx.MatMul %rows_0, %w3_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %up_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %hs_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_1 = onnx.Squeeze %m_1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.MatMul %rows_1, %w1_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.MatMul %rows_1, %w3_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %w2_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}

// -----

// Tests that the loop is left alone with two iterations of the loop over all experts
// reading the same constant mask row 0.
// CHECK-LABEL: func.func @repeated_constant
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @repeated_constant(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<1.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<2.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %depth = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %onoff = onnx.Constant {value = dense<[0, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %onehot = onnx.OneHot %ids, %depth, %onoff {axis = -1 : i64} : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x2xi64>
  %maskT = onnx.Transpose %onehot {perm = array<i64: 2, 1, 0>} : (tensor<?x2x2xi64>) -> tensor<2x2x?xi64>
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %e_0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %ms_0 = onnx.Gather %maskT, %e_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<i64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0 = onnx.MatMul %rows_0, %w3_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %up_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %e_1 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %ms_1 = onnx.Gather %maskT, %e_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<i64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.MatMul %rows_1, %w1_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.MatMul %rows_1, %w3_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %w2_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}

// -----

// Tests that the loop is left alone with an expert whose up projection reads another
// iteration's token rows than its gate.
// CHECK-LABEL: func.func @up_other_rows
// CHECK-NOT: moe.
// CHECK: onnx.ScatterElements
// CHECK-NOT: moe.
// CHECK: return
func.func @up_other_rows(%hs: tensor<1x?x2xf32>, %logits: tensor<?x2xf32>) -> (tensor<?x2xf32>) {
  %w1_0 = onnx.Constant {value = dense<1.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_0 = onnx.Constant {value = dense<3.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_0 = onnx.Constant {value = dense<5.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w1_1 = onnx.Constant {value = dense<2.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w3_1 = onnx.Constant {value = dense<4.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %w2_1 = onnx.Constant {value = dense<6.0> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %kc = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %col = onnx.Constant {value = dense<[-1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %ones2 = onnx.Constant {value = dense<[1, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %s = onnx.Shape %hs : (tensor<1x?x2xf32>) -> tensor<3xi64>
  %d0 = onnx.Gather %s, %c0 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d1 = onnx.Gather %s, %c1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2 = onnx.Gather %s, %c2 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %d2u = onnx.Unsqueeze %d2, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rt = onnx.Concat %neg1, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %x = onnx.Reshape %hs, %rt : (tensor<1x?x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %probs = onnx.Softmax %logits {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %ids = onnx.TopK %probs, %kc : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %vsum = onnx.ReduceSum %v, %neg1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %vsum : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %nrows = onnx.Mul %d0, %d1 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %nrowsu = onnx.Unsqueeze %nrows, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %zs = onnx.Concat %nrowsu, %d2u {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
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
  %hit:2 = onnx.Split %hit_t, %ones2 {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %acc = onnx.ConstantOfShape %zs {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<*xf32>
  %xb = onnx.Unsqueeze %x, %ax0 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<1x?x2xf32>
  %hs_0 = onnx.Squeeze %hit#0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_0 = onnx.Gather %maskT, %hs_0 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_0 = onnx.Squeeze %m_0, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_0 = onnx.Cast %ms_0 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_0 = onnx.NonZero %mb_0 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_0 = onnx.Transpose %nz_0 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_0:2 = onnx.Split %nzt_0, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_0 = onnx.Squeeze %nzs_0#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_0 = onnx.Squeeze %nzs_0#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_0 = onnx.Gather %xb, %tok_0 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_0 = onnx.Reshape %g_0, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_0 = onnx.MatMul %rows_0, %w1_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_0 = onnx.Sigmoid %gate_0 : (tensor<*xf32>) -> tensor<*xf32>
  %act_0 = onnx.Mul %gate_0, %sg_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_0 = onnx.MatMul %rows_0, %w3_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_0 = onnx.Mul %act_0, %up_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_0 = onnx.MatMul %a_0, %w2_0 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_0 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_0 = onnx.Flatten %wu_0 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_0 = onnx.Mul %tok_0, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_0 = onnx.Add %choice_0, %tk_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_0 = onnx.Gather %wf_0, %flat_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_0 = onnx.Reshape %rw0_0, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_0 = onnx.Mul %y_0, %rw_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_0 = onnx.Unsqueeze %tok_0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_0 = onnx.Shape %ys_0 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_0 = onnx.Expand %tcol_0, %ushape_0 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_0 = onnx.Shape %acc : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_0 = onnx.ConstantOfShape %zshape_0 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_0 = onnx.ScatterElements %zeros_0, %tidx_0, %ys_0 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_0 = onnx.Add %acc, %term_0 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %hs_1 = onnx.Squeeze %hit#1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m_1 = onnx.Gather %maskT, %hs_1 {axis = 0 : i64} : (tensor<2x2x?xi64>, tensor<*xi64>) -> tensor<*xi64>
  %ms_1 = onnx.Squeeze %m_1, %ax0 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %mb_1 = onnx.Cast %ms_1 {to = i1} : (tensor<*xi64>) -> tensor<*xi1>
  %nz_1 = onnx.NonZero %mb_1 : (tensor<*xi1>) -> tensor<*xi64>
  %nzt_1 = onnx.Transpose %nz_1 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
  %nzs_1:2 = onnx.Split %nzt_1, %ones2 {axis = 1 : i64} : (tensor<*xi64>, tensor<2xi64>) -> (tensor<*xi64>, tensor<*xi64>)
  %choice_1 = onnx.Squeeze %nzs_1#0, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tok_1 = onnx.Squeeze %nzs_1#1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %g_1 = onnx.Gather %xb, %tok_1 {axis = 1 : i64} : (tensor<1x?x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rows_1 = onnx.Reshape %g_1, %rt : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %gate_1 = onnx.MatMul %rows_1, %w1_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %sg_1 = onnx.Sigmoid %gate_1 : (tensor<*xf32>) -> tensor<*xf32>
  %act_1 = onnx.Mul %gate_1, %sg_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %up_1 = onnx.MatMul %rows_0, %w3_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %a_1 = onnx.Mul %act_1, %up_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y_1 = onnx.MatMul %a_1, %w2_1 : (tensor<*xf32>, tensor<2x2xf32>) -> tensor<*xf32>
  %wu_1 = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %wf_1 = onnx.Flatten %wu_1 {axis = 2 : i64} : (tensor<?x2x1xf32>) -> tensor<*xf32>
  %tk_1 = onnx.Mul %tok_1, %kc : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %flat_1 = onnx.Add %choice_1, %tk_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %rw0_1 = onnx.Gather %wf_1, %flat_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>) -> tensor<*xf32>
  %rw_1 = onnx.Reshape %rw0_1, %col : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  %ys_1 = onnx.Mul %y_1, %rw_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %tcol_1 = onnx.Unsqueeze %tok_1, %ax1 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %ushape_1 = onnx.Shape %ys_1 : (tensor<*xf32>) -> tensor<*xi64>
  %tidx_1 = onnx.Expand %tcol_1, %ushape_1 : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %zshape_1 = onnx.Shape %acc_0 : (tensor<*xf32>) -> tensor<*xi64>
  %zeros_1 = onnx.ConstantOfShape %zshape_1 {value = dense<0.0> : tensor<1xf32>} : (tensor<*xi64>) -> tensor<*xf32>
  %term_1 = onnx.ScatterElements %zeros_1, %tidx_1, %ys_1 {axis = 0 : i64} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
  %acc_1 = onnx.Add %acc_0, %term_1 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %out = onnx.Identity %acc_1 : (tensor<*xf32>) -> tensor<?x2xf32>
  return %out : tensor<?x2xf32>
}
