//===- TokenBoundEvaluator.cpp - evaluate shape-only subgraphs for one T --===//
//
// A small interpreter of the onnx ops exporters use to build masks and
// positions. Each op follows the ONNX operator definition (numpy
// broadcasting, negative axes, Slice's clamping); anything else -- an op it
// does not know, a run-time input's data, a result over the element budget --
// stops the evaluation with a reason, and the caller leaves the graph alone.
//
//===----------------------------------------------------------------------===//
#include "passes/raise/TokenBoundEvaluator.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "passes/raise/ExpertPatterns.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

namespace moec::raise {
namespace {

using Shape = SmallVector<int64_t>;
using Kind = EvalTensor::Kind;

// Deeper chains are not mask computations.
constexpr int kMaxDepth = 256;

int64_t product(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Kind kindOf(Type elementType) {
  if (elementType.isInteger(1))
    return Kind::Bool;
  if (isa<IntegerType, IndexType>(elementType))
    return Kind::Int;
  return Kind::Float;
}

double convert(double v, Kind to) {
  switch (to) {
  case Kind::Bool:
    return v != 0.0 ? 1.0 : 0.0;
  case Kind::Int:
    return std::trunc(v);
  case Kind::Float:
    return v;
  }
  return v;
}

std::optional<int64_t> axisIn(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

// Row-major strides of `shape`, with 0 for the dims of size 1 that broadcast
// to `out` (right-aligned).
Shape broadcastStrides(ArrayRef<int64_t> shape, ArrayRef<int64_t> out) {
  Shape strides(out.size(), 0);
  int64_t stride = 1;
  for (int64_t i = shape.size() - 1, o = out.size() - 1; i >= 0; --i, --o) {
    strides[o] = shape[i] == 1 && out[o] != 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

std::optional<Shape> broadcastShape(ArrayRef<Shape> shapes) {
  size_t rank = 0;
  for (const Shape &s : shapes)
    rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape &s : shapes)
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &o = out[rank - s.size() + i];
      if (s[i] == o || s[i] == 1)
        continue;
      if (o != 1)
        return std::nullopt;
      o = s[i];
    }
  return out;
}

// Calls f(outIndex, offsets...) for every element of `out`, with each
// input's offset under broadcasting.
template <class F>
void forEachBroadcast(ArrayRef<int64_t> out, ArrayRef<Shape> strides, F f) {
  int64_t n = product(out), rank = out.size();
  Shape index(rank, 0);
  SmallVector<int64_t> offsets(strides.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(flat, offsets);
    for (int64_t d = rank - 1; d >= 0; --d) {
      ++index[d];
      for (size_t s = 0; s < strides.size(); ++s)
        offsets[s] += strides[s][d];
      if (index[d] < out[d])
        break;
      for (size_t s = 0; s < strides.size(); ++s)
        offsets[s] -= strides[s][d] * index[d];
      index[d] = 0;
    }
  }
}

std::optional<double> binary(StringRef type, double a, double b, Kind kind) {
  if (type == "Add")
    return a + b;
  if (type == "Sub")
    return a - b;
  if (type == "Mul")
    return a * b;
  if (type == "Div") {
    if (kind != Kind::Float)
      return b == 0.0 ? std::nullopt : std::optional<double>(std::trunc(a / b));
    return a / b;
  }
  if (type == "Max")
    return std::max(a, b);
  if (type == "Min")
    return std::min(a, b);
  if (type == "Equal")
    return a == b;
  if (type == "Less")
    return a < b;
  if (type == "LessOrEqual")
    return a <= b;
  if (type == "Greater")
    return a > b;
  if (type == "GreaterOrEqual")
    return a >= b;
  if (type == "And")
    return a != 0.0 && b != 0.0;
  if (type == "Or")
    return a != 0.0 || b != 0.0;
  if (type == "Xor")
    return (a != 0.0) != (b != 0.0);
  return std::nullopt;
}

bool isBinary(StringRef type) {
  return llvm::is_contained({"Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less",
                             "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"},
                            type);
}

} // namespace

int64_t EvalTensor::size() const { return product(shape); }

std::nullopt_t TokenBoundEvaluator::fail(Operation *op, const std::string &what) {
  if (reason.empty()) {
    std::string names;
    for (const std::string &n : moec::nodeNames(op->getLoc()))
      names += (names.empty() ? "" : ", ") + n;
    reason = "op '" + moec::onnxOpType(op).str() + "'" + (names.empty() ? "" : " (" + names + ")") +
             ": " + what;
  }
  return std::nullopt;
}

std::optional<EvalTensor> TokenBoundEvaluator::eval(Value v) {
  reason.clear();
  return get(v, 0);
}

std::optional<EvalTensor> TokenBoundEvaluator::get(Value v, int depth) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  if (depth > kMaxDepth) {
    if (reason.empty())
      reason = "the chain is deeper than " + std::to_string(kMaxDepth) + " ops";
    return std::nullopt;
  }
  auto result = evalOp(v, depth);
  if (!result)
    return std::nullopt;
  if (result->size() > maxElements || static_cast<int64_t>(result->data.size()) != result->size()) {
    if (reason.empty())
      reason = "a value would need more than " + std::to_string(maxElements) + " elements";
    return std::nullopt;
  }
  memo[v] = *result;
  return result;
}

std::optional<Shape> TokenBoundEvaluator::shapeOf(Value v, int depth) {
  if (auto it = shapeOverrides.find(v); it != shapeOverrides.end())
    return it->second;
  if (auto ranked = rankedType(v)) {
    Shape shape(ranked.getShape());
    for (int64_t &d : shape)
      if (ShapedType::isDynamic(d))
        d = tokens;
    return shape;
  }
  // A Concat's shape follows from its inputs' even where its data is a
  // run-time value (a KV cache grown by the new keys).
  if (Operation *concat = v.getDefiningOp();
      concat && moec::onnxOpType(concat) == "Concat" && concat->getNumOperands() > 0) {
    std::optional<Shape> shape;
    int64_t axis = moec::getIntAttr(concat, "axis", 0);
    for (Value in : concat->getOperands()) {
      auto part = shapeOf(in, depth + 1);
      if (!part)
        return std::nullopt;
      int64_t rank = part->size();
      int64_t a = axis < 0 ? axis + rank : axis;
      if (a < 0 || a >= rank || (shape && shape->size() != part->size()))
        return std::nullopt;
      if (!shape)
        shape = part;
      else
        (*shape)[a] += (*part)[a];
    }
    return shape;
  }
  // Ops whose result shape follows from their data input's shape and their
  // other (shape) operands: evaluated on zeros of the input's shape when
  // the data itself is a run-time value, by a second evaluator so that the
  // zeros never stand for the value elsewhere.
  if (Operation *def = v.getDefiningOp(); def && def->getNumOperands() > 0) {
    StringRef type = moec::onnxOpType(def);
    if (type == "Reshape" || type == "Expand" || type == "Unsqueeze" || type == "Squeeze" ||
        type == "Transpose" || type == "Identity" || type == "Cast" || type == "Flatten") {
      Value data = def->getOperand(0);
      if (auto inShape = shapeOf(data, depth + 1); inShape && product(*inShape) <= maxElements) {
        TokenBoundEvaluator probe(tokens, maxElements);
        probe.memo = memo;
        probe.shapeOverrides = shapeOverrides;
        EvalTensor zeros;
        zeros.shape = *inShape;
        zeros.kind = kindOf(elementTypeOf(data));
        zeros.data.assign(product(*inShape), 0.0);
        probe.memo[data] = std::move(zeros);
        if (auto t = probe.get(v, depth + 1))
          return t->shape;
      }
    }
  }
  if (auto t = get(v, depth + 1))
    return t->shape;
  return std::nullopt;
}

std::optional<EvalTensor> TokenBoundEvaluator::evalOp(Value v, int depth) {
  Operation *op = v.getDefiningOp();
  if (!op) {
    if (reason.empty())
      reason = "it reads the data of a function argument";
    return std::nullopt;
  }
  EvalTensor out;
  out.kind = kindOf(elementTypeOf(v));

  if (ElementsAttr elements = moec::getConstantElements(v)) {
    auto type = cast<ShapedType>(elements.getType());
    if (!type.hasStaticShape() || type.getNumElements() > maxElements)
      return fail(op, "the constant is too large");
    out.shape.assign(type.getShape().begin(), type.getShape().end());
    if (isa<IntegerType>(type.getElementType())) {
      auto ints = moec::getConstantInts(elements);
      if (!ints)
        return fail(op, "the constant cannot be read");
      out.data.assign(ints->begin(), ints->end());
    } else {
      auto values = moec::getConstantValues(v);
      if (!values)
        return fail(op, "the constant cannot be read");
      out.data = std::move(*values);
    }
    return out;
  }

  StringRef type = moec::onnxOpType(op);
  if (type.empty())
    return fail(op, "not an onnx op");
  auto input = [&](unsigned i) -> std::optional<EvalTensor> {
    Value in = moec::getOnnxInput(op, i);
    if (!in) {
      fail(op, "input " + std::to_string(i) + " is absent");
      return std::nullopt;
    }
    return get(in, depth + 1);
  };
  auto ints = [](const EvalTensor &t) {
    Shape r;
    for (double d : t.data)
      r.push_back(d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : static_cast<int64_t>(d));
    return r;
  };

  if (type == "Shape") {
    auto shape = shapeOf(op->getOperand(0), depth);
    if (!shape)
      return fail(op, "its input's shape is unknown");
    int64_t rank = shape->size();
    int64_t start = moec::getIntAttr(op, "start", 0), end = moec::getIntAttr(op, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    out.kind = Kind::Int;
    out.shape = {std::max<int64_t>(end - start, 0)};
    for (int64_t i = start; i < end; ++i)
      out.data.push_back((*shape)[i]);
    return out;
  }
  if (type == "Size") {
    auto shape = shapeOf(op->getOperand(0), depth);
    if (!shape)
      return fail(op, "its input's shape is unknown");
    out.kind = Kind::Int;
    out.data = {static_cast<double>(product(*shape))};
    return out;
  }
  if (type == "ConstantOfShape") {
    auto shape = input(0);
    if (!shape)
      return std::nullopt;
    out.shape = ints(*shape);
    if (llvm::any_of(out.shape, [](int64_t d) { return d < 0; }) ||
        product(out.shape) > maxElements)
      return fail(op, "bad or too large shape");
    double fill = 0.0;
    if (auto attr = op->getAttrOfType<ElementsAttr>("value")) {
      auto value = moec::getElementAsDouble(attr, 0);
      if (!value)
        return fail(op, "unreadable fill value");
      fill = *value;
    }
    out.data.assign(product(out.shape), fill);
    return out;
  }

  // Ops of one data input whose shape changes but whose data does not.
  if (type == "Identity" || type == "Reshape" || type == "Squeeze" || type == "Unsqueeze" ||
      type == "Flatten") {
    auto x = input(0);
    if (!x)
      return std::nullopt;
    out.data = x->data;
    int64_t rank = x->shape.size();
    if (type == "Identity") {
      out.shape = x->shape;
    } else if (type == "Reshape") {
      auto target = input(1);
      if (!target)
        return std::nullopt;
      Shape dims = ints(*target);
      bool allowZero = moec::getIntAttr(op, "allowzero", 0) != 0;
      int64_t known = 1, infer = -1;
      for (size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == 0 && !allowZero) {
          if (static_cast<int64_t>(i) >= rank)
            return fail(op, "0 names a dim the input lacks");
          dims[i] = x->shape[i];
        }
        if (dims[i] == -1) {
          if (infer >= 0)
            return fail(op, "two -1 dims");
          infer = i;
        } else {
          known *= dims[i];
        }
      }
      if (infer >= 0) {
        if (known == 0 || x->size() % known)
          return fail(op, "the -1 dim does not divide");
        dims[infer] = x->size() / known;
      }
      if (product(dims) != x->size())
        return fail(op, "the element count changes");
      out.shape = dims;
    } else if (type == "Flatten") {
      auto axis = axisIn(moec::getIntAttr(op, "axis", 1), rank + 1);
      if (!axis)
        return fail(op, "bad axis");
      int64_t outer = product(ArrayRef<int64_t>(x->shape).take_front(*axis));
      out.shape = {outer, outer ? x->size() / outer : 0};
    } else {
      Shape axes;
      if (Value axesValue = moec::getOnnxInput(op, 1)) {
        auto a = get(axesValue, depth + 1);
        if (!a)
          return std::nullopt;
        axes = ints(*a);
      } else if (auto attr = moec::getIntsAttr(op, "axes")) {
        axes.assign(attr->begin(), attr->end());
      }
      if (type == "Squeeze") {
        for (int64_t &a : axes) {
          auto n = axisIn(a, rank);
          if (!n || x->shape[*n] != 1)
            return fail(op, "squeezes a dim that is not 1");
          a = *n;
        }
        for (int64_t i = 0; i < rank; ++i)
          if (axes.empty() ? x->shape[i] != 1 : !llvm::is_contained(axes, i))
            out.shape.push_back(x->shape[i]);
      } else {
        int64_t outRank = rank + axes.size();
        for (int64_t &a : axes) {
          auto n = axisIn(a, outRank);
          if (!n)
            return fail(op, "bad axis");
          a = *n;
        }
        for (int64_t i = 0, j = 0; i < outRank; ++i)
          out.shape.push_back(llvm::is_contained(axes, i) ? 1 : x->shape[j++]);
      }
    }
    return out;
  }

  if (type == "Cast") {
    auto x = input(0);
    if (!x)
      return std::nullopt;
    out.shape = x->shape;
    for (double d : x->data)
      out.data.push_back(convert(d, out.kind));
    return out;
  }
  if (type == "Not" || type == "Neg" || type == "Abs") {
    auto x = input(0);
    if (!x)
      return std::nullopt;
    out.shape = x->shape;
    for (double d : x->data)
      out.data.push_back(type == "Not" ? (d == 0.0) : type == "Neg" ? -d : std::fabs(d));
    return out;
  }

  if (isBinary(type) || type == "Where") {
    SmallVector<EvalTensor> operands;
    for (unsigned i = 0, e = op->getNumOperands(); i < e; ++i) {
      auto t = get(op->getOperand(i), depth + 1);
      if (!t)
        return std::nullopt;
      operands.push_back(std::move(*t));
    }
    if (operands.empty() || (type == "Where" && operands.size() != 3) ||
        (type != "Where" && type != "Max" && type != "Min" && operands.size() != 2))
      return fail(op, "unexpected operand count");
    SmallVector<Shape> shapes;
    for (const EvalTensor &t : operands)
      shapes.push_back(t.shape);
    auto shape = broadcastShape(shapes);
    if (!shape)
      return fail(op, "the operands do not broadcast");
    if (product(*shape) > maxElements)
      return fail(op, "the result is too large");
    out.shape = *shape;
    SmallVector<Shape> strides;
    for (const Shape &s : shapes)
      strides.push_back(broadcastStrides(s, *shape));
    Kind operandKind = operands.back().kind;
    out.data.resize(product(*shape));
    bool ok = true;
    forEachBroadcast(*shape, strides, [&](int64_t flat, ArrayRef<int64_t> offsets) {
      if (type == "Where") {
        out.data[flat] = operands[0].data[offsets[0]] != 0.0 ? operands[1].data[offsets[1]]
                                                              : operands[2].data[offsets[2]];
        return;
      }
      double acc = operands[0].data[offsets[0]];
      for (size_t i = 1; i < operands.size() && ok; ++i) {
        auto r = binary(type, acc, operands[i].data[offsets[i]], operandKind);
        if (!r)
          ok = false;
        else
          acc = *r;
      }
      out.data[flat] = convert(acc, out.kind);
    });
    if (!ok)
      return fail(op, "division by zero");
    return out;
  }

  if (type == "Range") {
    auto start = input(0), limit = input(1), delta = input(2);
    if (!start || !limit || !delta)
      return std::nullopt;
    if (start->size() != 1 || limit->size() != 1 || delta->size() != 1 || delta->data[0] == 0.0)
      return fail(op, "start, limit and delta must be scalars and delta nonzero");
    double s = start->data[0], l = limit->data[0], d = delta->data[0];
    int64_t n = std::max<int64_t>(static_cast<int64_t>(std::ceil((l - s) / d)), 0);
    if (n > maxElements)
      return fail(op, "the range is too long");
    out.shape = {n};
    for (int64_t i = 0; i < n; ++i)
      out.data.push_back(s + i * d);
    return out;
  }

  if (type == "Transpose") {
    auto x = input(0);
    if (!x)
      return std::nullopt;
    int64_t rank = x->shape.size();
    Shape perm;
    if (auto p = moec::getIntsAttr(op, "perm"))
      perm.assign(p->begin(), p->end());
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != rank)
      return fail(op, "bad perm");
    Shape inStrides(rank, 1), strides(rank);
    for (int64_t d = rank - 2; d >= 0; --d)
      inStrides[d] = inStrides[d + 1] * x->shape[d + 1];
    for (int64_t d = 0; d < rank; ++d) {
      out.shape.push_back(x->shape[perm[d]]);
      strides[d] = inStrides[perm[d]];
    }
    out.data.resize(x->size());
    forEachBroadcast(out.shape, {strides}, [&](int64_t flat, ArrayRef<int64_t> offsets) {
      out.data[flat] = x->data[offsets[0]];
    });
    return out;
  }

