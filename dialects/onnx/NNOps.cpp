//===- NNOps.cpp - verifiers and shape inference: Softmax, TopK, norms -----===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

using namespace mlir;
using namespace moec::onnx::detail;

namespace moec::onnx {

static LogicalResult verifyAxisOf(Operation *op, Value data, int64_t axis) {
  auto type = getRankedType(data);
  if (type && !normalizeAxis(axis, std::max<int64_t>(type.getRank(), 1)))
    return op->emitOpError() << "axis " << axis << " is out of range for rank "
                             << type.getRank();
  return success();
}

LogicalResult SoftmaxOp::verify() {
  return verifyAxisOf(*this, getInput(), static_cast<int64_t>(getAxis()));
}

LogicalResult SoftmaxOp::inferShapes() { return inferSameAsOperand(*this, getInput()); }

LogicalResult TopKOp::verify() {
  if (failed(verifyAxisOf(*this, getX(), static_cast<int64_t>(getAxis()))) ||
      failed(verifyFlag(*this, "largest", getLargest())) ||
      failed(verifyFlag(*this, "sorted", getSorted())))
    return failure();
  if (auto kType = getRankedType(getK());
      kType && (kType.getRank() != 1 || kType.getDimSize(0) != 1))
    return emitOpError() << "K must be a 1-D tensor with one element, got " << kType;
  return success();
}

LogicalResult TopKOp::inferShapes() {
  auto type = requireRanked(*this, getX(), "X");
  if (failed(type))
    return failure();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), type->getRank());
  if (!axis)
    return emitOpError() << "axis " << static_cast<int64_t>(getAxis())
                         << " is out of range for rank " << type->getRank();
  auto k = getKnownIntValues(getK());
  if (!k || k->size() != 1 || (*k)[0] == kTokens)
    return emitOpError() << "cannot infer shape: K is not known at compile time";
  int64_t dim = type->getDimSize(*axis);
  if ((*k)[0] < 0 || (dim != kTokens && (*k)[0] > dim))
    return emitOpError() << "K = " << (*k)[0] << " is outside [0, " << dim << "]";
  SmallVector<int64_t> shape(type->getShape());
  shape[*axis] = (*k)[0];
  if (failed(setResultType(*this, 0, shape, type->getElementType())))
    return failure();
  return setResultType(*this, 1, shape, IntegerType::get(getContext(), 64));
}

SmallVector<Type> TopKOp::inferElementTypes() {
  return {getElementType(getX()), IntegerType::get(getContext(), 64)};
}

//===----------------------------------------------------------------------===//
// RMS normalization (RMSNormalization, SimplifiedLayerNormalization, and the
// com.microsoft Skip form in MicrosoftOps.cpp)
//===----------------------------------------------------------------------===//

// `scale` must broadcast into the normalized shape x.shape[axis:] without
// growing it: right-aligned, each dim 1 or equal, no more dims than axes.
LogicalResult detail::verifyRmsNormScale(Operation *op, Value x, Value scale, int64_t axis,
                                         StringRef scaleName) {
  auto xType = getRankedType(x);
  auto sType = getRankedType(scale);
  if (!xType || !sType)
    return success();
  auto normalizedAxis = normalizeAxis(axis, xType.getRank());
  if (!normalizedAxis)
    return op->emitOpError() << "axis " << axis << " is out of range for rank "
                             << xType.getRank();
  ArrayRef<int64_t> normalized = xType.getShape().drop_front(*normalizedAxis);
  ArrayRef<int64_t> s = sType.getShape();
  bool fits = s.size() <= normalized.size();
  for (size_t i = 0; fits && i < s.size(); ++i) {
    int64_t want = normalized[normalized.size() - s.size() + i];
    fits = s[i] == 1 || s[i] == want;
  }
  if (!fits)
    return op->emitOpError() << scaleName << " of shape " << sType
                             << " does not broadcast to the normalized shape of " << xType
                             << " from axis " << *normalizedAxis;
  return success();
}

// The shape of a per-row statistic (mean, inv_std_var): x's with the
// normalized axes kept as size 1.
static SmallVector<int64_t> statisticShape(RankedTensorType x, int64_t axis) {
  SmallVector<int64_t> shape(x.getShape());
  for (size_t i = axis; i < shape.size(); ++i)
    shape[i] = 1;
  return shape;
}

