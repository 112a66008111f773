//===- ExpertActivation.cpp - the gated activation of MoE experts ---------===//
#include "passes/raise/ExpertActivation.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "passes/raise/ExpertPatterns.h"

#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

namespace moec::raise {

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;
using Ints = SmallVector<int64_t>;

std::optional<Ints> known(Value v) {
  auto values = v ? getKnownInts(v) : std::nullopt;
  if (!values)
    return std::nullopt;
  return Ints(values->begin(), values->end());
}

// dims[start:end) as Shape's opset-15 start and end attributes select them.
Ints shapeRange(Operation *shape, ArrayRef<int64_t> dims) {
  int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = getIntAttr(shape, "start", 0), end = getIntAttr(shape, "end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  return Ints(dims.begin() + start, dims.begin() + std::max(start, end));
}
} // namespace

std::optional<double> scalarFloat(Value v) {
  ElementsAttr c = getConstantElements(v);
  if (!c || c.getNumElements() != 1 || !isa<FloatType>(c.getElementType()))
    return std::nullopt;
  return getElementAsDouble(c, 0);
}

std::optional<Ints> ShapeEvaluator::eval(Value v) {
  bool readsOf = false;
  return eval(v, readsOf, 0);
}

std::optional<Ints> ShapeEvaluator::eval(Value v, bool &readsOf, int depth) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  if (!def || depth > 16)
    return known(v);
  if (isOnnxOp(def, "Shape") && of && def->getOperand(0) == of) {
    readsOf = true;
    if (reads)
      reads->push_back(def);
    return shapeRange(def, dims);
  }
  if (auto values = known(v))
    return values;
  bool operandsReadOf = false;
  auto operand = [&](unsigned i) { return eval(def->getOperand(i), operandsReadOf, depth + 1); };
  std::optional<Ints> result;
  if (isOnnxOp(def, "Shape")) {
    // Any other ranked value: its static dims (kDynamic where not).
    if (auto type = rankedType(def->getOperand(0)))
      result = shapeRange(def, type.getShape());
  } else if (isOnnxOp(def, "Unsqueeze") || isOnnxOp(def, "Squeeze") || isOnnxOp(def, "Reshape") ||
             isOnnxOp(def, "Identity") ||
             (isOnnxOp(def, "Cast") && isa_and_nonnull<IntegerType>(elementTypeOf(v)))) {
    // Shape-like values are at most 1-D: these keep the values as they are.
    result = operand(0);
  } else if (isOnnxOp(def, "Concat")) {
    result = Ints();
    for (unsigned i = 0; i < def->getNumOperands() && result; ++i) {
      auto part = operand(i);
      if (part)
        result->append(*part);
      else
        result.reset();
    }
  } else if (isOnnxOp(def, "Gather") && getIntAttr(def, "axis", 0) == 0) {
    auto data = operand(0), indices = operand(1);
    if (data && indices) {
      int64_t n = static_cast<int64_t>(data->size());
      result = Ints();
      for (int64_t i : *indices) {
        if (i < 0)
          i += n;
        if (i < 0 || i >= n) {
          result.reset();
          break;
        }
        result->push_back((*data)[i]);
      }
    }
  } else if (isOnnxOp(def, "Add") || isOnnxOp(def, "Sub") || isOnnxOp(def, "Mul") ||
             isOnnxOp(def, "Div")) {
    auto a = operand(0), b = operand(1);
    if (a && b && !a->empty() && !b->empty() &&
        (a->size() == b->size() || a->size() == 1 || b->size() == 1)) {
      StringRef type = onnxOpType(def);
      size_t n = std::max(a->size(), b->size());
      result = Ints();
      for (size_t i = 0; i < n && result; ++i) {
        int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
        if (x == kDyn || y == kDyn)
          result->push_back(kDyn);
        else if (type == "Add")
          result->push_back(x + y);
        else if (type == "Sub")
          result->push_back(x - y);
        else if (type == "Mul")
          result->push_back(x * y);
        else if (y != 0)
          result->push_back(x / y); // ONNX integer Div truncates, as C++ does
        else
          result.reset();
      }
    }
  }
  if (result && operandsReadOf) {
    readsOf = true;
    if (reads)
      reads->push_back(def);
  }
  return result;
}

