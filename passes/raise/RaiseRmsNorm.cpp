//===- RaiseRmsNorm.cpp - RMS normalization, whatever its ONNX form ---------===//
//
// Every RMSNorm in an exported decoder becomes one moe.rms_norm, so that it
// runs as one kernel (one read of the row, f32 statistics) instead of the
// five or six elementwise and reduction launches of its decomposed form:
//
//   - onnx RMSNormalization (opset 23) and onnxruntime's
//     SimplifiedLayerNormalization;
//   - com.microsoft.SkipSimplifiedLayerNormalization: the residual add
//     (+ bias) stays an onnx.Add (later fused like any elementwise op), its
//     sum is the op's fourth output;
//   - the decomposed form that torch.onnx writes for LlamaRMSNorm-style
//     modules: x * 1/sqrt(mean(x^2, trailing axes) + eps) [* w], with the
//     square as Pow(x, 2) or Mul(x, x), the reciprocal square root as
//     Reciprocal(Sqrt), Div(1, Sqrt) or a Div of x by the Sqrt, an optional
//     Cast of the normalized value, and the weight on either side.
//
// A chain whose intermediate values are used elsewhere, that reduces other
// than the trailing axes, squares with another exponent, or drops the kept
// dims is not an RMSNorm (or not only one) and is left alone.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>

namespace moec {
#define GEN_PASS_DEF_MOECRAISERMSNORM
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

RankedTensorType rankedType(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

// The op defining `v` if it is the ONNX op `type`, else null.
Operation *definedBy(Value v, StringRef type) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  if (!def || def->getDialect()->getNamespace() != "onnx" || moec::onnxOpType(def) != type)
    return nullptr;
  return def;
}

// The single user of `v` if it is the ONNX op `type` and `v` has no other use.
Operation *onlyUser(Value v, StringRef type) {
  if (!v.hasOneUse())
    return nullptr;
  Operation *user = *v.getUsers().begin();
  if (user->getDialect()->getNamespace() != "onnx" || moec::onnxOpType(user) != type)
    return nullptr;
  return user;
}

// The value of a one-element float constant.
std::optional<double> scalarConstant(Value v) {
  ElementsAttr elements = moec::getConstantElements(v);
  if (!elements || elements.getNumElements() != 1)
    return std::nullopt;
  return moec::getElementAsDouble(elements, 0);
}

// For a binary op with `v` as one operand, the other operand.
Value otherOperand(Operation *binary, Value v) {
  return binary->getOperand(0) == v ? binary->getOperand(1) : binary->getOperand(0);
}

// `scale` reshaped (at compile time if it must be) to exactly `normalized`,
// or null when that cannot be done: a run-time scale that only broadcasts.
Value scaleOfShape(OpBuilder &b, Value scale, ArrayRef<int64_t> normalized) {
  auto type = rankedType(scale);
  if (!type)
    return {};
  if (type.getShape() == normalized)
    return scale;
  // A scale that broadcasts (fewer dims or size-1 dims): materialize it.
  ElementsAttr elements = moec::getConstantElements(scale);
  if (!elements || llvm::any_of(normalized, ShapedType::isDynamic))
    return {};
  auto shape = type.getShape();
  if (shape.size() > normalized.size())
    return {};
  int64_t count = 1;
  for (int64_t d : normalized)
    count *= d;
  SmallVector<double> values(count);
  for (int64_t i = 0; i < count; ++i) {
    // Index into the right-aligned, broadcast scale.
    int64_t rest = i, source = 0, stride = 1;
    for (int64_t d = static_cast<int64_t>(normalized.size()) - 1,
                 s = static_cast<int64_t>(shape.size()) - 1;
         d >= 0; --d, --s) {
      int64_t coordinate = rest % normalized[d];
      rest /= normalized[d];
      if (s < 0)
        continue;
      if (shape[s] != 1 && shape[s] != normalized[d])
        return {};
      if (shape[s] != 1)
        source += coordinate * stride;
      stride *= shape[s];
    }
    auto value = moec::getElementAsDouble(elements, source);
    if (!value)
      return {};
    values[i] = *value;
  }
  auto newType = RankedTensorType::get(normalized, type.getElementType());
  auto floatType = dyn_cast<FloatType>(type.getElementType());
  if (!floatType)
    return {};
  SmallVector<APFloat> floats;
  for (double v : values) {
    APFloat f(v);
    bool lost;
    f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    floats.push_back(f);
  }
  return moec::onnx::ConstantOp::create(b, scale.getLoc(), newType,
                                        DenseElementsAttr::get(newType, floats))
      .getOutput();
}

class Raiser {
public:
  explicit Raiser(func::FuncOp func) : func(func) {}

