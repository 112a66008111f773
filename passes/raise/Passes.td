//===- Passes.td - raising passes: onnx dialect to moe dialect -*- tablegen -*-===//
#ifndef MOEC_PASSES_RAISE_PASSES_TD
#define MOEC_PASSES_RAISE_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecConvertOnnxToMoe : Pass<"moec-convert-onnx-to-moe", "mlir::func::FuncOp"> {
  let summary = "Converts onnx ops to their moe-level counterparts";
  let description = [{
    com.microsoft.MoE becomes moe.router + moe.experts; MatMul/Gemm with a
    constant matrix become moe.linear, other MatMuls moe.matmul; elementwise
    ops (arithmetic, activations, comparisons, Cast, Where, Expand,
    ConstantOfShape) become single-op moe.elementwise regions that the fusion
    pass can merge. Ops without a moe counterpart (Softmax, TopK, Gather, ...)
    are left as they are. Constants used only for shapes stay in place.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect"];
}

def MoecRaiseRmsNorm : Pass<"moec-raise-rms-norm", "mlir::func::FuncOp"> {
  let summary = "Raises every ONNX form of RMSNorm to moe.rms_norm";
  let description = [{
    RMSNormalization, onnxruntime's SimplifiedLayerNormalization and
    com.microsoft.SkipSimplifiedLayerNormalization (its residual add stays an
    onnx.Add), and the decomposed form torch.onnx exports,
    x * 1/sqrt(ReduceMean(x^2, trailing axes, keepdims) + eps) [* w], become one
    moe.rms_norm each. Runs before moec-convert-onnx-to-moe, on onnx ops.
    Chains with other uses of their intermediates, other axes, another
    exponent or keepdims = 0 are left alone. Fails at the node on outputs moec
    does not compute (mean, inv_std_var).
  }];
  let dependentDialects = ["moec::moe::MoEDialect"];
}

def MoecRaiseDequantize : Pass<"moec-raise-dequantize", "mlir::func::FuncOp"> {
  let summary = "Keeps QDQ weights quantized: DequantizeLinear of int8/fp8 weights to moe.dequantize";
  let description = [{
    DequantizeLinear of an int8 or float8e4m3fn initializer with a float32
    scale and no (or a zero) zero point becomes moe.dequantize in the blocked form kernels read:
    blocked (opset 21) as is, per axis as one block across another axis, per
    tensor as one block per row. Other types and nonzero zero points fold to
    the exact float values. Dequantizing run-time values is refused.
    com.microsoft.MatMulNBits (4 or 8 bits, block-quantized, packed) becomes
    moe.linear of a moe.dequantize holding q - zero_point as int8 [N, K] with
    the op's block scales (exact).
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

def MoecRaiseDenseMoE : Pass<"moec-raise-dense-moe", "mlir::func::FuncOp"> {
  let summary = "Raises an MoE block computed densely (every expert, every token) to moe.router + moe.experts";
  let description = [{
    Recognizes the unrolled export of an MoE block: a softmax router
    (Softmax, TopK [, v / ReduceSum(v)], or TopK of the logits then Softmax of
    the k values; or a moe.router an earlier pass raised, which is reused),
    a routing weight per expert selected from the top k
    (Where(Equal(idx, e), w, 0) or Mul(Cast(Equal(idx, e)), w), summed over k,
    as a [T, 1] column), every expert's FFN computed for every token (SwiGLU
    silu(x W1) * (x W3) then W2, or Relu / silu of x W1 then W2; constant
    weights, optional constant biases) and the sum of the scaled outputs.
    Replaces the sum by moe.router + moe.experts (weights stacked in the
    com.microsoft.MoE layout), so only the k selected experts run; the dense
    ops left without a use are erased. Runs on onnx ops, before
    moec-convert-onnx-to-moe.
    Leaves alone, without a diagnostic: an expert id missing or repeated,
    selections from different TopKs, weights that are not constants, experts
    of different structure or shapes, intermediate values used outside the
    block, routers that are not a softmax, a sum missing an expert.
    Unselected experts are not computed, so an inf or NaN they would produce
    no longer turns the dense sum into NaN (inf * 0).
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

def MoecRaiseSigmoidRouter : Pass<"moec-raise-sigmoid-router", "mlir::func::FuncOp"> {
  let summary = "Raises DeepSeek-V3's sigmoid router subgraph to one moe.router";
  let description = [{
    Sigmoid(logits) [+ constant selection bias] [group-limited selection:
    groups scored by the sum of their two best biased scores, a scatter mask
    of the top groups, Where] -> TopK(k) -> GatherElements of the unbiased
    scores [-> divided by their sum] [-> times a constant] becomes one
    moe.router {scoring = "sigmoid"} whose results replace the weights and
    the indices. The zeros, ones and broadcasts of the mask may be written
    with ConstantOfShape, Expand, Mul by ones, Unsqueeze, Reshape, Cast and
    Not. Other group scores, non-constant biases and gathers from other
    values are left alone. Runs on onnx ops, before moec-convert-onnx-to-moe.
  }];
  let dependentDialects = ["moec::moe::MoEDialect"];
}

def MoecRaiseLoopedExperts : Pass<"moec-raise-looped-experts", "mlir::func::FuncOp"> {
  let summary = "Raises the unrolled per-expert loop of stacked-weight MoE blocks to moe.experts";
  let description = [{
    transformers 5 MoE blocks with stacked expert weights (gate_up [E, 2I, H],
    down [E, H, I]) and the eager experts loop export (torch.onnx,
    torchscript) as one unrolled iteration per expert: the token rows of
    NonZero(OneHot(ids)[e]) gathered from x, gate_up[e] and down[e]
    applied with silu(gate) * up, scaled by w[token, choice] and added into
    zeros with ScatterElements (index_add_). The chain of those Adds becomes
    one moe.experts(x, w, ids, fc1 = gate_up with swiglu_fusion = 2, fc2 =
    down) fed by the router (a softmax one, casts to the same type allowed,
    or a moe.router an earlier pass raised). Runs on onnx ops, before
    moec-onnx-infer-shapes: the loop's values are unranked, so sizes come
    from x, the router and the weights. The export is only valid when every
    expert gets a token (its Split into E rows fails otherwise); moe.experts
    computes the same sum for every input, including those the export
    rejects: a refinement. Left alone, without a diagnostic: a missing or
    repeated iteration, other weights, the halves swapped, a multiplier not
    read from w at (token, choice), intermediates used outside the block,
    other activations.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

def MoecRaiseBatchedExperts : Pass<"moec-raise-batched-experts", "mlir::func::FuncOp"> {
  let summary = "Raises transformers' batched_mm experts (weights gathered per token and choice) to moe.router + moe.experts";
  let description = [{
    Recognizes the MoE block transformers 5 exports with
    experts_implementation="batched_mm": each row of x repeated k times
    (Expand or Tile of Unsqueeze(x, 1)), the chosen expert's stacked weights
    gathered per (token, choice) (Gather or GatherND of a constant by the
    flattened top-k ids), Squeeze(MatMul(W, Unsqueeze(v, -1))) products,
    SwiGLU on the halves of gate_up_proj's product (Split or two Slices;
    silu written Mul(g, Sigmoid(g))) or on separate gate and up weights,
    optional gathered constant biases, the products scaled by the flattened
    routing weights and summed over k (ReduceSum of a [T, k, H] Reshape).
    The router is one matchRouter accepts (softmax top-k, no-op Casts
    allowed, or a moe.router already raised) and must score the rows of x.
    Replaces the sum by moe.router + moe.experts reading the stacked weights
    as they are (gate_up_proj is fc1 with swiglu_fusion = 2) and erases the
    gathered form. Runs on onnx ops, after moec-raise-sigmoid-router and
    before the strict moec-onnx-infer-shapes; matches structure only, since
    the block's T*k-row values are unranked.
    Leaves alone, without a diagnostic: whole-matrix repeats, weights and
    ids of different TopKs, non-constant weights, a sum over another axis,
    the activation on the second half, intermediates used outside the block.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

#endif // MOEC_PASSES_RAISE_PASSES_TD

def MoecRaiseAttention : Pass<"moec-raise-attention", "mlir::func::FuncOp"> {
  let summary = "Raises exported eager attention over [T, T] scores to moe.self_attention";
  let description = [{
    Recognizes attention as torch.onnx exports it for a decoder without a
    KV cache: MatMul(q, Transpose(k, [0, 1, 3, 2])) scaled by constants
    (Mul or Div), optionally softcapped (c * Tanh(s / c)), masked by Adds of
    a bias or Wheres of a condition with a -inf fill, optionally joined with
    a constant sink column (Concat, then the row maximum subtracted and the
    column sliced off after the Softmax), Softmax over the last axis, no-op
    Casts, then MatMul with v. q, k and v are heads first; k and v repeated
    by repeat_kv (Reshape(Expand(Unsqueeze(x, 2)))) are read from their KV
    heads. The masks are evaluated at compile time for a range of token
    counts and must keep exactly the causal keys, or the causal keys within
    one sliding window. Replaces the computation by moe.self_attention and
    erases the scores and, once unused, the mask subgraph.
    Leaves alone: softmaxes whose input is not [.., T, T] (routers). Reports
    an error, naming the reason, for [T, T] scores it cannot raise (a mask
    read from an input, a bias other than 0/-inf, probabilities used
    elsewhere): such scores have no place in moec's memory plan.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

def MoecRaiseDecoderLayers : Pass<"moec-raise-decoder-layers", "mlir::func::FuncOp"> {
  let summary = "Runs the attention and expert raisers in rounds until nothing more is raised";
  let description = [{
    Each layer of an exported decoder has ranked inputs only once the layer
    before it is raised: the mask leaves the attention scores unranked until
    moec-raise-attention replaces them, the k*T rows leave an MoE block's
    output unranked until moec-raise-looped-experts or
    moec-raise-batched-experts replaces it. This pass runs
    moec-raise-attention, moec-raise-sigmoid-router (whose router the expert
    raisers read) and the two expert raisers, in that order, again and again
    until a round adds no moe op. A lone MoE
    block or attention is raised in the first round.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}