std::optional<ColumnRange> lastAxisColumns(Operation *slice, Value h, int64_t width,
                                           SmallVectorImpl<Operation *> *reads) {
  if (!isOnnxOp(slice, "Slice"))
    return std::nullopt;
  ShapeEvaluator evaluator(h, {kDyn, width}, reads);
  Value axesValue = getOnnxInput(slice, 3), stepsValue = getOnnxInput(slice, 4);
  if (!axesValue) // without axes, the one bound is for axis 0: the rows
    return std::nullopt;
  auto axes = evaluator.eval(axesValue);
  auto steps = stepsValue ? evaluator.eval(stepsValue) : Ints{1};
  if (!axes || axes->size() != 1 || !isLastAxis(axes->front(), 2) || !steps ||
      steps->size() != 1 || steps->front() <= 0 || steps->front() == kDyn)
    return std::nullopt;
  auto starts = evaluator.eval(getOnnxInput(slice, 1));
  auto ends = evaluator.eval(getOnnxInput(slice, 2));
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1 || starts->front() == kDyn ||
      ends->front() == kDyn)
    return std::nullopt;
  // With a positive step ONNX adds width to negative bounds, then clamps
  // them into [0, width].
  auto clampBound = [&](int64_t bound) {
    if (bound < 0)
      bound += width;
    return std::clamp<int64_t>(bound, 0, width);
  };
  return ColumnRange{clampBound(starts->front()), clampBound(ends->front()), steps->front()};
}

Operation *ActivationMatcher::take(Value v, StringRef type) {
  Operation *op = definedByOnnx(inner(v), type);
  if (op)
    ops.push_back(op);
  return op;
}

// `v` under Clip, Min and Max by constants: returns the clamped value and
// narrows [lo, hi] to the bounds met (both start unbounded).
Value ActivationMatcher::clamped(Value v, double &lo, double &hi) {
  for (int depth = 0; depth < 2; ++depth) {
    Operation *def = inner(v).getDefiningOp();
    std::optional<double> min, max;
    if (isOnnxOp(def, "Clip") && def->getNumOperands() >= 1) {
      // Opset 11 on: bounds are optional inputs; before: attributes.
      Value minInput = getOnnxInput(def, 1), maxInput = getOnnxInput(def, 2);
      min = minInput ? scalarFloat(minInput) : getFloatAttr(def, "min", -INFINITY);
      max = maxInput ? scalarFloat(maxInput) : getFloatAttr(def, "max", INFINITY);
    } else if ((isOnnxOp(def, "Min") || isOnnxOp(def, "Max")) && def->getNumOperands() == 2) {
      std::optional<double> bound = scalarFloat(def->getOperand(1));
      if (!bound)
        return v;
      (isOnnxOp(def, "Min") ? max : min) = bound;
      min = min.value_or(-INFINITY);
      max = max.value_or(INFINITY);
    }
    if (!min || !max)
      return v;
    ops.push_back(def);
    lo = std::max(lo, *min);
    hi = std::min(hi, *max);
    v = def->getOperand(0);
  }
  return v;
}

