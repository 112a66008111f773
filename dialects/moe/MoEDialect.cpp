//===- MoEDialect.cpp - moe dialect verifiers and builders ----------------===//
#include "dialects/moe/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include <cmath>

using namespace mlir;
using namespace moec::moe;

#include "dialects/moe/MoEOpsDialect.cpp.inc"

void MoEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/moe/MoEOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialects/moe/MoEOps.cpp.inc"

namespace {
RankedTensorType rankedType(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}
} // namespace

//===----------------------------------------------------------------------===//
// RouterOp
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::verify() {
  auto logits = rankedType(getLogits());
  if (logits.getRank() != 2)
    return emitOpError("logits must be [tokens, experts], got rank ")
           << logits.getRank();
  int64_t experts = logits.getDimSize(1);
  if (ShapedType::isDynamic(experts))
    return emitOpError("the number of experts must be static");
  if (getK() < 1 || getK() > experts)
    return emitOpError("k must be in [1, ") << experts << "], got " << getK();
  if (getScoring() != "softmax" && getScoring() != "sigmoid")
    return emitOpError("scoring must be \"softmax\" or \"sigmoid\", got \"")
           << getScoring() << "\"";
  bool sigmoid = getScoring() == "sigmoid";
  int64_t groups = getGroups(), topkGroups = getTopkGroups();
  if (!sigmoid && (groups != 1 || getBias()))
    return emitOpError("bias and groups are for sigmoid scoring");
  if (groups < 1 || experts % groups != 0 || (groups > 1 && experts / groups < 2))
    return emitOpError("groups must divide the ")
           << experts << " experts into groups of at least 2, got " << groups;
  if (topkGroups < 1 || topkGroups > groups)
    return emitOpError("topk_groups must be in [1, groups], got ") << topkGroups;
  if (groups > 1 && getK() > topkGroups * (experts / groups))
    return emitOpError("k = ") << getK() << " exceeds the " << topkGroups * (experts / groups)
                               << " experts of the kept groups";
  if (auto bias = getBias(); bias && static_cast<int64_t>(bias->size()) != experts)
    return emitOpError("bias must have one value per expert (") << experts << "), got "
                                                                << bias->size();
  if (!std::isfinite(getScaling().convertToFloat()))
    return emitOpError("scaling must be finite");
  auto weights = rankedType(getWeights());
  auto ids = rankedType(getExpertIds());
  if (weights.getShape() != ids.getShape() || weights.getRank() != 2 ||
      weights.getDimSize(1) != getK() ||
      weights.getDimSize(0) != logits.getDimSize(0))
    return emitOpError("results must both be [tokens, k]");
  if (weights.getElementType() != logits.getElementType())
    return emitOpError("weights must have the logits' element type");
  if (!ids.getElementType().isInteger(64))
    return emitOpError("expert ids must be i64");
  return success();
}

