//===- TensorOps.cpp - verifiers and shape inference: data movement ops ----===//
//
// Constants, Cast/Identity, indexing (Gather*, Scatter*, OneHot, NonZero),
// Concat, Split, Transpose and Range. The reshaping ops are in ShapeOps.cpp.
//
//===----------------------------------------------------------------------===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace moec::onnx::detail;

namespace moec::onnx {

//===----------------------------------------------------------------------===//
// Constants, Cast, Identity
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  auto valueType = cast<ShapedType>(getValue().getType());
  if (auto result = getRankedType(getOutput()); result && result != valueType)
    return emitOpError() << "result type " << result << " differs from the value's type "
                         << valueType;
  return success();
}

LogicalResult ConstantOp::inferShapes() {
  auto type = cast<ShapedType>(getValue().getType());
  return setResultType(*this, 0, type.getShape(), type.getElementType());
}

SmallVector<Type> ConstantOp::inferElementTypes() {
  return {cast<ShapedType>(getValue().getType()).getElementType()};
}

LogicalResult ConstantOfShapeOp::verify() {
  if (auto value = getValueAttr(); value && cast<ShapedType>(value.getType()).getNumElements() != 1)
    return emitOpError() << "value must hold exactly one element";
  if (auto type = getRankedType(getInput()); type && type.getRank() != 1)
    return emitOpError() << "input must be a 1-D shape tensor, got rank " << type.getRank();
  return success();
}

LogicalResult ConstantOfShapeOp::inferShapes() {
  auto shape = getKnownIntValues(getInput());
  if (!shape)
    return emitOpError() << "cannot infer shape: the shape input is not known at compile time";
  for (int64_t dim : *shape)
    if (dim < 0 && dim != kTokens)
      return emitOpError() << "shape has a negative dimension " << dim;
  return setResultType(*this, 0, *shape, inferElementTypes().front());
}

// The fill value's type; without a value, ONNX fills float32 zeros.
SmallVector<Type> ConstantOfShapeOp::inferElementTypes() {
  if (auto value = getValueAttr())
    return {cast<ShapedType>(value.getType()).getElementType()};
  return {Float32Type::get(getContext())};
}

LogicalResult CastOp::verify() {
  if (failed(verifyFlag(*this, "saturate", getSaturate())))
    return failure();
  if (auto result = getRankedType(getOutput()); result && result.getElementType() != getTo())
    return emitOpError() << "result element type " << result.getElementType()
                         << " differs from 'to' (" << getTo() << ")";
  return success();
}

LogicalResult CastOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "the input");
  if (failed(type))
    return failure();
  return setResultType(*this, 0, type->getShape(), getTo());
}

SmallVector<Type> CastOp::inferElementTypes() { return {getTo()}; }

LogicalResult IdentityOp::inferShapes() { return inferSameAsOperand(*this, getInput()); }

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

static LogicalResult verifyAxis(Operation *op, Value data, int64_t axis) {
  auto type = getRankedType(data);
  if (type && !normalizeAxis(axis, type.getRank()))
    return op->emitOpError() << "axis " << axis << " is out of range for rank "
                             << type.getRank();
  return success();
}

LogicalResult GatherOp::verify() {
  return verifyAxis(*this, getData(), static_cast<int64_t>(getAxis()));
}

LogicalResult GatherOp::inferShapes() {
  auto data = requireRanked(*this, getData(), "data");
  auto indices = requireRanked(*this, getIndices(), "indices");
  if (failed(data) || failed(indices))
    return failure();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), data->getRank());
  if (!axis)
    return emitOpError() << "axis is out of range";
  SmallVector<int64_t> shape(data->getShape().take_front(*axis));
  llvm::append_range(shape, indices->getShape());
  llvm::append_range(shape, data->getShape().drop_front(*axis + 1));
  return setResultType(*this, 0, shape, data->getElementType());
}

