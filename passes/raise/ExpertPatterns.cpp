//===- ExpertPatterns.cpp - pieces shared by the MoE-block raising passes ---===//
#include "passes/raise/ExpertPatterns.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/IR/Verifier.h"

#include "llvm/ADT/SetVector.h"

#include <cstring>

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

namespace {

// A rank-2 float constant, or the Transpose of one (`transposed` set).
ElementsAttr constantMatrix(Value w, bool &transposed) {
  transposed = false;
  if (Operation *t = definedByOnnx(w, "Transpose")) {
    auto perm = getIntsAttr(t, "perm");
    if (perm && *perm != std::vector<int64_t>{1, 0})
      return {};
    transposed = true;
    w = t->getOperand(0);
  }
  ElementsAttr elements = getConstantElements(w);
  auto type = elements ? dyn_cast<RankedTensorType>(elements.getType()) : nullptr;
  if (!type || type.getRank() != 2 || !type.hasStaticShape() ||
      !isa<FloatType>(type.getElementType()))
    return {};
  return elements;
}

// A constant bias of `n` elements: shape [n] or [1, n].
ElementsAttr constantBias(Value b, int64_t n) {
  ElementsAttr elements = getConstantElements(b);
  auto type = elements ? dyn_cast<RankedTensorType>(elements.getType()) : nullptr;
  if (!type || !isa<FloatType>(type.getElementType()))
    return {};
  auto shape = type.getShape();
  bool fits = (shape.size() == 1 && shape[0] == n) ||
              (shape.size() == 2 && shape[0] == 1 && shape[1] == n);
  return fits ? elements : ElementsAttr();
}

// Writes `linear`'s weight as [out, in] rows at `dst` (elements `width` bytes).
bool writeOutIn(const Linear &linear, char *dst, int64_t width) {
  auto bytes = getConstantBytes(linear.weight);
  if (!bytes)
    return false;
  if (linear.outIn) {
    std::memcpy(dst, bytes->data(), bytes->size());
    return true;
  }
  for (int64_t i = 0; i < linear.in; ++i)
    for (int64_t o = 0; o < linear.out; ++o)
      std::memcpy(dst + (o * linear.in + i) * width, bytes->data() + (i * linear.out + o) * width,
                  width);
  return true;
}

} // namespace

std::optional<Linear> matchLinear(Value out, bool rankedValues) {
  Linear linear;
  Value product = out;
  Value biasValue;
  if (Operation *add = definedByOnnx(out, "Add")) {
    for (unsigned i = 0; i < 2 && !biasValue; ++i) {
      Value p = add->getOperand(i), b = add->getOperand(1 - i);
      if ((definedByOnnx(p, "MatMul") || definedByOnnx(p, "Gemm")) && p.hasOneUse() &&
          getConstantElements(b)) {
        product = p;
        biasValue = b;
      }
    }
    if (!biasValue)
      return std::nullopt;
  }
  bool transposed = false;
  Value weight;
  if (Operation *matmul = definedByOnnx(product, "MatMul")) {
    linear.input = matmul->getOperand(0);
    weight = matmul->getOperand(1);
    linear.weight = constantMatrix(weight, transposed);
    linear.outIn = transposed;
  } else if (Operation *gemm = definedByOnnx(product, "Gemm")) {
    if (getIntAttr(gemm, "transA", 0) != 0 || getFloatAttr(gemm, "alpha", 1.0) != 1.0)
      return std::nullopt;
    if (Value c = getOnnxInput(gemm, 2)) {
      if (biasValue || getFloatAttr(gemm, "beta", 1.0) != 1.0)
        return std::nullopt;
      biasValue = c;
    }
    linear.input = getOnnxInput(gemm, 0);
    weight = getOnnxInput(gemm, 1);
    linear.weight = constantMatrix(weight, transposed);
    linear.outIn = transposed != (getIntAttr(gemm, "transB", 0) != 0);
  } else {
    return std::nullopt;
  }
  if (!linear.weight)
    return std::nullopt;
  auto wShape = cast<ShapedType>(linear.weight.getType()).getShape();
  linear.in = linear.outIn ? wShape[1] : wShape[0];
  linear.out = linear.outIn ? wShape[0] : wShape[1];
  Type element = linear.weight.getElementType();
  auto inType = rankedType(linear.input), outType = rankedType(out);
  if ((rankedValues && (!inType || !outType)) || elementTypeOf(linear.input) != element ||
      elementTypeOf(out) != element)
    return std::nullopt;
  // Whatever is ranked must be a matrix of the weight's sizes.
  if ((inType && (inType.getRank() != 2 || inType.getDimSize(1) != linear.in)) ||
      (outType && (outType.getRank() != 2 || outType.getDimSize(1) != linear.out)) ||
      (inType && outType && inType.getDimSize(0) != outType.getDimSize(0)))
    return std::nullopt;
  if (biasValue) {
    linear.bias = constantBias(biasValue, linear.out);
    if (!linear.bias || linear.bias.getElementType() != element)
      return std::nullopt;
  }
  return linear;
}

bool sameShape(const Linear &a, const Linear &b) {
  return a.in == b.in && a.out == b.out && a.weight.getElementType() == b.weight.getElementType() &&
         static_cast<bool>(a.bias) == static_cast<bool>(b.bias);
}