LogicalResult RMSNormalizationOp::verify() {
  if (static_cast<int64_t>(getStashType()) != 1)
    return emitOpError() << "stash_type must be 1 (float32), got "
                         << static_cast<int64_t>(getStashType());
  return verifyRmsNormScale(*this, getX(), getScale(), static_cast<int64_t>(getAxis()), "scale");
}

LogicalResult RMSNormalizationOp::inferShapes() { return inferSameAsOperand(*this, getX()); }

LogicalResult SimplifiedLayerNormalizationOp::verify() {
  if (getNumResults() < 1 || getNumResults() > 2)
    return emitOpError() << "has 1 or 2 outputs (Y, inv_std_var), got " << getNumResults();
  if (static_cast<int64_t>(getStashType()) != 1)
    return emitOpError() << "stash_type must be 1 (float32), got "
                         << static_cast<int64_t>(getStashType());
  return verifyRmsNormScale(*this, getX(), getScale(), static_cast<int64_t>(getAxis()), "scale");
}

LogicalResult SimplifiedLayerNormalizationOp::inferShapes() {
  auto type = requireRanked(*this, getX(), "X");
  if (failed(type))
    return failure();
  auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), type->getRank());
  if (!axis)
    return emitOpError() << "axis " << static_cast<int64_t>(getAxis())
                         << " is out of range for rank " << type->getRank();
  if (failed(setResultType(*this, 0, type->getShape(), type->getElementType())))
    return failure();
  if (getNumResults() > 1)
    return setResultType(*this, 1, statisticShape(*type, *axis),
                         Float32Type::get(getContext()));
  return success();
}

// Y has X's type; inv_std_var is always float32 (stash_type 1).
SmallVector<Type> SimplifiedLayerNormalizationOp::inferElementTypes() {
  SmallVector<Type> types(getNumResults(), Float32Type::get(getContext()));
  if (!types.empty())
    types[0] = getElementType(getX());
  return types;
}

//===----------------------------------------------------------------------===//
// DequantizeLinear
//===----------------------------------------------------------------------===//

LogicalResult DequantizeLinearOp::verify() {
  auto x = getRankedType(getX());
  auto scale = getRankedType(getXScale());
  if (!x || !scale)
    return success();
  // Float8 weights (opset 19+) dequantize exactly like integers.
  auto float8 = dyn_cast<FloatType>(x.getElementType());
  if (!isa<IntegerType>(x.getElementType()) && !(float8 && float8.getWidth() == 8))
    return emitOpError() << "x must be an integer or float8 tensor, got " << x;
  if (!isa<FloatType>(scale.getElementType()))
    return emitOpError() << "x_scale must be a float tensor, got " << scale;
  int64_t block = static_cast<int64_t>(getBlockSize());
  if (block < 0)
    return emitOpError() << "block_size must be >= 0, got " << block;
  if (scale.getRank() > 0 || block > 0) {
    auto axis = normalizeAxis(static_cast<int64_t>(getAxis()), std::max<int64_t>(x.getRank(), 1));
    if (!axis)
      return emitOpError() << "axis " << static_cast<int64_t>(getAxis())
                           << " is out of range for rank " << x.getRank();
    if (block == 0 && (scale.getRank() != 1 || scale.getDimSize(0) != x.getDimSize(*axis)))
      return emitOpError() << "x_scale " << scale << " must be a scalar or 1-D of size "
                           << x.getDimSize(*axis) << " (per axis " << *axis << ")";
    if (block > 0) {
      SmallVector<int64_t> want(x.getShape());
      if (!ShapedType::isDynamic(want[*axis]))
        want[*axis] = (want[*axis] + block - 1) / block;
      if (scale.getShape() != ArrayRef<int64_t>(want))
        return emitOpError() << "x_scale " << scale << " must have shape "
                             << RankedTensorType::get(want, scale.getElementType())
                             << " for block_size " << block << " along axis " << *axis;
    }
  }
  if (auto zp = getRankedType(getXZeroPoint()))
    if (zp.getShape() != scale.getShape() || zp.getElementType() != x.getElementType())
      return emitOpError() << "x_zero_point " << zp << " must have x_scale's shape and x's type";
  return success();
}

LogicalResult DequantizeLinearOp::inferShapes() {
  auto x = requireRanked(*this, getX(), "x");
  auto scale = requireRanked(*this, getXScale(), "x_scale");
  if (failed(x) || failed(scale))
    return failure();
  return setResultType(*this, 0, x->getShape(), scale->getElementType());
}

SmallVector<Type> DequantizeLinearOp::inferElementTypes() {
  return {getElementType(getXScale())};
}

} // namespace moec::onnx