static LogicalResult verifyElementsOp(Operation *op, Value data, Value indices, int64_t axis) {
  if (failed(verifyAxis(op, data, axis)))
    return failure();
  auto dataType = getRankedType(data), indicesType = getRankedType(indices);
  if (dataType && indicesType && dataType.getRank() != indicesType.getRank())
    return op->emitOpError() << "data and indices must have the same rank, got "
                             << dataType.getRank() << " and " << indicesType.getRank();
  return success();
}

LogicalResult GatherElementsOp::verify() {
  return verifyElementsOp(*this, getData(), getIndices(), static_cast<int64_t>(getAxis()));
}

LogicalResult GatherElementsOp::inferShapes() {
  auto indices = requireRanked(*this, getIndices(), "indices");
  if (failed(indices))
    return failure();
  return setResultType(*this, 0, indices->getShape(), getElementType(getData()));
}

// The checks ScatterElements and ScatterND share: a known reduction, and
// updates of data's element type.
static LogicalResult verifyScatter(Operation *op, StringRef reduction, Value data,
                                   Value updates) {
  static const char *const kReductions[] = {"none", "add", "mul", "max", "min"};
  if (!llvm::is_contained(kReductions, reduction))
    return op->emitOpError() << "reduction must be one of none, add, mul, max, min; got '"
                             << reduction << "'";
  if (getElementType(updates) != getElementType(data))
    return op->emitOpError() << "updates must have the element type of data";
  return success();
}

LogicalResult ScatterElementsOp::verify() {
  if (failed(verifyScatter(*this, getReduction(), getData(), getUpdates())))
    return failure();
  return verifyElementsOp(*this, getData(), getIndices(), static_cast<int64_t>(getAxis()));
}

LogicalResult ScatterElementsOp::inferShapes() { return inferSameAsOperand(*this, getData()); }

LogicalResult ScatterNDOp::verify() {
  if (failed(verifyScatter(*this, getReduction(), getData(), getUpdates())))
    return failure();
  auto indices = getRankedType(getIndices());
  if (indices && !isa<IntegerType>(indices.getElementType()))
    return emitOpError() << "indices must be an integer tensor, got " << indices;
  if (indices && indices.getRank() < 1)
    return emitOpError() << "indices must have rank 1 or more";
  auto data = getRankedType(getData()), updates = getRankedType(getUpdates());
  if (!data || !indices || indices.isDynamicDim(indices.getRank() - 1))
    return success();
  int64_t tuple = indices.getShape().back();
  if (tuple > data.getRank())
    return emitOpError() << "index tuples of length " << tuple << " do not fit data of rank "
                         << data.getRank();
  if (!updates)
    return success();
  // updates.shape = indices.shape[:-1] + data.shape[tuple:] (T matches T only,
  // but a T against a static size cannot be told wrong here).
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(tuple));
  bool fits = static_cast<int64_t>(expected.size()) == updates.getRank();
  for (int64_t i = 0; fits && i < updates.getRank(); ++i)
    fits = expected[i] == updates.getDimSize(i) || expected[i] == kTokens ||
           updates.isDynamicDim(i);
  if (!fits)
    return emitOpError() << "updates must have shape indices.shape[:-1] + data.shape["
                         << tuple << ":], got " << updates;
  return success();
}

LogicalResult ScatterNDOp::inferShapes() { return inferSameAsOperand(*this, getData()); }

LogicalResult GatherNDOp::verify() {
  if (int64_t batchDims = static_cast<int64_t>(getBatchDims()); batchDims != 0)
    return emitOpError() << "batch_dims = " << batchDims << " is not supported (only 0)";
  auto indices = getRankedType(getIndices());
  if (indices && !isa<IntegerType>(indices.getElementType()))
    return emitOpError() << "indices must be an integer tensor, got " << indices;
  if (indices && indices.getRank() < 1)
    return emitOpError() << "indices must have rank 1 or more";
  auto data = getRankedType(getData());
  if (data && indices && !indices.isDynamicDim(indices.getRank() - 1) &&
      indices.getShape().back() > data.getRank())
    return emitOpError() << "index tuples of length " << indices.getShape().back()
                         << " do not fit data of rank " << data.getRank();
  return success();
}

