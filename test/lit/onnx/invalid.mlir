// RUN: moec-opt %s -split-input-file -verify-diagnostics

// Tests that the verifier rejects MatMul operands of rank 0.
func.func @case0(%a: tensor<f32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{operands must have rank 1 or more}}
  %0 = onnx.MatMul %a, %b : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Gemm A of rank 3.
func.func @case1(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{operand A must have rank 2, got 3}}
  %0 = onnx.Gemm %a, %b : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

// Tests that the verifier rejects Gemm C of rank 3.
func.func @case2(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>, %c: tensor<1x3x5xf32>) {
  // expected-error @+1 {{operand C must have rank 2 or less, got 3}}
  %0 = onnx.Gemm %a, %b, %c : (tensor<3x4xf32>, tensor<4x5xf32>, tensor<1x3x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

// Tests that the verifier rejects Gemm transA not a flag.
func.func @case3(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{attribute 'transA' must be 0 or 1, got 2}}
  %0 = onnx.Gemm %a, %b {transA = 2 : i64} : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

// Tests that the verifier rejects comparison of different element types.
func.func @case4(%a: tensor<4xf32>, %b: tensor<4xi64>) {
  // expected-error @+1 {{operands must have the same element type}}
  %0 = onnx.Equal %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xi1>
  return
}

// -----

// Tests that the verifier rejects And of non-bool operands.
func.func @case5(%a: tensor<4xi64>) {
  // expected-error @+1 {{operands must be bool (i1) tensors}}
  %0 = onnx.And %a, %a : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi1>
  return
}

// -----

// Tests that the verifier rejects comparison with a non-bool result.
func.func @case6(%a: tensor<4xf32>) {
  // expected-error @+1 {{result must be a bool (i1) tensor}}
  %0 = onnx.Less %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Max without inputs.
func.func @case7() {
  // expected-error @+1 {{needs at least one input}}
  %0 = onnx.Max : () -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Min of different element types.
func.func @case8(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{inputs must have the same element type}}
  %0 = onnx.Min %a, %b : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Where with a non-bool condition.
func.func @case9(%c: tensor<4xf32>, %x: tensor<4xf32>) {
  // expected-error @+1 {{condition must be a bool (i1) tensor}}
  %0 = onnx.Where %c, %x, %x : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Where with X and Y of different types.
func.func @case10(%c: tensor<4xi1>, %x: tensor<4xf32>, %y: tensor<4xi64>) {
  // expected-error @+1 {{X and Y must have the same element type}}
  %0 = onnx.Where %c, %x, %y : (tensor<4xi1>, tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Not of a float tensor.
func.func @case11(%x: tensor<4xf32>) {
  // expected-error @+1 {{operand must be a bool (i1) tensor}}
  %0 = onnx.Not %x : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects ReduceSum keepdims not a flag.
func.func @case12(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{attribute 'keepdims' must be 0 or 1, got 3}}
  %0 = onnx.ReduceSum %x {keepdims = 3 : i64} : (tensor<4x8xf32>) -> tensor<1x1xf32>
  return
}

// -----

// Tests that the verifier rejects ReduceMean axes of rank 2.
func.func @case13(%x: tensor<4x8xf32>, %axes: tensor<1x1xi64>) {
  // expected-error @+1 {{axes must be a 1-D tensor, got rank 2}}
  %0 = onnx.ReduceMean %x, %axes : (tensor<4x8xf32>, tensor<1x1xi64>) -> tensor<4x1xf32>
  return
}

// -----

// Tests that the verifier rejects Softmax axis out of range.
func.func @case14(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = onnx.Softmax %x {axis = 2 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the verifier rejects TopK axis out of range.
func.func @case15(%x: tensor<4x8xf32>, %k: tensor<1xi64>) {
  // expected-error @+1 {{axis -3 is out of range for rank 2}}
  %0:2 = onnx.TopK %x, %k {axis = -3 : i64} : (tensor<4x8xf32>, tensor<1xi64>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  return
}

// -----

// Tests that the verifier rejects TopK largest not 0 or 1.
func.func @case16(%x: tensor<4x8xf32>, %k: tensor<1xi64>) {
  // expected-error @+1 {{attribute 'largest' must be 0 or 1, got 2}}
  %0:2 = onnx.TopK %x, %k {largest = 2 : i64} : (tensor<4x8xf32>, tensor<1xi64>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  return
}

// -----

// Tests that the verifier rejects TopK with a K of two elements.
func.func @case17(%x: tensor<4x8xf32>, %k: tensor<2xi64>) {
  // expected-error @+1 {{K must be a 1-D tensor with one element}}
  %0:2 = onnx.TopK %x, %k : (tensor<4x8xf32>, tensor<2xi64>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  return
}

// -----

// Tests that the verifier rejects Constant whose result type differs from its value.
func.func @case18() {
  // expected-error @+1 {{differs from the value's type}}
  %0 = onnx.Constant {value = dense<1> : tensor<2xi64>} : () -> tensor<3xi64>
  return
}

// -----

// Tests that the verifier rejects ConstantOfShape with a two-element value.
func.func @case19(%s: tensor<2xi64>) {
  // expected-error @+1 {{value must hold exactly one element}}
  %0 = onnx.ConstantOfShape %s {value = dense<1> : tensor<2xi64>} : (tensor<2xi64>) -> tensor<2x2xi64>
  return
}

// -----

// Tests that the verifier rejects ConstantOfShape with a 2-D shape input.
func.func @case20(%s: tensor<1x2xi64>) {
  // expected-error @+1 {{input must be a 1-D shape tensor, got rank 2}}
  %0 = onnx.ConstantOfShape %s : (tensor<1x2xi64>) -> tensor<2x2xf32>
  return
}

// -----

// Tests that the verifier rejects Cast whose result type differs from 'to'.
func.func @case21(%x: tensor<4xf32>) {
  // expected-error @+1 {{differs from 'to'}}
  %0 = onnx.Cast %x {to = i64} : (tensor<4xf32>) -> tensor<4xi32>
  return
}

// -----

// Tests that the verifier rejects Cast saturate not a flag.
func.func @case22(%x: tensor<4xf32>) {
  // expected-error @+1 {{attribute 'saturate' must be 0 or 1, got 5}}
  %0 = onnx.Cast %x {to = f16, saturate = 5 : i64} : (tensor<4xf32>) -> tensor<4xf16>
  return
}

// -----

// Tests that the verifier rejects Gather axis out of range.
func.func @case23(%x: tensor<4x8xf32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = onnx.Gather %x, %i {axis = 2 : i64} : (tensor<4x8xf32>, tensor<2xi64>) -> tensor<4x8x2xf32>
  return
}

// -----

// Tests that the verifier rejects GatherElements with indices of another rank.
func.func @case24(%x: tensor<4x8xf32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{data and indices must have the same rank, got 2 and 1}}
  %0 = onnx.GatherElements %x, %i : (tensor<4x8xf32>, tensor<2xi64>) -> tensor<2xf32>
  return
}

// -----

// Tests that the verifier rejects ScatterElements with an unknown reduction.
func.func @case25(%x: tensor<4xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) {
  // expected-error @+1 {{reduction must be one of none, add, mul, max, min; got 'avg'}}
  %0 = onnx.ScatterElements %x, %i, %u {reduction = "avg"} : (tensor<4xf32>, tensor<2xi64>, tensor<2xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects ScatterElements with updates of another type.
func.func @case26(%x: tensor<4xf32>, %i: tensor<2xi64>, %u: tensor<2xi64>) {
  // expected-error @+1 {{updates must have the element type of data}}
  %0 = onnx.ScatterElements %x, %i, %u : (tensor<4xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Concat without inputs.
func.func @case27() {
  // expected-error @+1 {{needs at least one input}}
  %0 = onnx.Concat {axis = 0 : i64} : () -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Concat of different ranks.
func.func @case28(%a: tensor<4xf32>, %b: tensor<1x4xf32>) {
  // expected-error @+1 {{inputs must have the same rank}}
  %0 = onnx.Concat %a, %b {axis = 0 : i64} : (tensor<4xf32>, tensor<1x4xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that the verifier rejects Concat axis out of range.
func.func @case29(%a: tensor<4xf32>) {
  // expected-error @+1 {{axis 1 is out of range for rank 1}}
  %0 = onnx.Concat %a, %a {axis = 1 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that the verifier rejects Split with num_outputs unlike its result count.
func.func @case30(%x: tensor<8xf32>) {
  // expected-error @+1 {{num_outputs is 3 but the op has 2 results}}
  %0:2 = onnx.Split %x {num_outputs = 3 : i64} : (tensor<8xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that the verifier rejects Split with both num_outputs and split.
func.func @case31(%x: tensor<8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{num_outputs and the split input cannot both be given}}
  %0:2 = onnx.Split %x, %s {num_outputs = 2 : i64} : (tensor<8xf32>, tensor<2xi64>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that the verifier rejects Transpose with a perm that is not a permutation.
func.func @case32(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{perm is not a permutation of 0..1}}
  %0 = onnx.Transpose %x {perm = array<i64: 0, 0>} : (tensor<4x8xf32>) -> tensor<4x4xf32>
  return
}

// -----

// Tests that the verifier rejects Transpose with a perm of the wrong length.
func.func @case33(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{perm has 1 entries for rank 2}}
  %0 = onnx.Transpose %x {perm = array<i64: 0>} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the verifier rejects Reshape allowzero not a flag.
func.func @case34(%x: tensor<4x8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{attribute 'allowzero' must be 0 or 1, got 2}}
  %0 = onnx.Reshape %x, %s {allowzero = 2 : i64} : (tensor<4x8xf32>, tensor<2xi64>) -> tensor<8x4xf32>
  return
}

// -----

// Tests that the verifier rejects Reshape with a 2-D shape.
func.func @case35(%x: tensor<4x8xf32>, %s: tensor<1x2xi64>) {
  // expected-error @+1 {{shape must be a 1-D tensor, got rank 2}}
  %0 = onnx.Reshape %x, %s : (tensor<4x8xf32>, tensor<1x2xi64>) -> tensor<8x4xf32>
  return
}

// -----

// Tests that the verifier rejects Flatten axis out of range.
func.func @case36(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 3 is out of range [-2, 2]}}
  %0 = onnx.Flatten %x {axis = 3 : i64} : (tensor<4x8xf32>) -> tensor<32x1xf32>
  return
}

// -----

// Tests that the verifier rejects Squeeze with 2-D axes.
func.func @case37(%x: tensor<4x1xf32>, %a: tensor<1x1xi64>) {
  // expected-error @+1 {{axes must be a 1-D tensor, got rank 2}}
  %0 = onnx.Squeeze %x, %a : (tensor<4x1xf32>, tensor<1x1xi64>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Unsqueeze with scalar axes.
func.func @case38(%x: tensor<4xf32>, %a: tensor<i64>) {
  // expected-error @+1 {{axes must be a 1-D tensor, got rank 0}}
  %0 = onnx.Unsqueeze %x, %a : (tensor<4xf32>, tensor<i64>) -> tensor<4x1xf32>
  return
}

// -----

// Tests that the verifier rejects Expand with a scalar shape.
func.func @case39(%x: tensor<4xf32>, %s: tensor<i64>) {
  // expected-error @+1 {{shape must be a 1-D tensor, got rank 0}}
  %0 = onnx.Expand %x, %s : (tensor<4xf32>, tensor<i64>) -> tensor<4xf32>
  return
}

// -----

// Tests that the verifier rejects Slice with 2-D starts.
func.func @case40(%x: tensor<4xf32>, %s: tensor<1x1xi64>, %e: tensor<1xi64>) {
  // expected-error @+1 {{starts must be a 1-D tensor, got rank 2}}
  %0 = onnx.Slice %x, %s, %e : (tensor<4xf32>, tensor<1x1xi64>, tensor<1xi64>) -> tensor<2xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with an unknown activation.
func.func @case41(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{activation_type must be one of relu, gelu, silu, swiglu, identity; got 'swish'}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "swish"} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with k = 0.
func.func @case42(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{k must be at least 1, got 0}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {k = 0 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with swiglu_fusion = 3.
func.func @case43(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{swiglu_fusion must be 0, 1 or 2, got 3}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {swiglu_fusion = 3 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE normalize_routing_weights not a flag.
func.func @case44(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{attribute 'normalize_routing_weights' must be 0 or 1, got 2}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {normalize_routing_weights = 2 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with a rank-1 input.
func.func @case45(%x: tensor<16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{input must have rank 2 (tokens, hidden) or 3 (batch, seq, hidden), got rank 1}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2  : (tensor<16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with rank-1 router_probs.
func.func @case46(%x: tensor<?x16xf32>, %r: tensor<4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{router_probs must have rank 2 (tokens, experts), got rank 1}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2  : (tensor<?x16xf32>, tensor<4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with rank-2 fc1 weights.
func.func @case47(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{fc1_experts_weights must have rank 3 (experts, rows, columns), got rank 2}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2  : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with a rank-1 fc1 bias.
func.func @case48(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>, %b1: tensor<32xf32>) {
  // expected-error @+1 {{fc1_experts_bias must have rank 2 (experts, size), got rank 1}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 fc1_bias(%b1)  : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<32xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE whose weights disagree on the expert count.
func.func @case49(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<3x16x32xf32>) {
  // expected-error @+1 {{fc2_experts_weights has 3 experts, fc1 has 4}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2  : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<3x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE whose router disagrees with the weights.
func.func @case50(%x: tensor<?x16xf32>, %r: tensor<?x5xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{router_probs has 5 experts per token, the expert weights have 4}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2  : (tensor<?x16xf32>, tensor<?x5xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects MoE with k larger than the expert count.
func.func @moe_k_too_large(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{k = 5 exceeds the 4 experts}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {k = 5 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that an RMSNormalization scale that does not broadcast into the
// normalized axes is rejected.
func.func @rms_scale(%x: tensor<?x16xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{scale of shape 'tensor<8xf32>' does not broadcast to the normalized shape of 'tensor<?x16xf32>' from axis 1}}
  %0 = onnx.RMSNormalization %x, %w : (tensor<?x16xf32>, tensor<8xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that a stash_type other than float32 is rejected.
func.func @rms_stash(%x: tensor<?x16xf32>, %w: tensor<16xf32>) {
  // expected-error @+1 {{stash_type must be 1 (float32), got 0}}
  %0 = onnx.SimplifiedLayerNormalization %x, %w {stash_type = 0 : i64} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the Skip form needs skip of the input's shape.
func.func @skip_shape(%x: tensor<?x16xf32>, %r: tensor<?x8xf32>, %w: tensor<16xf32>) {
  // expected-error @+1 {{skip 'tensor<?x8xf32>' must have the shape of input 'tensor<?x16xf32>'}}
  %0 = onnx.ms.SkipSimplifiedLayerNormalization %x, %r, %w : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that a per-axis scale must match the axis' size.
func.func @dq_per_axis(%q: tensor<16x8xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{x_scale 'tensor<16xf32>' must be a scalar or 1-D of size 8 (per axis 1)}}
  %0 = onnx.DequantizeLinear %q, %s : (tensor<16x8xi8>, tensor<16xf32>) -> tensor<16x8xf32>
  return
}

// -----

// Tests that a blocked scale must have ceil(D / block_size) along the axis.
func.func @dq_blocked(%q: tensor<16x8xi8>, %s: tensor<16x3xf32>) {
  // expected-error @+1 {{x_scale 'tensor<16x3xf32>' must have shape 'tensor<16x2xf32>' for block_size 4 along axis 1}}
  %0 = onnx.DequantizeLinear %q, %s {axis = 1 : i64, block_size = 4 : i64} : (tensor<16x8xi8>, tensor<16x3xf32>) -> tensor<16x8xf32>
  return
}

// -----

// Tests that GroupQueryAttention without a past cache (the growing-cache form,
// whose present length is a run-time value) is refused with what moec needs.
func.func @gqa_no_past(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) {
  // expected-error @+1 {{needs past_key and past_value: moec compiles the fixed-capacity KV cache form}}
  %0:3 = "onnx.ms.GroupQueryAttention"(%q, %k, %v, %sl, %tl) {num_heads = 4 : i64, kv_num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return
}

// -----

// Tests that num_heads must be a multiple of kv_num_heads.
func.func @gqa_heads(%q: tensor<1x?x48xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) {
  // expected-error @+1 {{num_heads (3) must be a positive multiple of kv_num_heads (2)}}
  %0:3 = "onnx.ms.GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tl) {num_heads = 3 : i64, kv_num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0>} : (tensor<1x?x48xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x48xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return
}

// -----

// Tests that a past cache whose capacity is the token dimension (a growing
// cache) is refused: the cache must have a static capacity.
func.func @gqa_dynamic_capacity(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x?x16xf32>, %pv: tensor<1x2x?x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) {
  // expected-error @+1 {{past_key must be [batch, 2, capacity, 16] with a static capacity, got 'tensor<1x2x?x16xf32>'}}
  %0:3 = "onnx.ms.GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tl) {num_heads = 4 : i64, kv_num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>)
  return
}

// -----

// Tests that rotary caches wider than the head are refused.
func.func @gqa_rotary_width(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>, %cos: tensor<8x9xf32>) {
  // expected-error @+1 {{cos_cache and sin_cache must both be [positions, rotary_dim / 2] with rotary_dim <= head size 16}}
  %0:3 = "onnx.ms.GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tl, %cos, %cos) {num_heads = 4 : i64, kv_num_heads = 2 : i64, do_rotary = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>, tensor<8x9xf32>, tensor<8x9xf32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return
}

// -----

// Tests that rotary_embedding_dim without num_heads is refused, as
// onnxruntime does (the head size would be ambiguous).
func.func @rotary_partial_no_heads(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>, %cos: tensor<40x4xf32>) {
  // expected-error @+1 {{rotary_embedding_dim needs num_heads}}
  %0 = "onnx.ms.RotaryEmbedding"(%x, %p, %cos, %cos) {rotary_embedding_dim = 8 : i64} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<40x4xf32>, tensor<40x4xf32>) -> tensor<1x?x64xf32>
  return
}

// -----

// Tests that packed batching (positions relative to ragged sequences) is refused.
func.func @rotary_packed(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>, %cos: tensor<40x8xf32>) {
  // expected-error @+1 {{is_packed_batching = 1 is not supported}}
  %0 = "onnx.ms.RotaryEmbedding"(%x, %p, %cos, %cos) {num_heads = 4 : i64, is_packed_batching = 1 : i64} : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<40x8xf32>, tensor<40x8xf32>) -> tensor<1x?x64xf32>
  return
}

// -----

// Tests that Gelu's approximation must be one ONNX defines.
func.func @gelu_approximate(%x: tensor<?x16xf32>) {
  // expected-error @+1 {{approximate must be "none" or "tanh", got "fast"}}
  %0 = "onnx.Gelu"(%x) {approximate = "fast"} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that the verifier rejects a Range whose scalars differ in type.
func.func @range_mixed_types(%a: tensor<i64>, %b: tensor<i32>) {
  // expected-error @+1 {{start, limit and delta must have one element type, got 'i64' and 'i32' (limit)}}
  %0 = onnx.Range %a, %b, %a : (tensor<i64>, tensor<i32>, tensor<i64>) -> tensor<?xi64>
  return
}

// -----

// Tests that the verifier rejects a Range whose start is not a scalar.
func.func @range_not_scalar(%a: tensor<1xi64>, %b: tensor<i64>) {
  // expected-error @+1 {{start must be a scalar (rank 0), got 'tensor<1xi64>'}}
  %0 = onnx.Range %a, %b, %b : (tensor<1xi64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return
}

// -----

// Tests that the verifier rejects a Range of bool, which ONNX does not define.
func.func @range_bool(%a: tensor<i1>) {
  // expected-error @+1 {{element type 'i1' is not supported (int32, int64, float32, float64)}}
  %0 = onnx.Range %a, %a, %a : (tensor<i1>, tensor<i1>, tensor<i1>) -> tensor<?xi1>
  return
}

// -----

// Tests that the verifier rejects a CumSum axis of two elements.
func.func @cumsum_axis_pair(%x: tensor<?x8xf32>, %axis: tensor<2xi64>) {
  // expected-error @+1 {{axis must be a scalar or a one-element tensor, got 'tensor<2xi64>'}}
  %0 = onnx.CumSum %x, %axis : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that the verifier rejects a float CumSum axis.
func.func @cumsum_float_axis(%x: tensor<?x8xf32>, %axis: tensor<f32>) {
  // expected-error @+1 {{axis must be an int32 or int64 tensor, got 'tensor<f32>'}}
  %0 = onnx.CumSum %x, %axis : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that the verifier rejects CumSum's exclusive outside {0, 1}.
func.func @cumsum_exclusive(%x: tensor<?x8xf32>, %axis: tensor<i64>) {
  // expected-error @+1 {{exclusive}}
  %0 = onnx.CumSum %x, %axis {exclusive = 2 : i64} : (tensor<?x8xf32>, tensor<i64>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that the verifier rejects ScatterND with an unknown reduction.
func.func @scatternd_reduction(%x: tensor<4x8xf32>, %i: tensor<2x1xi64>, %u: tensor<2x8xf32>) {
  // expected-error @+1 {{reduction must be one of none, add, mul, max, min; got 'avg'}}
  %0 = onnx.ScatterND %x, %i, %u {reduction = "avg"} : (tensor<4x8xf32>, tensor<2x1xi64>, tensor<2x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the verifier rejects ScatterND index tuples longer than data's rank.
func.func @scatternd_long_tuples(%x: tensor<4x8xf32>, %i: tensor<2x3xi64>, %u: tensor<2xf32>) {
  // expected-error @+1 {{index tuples of length 3 do not fit data of rank 2}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4x8xf32>, tensor<2x3xi64>, tensor<2xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the verifier rejects ScatterND updates of the wrong shape.
func.func @scatternd_updates_shape(%x: tensor<4x8xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4xf32>) {
  // expected-error @+1 {{updates must have shape indices.shape[:-1] + data.shape[1:], got 'tensor<2x4xf32>'}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4x8xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the verifier rejects float ScatterND indices.
func.func @scatternd_float_indices(%x: tensor<4x8xf32>, %i: tensor<2x1xf32>, %u: tensor<2x8xf32>) {
  // expected-error @+1 {{indices must be an integer tensor, got 'tensor<2x1xf32>'}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4x8xf32>, tensor<2x1xf32>, tensor<2x8xf32>) -> tensor<4x8xf32>
  return
}