std::optional<GatedActivation> ActivationMatcher::match(Value a) {
  size_t start = ops.size();
  Operation *mul = take(a, "Mul");
  for (unsigned i = 0; mul && i < 2; ++i) {
    size_t m = ops.size();
    GatedActivation act;
    // The glu side: Mul(g, Sigmoid(g)) or Mul(g, Sigmoid(Mul(g, alpha))).
    Operation *gated = take(mul->getOperand(i), "Mul");
    for (unsigned j = 0; gated && j < 2 && !act.gate; ++j) {
      Value g = inner(gated->getOperand(j));
      size_t beforeSigmoid = ops.size();
      Operation *sigmoid = take(gated->getOperand(1 - j), "Sigmoid");
      Value arg = sigmoid ? inner(sigmoid->getOperand(0)) : Value();
      if (arg && arg == g) {
        act.gate = g;
      } else if (Operation *scale = arg ? take(arg, "Mul") : nullptr) {
        for (unsigned s = 0; s < 2 && !act.gate; ++s) {
          auto alpha = scalarFloat(scale->getOperand(1 - s));
          if (alpha && inner(scale->getOperand(s)) == g) {
            act.gate = g;
            act.alpha = *alpha;
          }
        }
      }
      if (!act.gate)
        ops.truncate(beforeSigmoid);
    }
    // The linear side: up, or Add(up, beta).
    Value up = inner(mul->getOperand(1 - i));
    if (Operation *add = definedByOnnx(up, "Add")) {
      for (unsigned s = 0; s < 2; ++s) {
        if (auto beta = scalarFloat(add->getOperand(1 - s))) {
          ops.push_back(add);
          up = add->getOperand(s);
          act.beta = *beta;
          break;
        }
      }
    }
    double gateLo = -INFINITY, gateHi = INFINITY, upLo = -INFINITY, upHi = INFINITY;
    if (act.gate) {
      act.gate = inner(clamped(act.gate, gateLo, gateHi));
      act.up = inner(clamped(up, upLo, upHi));
    }
    // moe.experts clamps the gate from above and up on both sides at one
    // limit, or neither.
    bool sameLimit = gateLo == -INFINITY && upLo == -upHi && gateHi == upHi && upHi > 0;
    if (act.gate && sameLimit) {
      act.limit = upHi;
      return act;
    }
    ops.truncate(m);
  }
  ops.truncate(start);
  return std::nullopt;
}

// `slice` takes `range` of h's last axis (`width` wide).
bool ActivationMatcher::sliceIs(Operation *slice, Value h, int64_t width, ColumnRange range) {
  if (inner(slice->getOperand(0)) != h)
    return false;
  size_t m = ops.size();
  auto columns = lastAxisColumns(slice, h, width, &ops);
  if (columns && *columns == range)
    return true;
  ops.truncate(m);
  return false;
}

bool ActivationMatcher::halves(GatedActivation &act, int64_t inter) {
  size_t m = ops.size();
  Value gate = inner(act.gate), up = inner(act.up);
  Operation *first = gate.getDefiningOp(), *second = up.getDefiningOp();
  if (first && first == second && isOnnxOp(first, "Split")) {
    int64_t axis = getIntAttr(first, "axis", 0);
    Value sizesValue = getOnnxInput(first, 1);
    auto sizes = sizesValue ? getKnownInts(sizesValue) : std::nullopt;
    int64_t outputs = getIntAttr(first, "num_outputs", 2);
    bool even = sizesValue ? sizes && *sizes == std::vector<int64_t>{inter, inter} : outputs == 2;
    if (isLastAxis(axis, 2) && first->getNumResults() == 2 && even &&
        first->getResult(0) == gate && first->getResult(1) == up) {
      ops.push_back(first);
      act.fused = inner(first->getOperand(0));
      act.fusion = 2;
      return true;
    }
  } else if (isOnnxOp(first, "Slice") && isOnnxOp(second, "Slice")) {
    ops.push_back(first);
    ops.push_back(second);
    Value h = inner(first->getOperand(0));
    int64_t width = 2 * inter;
    act.fused = h;
    size_t beforeBounds = ops.size();
    if (sliceIs(first, h, width, {0, inter, 1}) && sliceIs(second, h, width, {inter, width, 1})) {
      act.fusion = 2;
      return true;
    }
    ops.truncate(beforeBounds);
    // Step 2 from 0 and 1 to the end: ends clamp to the width.
    if (sliceIs(first, h, width, {0, width, 2}) && sliceIs(second, h, width, {1, width, 2})) {
      act.fusion = 1;
      return true;
    }
  }
  act.fused = {};
  ops.truncate(m);
  return false;
}

} // namespace moec::raise