  if (type == "Expand") {
    auto x = input(0), target = input(1);
    if (!x || !target)
      return std::nullopt;
    auto shape = broadcastShape({x->shape, ints(*target)});
    if (!shape || product(*shape) > maxElements)
      return fail(op, "bad or too large target shape");
    out.shape = *shape;
    out.data.resize(product(*shape));
    forEachBroadcast(*shape, {broadcastStrides(x->shape, *shape)},
                     [&](int64_t flat, ArrayRef<int64_t> offsets) {
                       out.data[flat] = x->data[offsets[0]];
                     });
    return out;
  }

  if (type == "Concat") {
    SmallVector<EvalTensor> parts;
    for (Value in : op->getOperands()) {
      auto t = get(in, depth + 1);
      if (!t)
        return std::nullopt;
      parts.push_back(std::move(*t));
    }
    int64_t rank = parts.front().shape.size();
    auto axis = axisIn(moec::getIntAttr(op, "axis", 0), rank);
    if (!axis)
      return fail(op, "bad axis");
    out.shape = parts.front().shape;
    out.shape[*axis] = 0;
    for (const EvalTensor &p : parts) {
      if (static_cast<int64_t>(p.shape.size()) != rank)
        return fail(op, "rank mismatch");
      out.shape[*axis] += p.shape[*axis];
    }
    int64_t outer = product(ArrayRef<int64_t>(out.shape).take_front(*axis));
    for (int64_t o = 0; o < outer; ++o)
      for (const EvalTensor &p : parts) {
        int64_t chunk = product(ArrayRef<int64_t>(p.shape).drop_front(*axis));
        out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                        p.data.begin() + (o + 1) * chunk);
      }
    return out;
  }