LogicalResult GatherNDOp::inferShapes() {
  auto data = requireRanked(*this, getData(), "data");
  auto indices = requireRanked(*this, getIndices(), "indices");
  if (failed(data) || failed(indices))
    return failure();
  if (indices->getRank() < 1)
    return emitOpError() << "indices must have rank 1 or more";
  int64_t tuple = indices->getShape().back();
  if (tuple == kTokens)
    return emitTokenDimError(*this); // which data axes remain would depend on T
  if (tuple > data->getRank())
    return emitOpError() << "index tuples of length " << tuple << " do not fit data of rank "
                         << data->getRank();
  // indices.shape[:-1] + data.shape[tuple:]
  SmallVector<int64_t> shape(indices->getShape().drop_back());
  llvm::append_range(shape, data->getShape().drop_front(tuple));
  return setResultType(*this, 0, shape, data->getElementType());
}

//===----------------------------------------------------------------------===//
// OneHot, NonZero
//===----------------------------------------------------------------------===//

LogicalResult OneHotOp::verify() {
  if (auto depth = getRankedType(getDepth());
      depth && (depth.getRank() > 1 || (depth.hasStaticShape() && depth.getNumElements() != 1)))
    return emitOpError() << "depth must be a scalar or a one-element tensor, got " << depth;
  if (auto values = getRankedType(getValues());
      values && (values.getRank() != 1 || (!values.isDynamicDim(0) && values.getDimSize(0) != 2)))
    return emitOpError() << "values must be [off, on] (2 elements), got " << values;
  if (auto indices = getRankedType(getIndices())) {
    int64_t axis = static_cast<int64_t>(getAxis()), rank = indices.getRank();
    if (!normalizeAxis(axis, rank + 1))
      return emitOpError() << "axis " << axis << " is out of range for a result of rank "
                           << rank + 1;
  }
  return success();
}

LogicalResult OneHotOp::inferShapes() {
  auto indices = requireRanked(*this, getIndices(), "indices");
  if (failed(indices))
    return failure();
  auto depth = getKnownIntValues(getDepth());
  if (!depth || depth->size() != 1)
    return emitOpError() << "cannot infer shape: depth is not known at compile time";
  int64_t classes = (*depth)[0];
  if (classes < 0 && classes != kTokens)
    return emitOpError() << "depth must be non-negative, got " << classes;
  int64_t rank = indices->getRank();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), rank + 1);
  if (!axis)
    return emitOpError() << "axis is out of range";
  SmallVector<int64_t> shape(indices->getShape());
  shape.insert(shape.begin() + *axis, classes);
  return setResultType(*this, 0, shape, getElementType(getValues()));
}

SmallVector<Type> OneHotOp::inferElementTypes() { return {getElementType(getValues())}; }

LogicalResult NonZeroOp::inferShapes() {
  return emitOpError() << "cannot infer shape: the number of nonzero elements depends on the "
                          "input data";
}

SmallVector<Type> NonZeroOp::inferElementTypes() { return {IntegerType::get(getContext(), 64)}; }

//===----------------------------------------------------------------------===//
// Concat, Split, Transpose
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "needs at least one input";
  int64_t rank = -1;
  for (Value input : getInputs()) {
    auto type = getRankedType(input);
    if (!type)
      continue;
    if (rank >= 0 && type.getRank() != rank)
      return emitOpError() << "inputs must have the same rank";
    rank = type.getRank();
    if (type.getElementType() != getElementType(getInputs().front()))
      return emitOpError() << "inputs must have the same element type";
  }
  if (rank >= 0 && !normalizeAxis(static_cast<int64_t>(getAxis()), rank))
    return emitOpError() << "axis " << static_cast<int64_t>(getAxis())
                         << " is out of range for rank " << rank;
  return success();
}