//===----------------------------------------------------------------------===//
// ExpertsOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertsOp::verify() {
  auto x = rankedType(getInput());
  auto fc1 = rankedType(getFc1());
  auto fc2 = rankedType(getFc2());
  if (x.getRank() != 2)
    return emitOpError("input must be [tokens, hidden]");
  if (fc1.getRank() != 3 || fc2.getRank() != 3 || !fc1.hasStaticShape() ||
      !fc2.hasStaticShape())
    return emitOpError("fc1 and fc2 must be static rank-3 weights");
  int64_t experts = fc1.getDimSize(0), hidden = fc2.getDimSize(1),
          inter = fc2.getDimSize(2);
  StringRef act = getActivation();
  if (act != "relu" && act != "gelu" && act != "silu" && act != "swiglu" &&
      act != "identity")
    return emitOpError("unknown activation \"") << act << "\"";
  int64_t fusion = getSwigluFusion();
  if (fusion < 0 || fusion > 2)
    return emitOpError("swiglu_fusion must be 0, 1 or 2");
  bool swiglu = act == "swiglu";
  bool packedSwiglu = swiglu && fusion != 0;
  int64_t fc1Rows = packedSwiglu ? 2 * inter : inter;
  if (fc2.getDimSize(0) != experts || fc1.getDimSize(1) != fc1Rows ||
      fc1.getDimSize(2) != hidden)
    return emitOpError("fc1 must be [")
           << experts << ", " << fc1Rows << ", " << hidden << "] given fc2 "
           << fc2;
  if (x.getDimSize(1) != hidden)
    return emitOpError("input hidden size ")
           << x.getDimSize(1) << " does not match the experts' " << hidden;
  bool needFc3 = swiglu && fusion == 0;
  if (needFc3 != static_cast<bool>(getFc3()))
    return emitOpError(needFc3 ? "swiglu with swiglu_fusion = 0 needs fc3"
                               : "fc3 is only used by swiglu with swiglu_fusion = 0");
  if (getFc3Bias() && !getFc3())
    return emitOpError("fc3_bias without fc3");
  if (auto fc3 = rankedType(getFc3())) {
    if (fc3.getShape() != ArrayRef<int64_t>{experts, inter, hidden})
      return emitOpError("fc3 must be [") << experts << ", " << inter << ", "
                                          << hidden << "]";
  }
  auto checkBias = [&](Value bias, int64_t rows, StringRef name) -> LogicalResult {
    auto type = rankedType(bias);
    if (type && type.getShape() != ArrayRef<int64_t>{experts, rows})
      return emitOpError() << name << " must be [" << experts << ", " << rows
                           << "]";
    return success();
  };
  if (failed(checkBias(getFc1Bias(), fc1Rows, "fc1_bias")) ||
      failed(checkBias(getFc2Bias(), hidden, "fc2_bias")) ||
      failed(checkBias(getFc3Bias(), inter, "fc3_bias")))
    return failure();
  auto weights = rankedType(getWeights());
  auto ids = rankedType(getExpertIds());
  if (weights.getRank() != 2 || weights.getShape() != ids.getShape() ||
      weights.getDimSize(0) != x.getDimSize(0))
    return emitOpError("weights and expert_ids must both be [tokens, k]");
  if (rankedType(getOutput()).getShape() != x.getShape())
    return emitOpError("the result must have the input's shape");
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  auto x = rankedType(getInput());
  auto w = rankedType(getWeight());
  if (w.getRank() != 2 || !w.hasStaticShape())
    return emitOpError("weight must be a static matrix");
  if (x.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t k = getTransposeWeight() ? w.getDimSize(1) : w.getDimSize(0);
  int64_t n = getTransposeWeight() ? w.getDimSize(0) : w.getDimSize(1);
  if (x.getShape().back() != k)
    return emitOpError("input inner size ")
           << x.getShape().back() << " does not match the weight's " << k;
  if (auto b = rankedType(getBias()))
    if (b.getShape() != ArrayRef<int64_t>{n})
      return emitOpError("bias must be [") << n << "]";
  auto y = rankedType(getOutput());
  if (y.getShape().drop_back() != x.getShape().drop_back() ||
      y.getShape().back() != n)
    return emitOpError("result shape must be the input's with the last dim ")
           << n;
  return success();
}

//===----------------------------------------------------------------------===//
// RmsNormOp
//===----------------------------------------------------------------------===//

