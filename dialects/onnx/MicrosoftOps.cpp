//===- MicrosoftOps.cpp - verifiers and shape inference: com.microsoft ops -===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace moec::onnx::detail;

namespace moec::onnx {

LogicalResult MsMoEOp::verify() {
  static const char *const kActivations[] = {"relu", "gelu", "silu", "swiglu", "identity"};
  if (!llvm::is_contained(kActivations, getActivationType()))
    return emitOpError() << "activation_type must be one of relu, gelu, silu, swiglu, "
                            "identity; got '"
                         << getActivationType() << "'";
  if (static_cast<int64_t>(getK()) < 1)
    return emitOpError() << "k must be at least 1, got " << static_cast<int64_t>(getK());
  int64_t fusion = static_cast<int64_t>(getSwigluFusion());
  if (fusion < 0 || fusion > 2)
    return emitOpError() << "swiglu_fusion must be 0, 1 or 2, got " << fusion;
  if (failed(verifyFlag(*this, "normalize_routing_weights", getNormalizeRoutingWeights())) ||
      failed(verifyFlag(*this, "use_sparse_mixer", getUseSparseMixer())) ||
      failed(verifyFlag(*this, "swiglu_limit_after_activation",
                        getSwigluLimitAfterActivation())))
    return failure();
  if (auto type = getRankedType(getInput()); type && type.getRank() != 2 && type.getRank() != 3)
    return emitOpError() << "input must have rank 2 (tokens, hidden) or 3 (batch, seq, hidden), "
                            "got rank "
                         << type.getRank();
  if (auto type = getRankedType(getRouterProbs()); type && type.getRank() != 2)
    return emitOpError() << "router_probs must have rank 2 (tokens, experts), got rank "
                         << type.getRank();
  std::pair<StringRef, Value> weights[] = {{"fc1_experts_weights", getFc1ExpertsWeights()},
                                           {"fc2_experts_weights", getFc2ExpertsWeights()},
                                           {"fc3_experts_weights", getFc3ExpertsWeights()}};
  for (auto [name, value] : weights)
    if (auto type = getRankedType(value); type && type.getRank() != 3)
      return emitOpError() << name << " must have rank 3 (experts, rows, columns), got rank "
                           << type.getRank();
  std::pair<StringRef, Value> biases[] = {{"fc1_experts_bias", getFc1ExpertsBias()},
                                          {"fc2_experts_bias", getFc2ExpertsBias()},
                                          {"fc3_experts_bias", getFc3ExpertsBias()}};
  for (auto [name, value] : biases)
    if (auto type = getRankedType(value); type && type.getRank() != 2)
      return emitOpError() << name << " must have rank 2 (experts, size), got rank "
                           << type.getRank();
  auto experts = [](Value v) {
    auto type = getRankedType(v);
    return type && type.getRank() >= 1 ? type.getDimSize(0) : ShapedType::kDynamic;
  };
  int64_t e = experts(getFc1ExpertsWeights());
  for (auto [name, value] : weights)
    if (value && experts(value) != e && !ShapedType::isDynamic(experts(value)) &&
        !ShapedType::isDynamic(e))
      return emitOpError() << name << " has " << experts(value) << " experts, fc1 has " << e;
  if (auto router = getRankedType(getRouterProbs()); router && router.getRank() == 2 &&
                                                     !router.isDynamicDim(1) &&
                                                     !ShapedType::isDynamic(e) &&
                                                     router.getDimSize(1) != e)
    return emitOpError() << "router_probs has " << router.getDimSize(1)
                         << " experts per token, the expert weights have " << e;
  if (!ShapedType::isDynamic(e) && static_cast<int64_t>(getK()) > e)
    return emitOpError() << "k = " << static_cast<int64_t>(getK()) << " exceeds the " << e
                         << " experts";
  return success();
}

LogicalResult MsMoEOp::inferShapes() { return inferSameAsOperand(*this, getInput()); }

LogicalResult MsSkipSimplifiedLayerNormalizationOp::verify() {
  if (getNumResults() < 1 || getNumResults() > 4)
    return emitOpError() << "has 1 to 4 outputs (output, mean, inv_std_var, "
                            "input_skip_bias_sum), got "
                         << getNumResults();
  auto x = getRankedType(getInput());
  auto skip = getRankedType(getSkip());
  if (x && skip && x.getShape() != skip.getShape())
    return emitOpError() << "skip " << skip << " must have the shape of input " << x;
  if (failed(verifyRmsNormScale(*this, getInput(), getGamma(), -1, "gamma")))
    return failure();
  if (auto gamma = getRankedType(getGamma()); gamma && gamma.getRank() != 1)
    return emitOpError() << "gamma must be 1-D, got " << gamma;
  if (auto bias = getRankedType(getBias()); bias && bias.getRank() != 1)
    return emitOpError() << "bias must be 1-D, got " << bias;
  return success();
}

LogicalResult MsSkipSimplifiedLayerNormalizationOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "input");
  if (failed(type))
    return failure();
  if (type->getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  SmallVector<int64_t> statistic(type->getShape());
  statistic.back() = 1;
  for (unsigned i = 0; i < getNumResults(); ++i) {
    bool isStatistic = i == 1 || i == 2;
    if (failed(setResultType(*this, i, isStatistic ? ArrayRef<int64_t>(statistic)
                                                   : type->getShape(),
                             isStatistic ? Type(Float32Type::get(getContext()))
                                         : type->getElementType())))
      return failure();
  }
  return success();
}