  if (type == "Slice") {
    auto x = input(0), starts = input(1), ends = input(2);
    if (!x || !starts || !ends)
      return std::nullopt;
    int64_t rank = x->shape.size();
    Shape s = ints(*starts), e = ints(*ends), axes, steps(s.size(), 1);
    for (size_t i = 0; i < s.size(); ++i)
      axes.push_back(i);
    if (Value a = moec::getOnnxInput(op, 3)) {
      auto t = get(a, depth + 1);
      if (!t)
        return std::nullopt;
      axes = ints(*t);
    }
    if (Value st = moec::getOnnxInput(op, 4)) {
      auto t = get(st, depth + 1);
      if (!t)
        return std::nullopt;
      steps = ints(*t);
    }
    if (axes.size() != s.size() || e.size() != s.size() || steps.size() != s.size())
      return fail(op, "starts, ends, axes and steps differ in length");
    Shape begin(rank, 0), step(rank, 1);
    out.shape = x->shape;
    for (size_t i = 0; i < s.size(); ++i) {
      auto axis = axisIn(axes[i], rank);
      if (!axis || steps[i] == 0)
        return fail(op, "bad axis or zero step");
      int64_t dim = x->shape[*axis], st = steps[i];
      auto clampIndex = [&](int64_t v, bool isEnd) {
        if (v < 0)
          v = v <= INT64_MIN / 2 ? -1 : v + dim;
        // ONNX clamps ends to [-1, dim - 1] and starts to [0, dim - 1]
        // for a negative step.
        return st > 0 ? std::clamp<int64_t>(v, 0, dim)
                      : std::clamp<int64_t>(v, isEnd ? -1 : 0, dim - 1);
      };
      int64_t b = clampIndex(s[i], false), en = clampIndex(e[i], true);
      int64_t count = st > 0 ? std::max<int64_t>((en - b + st - 1) / st, 0)
                             : std::max<int64_t>((b - en + (-st) - 1) / (-st), 0);
      begin[*axis] = b;
      step[*axis] = st;
      out.shape[*axis] = count;
    }
    Shape inStrides(rank, 1);
    for (int64_t d = rank - 2; d >= 0; --d)
      inStrides[d] = inStrides[d + 1] * x->shape[d + 1];
    Shape strides(rank);
    int64_t base = 0;
    for (int64_t d = 0; d < rank; ++d) {
      strides[d] = inStrides[d] * step[d];
      base += begin[d] * inStrides[d];
    }
    out.data.resize(product(out.shape));
    forEachBroadcast(out.shape, {strides}, [&](int64_t flat, ArrayRef<int64_t> offsets) {
      out.data[flat] = x->data[base + offsets[0]];
    });
    return out;
  }