LogicalResult RmsNormOp::verify() {
  auto x = rankedType(getInput());
  auto y = rankedType(getOutput());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= x.getRank())
    return emitOpError("axis ") << axis << " is out of range for rank " << x.getRank();
  if (!isa<FloatType>(x.getElementType()) || !isa<FloatType>(y.getElementType()))
    return emitOpError("input and result must be float tensors");
  if (y.getShape() != x.getShape())
    return emitOpError("result shape must be the input's");
  ArrayRef<int64_t> normalized = x.getShape().drop_front(axis);
  if (llvm::any_of(normalized, ShapedType::isDynamic))
    return emitOpError("the normalized axes must be static");
  if (auto s = rankedType(getScale())) {
    if (s.getShape() != normalized)
      return emitOpError("scale must have the shape of the normalized axes, ")
             << RankedTensorType::get(normalized, s.getElementType()) << ", got " << s;
    if (!isa<FloatType>(s.getElementType()))
      return emitOpError("scale must be a float tensor");
  }
  if (!(getEpsilon().convertToDouble() >= 0.0))
    return emitOpError("epsilon must be >= 0");
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getKvHeads();
  if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0)
    return emitOpError("num_heads must be a positive multiple of kv_heads");
  auto pastKey = rankedType(getPastKey());
  if (pastKey.getRank() != 4 || !pastKey.hasStaticShape() || pastKey.getDimSize(1) != kvHeads)
    return emitOpError("past_key must be static [batch, kv_heads, capacity, head_size], got ")
           << pastKey;
  int64_t batch = pastKey.getDimSize(0), headSize = getHeadSize();
  for (Value v : {getPastValue(), getPresentKey(), getPresentValue()})
    if (v.getType() != pastKey)
      return emitOpError("past_value, present_key and present_value must have past_key's type ")
             << pastKey << ", got " << v.getType();
  auto query = rankedType(getQuery());
  bool packed = !getKey();
  int64_t width = (packed ? heads + 2 * kvHeads : heads) * headSize;
  if (query.getRank() != 3 || query.getDimSize(0) != batch || query.getDimSize(2) != width)
    return emitOpError("query must be [") << batch << ", S, " << width << "], got " << query;
  if (!getKey() != !getValue())
    return emitOpError("key and value must both be present or both absent");
  for (Value v : {getKey(), getValue()})
    if (auto t = rankedType(v);
        t && (t.getRank() != 3 || t.getDimSize(0) != batch ||
              t.getDimSize(1) != query.getDimSize(1) || t.getDimSize(2) != kvHeads * headSize))
      return emitOpError("key and value must be [") << batch << ", S, " << kvHeads * headSize
                                                    << "], got " << t;
  auto output = rankedType(getOutput());
  if (output.getShape() != ArrayRef<int64_t>{batch, query.getDimSize(1), heads * headSize} ||
      output.getElementType() != query.getElementType())
    return emitOpError("output must be [") << batch << ", S, " << heads * headSize << "] of "
                                           << query.getElementType() << ", got " << output;
  auto seqlens = rankedType(getSeqlensK());
  if (seqlens.getShape() != ArrayRef<int64_t>{batch} || !seqlens.getElementType().isInteger(32))
    return emitOpError("seqlens_k must be i32 [") << batch << "], got " << seqlens;
  auto total = rankedType(getTotalSequenceLength());
  if (!total.hasStaticShape() || total.getNumElements() != 1 ||
      !total.getElementType().isInteger(32))
    return emitOpError("total_sequence_length must be one i32, got ") << total;
  if (!getCosCache() != !getSinCache())
    return emitOpError("cos_cache and sin_cache must both be present or both absent");
  if (auto cos = rankedType(getCosCache())) {
    if (cos.getRank() != 2 || !cos.hasStaticShape() || cos.getDimSize(1) < 1 ||
        2 * cos.getDimSize(1) > headSize || rankedType(getSinCache()) != cos ||
        !isa<FloatType>(cos.getElementType()))
      return emitOpError("cos_cache and sin_cache must be float [rows, rotary_dim / 2] with "
                         "rotary_dim <= head size ")
             << headSize;
  }
  if (!isa<FloatType>(query.getElementType()) || !isa<FloatType>(pastKey.getElementType()))
    return emitOpError("query and the cache must be float tensors");
  if (!(getSoftcap().convertToDouble() >= 0.0))
    return emitOpError("softcap must be >= 0");
  return success();
}