// output and input_skip_bias_sum have the input's type; mean and
// inv_std_var (results 1 and 2) are float32.
SmallVector<Type> MsSkipSimplifiedLayerNormalizationOp::inferElementTypes() {
  SmallVector<Type> types;
  for (unsigned i = 0; i < getNumResults(); ++i)
    types.push_back(i == 1 || i == 2 ? Type(Float32Type::get(getContext()))
                                     : getElementType(getInput()));
  return types;
}

LogicalResult MsMatMulNBitsOp::verify() {
  int64_t k = static_cast<int64_t>(getK()), n = static_cast<int64_t>(getN());
  int64_t bits = static_cast<int64_t>(getBits()), block = static_cast<int64_t>(getBlockSize());
  if (bits != 4 && bits != 8)
    return emitOpError() << "bits must be 4 or 8, got " << bits;
  if (block < 16 || (block & (block - 1)) != 0)
    return emitOpError() << "block_size must be a power of 2 >= 16, got " << block;
  if (k < 1 || n < 1)
    return emitOpError() << "K and N must be positive, got K = " << k << ", N = " << n;
  int64_t blocks = (k + block - 1) / block;
  if (auto b = getRankedType(getB())) {
    SmallVector<int64_t> want{n, blocks, block * bits / 8};
    if (!b.getElementType().isUnsignedInteger(8) || b.getShape() != ArrayRef<int64_t>(want))
      return emitOpError() << "B must be uint8 [" << n << ", " << blocks << ", "
                           << block * bits / 8 << "], got " << b;
  }
  if (auto a = getRankedType(getA()); a && a.getRank() >= 1 && a.getShape().back() != k)
    return emitOpError() << "A's last dimension " << a.getShape().back() << " is not K = " << k;
  if (auto s = getRankedType(getScales()); s && s.hasStaticShape() && s.getNumElements() != n * blocks)
    return emitOpError() << "scales must hold N * k_blocks = " << n * blocks << " values, got "
                         << s;
  if (auto bias = getRankedType(getBias()); bias && bias.getShape() != ArrayRef<int64_t>{n})
    return emitOpError() << "bias must be [" << n << "], got " << bias;
  return success();
}

LogicalResult MsMatMulNBitsOp::inferShapes() {
  auto a = requireRanked(*this, getA(), "A");
  if (failed(a))
    return failure();
  if (a->getRank() < 1)
    return emitOpError() << "A must have rank >= 1";
  SmallVector<int64_t> shape(a->getShape());
  shape.back() = static_cast<int64_t>(getN());
  return setResultType(*this, 0, shape, a->getElementType());
}

LogicalResult MsQMoEOp::inferShapes() { return inferSameAsOperand(*this, getInput()); }

int64_t MsGroupQueryAttentionOp::getHeadSizeOrDynamic() {
  auto query = getRankedType(getQuery());
  if (!query || query.getRank() != 3 || query.isDynamicDim(2))
    return ShapedType::kDynamic;
  int64_t heads = static_cast<int64_t>(getNumHeads());
  if (!getKey())
    heads += 2 * static_cast<int64_t>(getKvNumHeads());
  int64_t width = query.getDimSize(2);
  return heads > 0 && width % heads == 0 ? width / heads : ShapedType::kDynamic;
}

