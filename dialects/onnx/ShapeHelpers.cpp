//===- ShapeHelpers.cpp - shared pieces of onnx shape inference ------------===//
#include "dialects/onnx/ShapeHelpers.h"

#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace moec::onnx::detail {

LogicalResult emitTokenDimError(Operation *op) {
  return op->emitOpError()
         << "cannot infer shape: dimension depends on the token count in a way moec does "
            "not support (only a dimension equal to the token count may be dynamic)";
}

RankedTensorType getRankedType(Value value) {
  return value ? dyn_cast<RankedTensorType>(value.getType()) : RankedTensorType();
}

FailureOr<RankedTensorType> requireRanked(Operation *op, Value value, StringRef what) {
  if (auto type = getRankedType(value))
    return type;
  return op->emitOpError() << "cannot infer shape: " << what << " has no known rank";
}

Type getElementType(Value value) {
  auto type = dyn_cast<ShapedType>(value.getType());
  return type ? type.getElementType() : Type();
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

LogicalResult setResultType(Operation *op, unsigned index, ArrayRef<int64_t> shape,
                            Type elementType) {
  Value result = op->getResult(index);
  auto inferred = RankedTensorType::get(shape, elementType);
  if (auto existing = getRankedType(result)) {
    // A declared type may be less precise than the inferred one, never different.
    bool compatible = existing.getRank() == inferred.getRank() &&
                      existing.getElementType() == elementType;
    for (int64_t i = 0; compatible && i < existing.getRank(); ++i)
      compatible = existing.isDynamicDim(i) || inferred.isDynamicDim(i) ||
                   existing.getDimSize(i) == inferred.getDimSize(i);
    if (!compatible)
      return op->emitOpError() << "result #" << index << " is declared as " << existing
                               << " but its operands give " << inferred;
  }
  result.setType(inferred);
  return success();
}

FailureOr<SmallVector<int64_t>> broadcastShapes(Operation *op,
                                                ArrayRef<SmallVector<int64_t>> shapes) {
  size_t rank = 0;
  for (const auto &shape : shapes)
    rank = std::max(rank, shape.size());
  SmallVector<int64_t> result(rank, 1);
  for (const auto &shape : shapes) {
    size_t offset = rank - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t &out = result[offset + i];
      int64_t dim = shape[i];
      if (dim == out || dim == 1)
        continue;
      if (out == 1) {
        out = dim;
      } else if (dim == kTokens || out == kTokens) {
        // T against n > 1 is valid only when T is n or 1; either way the result is n.
        out = dim == kTokens ? out : dim;
      } else {
        return op->emitOpError() << "operand shapes cannot be broadcast together: dimension "
                                 << out << " against " << dim;
      }
    }
  }
  return result;
}

FailureOr<int64_t> multiplyDims(Operation *op, ArrayRef<int64_t> dims) {
  int64_t product = 1;
  int tokenFactors = 0;
  for (int64_t dim : dims) {
    if (dim == kTokens)
      ++tokenFactors;
    else
      product *= dim;
  }
  if (tokenFactors == 0)
    return product;
  if (tokenFactors == 1 && product == 1)
    return kTokens;
  if (product == 0)
    return int64_t(0);
  return emitTokenDimError(op);
}

LogicalResult inferSameAsOperand(Operation *op, Value from) {
  auto type = requireRanked(op, from, "the input");
  if (failed(type))
    return failure();
  for (unsigned i = 0; i < op->getNumResults(); ++i)
    if (failed(setResultType(op, i, type->getShape(), type->getElementType())))
      return failure();
  return success();
}

LogicalResult inferBroadcast(Operation *op, ValueRange operands, Type elementType) {
  SmallVector<SmallVector<int64_t>> shapes;
  for (auto [i, operand] : llvm::enumerate(operands)) {
    auto type = requireRanked(op, operand, "input #" + std::to_string(i));
    if (failed(type))
      return failure();
    shapes.emplace_back(type->getShape());
  }
  auto shape = broadcastShapes(op, shapes);
  if (failed(shape))
    return failure();
  Type element = elementType ? elementType : getElementType(operands.front());
  return setResultType(op, 0, *shape, element);
}

LogicalResult verifyFlag(Operation *op, StringRef name, int64_t value) {
  if (value == 0 || value == 1)
    return success();
  return op->emitOpError() << "attribute '" << name << "' must be 0 or 1, got " << value;
}

std::optional<int64_t> rangeLength(int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0)
    return std::nullopt;
  if (delta > 0 ? limit <= start : limit >= start)
    return 0;
  // |limit - start| and |delta| in uint64: exact for any int64 operands.
  uint64_t span = delta > 0 ? static_cast<uint64_t>(limit) - static_cast<uint64_t>(start)
                            : static_cast<uint64_t>(start) - static_cast<uint64_t>(limit);
  uint64_t step = delta > 0 ? static_cast<uint64_t>(delta)
                            : static_cast<uint64_t>(-(delta + 1)) + 1;
  uint64_t count = span / step + (span % step != 0);
  if (count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return static_cast<int64_t>(count);
}

std::optional<int64_t> rangeLength(double start, double limit, double delta, bool f32) {
  double count = f32 ? static_cast<double>(std::ceil((static_cast<float>(limit) -
                                                       static_cast<float>(start)) /
                                                      static_cast<float>(delta)))
                     : std::ceil((limit - start) / delta);
  if (std::isnan(count) || count >= 9.2e18)
    return std::nullopt; // delta 0 (0/0 or x/0), infinities, or too many elements
  return count <= 0 ? 0 : static_cast<int64_t>(count);
}

} // namespace moec::onnx::detail
