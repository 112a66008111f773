//===- MoEOps.td - the moe dialect: graph-level MoE operations -*- tablegen -*-===//
//
// The moe dialect is the level where moec's optimizations work: MoE blocks are
// one router and one grouped-expert op, linear layers know their weight, and
// elementwise chains are regions that fusion can merge. Ops here are on
// tensors; every `?` dimension is the token count T.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_MOE_MOEOPS_TD
#define MOEC_DIALECTS_MOE_MOEOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::moec::moe";
  let summary = "Graph-level Mixture-of-Experts operations";
  let description = [{
    Routers, grouped experts, linear layers and fused elementwise regions.
    ONNX ops without a moe-level counterpart (Softmax, TopK, Gather, ...) stay
    in the onnx dialect at this level and are lowered to kernels directly.
  }];
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

def MoE_RouterOp : MoE_Op<"router", [Pure]> {
  let summary = "Scores experts per token and selects the top k";
  let description = [{
    Turns router logits [T, E] into the k selected experts per token and their
    mixing weights. `scoring` is "softmax" (softmax over all experts, then
    top-k) or "sigmoid" (DeepSeek-V3): s = sigmoid(logits), experts chosen by
    s + `bias` (a constant per-expert selection bias, absent = 0), weights =
    the unbiased s of the chosen. With `groups` > 1 (sigmoid only) the experts
    form `groups` equal consecutive groups, each scored by the sum of its two
    largest biased scores, and only the `topk_groups` best groups compete.
    With `normalize`, the k weights of a token are rescaled to sum to one;
    then they are multiplied by `scaling`. Ties choose the lower index.

    ```mlir
    %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"}
        : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$logits, I64Attr:$k, BoolAttr:$normalize,
                       StrAttr:$scoring,
                       DefaultValuedAttr<I64Attr, "1">:$groups,
                       DefaultValuedAttr<I64Attr, "1">:$topk_groups,
                       DefaultValuedAttr<F32Attr, "1.0">:$scaling,
                       OptionalAttr<DenseF32ArrayAttr>:$bias);
  let results = (outs AnyRankedTensor:$weights, AnyRankedTensor:$expert_ids);
  let builders = [
    // A router without groups, bias or scaling (softmax routers, the MoE op).
    OpBuilder<(ins "mlir::Type":$weights, "mlir::Type":$expert_ids, "mlir::Value":$logits,
                   "mlir::IntegerAttr":$k, "mlir::BoolAttr":$normalize,
                   "mlir::StringAttr":$scoring), [{
      build($_builder, $_state, weights, expert_ids, logits, k, normalize, scoring,
            mlir::IntegerAttr(), mlir::IntegerAttr(), mlir::FloatAttr(),
            mlir::DenseF32ArrayAttr());
    }]>
  ];
  let assemblyFormat = [{
    $logits attr-dict `:` type($logits) `->` type($weights) `,` type($expert_ids)
  }];
  let hasVerifier = 1;
}

def MoE_ExpertsOp : MoE_Op<"experts", [Pure, AttrSizedOperandSegments]> {
  let summary = "Grouped expert FFN over the routed tokens, combined by routing weight";
  let description = [{
    y[t] = sum_j weights[t, j] * FFN_{expert_ids[t, j]}(x[t]) with
    FFN(x) = fc2 · act(fc1 · x + fc1_bias [, fc3 · x + fc3_bias]) + fc2_bias.
    Weight layouts follow com.microsoft.MoE: fc1 [E, F1, H] (F1 = I, or 2·I for
    SwiGLU with `swiglu_fusion` 1 = interleaved gate/linear rows, 2 = gate rows
    then linear rows), fc2 [E, H, I], fc3 [E, I, H] (SwiGLU with fusion 0 only).
    SwiGLU is G·sigmoid(alpha·G)·(L + beta) with G = min(gate, limit) and
    L = clamp(linear, -limit, limit).

    ```mlir
    %y = moe.experts %x, %w, %ids, %fc1, %fc2 {activation = "silu", ...}
        : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>,
           tensor<4x16x32xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weights,
                       AnyRankedTensor:$expert_ids, AnyRankedTensor:$fc1,
                       Optional<AnyRankedTensor>:$fc1_bias, AnyRankedTensor:$fc2,
                       Optional<AnyRankedTensor>:$fc2_bias,
                       Optional<AnyRankedTensor>:$fc3,
                       Optional<AnyRankedTensor>:$fc3_bias,
                       StrAttr:$activation, I64Attr:$swiglu_fusion,
                       F32Attr:$alpha, F32Attr:$beta, F32Attr:$limit);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $weights `,` $expert_ids `fc1` `(` $fc1 (`,` $fc1_bias^)? `)`
    `fc2` `(` $fc2 (`,` $fc2_bias^)? `)` (`fc3` `(` $fc3^ (`,` $fc3_bias^)? `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts() { return getFc1().getType().getDimSize(0); }
    int64_t getHiddenSize() { return getFc2().getType().getDimSize(1); }
    int64_t getInterSize() { return getFc2().getType().getDimSize(2); }
    int64_t getTopK() { return getExpertIds().getType().getDimSize(1); }
  }];
}

def MoE_LinearOp : MoE_Op<"linear", [Pure]> {
  let summary = "x · W (+ bias) with a constant weight";
  let description = [{
    A dense layer whose weight is known at compile time, so later passes may
    quantize, prune or repack it. `input` is [..., K]; `weight` is [K, N]
    (or [N, K] with `transpose_weight`); `bias` is [N]; the result is [..., N].

    ```mlir
    %y = moe.linear %x, %w : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                       Optional<AnyRankedTensor>:$bias,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_weight);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_RmsNormOp : MoE_Op<"rms_norm", [Pure]> {
  let summary = "Root-mean-square normalization over the trailing axes";
  let description = [{
    y = x / sqrt(mean(x^2 over axes [axis, rank)) + epsilon) * scale, computed
    in f32 whatever the storage types. `scale`, when present, has exactly the
    shape of the normalized axes; without it the scale is 1. The result has
    the input's shape; its element type may differ (the exported graph may
    cast around the norm).

    ```mlir
    %y = moe.rms_norm %x, %w {axis = 1 : i64, epsilon = 1.0e-06 : f32}
        : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$scale,
                       I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input (`,` $scale^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_DequantizeOp : MoE_Op<"dequantize", [Pure]> {
  let summary = "A quantized weight as the float tensor it stands for";
  let description = [{
    y = (q - zero_point) * scale, block-wise along `axis` (ONNX
    DequantizeLinear's blocked form): `scale` has q's shape except
    ceil(D / block_size) along `axis`, so element i of that axis uses scale
    index i / block_size. block_size = D is one scale per row of the other
    axes (per-channel). `zero_point`, when present, has the scale's shape and
    q's element type; absent means 0 (symmetric).

    `bits` = 4 packs two signed 4-bit values per byte along the last axis
    (element 2j in the low nibble of byte j, 2j + 1 in the high one): q is
    then i8 with the last dimension ceil(D / 2), and `axis` must be the last.
    q of element type f8E4M3FN (bits = 8, no zero point) holds fp8 values,
    each standing for its exact E4M3 value times the scale.

    Kernels read q and scale directly (dequantizing in registers); the
    lowering materializes the float tensor only for a consumer that cannot.

    ```mlir
    %w = moe.dequantize %q, %s {axis = 2 : i64, block_size = 16 : i64}
        : (tensor<4x32x16xi8>, tensor<4x32x1xf32>) -> tensor<4x32x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                       Optional<AnyRankedTensor>:$zero_point,
                       I64Attr:$axis, I64Attr:$block_size,
                       DefaultValuedAttr<I64Attr, "8">:$bits);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_AttentionOp : MoE_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Causal grouped-query attention that appends to a fixed-capacity KV cache";
  let description = [{
    S new tokens per batch row attend, causally, over a KV cache of static
    capacity C. query is [B, S, N*HD]; key and value [B, S, KV*HD] (absent:
    packed, query is [B, S, (N + 2*KV)*HD] = q | k | v); past_key/past_value
    and the results present_key/present_value are [B, KV, C, HD]. Per batch
    row b, total_b = seqlens_k[b] + 1 (int32 [B]); the tokens sit at positions
    past_b + s with past_b = 0 when total_sequence_length (one int32) equals S
    (the first prompt) and total_b - S otherwise. present = past with the new
    rows written at [past_b, past_b + S); query s attends keys
    j <= min(past_b + s, total_b - 1) (and, with `window` > 0, only the last
    `window` positions), head h reading KV head h / (N / KV). With cos/sin
    ([rows, R/2]) the first R dims of q and k are rotated by position
    (`rotary_interleaved`: pairs (2i, 2i+1), else (i, i + R/2)). Scores are
    scale * q.k, then softcap * tanh(s / softcap) when softcap > 0. This is
    com.microsoft.GroupQueryAttention with past and present sharing a buffer.

    ```mlir
    %o, %pk, %pv = moe.attention %q, %k, %v, %past_k, %past_v, %seqlens, %total
        {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, ...}
        : (...) -> (tensor<1x?x64xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>)
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, Optional<AnyRankedTensor>:$key,
                       Optional<AnyRankedTensor>:$value, AnyRankedTensor:$past_key,
                       AnyRankedTensor:$past_value, AnyRankedTensor:$seqlens_k,
                       AnyRankedTensor:$total_sequence_length,
                       Optional<AnyRankedTensor>:$cos_cache, Optional<AnyRankedTensor>:$sin_cache,
                       I64Attr:$num_heads, I64Attr:$kv_heads, F32Attr:$scale,
                       DefaultValuedAttr<F32Attr, "0.0">:$softcap,
                       DefaultValuedAttr<I64Attr, "0">:$window,
                       DefaultValuedAttr<BoolAttr, "false">:$rotary_interleaved);
  let results = (outs AnyRankedTensor:$output, AnyRankedTensor:$present_key,
                      AnyRankedTensor:$present_value);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadSize() { return getPastKey().getType().getDimSize(3); }
    int64_t getCapacity() { return getPastKey().getType().getDimSize(2); }
    // Rotated dims per head (0 without rotary).
    int64_t getRotaryDim() {
      return getCosCache() ? 2 * getCosCache().getType().getDimSize(1) : 0;
    }
  }];
}

def MoE_SelfAttentionOp : MoE_Op<"self_attention", [Pure]> {
  let summary = "Causal grouped-query attention of S tokens over themselves (no cache)";
  let description = [{
    The attention of a prompt processed without a KV cache, heads first, as
    exported graphs compute it (raised by moec-raise-attention so that the
    [S, S] scores and the mask are never materialized). query is
    [B, N, S, D], key [B, KV, S, D], value [B, KV, S, Dv], N a multiple of KV;
    head h reads KV head h / (N / KV). Query i attends keys j <= i and, with
    `window` > 0, only keys with i - j < window. Scores are scale * q.k, then
    softcap * tanh(s / softcap) when softcap > 0. With `sinks` (f32 [N], one
    learned logit per head) the softmax denominator also counts exp(sink_h):
    probabilities over the keys sum to less than one. output is [B, N, S, Dv].

    ```mlir
    %o = moe.self_attention %q, %k, %v {scale = 0.25 : f32}
        : (tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) -> tensor<1x4x?x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key, AnyRankedTensor:$value,
                       Optional<AnyRankedTensor>:$sinks, F32Attr:$scale,
                       DefaultValuedAttr<F32Attr, "0.0">:$softcap,
                       DefaultValuedAttr<I64Attr, "0">:$window);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_RotaryOp : MoE_Op<"rotary", [Pure]> {
  let summary = "Rotary position embedding of every head of q or k";
  let description = [{
    input is [B, S, heads * head_size] or, with `heads_first`, [B, heads, S,
    head_size]; positions is int64 [B, S] or [1] (the first token's position;
    token s is at positions[0] + s); cos/sin are [rows, rotary_dim / 2]. The
    first rotary_dim elements of each head are rotated by the angle of the
    token's position: pairs (i, i + rotary_dim/2), or (2i, 2i + 1) with
    `interleaved`; the others pass through. A position outside [0, rows) is a
    run-time error. com.microsoft.RotaryEmbedding.

    ```mlir
    %y = moe.rotary %x, %pos, %cos, %sin {head_size = 16 : i64, rotary_dim = 16 : i64}
        : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<32x8xf32>, tensor<32x8xf32>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$positions,
                       AnyRankedTensor:$cos_cache, AnyRankedTensor:$sin_cache,
                       I64Attr:$head_size, I64Attr:$rotary_dim,
                       DefaultValuedAttr<BoolAttr, "false">:$interleaved,
                       DefaultValuedAttr<BoolAttr, "false">:$heads_first);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $positions `,` $cos_cache `,` $sin_cache attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_MatMulOp : MoE_Op<"matmul", [Pure]> {
  let summary = "Batched matrix product of two run-time tensors (numpy semantics)";
  let description = [{
    ONNX MatMul where neither side is a compile-time constant matrix: batch
    dimensions broadcast, rank-1 operands are promoted as in numpy.

    ```mlir
    %y = moe.matmul %a, %b : (tensor<?x4x8xf32>, tensor<?x8x2xf32>) -> tensor<?x4x2xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def MoE_ElementwiseOp : MoE_Op<"elementwise", [Pure, SingleBlock,
    IsolatedFromAbove]> {
  let summary = "A scalar computation applied at every element, with broadcasting";
  let description = [{
    The body computes one output element from one element of each input;
    inputs broadcast to the result shape by numpy rules. The body holds
    scalar `arith` and `math` ops only, so a fused chain of ONNX elementwise
    ops becomes one loop, one kernel and one pass over memory.

    ```mlir
    %y = moe.elementwise ins(%a, %b : tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      moe.yield %s : f32
    }
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs);
  let results = (outs AnyRankedTensor:$output);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    (`ins` `(` $inputs^ `:` type($inputs) `)`)? attr-dict `->` type($output) $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    // Creates the op with an empty body block whose arguments are the
    // element types of `inputs`; the caller fills it and adds the yield.
    OpBuilder<(ins "mlir::Type":$resultType, "mlir::ValueRange":$inputs)>
  ];
}

def MoE_YieldOp : MoE_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"ElementwiseOp">]> {
  let summary = "Yields the element computed by a moe.elementwise body";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // MOEC_DIALECTS_MOE_MOEOPS_TD