  LogicalResult run() {
    // Only the ops a match starts from: raising a decomposed chain erases
    // other ops, none of which is a starting point.
    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) {
      if (!op->getDialect() || op->getDialect()->getNamespace() != "onnx")
        return;
      StringRef type = moec::onnxOpType(op);
      if (type == "RMSNormalization" || type == "SimplifiedLayerNormalization" ||
          type == "SkipSimplifiedLayerNormalization" || type == "ReduceMean")
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      StringRef type = moec::onnxOpType(op);
      LogicalResult result = success();
      if (type == "RMSNormalization" || type == "SimplifiedLayerNormalization")
        result = raiseExplicit(op);
      else if (type == "SkipSimplifiedLayerNormalization")
        result = raiseSkip(op);
      else if (type == "ReduceMean")
        raiseDecomposed(op);
      if (failed(result))
        return failure();
    }
    return success();
  }

private:
  func::FuncOp func;

  // moe.rms_norm of `x` over [axis, rank), scaled by `scale` (may be null),
  // producing `resultType`. A scale that cannot be given the normalized shape
  // is applied by an onnx.Mul after the norm instead.
  Value buildNorm(OpBuilder &b, Location loc, Value x, Value scale, int64_t axis, double eps,
                  Type resultType) {
    auto xType = rankedType(x);
    ArrayRef<int64_t> normalized = xType.getShape().drop_front(axis);
    Value exactScale = scale ? scaleOfShape(b, scale, normalized) : Value();
    Type normType = resultType;
    if (scale && !exactScale)
      normType = RankedTensorType::get(xType.getShape(),
                                       cast<ShapedType>(resultType).getElementType());
    Value norm = moe::RmsNormOp::create(b, loc, normType, x, exactScale,
                                        b.getI64IntegerAttr(axis),
                                        b.getF32FloatAttr(static_cast<float>(eps)));
    if (scale && !exactScale)
      norm = moec::onnx::MulOp::create(b, loc, resultType, norm, scale).getResult();
    return norm;
  }

  LogicalResult raiseExplicit(Operation *op) {
    StringRef type = moec::onnxOpType(op);
    if (op->getNumResults() > 1 && !op->getResult(1).use_empty())
      return op->emitError() << "op '" << type
                             << "': the inv_std_var output is not supported";
    Value x = op->getOperand(0), scale = op->getOperand(1);
    auto xType = rankedType(x);
    if (!xType)
      return op->emitError() << "op '" << type << "': the input has no known rank";
    int64_t axis = moec::getIntAttr(op, "axis", -1);
    if (axis < 0)
      axis += xType.getRank();
    if (llvm::any_of(xType.getShape().drop_front(axis), ShapedType::isDynamic))
      return op->emitError() << "op '" << type
                             << "': normalizing over the token dimension is not supported";
    OpBuilder b(op);
    Value norm = buildNorm(b, op->getLoc(), x, scale, axis, moec::getFloatAttr(op, "epsilon", 1e-5),
                           op->getResult(0).getType());
    op->getResult(0).replaceAllUsesWith(norm);
    op->erase();
    return success();
  }

  LogicalResult raiseSkip(Operation *op) {
    for (unsigned i : {1u, 2u})
      if (op->getNumResults() > i && !op->getResult(i).use_empty())
        return op->emitError() << "op 'SkipSimplifiedLayerNormalization': the "
                               << (i == 1 ? "mean" : "inv_std_var")
                               << " output is not supported";
    Value input = op->getOperand(0), skip = op->getOperand(1), gamma = op->getOperand(2);
    Value bias = moec::getOnnxInput(op, 3);
    auto xType = rankedType(input);
    if (!xType || xType.getRank() < 1 || xType.isDynamicDim(xType.getRank() - 1))
      return op->emitError("op 'SkipSimplifiedLayerNormalization': the hidden size must be "
                           "static");
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value sum = moec::onnx::AddOp::create(b, loc, xType, input, skip).getResult();
    if (bias)
      sum = moec::onnx::AddOp::create(b, loc, xType, sum, bias).getResult();
    Value norm = buildNorm(b, loc, sum, gamma, xType.getRank() - 1,
                           moec::getFloatAttr(op, "epsilon", 1e-5), op->getResult(0).getType());
    op->getResult(0).replaceAllUsesWith(norm);
    if (op->getNumResults() > 3)
      op->getResult(3).replaceAllUsesWith(sum);
    op->erase();
    return success();
  }

