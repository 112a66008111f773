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

} // namespace moec::onnx
