//===- KnownValues.cpp - compile-time values of small int tensors -----------===//
//
// Exporters compute reshape targets at run time from Shape ops:
//   Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., [-1, 4]) -> Reshape
// Shape inference needs those values at compile time. Every dim of a known
// shape is static except T, so such chains evaluate to lists of integers in
// which T appears as ShapedType::kDynamic. Arithmetic is only folded on fully
// static values: T * 2 is not a dim moec can represent.
//
//===----------------------------------------------------------------------===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>
#include <limits>

using namespace mlir;

namespace moec::onnx {
namespace {

using Values = SmallVector<int64_t>;
using detail::kTokens;

// Chains longer than this are not shape computations worth following.
constexpr int kMaxDepth = 32;

std::optional<Values> readIntElements(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  auto intType = dyn_cast<IntegerType>(type.getElementType());
  if (!intType || !type.hasStaticShape() || type.getNumElements() > kMaxKnownValues)
    return std::nullopt;
  int64_t count = type.getNumElements();
  bool isSigned = !intType.isUnsigned() && intType.getWidth() > 1;
  Values values;
  if (auto dense = dyn_cast<DenseIntElementsAttr>(attr)) {
    for (const APInt &v : dense.getValues<APInt>())
      values.push_back(isSigned ? v.getSExtValue() : static_cast<int64_t>(v.getZExtValue()));
    return values;
  }
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    // Blobs hold one little-endian element per byte-rounded width (bool: a byte).
    unsigned bytes = (intType.getWidth() + 7) / 8;
    if (bytes > 8 || static_cast<int64_t>(data.size()) != count * bytes)
      return std::nullopt;
    for (int64_t i = 0; i < count; ++i) {
      uint64_t raw = 0;
      std::memcpy(&raw, data.data() + i * bytes, bytes);
      if (isSigned && bytes < 8 && (raw >> (bytes * 8 - 1)) & 1)
        raw |= ~uint64_t(0) << (bytes * 8);
      values.push_back(static_cast<int64_t>(raw));
    }
    return values;
  }
  return std::nullopt;
}

std::optional<Values> known(Value value, int depth);

bool allStatic(ArrayRef<int64_t> values) { return !llvm::is_contained(values, kTokens); }

std::optional<Values> foldArithmetic(Operation *op, int depth) {
  auto lhs = known(op->getOperand(0), depth + 1);
  auto rhs = known(op->getOperand(1), depth + 1);
  if (!lhs || !rhs || !allStatic(*lhs) || !allStatic(*rhs))
    return std::nullopt;
  size_t n = std::max(lhs->size(), rhs->size());
  if ((lhs->size() != n && lhs->size() != 1) || (rhs->size() != n && rhs->size() != 1))
    return std::nullopt;
  Values out;
  for (size_t i = 0; i < n; ++i) {
    int64_t a = (*lhs)[lhs->size() == 1 ? 0 : i], b = (*rhs)[rhs->size() == 1 ? 0 : i];
    if (isa<AddOp>(op))
      out.push_back(a + b);
    else if (isa<SubOp>(op))
      out.push_back(a - b);
    else if (isa<MulOp>(op))
      out.push_back(a * b);
    else if (b == 0)
      return std::nullopt;
    else
      out.push_back(a / b); // ONNX integer Div truncates like C++.
  }
  return out;
}

// ONNX Slice on a 1-D list with one (start, end, step).
std::optional<Values> sliceList(const Values &data, int64_t start, int64_t end, int64_t step) {
  int64_t n = data.size();
  if (step == 0)
    return std::nullopt;
  auto clampIndex = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0)
      i += n;
    return std::clamp(i, lo, hi);
  };
  Values out;
  if (step > 0) {
    start = clampIndex(start, 0, n);
    end = clampIndex(end, 0, n);
    // Step with a bound check first: a huge step must not overflow i.
    for (int64_t i = start; i < end; i = (end - i > step) ? i + step : end)
      out.push_back(data[i]);
  } else {
    start = clampIndex(start, -1, n - 1);
    end = clampIndex(end, -1, n - 1);
    for (int64_t i = start; i > end; i = (i - end > -step) ? i + step : end)
      out.push_back(data[i]);
  }
  return out;
}

// Element i of a list broadcast to n entries (its size is n or 1).
int64_t broadcastAt(const Values &list, size_t i) { return list[list.size() == 1 ? 0 : i]; }

// The common broadcast size of 1-D lists (n or 1 each), or nullopt.
std::optional<size_t> broadcastSize(std::initializer_list<const Values *> lists) {
  size_t n = 1;
  for (const Values *list : lists)
    if (list->size() != 1)
      n = n == 1 ? list->size() : n;
  for (const Values *list : lists)
    if (list->size() != 1 && list->size() != n)
      return std::nullopt;
  return n;
}