LogicalResult ConcatOp::inferShapes() {
  SmallVector<RankedTensorType> types;
  for (Value input : getInputs()) {
    auto type = requireRanked(*this, input, "an input");
    if (failed(type))
      return failure();
    types.push_back(*type);
  }
  int64_t rank = types.front().getRank();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), rank);
  if (!axis)
    return emitOpError() << "axis is out of range";
  SmallVector<int64_t> shape(types.front().getShape());
  int64_t staticSum = 0, tokenParts = 0;
  for (RankedTensorType type : types) {
    for (int64_t i = 0; i < rank; ++i) {
      if (i == *axis)
        continue;
      int64_t a = shape[i], b = type.getDimSize(i);
      if (a != b && a != kTokens && b != kTokens)
        return emitOpError() << "inputs differ in dimension " << i << ": " << a << " and " << b;
      if (a == kTokens)
        shape[i] = b;
    }
    if (type.isDynamicDim(*axis))
      ++tokenParts;
    else
      staticSum += type.getDimSize(*axis);
  }
  if (tokenParts == 0)
    shape[*axis] = staticSum;
  else if (tokenParts == 1 && staticSum == 0)
    shape[*axis] = kTokens;
  else
    return emitTokenDimError(*this);
  return setResultType(*this, 0, shape, types.front().getElementType());
}

LogicalResult SplitOp::verify() {
  if (getNumResults() == 0)
    return emitOpError() << "needs at least one output";
  if (auto n = getNumOutputs(); n && static_cast<int64_t>(*n) != getNumResults())
    return emitOpError() << "num_outputs is " << static_cast<int64_t>(*n) << " but the op has "
                         << getNumResults() << " results";
  if (getNumOutputs() && getSplit())
    return emitOpError() << "num_outputs and the split input cannot both be given";
  return verifyAxis(*this, getInput(), static_cast<int64_t>(getAxis()));
}

LogicalResult SplitOp::inferShapes() {
  auto type = requireRanked(*this, getInput(), "the input");
  if (failed(type))
    return failure();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), type->getRank());
  if (!axis)
    return emitOpError() << "axis is out of range";
  int64_t dim = type->getDimSize(*axis);
  int64_t parts = getNumResults();
  SmallVector<int64_t> sizes;
  if (Value split = getSplit()) {
    auto known = getKnownIntValues(split);
    if (!known)
      return emitOpError() << "cannot infer shape: the split sizes are not known at compile time";
    sizes = *known;
    if (static_cast<int64_t>(sizes.size()) != parts)
      return emitOpError() << "split has " << sizes.size() << " sizes for " << parts
                           << " outputs";
    int64_t sum = 0;
    for (int64_t size : sizes) {
      if (size < 0)
        return emitOpError() << "split sizes must be static and non-negative";
      sum += size;
    }
    if (dim != kTokens && sum != dim)
      return emitOpError() << "split sizes add up to " << sum << ", the axis has " << dim;
    if (dim == kTokens && parts != 1)
      return emitTokenDimError(*this);
  } else if (parts == 1) {
    sizes = {dim};
  } else if (dim == kTokens) {
    return emitTokenDimError(*this);
  } else {
    // Even split; since opset 18 the last part may be smaller.
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  }
  for (int64_t i = 0; i < parts; ++i) {
    SmallVector<int64_t> shape(type->getShape());
    shape[*axis] = sizes[i];
    if (failed(setResultType(*this, i, shape, type->getElementType())))
      return failure();
  }
  return success();
}

LogicalResult TransposeOp::verify() {
  auto type = getRankedType(getData());
  auto perm = getPerm();
  if (!type || !perm)
    return success();
  SmallVector<bool> seen(type.getRank(), false);
  if (static_cast<int64_t>(perm->size()) != type.getRank())
    return emitOpError() << "perm has " << perm->size() << " entries for rank "
                         << type.getRank();
  for (int64_t p : *perm) {
    if (p < 0 || p >= type.getRank() || seen[p])
      return emitOpError() << "perm is not a permutation of 0.." << type.getRank() - 1;
    seen[p] = true;
  }
  return success();
}