// moec imports the form onnxruntime-genai writes for decoding with a
// fixed-capacity cache: past and present share one [B, KV, capacity, HD]
// layout. The inputs and modes moec has no kernel for are refused here, so
// the error names the node.
LogicalResult MsGroupQueryAttentionOp::verify() {
  int64_t heads = static_cast<int64_t>(getNumHeads());
  int64_t kvHeads = static_cast<int64_t>(getKvNumHeads());
  if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0)
    return emitOpError() << "num_heads (" << heads << ") must be a positive multiple of "
                         << "kv_num_heads (" << kvHeads << ")";
  if (failed(verifyFlag(*this, "do_rotary", getDoRotary())) ||
      failed(verifyFlag(*this, "rotary_interleaved", getRotaryInterleaved())))
    return failure();
  if (static_cast<int64_t>(getSmoothSoftmax()) != 0)
    return emitOpError() << "smooth_softmax = 1 is not supported";
  if (static_cast<int64_t>(getQkOutput()) != 0 || getNumResults() > 3)
    return emitOpError() << "output_qk (qk_output) is not supported";
  if (static_cast<int64_t>(getCausal()) != 1)
    return emitOpError() << "only causal attention (causal = 1) is supported";
  if (getNumResults() < 1)
    return emitOpError() << "has no output";
  std::pair<StringRef, Value> unsupported[] = {{"position_ids", getPositionIds()},
                                               {"attention_bias", getAttentionBias()},
                                               {"head_sink", getHeadSink()}};
  for (auto [name, value] : unsupported)
    if (value)
      return emitOpError() << "input " << name << " is not supported";
  if (!getKey() != !getValue())
    return emitOpError() << "key and value must both be given, or both absent (packed QKV)";
  if (!getPastKey() || !getPastValue())
    return emitOpError() << "needs past_key and past_value: moec compiles the fixed-capacity "
                            "KV cache form (past and present share [batch, kv_num_heads, "
                            "capacity, head_size])";
  if (static_cast<int64_t>(getDoRotary()) == 1 && (!getCosCache() || !getSinCache()))
    return emitOpError() << "do_rotary = 1 needs cos_cache and sin_cache";
  if (static_cast<int64_t>(getDoRotary()) == 0 && (getCosCache() || getSinCache()))
    return emitOpError() << "cos_cache/sin_cache given but do_rotary = 0";
  if (getSoftcap().convertToFloat() < 0.f)
    return emitOpError() << "softcap must be >= 0";
  auto query = getRankedType(getQuery());
  if (query && query.getRank() != 3)
    return emitOpError() << "query must have rank 3 (batch, sequence, hidden), got " << query;
  int64_t headSize = getHeadSizeOrDynamic();
  if (query && query.getRank() == 3 && !query.isDynamicDim(2) && ShapedType::isDynamic(headSize))
    return emitOpError() << "query hidden size " << query.getDimSize(2)
                         << " is not a multiple of the " << (getKey() ? heads : heads + 2 * kvHeads)
                         << " heads it holds";
  if (!ShapedType::isDynamic(headSize)) {
    for (auto [name, value] : {std::pair<StringRef, Value>{"key", getKey()}, {"value", getValue()}})
      if (auto type = getRankedType(value);
          type && (type.getRank() != 3 || type.getShape()[2] != kvHeads * headSize))
        return emitOpError() << name << " must be [batch, sequence, " << kvHeads * headSize
                             << "], got " << type;
    for (auto [name, value] :
         {std::pair<StringRef, Value>{"past_key", getPastKey()}, {"past_value", getPastValue()}})
      if (auto type = getRankedType(value);
          type && (type.getRank() != 4 || type.getDimSize(1) != kvHeads ||
                   type.getDimSize(3) != headSize || type.isDynamicDim(2)))
        return emitOpError() << name << " must be [batch, " << kvHeads
                             << ", capacity, " << headSize
                             << "] with a static capacity, got " << type;
    if (auto cos = getRankedType(getCosCache()); cos) {
      auto sin = getRankedType(getSinCache());
      if (cos.getRank() != 2 || cos.isDynamicDim(0) || cos.getDimSize(1) < 1 ||
          2 * cos.getDimSize(1) > headSize || (sin && sin.getShape() != cos.getShape()))
        return emitOpError() << "cos_cache and sin_cache must both be [positions, rotary_dim / "
                                "2] with rotary_dim <= head size "
                             << headSize << ", got " << cos << " and " << getSinCache().getType();
    }
  }
  if (auto seqlens = getRankedType(getSeqlensK());
      seqlens && (!seqlens.getElementType().isInteger(32) || seqlens.getRank() != 1))
    return emitOpError() << "seqlens_k must be int32 [batch], got " << seqlens;
  if (auto total = getRankedType(getTotalSequenceLength());
      total && (!total.getElementType().isInteger(32) || total.getNumElements() != 1))
    return emitOpError() << "total_sequence_length must be one int32, got " << total;
  return success();
}

