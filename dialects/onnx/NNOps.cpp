//===- NNOps.cpp - verifiers and shape inference: Softmax, TopK -------------===//
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

} // namespace moec::onnx