LogicalResult TransposeOp::inferShapes() {
  auto type = requireRanked(*this, getData(), "data");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  SmallVector<int64_t> perm;
  if (auto given = getPerm())
    perm.assign(given->begin(), given->end());
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank)
    return emitOpError() << "perm does not match the rank";
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank)
      return emitOpError() << "perm entry " << p << " is out of range";
    shape.push_back(type->getDimSize(p));
  }
  return setResultType(*this, 0, shape, type->getElementType());
}

//===----------------------------------------------------------------------===//
// Range
//===----------------------------------------------------------------------===//

LogicalResult RangeOp::verify() {
  Type element = getElementType(getStart());
  for (auto [name, operand] : {std::pair<StringRef, Value>{"start", getStart()},
                               {"limit", getLimit()},
                               {"delta", getDelta()}}) {
    if (getElementType(operand) != element)
      return emitOpError() << "start, limit and delta must have one element type, got "
                           << element << " and " << getElementType(operand) << " (" << name
                           << ")";
    if (auto type = getRankedType(operand); type && type.getRank() != 0)
      return emitOpError() << name << " must be a scalar (rank 0), got " << type;
  }
  if (!element.isInteger(32) && !element.isInteger(64) && !element.isF32() && !element.isF64())
    return emitOpError() << "element type " << element
                         << " is not supported (int32, int64, float32, float64)";
  return success();
}

// A float scalar held by an onnx.Constant.
static std::optional<double> knownFloatScalar(Value value) {
  auto dense = dyn_cast_or_null<DenseFPElementsAttr>(getConstantElements(value));
  if (!dense || dense.getNumElements() != 1)
    return std::nullopt;
  return (*dense.getValues<APFloat>().begin()).convertToDouble();
}

LogicalResult RangeOp::inferShapes() {
  Type element = getElementType(getStart());
  std::optional<int64_t> length;
  bool tokens = false;
  if (isa<IntegerType>(element)) {
    auto start = getKnownIntValues(getStart()), limit = getKnownIntValues(getLimit());
    auto delta = getKnownIntValues(getDelta());
    bool known = start && limit && delta && start->size() == 1 && limit->size() == 1 &&
                 delta->size() == 1;
    if (known && (*start)[0] != kTokens && (*limit)[0] != kTokens && (*delta)[0] != kTokens) {
      length = rangeLength((*start)[0], (*limit)[0], (*delta)[0]);
      if (!length)
        return emitOpError() << "delta must not be 0 and the length must fit int64 (start "
                             << (*start)[0] << ", limit " << (*limit)[0] << ", delta "
                             << (*delta)[0] << ")";
    }
    // Range(0, T, 1): the token positions, torch's position ids.
    tokens = known && (*start)[0] == 0 && (*limit)[0] == kTokens && (*delta)[0] == 1;
  } else if (isa<FloatType>(element)) {
    auto start = knownFloatScalar(getStart()), limit = knownFloatScalar(getLimit());
    auto delta = knownFloatScalar(getDelta());
    if (start && limit && delta) {
      length = rangeLength(*start, *limit, *delta, element.isF32());
      if (!length)
        return emitOpError() << "delta must not be 0 and the length must be finite (start "
                             << *start << ", limit " << *limit << ", delta " << *delta << ")";
    }
  }
  if (tokens)
    return setResultType(*this, 0, {kTokens}, element);
  if (!length)
    return emitOpError() << "cannot infer shape: the length of Range is not known at compile "
                            "time (start, limit and delta must be known, or start 0, delta 1 "
                            "and limit the token count)";
  return setResultType(*this, 0, {*length}, element);
}

} // namespace moec::onnx
