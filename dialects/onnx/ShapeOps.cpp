//===- ShapeOps.cpp - verifiers and shape inference: reshaping ops ---------===//
//
// Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile, Slice and Shape: the ops
// whose result shape comes from values (shape tensors, axes, bounds), read
// with getKnownIntValues so Shape -> Gather -> Concat chains resolve.
//
//===----------------------------------------------------------------------===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

#include "llvm/ADT/STLExtras.h"

#include <limits>

using namespace mlir;
using namespace moec::onnx::detail;

namespace moec::onnx {

static LogicalResult verifyOneDimensional(Operation *op, Value value, StringRef name) {
  if (auto type = getRankedType(value); type && type.getRank() != 1)
    return op->emitOpError() << name << " must be a 1-D tensor, got rank " << type.getRank();
  return success();
}

//===----------------------------------------------------------------------===//
// Reshape
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  if (failed(verifyFlag(*this, "allowzero", getAllowzero())))
    return failure();
  return verifyOneDimensional(*this, getShape(), "shape");
}

LogicalResult ReshapeOp::inferShapes() {
  auto input = requireRanked(*this, getData(), "data");
  if (failed(input))
    return failure();
  auto target = getKnownIntValues(getShape());
  if (!target)
    return emitOpError() << "cannot infer shape: the target shape is not known at compile time";

  // Element counts are T^tokens * product; compare both sides that way.
  auto count = [](ArrayRef<int64_t> dims, int64_t &tokens, int64_t &product) {
    tokens = 0;
    product = 1;
    for (int64_t dim : dims) {
      if (dim == kTokens)
        ++tokens;
      else
        product *= dim;
    }
  };
  SmallVector<int64_t> shape;
  int64_t inferredIndex = -1;
  for (auto [i, value] : llvm::enumerate(*target)) {
    if (value == 0 && !getAllowzero()) {
      if (static_cast<int64_t>(i) >= input->getRank())
        return emitOpError() << "shape entry " << i << " is 0 (copy) but the input has rank "
                             << input->getRank();
      shape.push_back(input->getDimSize(i));
    } else if (value == -1) {
      if (inferredIndex >= 0)
        return emitOpError() << "shape has more than one -1 entry";
      inferredIndex = i;
      shape.push_back(1); // placeholder, counted as 1 below
    } else if (value < 0 && value != kTokens) {
      return emitOpError() << "shape entry " << i << " is " << value << ", which is invalid";
    } else {
      shape.push_back(value);
    }
  }
  int64_t inTokens, inProduct, outTokens, outProduct;
  count(input->getShape(), inTokens, inProduct);
  count(shape, outTokens, outProduct);
  if (inferredIndex >= 0) {
    if (outProduct == 0)
      return emitOpError() << "shape has -1 together with a 0 dimension";
    if (inTokens == outTokens && inProduct % outProduct == 0)
      shape[inferredIndex] = inProduct / outProduct;
    else if (inTokens == outTokens + 1 && inProduct == outProduct)
      shape[inferredIndex] = kTokens;
    else if (inTokens == outTokens)
      return emitOpError() << "cannot reshape " << inProduct << " elements into a multiple of "
                           << outProduct;
    else
      return emitTokenDimError(*this);
  } else if (inTokens != outTokens) {
    return emitTokenDimError(*this);
  } else if (inProduct != outProduct) {
    return emitOpError() << "cannot reshape " << *input << " to "
                         << RankedTensorType::get(shape, input->getElementType())
                         << ": the element counts differ";
  }
  return setResultType(*this, 0, shape, input->getElementType());
}

//===----------------------------------------------------------------------===//
// Flatten, Squeeze, Unsqueeze, Expand
//===----------------------------------------------------------------------===//

LogicalResult FlattenOp::verify() {
  auto type = getRankedType(getInput());
  int64_t axis = static_cast<int64_t>(getAxis());
  if (type && (axis < -type.getRank() || axis > type.getRank()))
    return emitOpError() << "axis " << axis << " is out of range [" << -type.getRank() << ", "
                         << type.getRank() << "]";
  return success();
}

LogicalResult FlattenOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "the input");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank(), axis = static_cast<int64_t>(getAxis());
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return emitOpError() << "axis is out of range";
  auto outer = multiplyDims(*this, type->getShape().take_front(axis));
  if (failed(outer))
    return failure();
  auto inner = multiplyDims(*this, type->getShape().drop_front(axis));
  if (failed(inner))
    return failure();
  return setResultType(*this, 0, {*outer, *inner}, type->getElementType());
}