  if (type == "Gather") {
    auto x = input(0), idx = input(1);
    if (!x || !idx)
      return std::nullopt;
    int64_t rank = x->shape.size();
    auto axis = axisIn(moec::getIntAttr(op, "axis", 0), rank);
    if (!axis)
      return fail(op, "bad axis");
    int64_t outer = product(ArrayRef<int64_t>(x->shape).take_front(*axis));
    int64_t dim = x->shape[*axis];
    int64_t inner = product(ArrayRef<int64_t>(x->shape).drop_front(*axis + 1));
    out.shape.assign(x->shape.begin(), x->shape.begin() + *axis);
    out.shape.append(idx->shape.begin(), idx->shape.end());
    out.shape.append(x->shape.begin() + *axis + 1, x->shape.end());
    if (product(out.shape) > maxElements)
      return fail(op, "the result is too large");
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i : ints(*idx)) {
        if (i < 0)
          i += dim;
        if (i < 0 || i >= dim)
          return fail(op, "index out of range");
        out.data.insert(out.data.end(), x->data.begin() + (o * dim + i) * inner,
                        x->data.begin() + (o * dim + i + 1) * inner);
      }
    return out;
  }

  if (type == "GatherND") {
    auto x = input(0), idx = input(1);
    if (!x || !idx)
      return std::nullopt;
    if (moec::getIntAttr(op, "batch_dims", 0) != 0)
      return fail(op, "batch_dims is not 0");
    int64_t q = idx->shape.empty() ? 0 : idx->shape.back();
    int64_t rank = x->shape.size();
    if (idx->shape.empty() || q > rank)
      return fail(op, "bad index depth");
    int64_t inner = product(ArrayRef<int64_t>(x->shape).drop_front(q));
    out.shape.assign(idx->shape.begin(), idx->shape.end() - 1);
    out.shape.append(x->shape.begin() + q, x->shape.end());
    if (product(out.shape) > maxElements)
      return fail(op, "the result is too large");
    Shape all = ints(*idx);
    for (int64_t t = 0, n = idx->size() / std::max<int64_t>(q, 1); q && t < n; ++t) {
      int64_t offset = 0;
      for (int64_t j = 0; j < q; ++j) {
        int64_t i = all[t * q + j], dim = x->shape[j];
        if (i < 0)
          i += dim;
        if (i < 0 || i >= dim)
          return fail(op, "index out of range");
        offset = offset * dim + i;
      }
      out.data.insert(out.data.end(), x->data.begin() + offset * inner,
                      x->data.begin() + (offset + 1) * inner);
    }
    if (q == 0)
      return fail(op, "empty index tuples");
    return out;
  }

  if (type == "CumSum") {
    auto x = input(0), axisValue = input(1);
    if (!x || !axisValue || axisValue->size() != 1)
      return std::nullopt;
    int64_t rank = x->shape.size();
    auto axis = axisIn(static_cast<int64_t>(axisValue->data[0]), rank);
    if (!axis)
      return fail(op, "bad axis");
    bool exclusive = moec::getIntAttr(op, "exclusive", 0) != 0;
    bool reverse = moec::getIntAttr(op, "reverse", 0) != 0;
    int64_t outer = product(ArrayRef<int64_t>(x->shape).take_front(*axis));
    int64_t dim = x->shape[*axis];
    int64_t inner = product(ArrayRef<int64_t>(x->shape).drop_front(*axis + 1));
    out.shape = x->shape;
    out.data.assign(x->size(), 0.0);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        double acc = 0.0;
        for (int64_t k = 0; k < dim; ++k) {
          int64_t i = reverse ? dim - 1 - k : k;
          int64_t at = (o * dim + i) * inner + in;
          if (!exclusive)
            acc += x->data[at];
          out.data[at] = acc;
          if (exclusive)
            acc += x->data[at];
        }
      }
    return out;
  }

  if (type == "Tile") {
    auto x = input(0), repeats = input(1);
    if (!x || !repeats)
      return std::nullopt;
    Shape reps = ints(*repeats);
    int64_t rank = x->shape.size();
    if (static_cast<int64_t>(reps.size()) != rank)
      return fail(op, "repeats do not match the rank");
    for (int64_t d = 0; d < rank; ++d)
      out.shape.push_back(x->shape[d] * reps[d]);
    if (product(out.shape) > maxElements)
      return fail(op, "the result is too large");
    out.data.resize(product(out.shape));
    Shape index(rank, 0), inStrides(rank, 1);
    for (int64_t d = rank - 2; d >= 0; --d)
      inStrides[d] = inStrides[d + 1] * x->shape[d + 1];
    for (int64_t flat = 0, n = product(out.shape); flat < n; ++flat) {
      int64_t offset = 0;
      for (int64_t d = 0; d < rank; ++d)
        offset += (index[d] % x->shape[d]) * inStrides[d];
      out.data[flat] = x->data[offset];
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < out.shape[d])
          break;
        index[d] = 0;
      }
    }
    return out;
  }

  return fail(op, "not evaluated at compile time");
}

} // namespace moec::raise
