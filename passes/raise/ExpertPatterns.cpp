//===- ExpertPatterns.cpp - pieces shared by the MoE-block raising passes ---===//
#include "passes/raise/ExpertPatterns.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;
namespace moe = moec::moe;

namespace moec::raise {

RankedTensorType rankedType(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

Type elementTypeOf(Value v) {
  auto shaped = v ? dyn_cast<ShapedType>(v.getType()) : nullptr;
  return shaped ? shaped.getElementType() : Type();
}

bool isNoopCast(Operation *op) {
  if (!isOnnxOp(op, "Cast"))
    return false;
  auto to = op->getAttrOfType<TypeAttr>("to");
  return to && to.getValue() == elementTypeOf(op->getOperand(0));
}

Value skipNoopCasts(Value v, SmallVectorImpl<Operation *> *skipped) {
  while (Operation *def = v ? v.getDefiningOp() : nullptr) {
    if (!isNoopCast(def))
      break;
    if (skipped)
      skipped->push_back(def);
    v = def->getOperand(0);
  }
  return v;
}

bool isLastAxis(int64_t axis, int64_t rank) { return axis == rank - 1 || axis == -1; }

bool reducesLastAxis(Operation *reduce, int64_t keepdims) {
  auto in = rankedType(reduce->getOperand(0));
  if (!in || in.getRank() != 2 || getIntAttr(reduce, "keepdims", 1) != keepdims)
    return false;
  std::optional<std::vector<int64_t>> axes;
  if (Value axesInput = getOnnxInput(reduce, 1))
    axes = getKnownInts(axesInput);
  else
    axes = getIntsAttr(reduce, "axes");
  return axes && axes->size() == 1 && isLastAxis(axes->front(), 2);
}

bool isZeroConstant(Value v) {
  ElementsAttr elements = getConstantElements(v);
  if (!elements || elements.getNumElements() < 1 || elements.getNumElements() > 64)
    return false;
  for (int64_t i = 0; i < elements.getNumElements(); ++i) {
    auto value = getElementAsDouble(elements, i);
    if (!value || *value != 0.0)
      return false;
  }
  return true;
}

std::optional<int64_t> scalarInt(Value v) {
  ElementsAttr elements = getConstantElements(v);
  if (!elements || elements.getNumElements() != 1 ||
      !isa<IntegerType>(elements.getElementType()))
    return std::nullopt;
  auto known = getConstantInts(elements);
  if (!known || known->size() != 1)
    return std::nullopt;
  return known->front();
}

Value matchSilu(Value v) {
  Operation *mul = definedByOnnx(v, "Mul");
  if (!mul)
    return {};
  for (unsigned i = 0; i < 2; ++i) {
    Value g = mul->getOperand(i), s = mul->getOperand(1 - i);
    Operation *sigmoid = definedByOnnx(s, "Sigmoid");
    if (sigmoid && sigmoid->getOperand(0) == g && s.hasOneUse() &&
        std::distance(g.use_begin(), g.use_end()) == 2)
      return g;
  }
  return {};
}

std::optional<SoftmaxRouter> matchRouter(Value weights, Value ids, int64_t experts) {
  weights = skipNoopCasts(weights);
  auto expertCountMatches = [&](RankedTensorType logits) {
    return logits && logits.getRank() == 2 && !logits.isDynamicDim(1) &&
           (experts < 0 || logits.getDimSize(1) == experts);
  };
  if (auto raised = ids.getDefiningOp<moe::RouterOp>()) {
    if (raised.getExpertIds() != ids || raised.getWeights() != weights ||
        !expertCountMatches(rankedType(raised.getLogits())))
      return std::nullopt;
    SoftmaxRouter router;
    router.logits = raised.getLogits();
    router.k = raised.getK();
    router.existing = raised;
    return router;
  }
  Operation *topk = definedByOnnx(ids, "TopK");
  if (!topk || topk->getResult(1) != ids)
    return std::nullopt;
  auto inType = rankedType(topk->getOperand(0));
  if (!expertCountMatches(inType) || !isLastAxis(getIntAttr(topk, "axis", -1), 2) ||
      getIntAttr(topk, "largest", 1) != 1)
    return std::nullopt;
  int64_t count = inType.getDimSize(1);
  auto k = getKnownInts(topk->getOperand(1));
  if (!k || k->size() != 1 || k->front() < 1 || k->front() > count)
    return std::nullopt;
  SoftmaxRouter router;
  router.k = k->front();
  Value values = topk->getResult(0);
  auto softmaxOverLast = [](Operation *softmax) {
    auto type = rankedType(softmax->getOperand(0));
    return type && type.getRank() == 2 && isLastAxis(getIntAttr(softmax, "axis", -1), 2);
  };
  if (Operation *softmax = definedByOnnx(skipNoopCasts(topk->getOperand(0)), "Softmax")) {
    // Softmax over all experts, then top-k; renormalized or not.
    if (!softmaxOverLast(softmax))
      return std::nullopt;
    router.logits = softmax->getOperand(0);
    if (weights == values) {
      router.normalize = false;
    } else {
      Operation *div = definedByOnnx(weights, "Div");
      Operation *sum = div ? definedByOnnx(div->getOperand(1), "ReduceSum") : nullptr;
      if (!div || skipNoopCasts(div->getOperand(0)) != values || !sum ||
          skipNoopCasts(sum->getOperand(0)) != values ||
          !reducesLastAxis(sum, 1))
        return std::nullopt;
      router.normalize = true;
    }
  } else {
    // Top-k of the logits, then a softmax over the k of them: the same
    // experts (softmax is monotonic) and the renormalized probabilities.
    Operation *overK = definedByOnnx(weights, "Softmax");
    if (!overK || skipNoopCasts(overK->getOperand(0)) != values || !softmaxOverLast(overK))
      return std::nullopt;
    router.logits = topk->getOperand(0);
    router.normalize = true;
  }
  return router;
}

moe::RouterOp getOrCreateRouter(OpBuilder &b, Location loc, const SoftmaxRouter &router) {
  if (router.existing)
    return router.existing;
  auto logitsType = rankedType(router.logits);
  int64_t tokens = logitsType.getDimSize(0);
  auto weightsType = RankedTensorType::get({tokens, router.k}, logitsType.getElementType());
  auto idsType = RankedTensorType::get({tokens, router.k}, b.getI64Type());
  return moe::RouterOp::create(b, loc, weightsType, idsType, router.logits,
                               b.getI64IntegerAttr(router.k), b.getBoolAttr(router.normalize),
                               b.getStringAttr("softmax"));
}

void eraseDeadOnnxOps(Operation *root) {
  llvm::SetVector<Operation *> worklist;
  worklist.insert(root);
  while (!worklist.empty()) {
    Operation *dead = worklist.pop_back_val();
    if (!dead->use_empty())
      continue;
    for (Value operand : dead->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && def->getDialect() && def->getDialect()->getNamespace() == "onnx")
        worklist.insert(def);
    }
    dead->erase();
  }
}

} // namespace moec::raise
