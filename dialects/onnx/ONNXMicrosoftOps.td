//===- ONNXMicrosoftOps.td - com.microsoft contrib ops --------*- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXMICROSOFTOPS_TD
#define MOEC_DIALECTS_ONNX_ONNXMICROSOFTOPS_TD

include "dialects/onnx/ONNXDialect.td"

def ONNX_MsMoEOp : ONNX_Op<"ms.MoE", [AttrSizedOperandSegments]> {
  let summary = "com.microsoft.MoE: routed mixture of expert FFNs";
  let description = [{
    router_probs are router logits (tokens, E); softmax and top-k are part of
    the op. fc1 is (E, I, H), or (E, 2I, H) when swiglu_fusion is 1 (gate and
    linear rows interleaved) or 2 (concatenated); fc2 is (E, H, I); fc3
    (E, I, H) holds the linear part of SwiGLU when swiglu_fusion is 0. Absent
    optional inputs have null accessors (e.g. getFc3ExpertsWeights()).
    `swiglu_limit` absent means no clamping. The types after `:` follow the
    operand order of the schema (input, router_probs, fc1, fc1 bias, fc2, ...).

    ```mlir
    %y = onnx.ms.MoE %x, %logits, %fc1, %fc2 fc1_bias(%b1) {k = 2 : i64, activation_type = "silu"}
        : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x32xf32>,
           tensor<4x16x32xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$router_probs,
                   AnyTensor:$fc1_experts_weights, Optional<AnyTensor>:$fc1_experts_bias,
                   AnyTensor:$fc2_experts_weights, Optional<AnyTensor>:$fc2_experts_bias,
                   Optional<AnyTensor>:$fc3_experts_weights,
                   Optional<AnyTensor>:$fc3_experts_bias,
                   DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
                   ONNX_DefaultI64<"1">:$k,
                   ONNX_DefaultI64<"0">:$normalize_routing_weights,
                   ONNX_DefaultI64<"0">:$swiglu_fusion,
                   OptionalAttr<F32Attr>:$swiglu_limit,
                   ONNX_DefaultI64<"0">:$swiglu_limit_after_activation,
                   ONNX_DefaultF32<"1.0">:$activation_alpha,
                   ONNX_DefaultF32<"0.0">:$activation_beta,
                   ONNX_DefaultI64<"0">:$use_sparse_mixer);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = [{
    $input `,` $router_probs `,` $fc1_experts_weights `,` $fc2_experts_weights
    (`fc1_bias` `(` $fc1_experts_bias^ `)`)? (`fc2_bias` `(` $fc2_experts_bias^ `)`)?
    (`fc3` `(` $fc3_experts_weights^ `)`)? (`fc3_bias` `(` $fc3_experts_bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_MsSkipSimplifiedLayerNormalizationOp
    : ONNX_Op<"ms.SkipSimplifiedLayerNormalization", [], ONNX_OwnElementTypes> {
  let summary = "com.microsoft: residual add (+ bias), then RMS normalization";
  let description = [{
    s = input + skip (+ bias); output = s / sqrt(mean(s^2) + epsilon) * gamma
    over the last axis. Results: output, then the optional mean, inv_std_var
    and input_skip_bias_sum (= s) in the node's output order; an absent middle
    output is still a result here, simply unused.

    ```mlir
    %y, %m, %r, %s = onnx.ms.SkipSimplifiedLayerNormalization %x, %res, %w {epsilon = 1.0e-06 : f32}
        : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>)
        -> (tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x16xf32>)
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$skip, AnyTensor:$gamma,
                   Optional<AnyTensor>:$bias, ONNX_DefaultF32<"1.0e-5">:$epsilon);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let hasVerifier = 1;
}

def ONNX_MsMatMulNBitsOp : ONNX_Op<"ms.MatMulNBits", [AttrSizedOperandSegments]> {
  let summary = "com.microsoft: A x dequantize(B)^T with 4- or 8-bit block-quantized B";
  let description = [{
    B is uint8 [N, k_blocks, block_size * bits / 8], 4-bit values packed two
    per byte (low nibble first). Element (n, k) is (q - zero_point) * scale of
    its block k / block_size; zero_points default to 2^(bits - 1) and, for 4
    bits, are packed two per byte; scales are [N * k_blocks]. Y is
    A [..., K] x W^T (+ bias [N]) -> [..., N].

    ```mlir
    %y = onnx.ms.MatMulNBits %a, %b, %s {K = 32 : i64, N = 8 : i64, bits = 4 : i64, block_size = 16 : i64}
        : (tensor<?x32xf32>, tensor<8x2x8xui8>, tensor<16xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$A, AnyTensor:$B, AnyTensor:$scales,
                   Optional<AnyTensor>:$zero_points, Optional<AnyTensor>:$g_idx,
                   Optional<AnyTensor>:$bias,
                   I64Attr:$K, I64Attr:$N, ONNX_DefaultI64<"4">:$bits, I64Attr:$block_size,
                   ONNX_DefaultI64<"0">:$accuracy_level);
  let results = (outs AnyTensor:$Y);
  let hasVerifier = 1;
}

def ONNX_MsQMoEOp : ONNX_Op<"ms.QMoE", [AttrSizedOperandSegments]> {
  let summary = "com.microsoft.QMoE: MoE with integer-quantized expert weights";
  let description = [{
    com.microsoft.MoE whose fc weights are uint8 [E, rows, cols * bits / 8]
    (4-bit values two per byte, low nibble first) with scales [E, rows] (one
    per row) or [E, rows, cols / block_size], dequantized as
    (q - zero_point) * scale, zero_point defaulting to 2^(bits - 1). Only the
    inputs moec reads are listed (up to router_weights); the fp4/fp8 inputs are
    refused by the importer.

    ```mlir
    %y = onnx.ms.QMoE %x, %logits, %fc1, %s1, %fc2, %s2 {k = 2 : i64, expert_weight_bits = 4 : i64, operandSegmentSizes = ...}
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$router_probs,
                   AnyTensor:$fc1_experts_weights, Optional<AnyTensor>:$fc1_scales,
                   Optional<AnyTensor>:$fc1_experts_bias,
                   AnyTensor:$fc2_experts_weights, Optional<AnyTensor>:$fc2_scales,
                   Optional<AnyTensor>:$fc2_experts_bias,
                   Optional<AnyTensor>:$fc3_experts_weights, Optional<AnyTensor>:$fc3_scales,
                   Optional<AnyTensor>:$fc3_experts_bias,
                   Optional<AnyTensor>:$fc1_zero_points, Optional<AnyTensor>:$fc2_zero_points,
                   Optional<AnyTensor>:$fc3_zero_points, Optional<AnyTensor>:$router_weights,
                   DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
                   ONNX_DefaultI64<"1">:$k,
                   ONNX_DefaultI64<"0">:$normalize_routing_weights,
                   ONNX_DefaultI64<"0">:$use_sparse_mixer,
                   ONNX_DefaultI64<"4">:$expert_weight_bits,
                   OptionalAttr<I64Attr>:$fc1_expert_weight_bits,
                   OptionalAttr<I64Attr>:$fc2_expert_weight_bits,
                   OptionalAttr<I64Attr>:$fc3_expert_weight_bits,
                   OptionalAttr<I64Attr>:$block_size,
                   DefaultValuedStrAttr<StrAttr, "int">:$quant_type,
                   ONNX_DefaultI64<"0">:$swiglu_fusion,
                   OptionalAttr<F32Attr>:$swiglu_limit,
                   ONNX_DefaultI64<"0">:$swiglu_limit_after_activation,
                   ONNX_DefaultF32<"1.0">:$activation_alpha,
                   ONNX_DefaultF32<"0.0">:$activation_beta,
                   ONNX_DefaultI64<"0">:$weights_prepacked,
                   ONNX_DefaultI64<"0">:$accuracy_level);
  let results = (outs AnyTensor:$output);
}

def ONNX_MsGroupQueryAttentionOp
    : ONNX_Op<"ms.GroupQueryAttention", [AttrSizedOperandSegments], ONNX_OwnElementTypes> {
  let summary = "com.microsoft: grouped-query attention with a KV cache and optional rotary";
  let description = [{
    query [B, S, N*HD] (or packed [B, S, (N + 2*KV)*HD] with key and value
    absent); key/value [B, S, KV*HD]; past_key/past_value [B, KV, P, HD];
    seqlens_k int32 [B] (total length - 1 per batch row); total_sequence_length
    an int32 scalar; cos_cache/sin_cache [rows, R/2] when do_rotary. Results:
    output [B, S, N*HD], present_key/present_value [B, KV, P, HD] (moec imports
    only the fixed-capacity form, where the present cache has the past's
    capacity), and the optional output_qk, which moec refuses.

    ```mlir
    %o, %k, %v = onnx.ms.GroupQueryAttention %q, %k, %v, %pk, %pv, %sl, %tl {num_heads = 4 : i64, kv_num_heads = 2 : i64, operandSegmentSizes = ...}
    ```
  }];
  let arguments = (ins AnyTensor:$query, Optional<AnyTensor>:$key, Optional<AnyTensor>:$value,
                   Optional<AnyTensor>:$past_key, Optional<AnyTensor>:$past_value,
                   AnyTensor:$seqlens_k, AnyTensor:$total_sequence_length,
                   Optional<AnyTensor>:$cos_cache, Optional<AnyTensor>:$sin_cache,
                   Optional<AnyTensor>:$position_ids, Optional<AnyTensor>:$attention_bias,
                   Optional<AnyTensor>:$head_sink,
                   I64Attr:$num_heads, I64Attr:$kv_num_heads,
                   ONNX_DefaultI64<"0">:$do_rotary,
                   ONNX_DefaultI64<"0">:$rotary_interleaved,
                   ONNX_DefaultI64<"-1">:$local_window_size,
                   OptionalAttr<F32Attr>:$scale,
                   ONNX_DefaultF32<"0.0">:$softcap,
                   ONNX_DefaultI64<"0">:$smooth_softmax,
                   ONNX_DefaultI64<"0">:$qk_output,
                   ONNX_DefaultI64<"1">:$causal);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    // Elements per head, from the query's last dim (packed or not).
    int64_t getHeadSizeOrDynamic();
  }];
}