  // Matches the decomposed chain from its ReduceMean; leaves it alone (no
  // diagnostic) on any mismatch.
  void raiseDecomposed(Operation *mean) {
    auto meanType = rankedType(mean->getResult(0));
    Value squared = mean->getOperand(0);
    auto sqType = rankedType(squared);
    if (!meanType || !sqType || moec::getIntAttr(mean, "keepdims", 1) != 1)
      return;
    int64_t rank = sqType.getRank();
    std::vector<int64_t> axes;
    if (Value axesInput = moec::getOnnxInput(mean, 1)) {
      auto known = moec::getKnownInts(axesInput);
      if (!known)
        return;
      axes = *known;
    } else if (auto attr = moec::getIntsAttr(mean, "axes")) {
      axes = *attr;
    }
    if (axes.empty())
      return; // all axes (or noop): not a per-row norm
    for (int64_t &a : axes)
      a = a < 0 ? a + rank : a;
    llvm::sort(axes);
    int64_t axis = axes.front();
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != axis + static_cast<int64_t>(i))
        return;
    if (axes.back() != rank - 1 ||
        llvm::any_of(sqType.getShape().drop_front(axis), ShapedType::isDynamic))
      return;

    // x^2
    Value x;
    Operation *square = squared.getDefiningOp();
    if (!square || !squared.hasOneUse())
      return;
    if (Operation *pow = definedBy(squared, "Pow")) {
      auto exponent = scalarConstant(pow->getOperand(1));
      if (!exponent || *exponent != 2.0)
        return;
      x = pow->getOperand(0);
    } else if (Operation *mul = definedBy(squared, "Mul")) {
      if (mul->getOperand(0) != mul->getOperand(1))
        return;
      x = mul->getOperand(0);
    } else {
      return;
    }
    auto xType = rankedType(x);
    if (!xType || xType != sqType || !isa<FloatType>(xType.getElementType()))
      return;

    // + eps, sqrt
    Operation *add = onlyUser(mean->getResult(0), "Add");
    if (!add)
      return;
    auto eps = scalarConstant(otherOperand(add, mean->getResult(0)));
    if (!eps || *eps < 0 || rankedType(add->getResult(0)) != meanType)
      return;
    Operation *sqrt = onlyUser(add->getResult(0), "Sqrt");
    if (!sqrt)
      return;
    Value rms = sqrt->getResult(0);

    // x / rms, x * (1 / rms) or x * Reciprocal(rms)
    SmallVector<Operation *> chain{square, mean, add, sqrt};
    Operation *normalize = nullptr;
    if (Operation *div = onlyUser(rms, "Div")) {
      if (div->getOperand(1) != rms)
        return;
      if (div->getOperand(0) == x) {
        normalize = div;
      } else {
        auto one = scalarConstant(div->getOperand(0));
        if (!one || *one != 1.0)
          return;
        chain.push_back(div);
        normalize = onlyUser(div->getResult(0), "Mul");
        if (!normalize || otherOperand(normalize, div->getResult(0)) != x)
          return;
      }
    } else if (Operation *reciprocal = onlyUser(rms, "Reciprocal")) {
      chain.push_back(reciprocal);
      normalize = onlyUser(reciprocal->getResult(0), "Mul");
      if (!normalize || otherOperand(normalize, reciprocal->getResult(0)) != x)
        return;
    } else {
      return;
    }
    if (rankedType(normalize->getResult(0)) != xType)
      return;
    chain.push_back(normalize);

    // optional Cast, optional * w
    Value result = normalize->getResult(0);
    if (Operation *cast = onlyUser(result, "Cast")) {
      chain.push_back(cast);
      result = cast->getResult(0);
    }
    Value scale;
    if (Operation *mul = onlyUser(result, "Mul")) {
      Value w = otherOperand(mul, result);
      auto wType = rankedType(w);
      auto mulType = rankedType(mul->getResult(0));
      // The weight must not broadcast the result beyond x's shape.
      if (wType && mulType && mulType.getShape() == xType.getShape() &&
          wType.getRank() <= rank - axis && w != result) {
        scale = w;
        chain.push_back(mul);
        result = mul->getResult(0);
      }
    }

    OpBuilder b(chain.back());
    Value norm = buildNorm(b, chain.back()->getLoc(), x, scale, axis, *eps, result.getType());
    result.replaceAllUsesWith(norm);
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }
};

struct RaiseRmsNormPass : moec::impl::MoecRaiseRmsNormBase<RaiseRmsNormPass> {
  using MoecRaiseRmsNormBase::MoecRaiseRmsNormBase;
  void runOnOperation() override {
    if (failed(Raiser(getOperation()).run()))
      signalPassFailure();
  }
};

} // namespace