LogicalResult SqueezeOp::verify() { return verifyOneDimensional(*this, getAxes(), "axes"); }

LogicalResult SqueezeOp::inferShapes() {
  auto type = requireRanked(*this, getData(), "data");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  SmallVector<bool> removed(rank, false);
  if (Value axesValue = getAxes()) {
    auto axes = getKnownIntValues(axesValue);
    if (!axes)
      return emitOpError() << "cannot infer shape: the axes are not known at compile time";
    for (int64_t axis : *axes) {
      auto normalized = normalizeAxis(axis, rank);
      if (!normalized)
        return emitOpError() << "axis " << axis << " is out of range for rank " << rank;
      int64_t dim = type->getDimSize(*normalized);
      if (dim == kTokens)
        return emitOpError() << "cannot squeeze axis " << axis
                             << ": it is the token count, which is not always 1";
      if (dim != 1)
        return emitOpError() << "cannot squeeze axis " << axis << " of size " << dim;
      removed[*normalized] = true;
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      removed[i] = type->getDimSize(i) == 1;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!removed[i])
      shape.push_back(type->getDimSize(i));
  return setResultType(*this, 0, shape, type->getElementType());
}

LogicalResult UnsqueezeOp::verify() { return verifyOneDimensional(*this, getAxes(), "axes"); }

LogicalResult UnsqueezeOp::inferShapes() {
  auto type = requireRanked(*this, getData(), "data");
  if (failed(type))
    return failure();
  auto axes = getKnownIntValues(getAxes());
  if (!axes)
    return emitOpError() << "cannot infer shape: the axes are not known at compile time";
  int64_t outRank = type->getRank() + static_cast<int64_t>(axes->size());
  SmallVector<bool> inserted(outRank, false);
  for (int64_t axis : *axes) {
    auto normalized = normalizeAxis(axis, outRank);
    if (!normalized || inserted[*normalized])
      return emitOpError() << "axis " << axis << " is out of range or repeated for result rank "
                           << outRank;
    inserted[*normalized] = true;
  }
  SmallVector<int64_t> shape;
  auto dims = type->getShape();
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    shape.push_back(inserted[i] ? 1 : dims[next++]);
  return setResultType(*this, 0, shape, type->getElementType());
}

LogicalResult ExpandOp::verify() { return verifyOneDimensional(*this, getShape(), "shape"); }

LogicalResult ExpandOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "the input");
  if (failed(type))
    return failure();
  auto target = getKnownIntValues(getShape());
  if (!target)
    return emitOpError() << "cannot infer shape: the target shape is not known at compile time";
  for (int64_t dim : *target)
    if (dim < 0 && dim != kTokens)
      return emitOpError() << "shape has a negative dimension " << dim;
  SmallVector<SmallVector<int64_t>> shapes = {SmallVector<int64_t>(type->getShape()), *target};
  auto shape = broadcastShapes(*this, shapes);
  if (failed(shape))
    return failure();
  return setResultType(*this, 0, *shape, type->getElementType());
}

//===----------------------------------------------------------------------===//
// Tile
//===----------------------------------------------------------------------===//

LogicalResult TileOp::verify() {
  if (failed(verifyOneDimensional(*this, getRepeats(), "repeats")))
    return failure();
  auto input = getRankedType(getInput()), repeats = getRankedType(getRepeats());
  if (input && repeats && !repeats.isDynamicDim(0) && repeats.getDimSize(0) != input.getRank())
    return emitOpError() << "repeats has " << repeats.getDimSize(0)
                         << " entries for an input of rank " << input.getRank();
  return success();
}

LogicalResult TileOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "the input");
  if (failed(type))
    return failure();
  auto repeats = getKnownIntValues(getRepeats());
  if (!repeats)
    return emitOpError() << "cannot infer shape: the repeats are not known at compile time";
  if (static_cast<int64_t>(repeats->size()) != type->getRank())
    return emitOpError() << "repeats has " << repeats->size() << " entries for an input of rank "
                         << type->getRank();
  SmallVector<int64_t> shape;
  for (auto [dim, times] : llvm::zip(type->getShape(), *repeats)) {
    if (times < 0 && times != kTokens)
      return emitOpError() << "repeats must be non-negative, got " << times;
    // T * 1 and 1 * T stay T; T * r for r > 1 is a token-dim error (deferred).
    auto product = multiplyDims(*this, {dim, times});
    if (failed(product))
      return failure();
    shape.push_back(*product);
  }
  return setResultType(*this, 0, shape, type->getElementType());
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::verify() {
  for (auto [name, value] : {std::pair<StringRef, Value>{"starts", getStarts()},
                             {"ends", getEnds()},
                             {"axes", getAxes()},
                             {"steps", getSteps()}})
    if (failed(verifyOneDimensional(*this, value, name)))
      return failure();
  return success();
}