Value stackLinears(OpBuilder &b, Location loc, ArrayRef<const Linear *> linears, bool bias,
                   StringRef key) {
  const Linear &first = *linears.front();
  Type element = first.weight.getElementType();
  int64_t width = storageBytes(element);
  int64_t count = static_cast<int64_t>(linears.size());
  int64_t perExpert = bias ? first.out : first.out * first.in;
  std::vector<char> data(static_cast<size_t>(count * perExpert * width));
  for (int64_t id = 0; id < count; ++id) {
    const Linear &linear = *linears[id];
    if (!sameShape(linear, first))
      return {};
    char *dst = data.data() + id * perExpert * width;
    if (bias) {
      auto bytes = getConstantBytes(linear.bias);
      if (!bytes || static_cast<int64_t>(bytes->size()) != perExpert * width)
        return {};
      std::memcpy(dst, bytes->data(), bytes->size());
    } else if (!writeOutIn(linear, dst, width)) {
      return {};
    }
  }
  SmallVector<int64_t> shape{count, first.out};
  if (!bias)
    shape.push_back(first.in);
  return createBlobConstant(b, loc, RankedTensorType::get(shape, element), data, key);
}

namespace {

// The bytes of a constant [E, R, C] as [E, C, R].
std::optional<std::vector<char>> transposedBytes(Value w) {
  ElementsAttr attr = getConstantElements(w);
  auto bytes = attr ? getConstantBytes(attr) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  auto type = cast<RankedTensorType>(w.getType());
  int64_t experts = type.getDimSize(0), rows = type.getDimSize(1), cols = type.getDimSize(2);
  size_t width = storageBytes(type.getElementType());
  std::vector<char> out(bytes->size());
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        std::memcpy(&out[((e * cols + c) * rows + r) * width],
                    &(*bytes)[((e * rows + r) * cols + c) * width], width);
  return out;
}

// `w` as moe.experts reads it: as it is, or its [E, in, out] `bytes`
// written out as [E, out, in].
Value expertsLayout(OpBuilder &b, Value w, const std::optional<std::vector<char>> &bytes) {
  if (!bytes)
    return w;
  auto type = cast<RankedTensorType>(w.getType());
  auto shape = type.getShape();
  auto flipped = RankedTensorType::get({shape[0], shape[2], shape[1]}, type.getElementType());
  // A splat stays a splat (no blob): its transpose is itself, reshaped.
  auto dense = dyn_cast<DenseElementsAttr>(getConstantElements(w));
  if (dense && dense.isSplat())
    return onnx::ConstantOp::create(b, w.getLoc(), flipped, dense.reshape(flipped)).getOutput();
  return createBlobConstant(b, w.getLoc(), flipped, *bytes, "experts_transposed");
}

} // namespace

LogicalResult replaceByExperts(Operation *root, const SoftmaxRouter &router, Value x,
                               const ExpertWeights &w, const SwigluParams &swiglu) {
  // Read every weight to transpose before anything is built.
  std::optional<std::vector<char>> t1, t2, t3;
  if ((w.fc1InOut && !(t1 = transposedBytes(w.fc1))) ||
      (w.fc2InOut && !(t2 = transposedBytes(w.fc2))) ||
      (w.fc3 && w.fc3InOut && !(t3 = transposedBytes(w.fc3))))
    return success();
  OpBuilder b(root);
  Location loc = root->getLoc();
  Value fc1 = expertsLayout(b, w.fc1, t1), fc2 = expertsLayout(b, w.fc2, t2);
  Value fc3 = w.fc3 ? expertsLayout(b, w.fc3, t3) : Value();
  bool createdRouter = !router.existing;
  moe::RouterOp route = getOrCreateRouter(b, loc, router);
  auto experts = moe::ExpertsOp::create(
      b, loc, x.getType(), x, route.getWeights(), route.getExpertIds(), fc1, w.fc1Bias, fc2,
      w.fc2Bias, fc3, w.fc3Bias, b.getStringAttr("swiglu"), b.getI64IntegerAttr(swiglu.fusion),
      b.getF32FloatAttr(static_cast<float>(swiglu.alpha)),
      b.getF32FloatAttr(static_cast<float>(swiglu.beta)),
      b.getF32FloatAttr(static_cast<float>(swiglu.limit)));
  if (failed(mlir::verify(experts)) || (createdRouter && failed(mlir::verify(route)))) {
    experts->erase();
    if (createdRouter)
      route->erase();
    return failure();
  }
  root->getResult(0).replaceAllUsesWith(experts.getOutput());
  // Every op this erases precedes the root, so raiseEach's forward walk
  // never meets an erased one.
  eraseDeadOnnxOps(root);
  return success();
}

LogicalResult raiseEach(Operation *scope, StringRef type,
                        function_ref<LogicalResult(Operation *)> raise) {
  SmallVector<Operation *> roots;
  scope->walk([&](Operation *op) {
    if (isOnnxOp(op, type))
      roots.push_back(op);
  });
  for (Operation *root : roots)
    if (failed(raise(root)))
      return failure();
  return success();
}

void refreshShapes(func::FuncOp func) {
  func.walk([](onnx::ONNXShapeInferenceOpInterface op) { (void)onnx::inferOrDeferShapes(op); });
  if (!func.isExternal())
    if (Operation *terminator = func.getBody().back().getTerminator())
      func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                     terminator->getOperandTypes()));
}

} // namespace moec::raise