//===----------------------------------------------------------------------===//
// SelfAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult SelfAttentionOp::verify() {
  auto query = rankedType(getQuery()), key = rankedType(getKey()),
       value = rankedType(getValue()), output = rankedType(getOutput());
  for (auto [name, t] : {std::pair{"query", query}, {"key", key}, {"value", value},
                         {"output", output}})
    if (t.getRank() != 4 || !isa<FloatType>(t.getElementType()))
      return emitOpError() << name << " must be a rank-4 float tensor, got " << t;
  int64_t batch = query.getDimSize(0), heads = query.getDimSize(1);
  int64_t seq = query.getDimSize(2), headSize = query.getDimSize(3);
  int64_t kvHeads = key.getDimSize(1), valueSize = value.getDimSize(3);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) || kvHeads < 1 ||
      heads % kvHeads != 0)
    return emitOpError("query heads must be a static positive multiple of key heads, got ")
           << heads << " and " << kvHeads;
  if (key.getShape() != ArrayRef<int64_t>{batch, kvHeads, seq, headSize})
    return emitOpError("key must be [") << batch << ", KV, S, " << headSize << "], got " << key;
  if (value.getShape() != ArrayRef<int64_t>{batch, kvHeads, seq, valueSize})
    return emitOpError("value must be [") << batch << ", " << kvHeads << ", S, Dv], got "
                                          << value;
  if (output.getShape() != ArrayRef<int64_t>{batch, heads, seq, valueSize} ||
      output.getElementType() != query.getElementType())
    return emitOpError("output must be [") << batch << ", " << heads << ", S, " << valueSize
                                           << "] of " << query.getElementType() << ", got "
                                           << output;
  if (key.getElementType() != query.getElementType() ||
      value.getElementType() != query.getElementType())
    return emitOpError("query, key and value must share one element type");
  if (auto sinks = rankedType(getSinks());
      sinks && (sinks.getShape() != ArrayRef<int64_t>{heads} || !sinks.getElementType().isF32()))
    return emitOpError("sinks must be f32 [") << heads << "], got " << sinks;
  if (!(getSoftcap().convertToDouble() >= 0.0))
    return emitOpError("softcap must be >= 0");
  if (getWindow() < 0)
    return emitOpError("window must be >= 0");
  return success();
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  auto x = rankedType(getInput());
  int64_t head = getHeadSize(), rotary = getRotaryDim();
  if (x.getRank() != (getHeadsFirst() ? 4 : 3))
    return emitOpError("input must be [batch, seq, heads * head_size] or, with heads_first, "
                       "[batch, heads, seq, head_size], got ")
           << x;
  int64_t width = x.getShape().back();
  if (head < 1 || ShapedType::isDynamic(width) || width % head != 0 ||
      (getHeadsFirst() && width != head))
    return emitOpError("head_size ") << head << " does not divide the input's last dim " << width;
  if (rotary < 2 || rotary % 2 != 0 || rotary > head)
    return emitOpError("rotary_dim must be even, >= 2 and at most head_size, got ") << rotary;
  auto cos = rankedType(getCosCache());
  if (cos.getRank() != 2 || !cos.hasStaticShape() || cos.getDimSize(1) * 2 != rotary ||
      rankedType(getSinCache()) != cos || !isa<FloatType>(cos.getElementType()))
    return emitOpError("cos_cache and sin_cache must be float [rows, ") << rotary / 2 << "]";
  auto pos = rankedType(getPositions());
  int64_t batch = x.getDimSize(0), seq = x.getDimSize(getHeadsFirst() ? 2 : 1);
  bool perToken = pos.getRank() == 2 && pos.getDimSize(0) == batch && pos.getDimSize(1) == seq;
  bool offset = pos.getRank() == 1 && pos.getDimSize(0) == 1;
  if (!pos.getElementType().isInteger(64) || !(perToken || offset))
    return emitOpError("positions must be i64 [") << batch << ", S] or [1], got " << pos;
  if (rankedType(getOutput()) != x)
    return emitOpError("result must have the input's type");
  return success();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  auto q = rankedType(getInput());
  auto scale = rankedType(getScale());
  auto y = rankedType(getOutput());
  // fp8 weights (E4M3FN) are floats with a scale, read by the same kernels:
  // 8 bits, no zero point.
  bool fp8 = isa<Float8E4M3FNType>(q.getElementType());
  if (!isa<IntegerType>(q.getElementType()) && !fp8)
    return emitOpError("input must be an integer or f8E4M3FN tensor, got ") << q;
  if (!isa<FloatType>(scale.getElementType()) || !isa<FloatType>(y.getElementType()))
    return emitOpError("scale and result must be float tensors");
  if (!q.hasStaticShape() || !y.hasStaticShape())
    return emitOpError("input must be static (a weight)");
  int64_t bits = getBits();
  if (bits != 8 && bits != 4)
    return emitOpError("bits must be 8 or 4, got ") << bits;
  if (fp8 && bits != 8)
    return emitOpError("f8E4M3FN values take 8 bits, got bits = ") << bits;
  if (fp8 && getZeroPoint())
    return emitOpError("f8E4M3FN values have no zero point");
  SmallVector<int64_t> stored(y.getShape());
  if (bits == 4) {
    if (!q.getElementType().isInteger(8) || y.getRank() < 1)
      return emitOpError("packed 4-bit values must be stored as i8");
    stored.back() = (stored.back() + 1) / 2;
  }
  if (q.getShape() != ArrayRef<int64_t>(stored))
    return emitOpError(bits == 4 ? "the input must have the result's shape with the last "
                                   "dimension halved (two 4-bit values per byte)"
                                 : "the result must have the input's shape");
  int64_t axis = getAxis(), block = getBlockSize();
  if (axis < 0 || axis >= y.getRank())
    return emitOpError("axis ") << axis << " is out of range for rank " << y.getRank();
  if (bits == 4 && axis != y.getRank() - 1)
    return emitOpError("packed 4-bit values must be blocked along the last axis");
  if (block < 1)
    return emitOpError("block_size must be >= 1, got ") << block;
  SmallVector<int64_t> want(y.getShape());
  want[axis] = (want[axis] + block - 1) / block;
  if (scale.getShape() != ArrayRef<int64_t>(want))
    return emitOpError("scale must be ")
           << RankedTensorType::get(want, scale.getElementType()) << " for block_size " << block
           << " along axis " << axis << ", got " << scale;
  if (auto zp = rankedType(getZeroPoint())) {
    if (bits == 4)
      return emitOpError("packed 4-bit values have no zero point");
    if (zp.getShape() != scale.getShape() || zp.getElementType() != q.getElementType())
      return emitOpError("zero_point must have the scale's shape and the input's type");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ElementwiseOp
//===----------------------------------------------------------------------===//

void ElementwiseOp::build(OpBuilder &builder, OperationState &state,
                          Type resultType, ValueRange inputs) {
  state.addOperands(inputs);
  state.addTypes(resultType);
  Region *body = state.addRegion();
  Block *block = new Block();
  for (Value input : inputs)
    block->addArgument(cast<ShapedType>(input.getType()).getElementType(),
                       state.location);
  body->push_back(block);
}

LogicalResult ElementwiseOp::verify() {
  auto result = rankedType(getOutput());
  Block &block = getBody().front();
  if (block.getNumArguments() != getInputs().size())
    return emitOpError("body must take one scalar per input");
  for (auto [input, arg] : llvm::zip(getInputs(), block.getArguments())) {
    auto type = rankedType(input);
    if (arg.getType() != type.getElementType())
      return emitOpError("body argument type ")
             << arg.getType() << " does not match input element type "
             << type.getElementType();
    // numpy broadcasting: align from the right; each input dim is 1 or equal.
    if (type.getRank() > result.getRank())
      return emitOpError("input rank exceeds the result rank");
    int64_t offset = result.getRank() - type.getRank();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      int64_t in = type.getDimSize(d), out = result.getDimSize(d + offset);
      if (in != 1 && in != out)
        return emitOpError("input ") << type << " does not broadcast to "
                                     << result;
    }
  }
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return emitOpError("body must end with moe.yield");
  if (yield.getValue().getType() != result.getElementType())
    return emitOpError("yielded type must be the result element type");
  return success();
}