// Number of elements ONNX Slice selects from a static dim.
static int64_t sliceLength(int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto clampIndex = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0)
      i = i == std::numeric_limits<int64_t>::min() ? lo : i + dim;
    return std::clamp(i, lo, hi);
  };
  if (step > 0) {
    start = clampIndex(start, 0, dim);
    end = clampIndex(end, 0, dim);
    return end > start ? (end - start - 1) / step + 1 : 0; // no overflow for huge steps
  }
  start = clampIndex(start, -1, dim - 1);
  end = clampIndex(end, -1, dim - 1);
  if (start <= end)
    return 0;
  // step is > INT64_MIN here (that value means T and is rejected earlier).
  return (start - end - 1) / -step + 1;
}

LogicalResult SliceOp::inferShapes() {
  auto type = requireRanked(*this, getData(), "data");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  auto starts = getKnownIntValues(getStarts());
  auto ends = getKnownIntValues(getEnds());
  if (!starts || !ends)
    return emitOpError() << "cannot infer shape: starts and ends are not known at compile time";
  // Known values write T as INT64_MIN, which exporters also use as a literal
  // "from the very start" bound: in a constant it is that literal.
  auto literalMin = [](Value bounds, SmallVector<int64_t> &values) {
    if (bounds.getDefiningOp<ConstantOp>())
      for (int64_t &v : values)
        if (v == kTokens)
          v = std::numeric_limits<int64_t>::min() + 1;
  };
  literalMin(getStarts(), *starts);
  literalMin(getEnds(), *ends);
  size_t n = starts->size();
  if (ends->size() != n)
    return emitOpError() << "starts and ends have different lengths";
  SmallVector<int64_t> axes, steps(n, 1);
  if (Value axesValue = getAxes()) {
    auto known = getKnownIntValues(axesValue);
    if (!known || known->size() != n)
      return emitOpError() << "cannot infer shape: axes are unknown or do not match starts";
    axes = *known;
  } else {
    for (size_t i = 0; i < n; ++i)
      axes.push_back(i);
  }
  if (Value stepsValue = getSteps()) {
    auto known = getKnownIntValues(stepsValue);
    if (!known || known->size() != n)
      return emitOpError() << "cannot infer shape: steps are unknown or do not match starts";
    steps = *known;
  }
  SmallVector<int64_t> shape(type->getShape());
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < n; ++i) {
    auto axis = normalizeAxis(axes[i], rank);
    if (!axis || seen[*axis])
      return emitOpError() << "axis " << axes[i] << " is out of range or repeated";
    seen[*axis] = true;
    int64_t start = (*starts)[i], end = (*ends)[i], step = steps[i];
    if (step == 0 || step == kTokens)
      return emitOpError() << "steps must be static and non-zero";
    int64_t dim = shape[*axis];
    if (dim == kTokens) {
      // Only the whole token range is representable: [0, T) or [0, >= T) with step 1.
      bool fromStart = start == 0 || start <= -static_cast<int64_t>(INT32_MAX);
      bool toEnd = end == kTokens || end >= static_cast<int64_t>(INT32_MAX);
      if (step == 1 && fromStart && toEnd)
        continue;
      return emitTokenDimError(*this);
    }
    if (start == kTokens || end == kTokens)
      return emitTokenDimError(*this);
    shape[*axis] = sliceLength(dim, start, end, step);
  }
  return setResultType(*this, 0, shape, type->getElementType());
}

//===----------------------------------------------------------------------===//
// Shape
//===----------------------------------------------------------------------===//

LogicalResult ShapeOp::inferShapes() {
  auto type = requireRanked(*this, getData(), "data");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  auto clampDim = [&](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t(0), rank); };
  int64_t start = clampDim(static_cast<int64_t>(getStart()));
  int64_t end = getEnd() ? clampDim(static_cast<int64_t>(*getEnd())) : rank;
  return setResultType(*this, 0, {std::max<int64_t>(0, end - start)},
                       IntegerType::get(getContext(), 64));
}

SmallVector<Type> ShapeOp::inferElementTypes() { return {IntegerType::get(getContext(), 64)}; }

} // namespace moec::onnx