// torch.onnx writes expand(-1, 4, 2) as
//   Where(Equal(sizes, ConstantOfShape(1) * -1), ConstantOfShape(1), sizes):
// comparisons of fully static lists give 0/1, Where picks between known lists.
// Causal masks compare Range values the same way (LessOrEqual).
std::optional<Values> foldCompare(Operation *op, int depth) {
  auto lhs = known(op->getOperand(0), depth + 1);
  auto rhs = known(op->getOperand(1), depth + 1);
  if (!lhs || !rhs)
    return std::nullopt;
  auto n = broadcastSize({&*lhs, &*rhs});
  if (!n)
    return std::nullopt;
  Values out;
  for (size_t i = 0; i < *n; ++i) {
    int64_t a = broadcastAt(*lhs, i), b = broadcastAt(*rhs, i);
    // T against a negative value compares as every T >= 0 does, as 0 (the
    // "-1 keeps the size" test of expand sizes that hold T); T against itself
    // is equal. Anything else about T is not known.
    if (a == kTokens && b == kTokens)
      a = b = 0;
    else if (a == kTokens && b < 0)
      a = 0;
    else if (b == kTokens && a < 0)
      b = 0;
    else if (a == kTokens || b == kTokens)
      return std::nullopt;
    bool result = isa<EqualOp>(op)            ? a == b
                  : isa<LessOp>(op)           ? a < b
                  : isa<GreaterOp>(op)        ? a > b
                  : isa<LessOrEqualOp>(op)    ? a <= b
                                              : a >= b; // GreaterOrEqualOp
    out.push_back(result ? 1 : 0);
  }
  return out;
}

// Range of known, static integer scalars (a small one: kMaxKnownValues).
std::optional<Values> foldRange(RangeOp op, int depth) {
  auto start = known(op.getStart(), depth + 1), limit = known(op.getLimit(), depth + 1);
  auto delta = known(op.getDelta(), depth + 1);
  if (!start || !limit || !delta || start->size() != 1 || limit->size() != 1 ||
      delta->size() != 1 || !allStatic(*start) || !allStatic(*limit) || !allStatic(*delta))
    return std::nullopt;
  auto length = detail::rangeLength((*start)[0], (*limit)[0], (*delta)[0]);
  if (!length || *length > kMaxKnownValues)
    return std::nullopt;
  Values out;
  for (int64_t i = 0; i < *length; ++i)
    out.push_back((*start)[0] + i * (*delta)[0]);
  return out;
}

std::optional<Values> foldWhere(WhereOp op, int depth) {
  auto condition = known(op.getCondition(), depth + 1);
  auto x = known(op.getX(), depth + 1);
  auto y = known(op.getY(), depth + 1);
  if (!condition || !x || !y || !allStatic(*condition))
    return std::nullopt;
  auto n = broadcastSize({&*condition, &*x, &*y});
  if (!n)
    return std::nullopt;
  Values out;
  for (size_t i = 0; i < *n; ++i)
    out.push_back(broadcastAt(*condition, i) ? broadcastAt(*x, i) : broadcastAt(*y, i));
  return out;
}

// OneHot of known indices, depth and [off, on]: torch.onnx's repeat_interleave
// computes Tile's repeats this way (OneHot([1], 3, [1, k]) = [1, k, 1]).
std::optional<Values> foldOneHot(OneHotOp op, int depth) {
  auto indicesType = detail::getRankedType(op.getIndices());
  auto indices = known(op.getIndices(), depth + 1);
  auto classes = known(op.getDepth(), depth + 1);
  auto offOn = known(op.getValues(), depth + 1);
  if (!indicesType || !indices || !classes || !offOn || classes->size() != 1 ||
      offOn->size() != 2 || !allStatic(*indices) || !allStatic(*classes))
    return std::nullopt;
  int64_t n = (*classes)[0];
  int64_t count = static_cast<int64_t>(indices->size());
  if (n < 0 || count * n > kMaxKnownValues)
    return std::nullopt;
  int64_t rank = indicesType.getRank();
  auto axis = detail::normalizeAxis(static_cast<int64_t>(op.getAxis()), rank + 1);
  if (!axis || !indicesType.hasStaticShape())
    return std::nullopt;
  // Row-major result [outer, n, inner]: outer = indices dims before axis.
  int64_t inner = 1;
  for (int64_t d = *axis; d < rank; ++d)
    inner *= indicesType.getDimSize(d);
  int64_t outer = inner == 0 ? 0 : count / inner;
  Values out(count * n, (*offOn)[0]);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t index = (*indices)[o * inner + i];
      if (index < 0)
        index += n;
      if (index >= 0 && index < n) // out of range: an all-off row
        out[(o * n + index) * inner + i] = (*offOn)[1];
    }
  return out;
}