LogicalResult MsGroupQueryAttentionOp::inferShapes() {
  // The forms the verifier refuses with a clearer message than "no rank".
  if (failed(verify()))
    return failure();
  auto query = requireRanked(*this, getQuery(), "query");
  auto pastKey = requireRanked(*this, getPastKey(), "past_key");
  auto pastValue = requireRanked(*this, getPastValue(), "past_value");
  if (failed(query) || failed(pastKey) || failed(pastValue))
    return failure();
  if (query->getRank() != 3)
    return emitOpError() << "query must have rank 3 (batch, sequence, hidden), got " << *query;
  int64_t headSize = getHeadSizeOrDynamic();
  if (ShapedType::isDynamic(headSize))
    return emitOpError() << "query hidden size " << query->getDimSize(2)
                         << " does not divide into the heads";
  int64_t hidden = static_cast<int64_t>(getNumHeads()) * headSize;
  if (failed(setResultType(*this, 0, {query->getDimSize(0), query->getDimSize(1), hidden},
                           query->getElementType())))
    return failure();
  if (getNumResults() > 1 &&
      failed(setResultType(*this, 1, pastKey->getShape(), pastKey->getElementType())))
    return failure();
  if (getNumResults() > 2 &&
      failed(setResultType(*this, 2, pastValue->getShape(), pastValue->getElementType())))
    return failure();
  return success();
}

// output has the query's type, present_key/present_value the caches'.
SmallVector<Type> MsGroupQueryAttentionOp::inferElementTypes() {
  Type query = getElementType(getQuery());
  SmallVector<Type> types(getNumResults(), query);
  if (types.size() > 1 && getPastKey())
    types[1] = getElementType(getPastKey());
  if (types.size() > 2 && getPastValue())
    types[2] = getElementType(getPastValue());
  return types;
}

FailureOr<std::pair<int64_t, int64_t>> MsRotaryEmbeddingOp::getHeadAndRotaryDims() {
  auto input = getRankedType(getInput());
  auto cos = getRankedType(getCosCache());
  if (!input || !cos || cos.getRank() != 2 || cos.isDynamicDim(1))
    return emitOpError() << "needs a ranked input and cos_cache [positions, rotary_dim / 2]";
  int64_t rotary = static_cast<int64_t>(getRotaryEmbeddingDim());
  int64_t heads = static_cast<int64_t>(getNumHeads());
  int64_t head = 0;
  if (input.getRank() == 4) {
    head = input.getDimSize(3);
  } else if (input.getRank() == 3) {
    int64_t width = input.getDimSize(2);
    // Without num_heads, onnxruntime takes the head size from the cos cache
    // (every dim of the head is rotated).
    head = heads > 0 ? (width % heads == 0 ? width / heads : 0) : 2 * cos.getDimSize(1);
    if (head <= 0 || width % head != 0)
      return emitOpError() << "input width " << width << " does not divide into heads of "
                           << (heads > 0 ? "num_heads " + std::to_string(heads)
                                         : "size 2 * cos_cache.shape[1]");
    if (heads == 0 && rotary > 0)
      return emitOpError() << "rotary_embedding_dim needs num_heads (onnxruntime refuses it "
                              "without; the head size would be ambiguous)";
  } else {
    return emitOpError() << "input must have rank 3 (batch, sequence, hidden) or 4 (batch, "
                            "heads, sequence, head_size), got "
                         << input;
  }
  if (rotary == 0)
    rotary = head;
  if (rotary < 2 || rotary % 2 != 0 || rotary > head || cos.getDimSize(1) * 2 != rotary)
    return emitOpError() << "rotary dim " << rotary << " must be even, at most the head size "
                         << head << " and twice cos_cache's last dim (" << cos.getDimSize(1)
                         << ")";
  return std::make_pair(head, rotary);
}

LogicalResult MsRotaryEmbeddingOp::verify() {
  if (failed(verifyFlag(*this, "interleaved", getInterleaved())))
    return failure();
  if (static_cast<int64_t>(getIsPackedBatching()) != 0)
    return emitOpError() << "is_packed_batching = 1 is not supported";
  if (getScale().convertToFloat() != 1.0f)
    return emitOpError() << "scale other than 1 is not supported";
  auto cos = getRankedType(getCosCache()), sin = getRankedType(getSinCache());
  if (cos && sin && cos.getShape() != sin.getShape())
    return emitOpError() << "cos_cache " << cos << " and sin_cache " << sin
                         << " must have one shape";
  if (auto pos = getRankedType(getPositionIds());
      pos && (!pos.getElementType().isInteger(64) || pos.getRank() < 1 || pos.getRank() > 2))
    return emitOpError() << "position_ids must be int64 [batch, sequence] or [1], got " << pos;
  if (getRankedType(getInput()) && cos && failed(getHeadAndRotaryDims()))
    return failure();
  return success();
}

LogicalResult MsRotaryEmbeddingOp::inferShapes() {
  if (failed(verify()))
    return failure();
  return inferSameAsOperand(*this, getInput());
}

} // namespace moec::onnx