def ONNX_MsRotaryEmbeddingOp : ONNX_Op<"ms.RotaryEmbedding"> {
  let summary = "com.microsoft: rotary position embedding of q or k";
  let description = [{
    input [B, S, N*H] or [B, N, S, H]; position_ids [B, S] (int64), or [1]
    holding the position of the first token (token s is at p + s);
    cos_cache/sin_cache [positions, R/2] with R = rotary_embedding_dim, or the
    head size when 0. The first R elements of every head are rotated (pairs
    (i, i + R/2), or (2i, 2i + 1) when interleaved); the rest pass through.

    ```mlir
    %y = onnx.ms.RotaryEmbedding %x, %pos, %cos, %sin {num_heads = 4 : i64}
        : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<32x8xf32>, tensor<32x8xf32>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$position_ids, AnyTensor:$cos_cache,
                   AnyTensor:$sin_cache,
                   ONNX_DefaultI64<"0">:$num_heads,
                   ONNX_DefaultI64<"0">:$rotary_embedding_dim,
                   ONNX_DefaultI64<"0">:$interleaved,
                   ONNX_DefaultI64<"0">:$is_packed_batching,
                   ONNX_DefaultF32<"1.0">:$scale);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    // Head size and rotated dims, or failure (with the reason) when the
    // shapes do not determine them.
    mlir::FailureOr<std::pair<int64_t, int64_t>> getHeadAndRotaryDims();
  }];
}

#endif // MOEC_DIALECTS_ONNX_ONNXMICROSOFTOPS_TD