std::optional<Values> known(Value value, int depth) {
  if (!value || depth > kMaxDepth)
    return std::nullopt;
  Operation *def = value.getDefiningOp();
  if (!def)
    return std::nullopt;

  if (auto constant = dyn_cast<ConstantOp>(def))
    return readIntElements(constant.getValue());

  if (auto shapeOp = dyn_cast<ShapeOp>(def)) {
    auto type = detail::getRankedType(shapeOp.getData());
    if (!type)
      return std::nullopt;
    int64_t rank = type.getRank();
    auto clampDim = [&](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t(0), rank); };
    int64_t start = clampDim(static_cast<int64_t>(shapeOp.getStart()));
    int64_t end = shapeOp.getEnd() ? clampDim(static_cast<int64_t>(*shapeOp.getEnd())) : rank;
    Values dims;
    for (int64_t i = start; i < end; ++i)
      dims.push_back(type.getDimSize(i)); // kDynamic is T.
    return dims;
  }

  if (isa<IdentityOp, UnsqueezeOp, SqueezeOp, ReshapeOp>(def))
    return known(def->getOperand(0), depth + 1);

  if (auto cast = dyn_cast<CastOp>(def)) {
    if (!isa<IntegerType>(cast.getTo()))
      return std::nullopt;
    return known(cast.getInput(), depth + 1);
  }

  if (auto gather = dyn_cast<GatherOp>(def)) {
    auto dataType = detail::getRankedType(gather.getData());
    if (!dataType || dataType.getRank() != 1)
      return std::nullopt;
    auto data = known(gather.getData(), depth + 1);
    auto indices = known(gather.getIndices(), depth + 1);
    if (!data || !indices || !allStatic(*indices))
      return std::nullopt;
    Values out;
    int64_t n = data->size();
    for (int64_t index : *indices) {
      if (index < -n || index >= n)
        return std::nullopt;
      out.push_back((*data)[index < 0 ? index + n : index]);
    }
    return out;
  }

  if (auto slice = dyn_cast<SliceOp>(def)) {
    auto data = known(slice.getData(), depth + 1);
    auto starts = known(slice.getStarts(), depth + 1);
    auto ends = known(slice.getEnds(), depth + 1);
    // kTokens is INT64_MIN, which exporters also write as a literal "from
    // the very start" bound: in a constant it is that literal.
    for (auto [bounds, values] : {std::pair{slice.getStarts(), &starts},
                                  std::pair{slice.getEnds(), &ends}})
      if (*values && bounds.getDefiningOp<ConstantOp>())
        for (int64_t &v : **values)
          if (v == kTokens)
            v = std::numeric_limits<int64_t>::min() + 1;
    if (!data || !starts || !ends || starts->size() != 1 || ends->size() != 1 ||
        !allStatic(*starts) || !allStatic(*ends))
      return std::nullopt;
    if (Value axesValue = slice.getAxes()) {
      auto axes = known(axesValue, depth + 1);
      if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1))
        return std::nullopt;
    }
    int64_t step = 1;
    if (Value stepsValue = slice.getSteps()) {
      auto steps = known(stepsValue, depth + 1);
      if (!steps || steps->size() != 1 || !allStatic(*steps))
        return std::nullopt;
      step = (*steps)[0];
    }
    return sliceList(*data, (*starts)[0], (*ends)[0], step);
  }

  if (auto concat = dyn_cast<ConcatOp>(def)) {
    Values out;
    for (Value input : concat.getInputs()) {
      auto part = known(input, depth + 1);
      if (!part)
        return std::nullopt;
      out.append(part->begin(), part->end());
    }
    return out;
  }

  if (isa<AddOp, SubOp, MulOp, DivOp>(def))
    return foldArithmetic(def, depth);

  if (auto oneHot = dyn_cast<OneHotOp>(def))
    return foldOneHot(oneHot, depth);

  if (isa<EqualOp, LessOp, GreaterOp, LessOrEqualOp, GreaterOrEqualOp>(def))
    return foldCompare(def, depth);

  if (auto range = dyn_cast<RangeOp>(def))
    return foldRange(range, depth);

  if (auto where = dyn_cast<WhereOp>(def))
    return foldWhere(where, depth);

  if (auto fill = dyn_cast<ConstantOfShapeOp>(def)) {
    auto shape = known(fill.getInput(), depth + 1);
    if (!shape || !allStatic(*shape))
      return std::nullopt;
    int64_t count = 1;
    for (int64_t dim : *shape)
      count *= dim;
    if (count > kMaxKnownValues)
      return std::nullopt;
    int64_t element = 0;
    if (auto attr = fill.getValueAttr()) {
      auto values = readIntElements(cast<ElementsAttr>(attr));
      if (!values || values->size() != 1)
        return std::nullopt;
      element = (*values)[0];
    } else {
      return std::nullopt; // float zeros
    }
    return Values(count, element);
  }
  return std::nullopt;
}

} // namespace

ElementsAttr getConstantElements(Value value) {
  if (auto constant = value ? value.getDefiningOp<ConstantOp>() : ConstantOp())
    return constant.getValue();
  return {};
}

std::optional<SmallVector<int64_t>> getKnownIntValues(Value value) {
  return known(value, 0);
}

} // namespace moec::onnx
