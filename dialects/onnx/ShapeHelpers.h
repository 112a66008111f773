//===- ShapeHelpers.h - shared pieces of onnx shape inference -----*- C++ -*-===//
//
// Private to the dialect library. Shape inference works on int64 dim lists
// in which ShapedType::kDynamic stands for the token count T; these helpers
// keep the rule "a dynamic dim is exactly T" in one place.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECTS_ONNX_SHAPEHELPERS_H
#define MOEC_DIALECTS_ONNX_SHAPEHELPERS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <optional>

namespace moec::onnx::detail {

// The token count T in a dim list.
inline constexpr int64_t kTokens = mlir::ShapedType::kDynamic;

// Reports that a result dim would be a function of T other than T itself.
mlir::LogicalResult emitTokenDimError(mlir::Operation *op);

// The ranked type of `value`, or null if it is unranked or not a tensor.
mlir::RankedTensorType getRankedType(mlir::Value value);

// The ranked type of operand `value`, or an error naming `what` on `op`.
mlir::FailureOr<mlir::RankedTensorType> requireRanked(mlir::Operation *op, mlir::Value value,
                                                      llvm::StringRef what);

// The element type of a tensor value (null for a non-tensor).
mlir::Type getElementType(mlir::Value value);

// `axis` in [-rank, rank) made non-negative, or nullopt if out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

// Sets result `index` of `op` to tensor<shape x elementType>. Fails (with a
// diagnostic) if the result already has a ranked type that contradicts it.
mlir::LogicalResult setResultType(mlir::Operation *op, unsigned index,
                                  llvm::ArrayRef<int64_t> shape, mlir::Type elementType);

// numpy broadcast of several shapes. T against a static n > 1 gives n
// (the only way the program is valid); T against 1 or T gives T.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(mlir::Operation *op, llvm::ArrayRef<llvm::SmallVector<int64_t>> shapes);

// Product of dims: static, or T when exactly one factor is T and the others
// multiply to 1; anything else is a token-dim error.
mlir::FailureOr<int64_t> multiplyDims(mlir::Operation *op, llvm::ArrayRef<int64_t> dims);

// Same result types for all results as operand `from` (unary ops).
mlir::LogicalResult inferSameAsOperand(mlir::Operation *op, mlir::Value from);

// Broadcast of all operands; the result element type is `elementType`, or
// the first operand's when null.
mlir::LogicalResult inferBroadcast(mlir::Operation *op, mlir::ValueRange operands,
                                   mlir::Type elementType = {});

// Verifier helper: `value` in {0, 1}.
mlir::LogicalResult verifyFlag(mlir::Operation *op, llvm::StringRef name, int64_t value);

// Verifier helper for the RMS norms: `scale` broadcasts into x.shape[axis:]
// without growing it (right-aligned, each dim 1 or equal).
mlir::LogicalResult verifyRmsNormScale(mlir::Operation *op, mlir::Value x, mlir::Value scale,
                                       int64_t axis, llvm::StringRef scaleName);

// Range's element count max(ceil((limit - start) / delta), 0) as the range
// kernels compute it (moec_host_kernels.h, moec_cuda_kernels.cuh): integers
// exactly, floats in their own precision (`f32`: float, else double), so a
// length planned at compile time is the one the kernel checks at run time.
// nullopt for delta = 0, a non-finite quotient, or a count beyond int64.
std::optional<int64_t> rangeLength(int64_t start, int64_t limit, int64_t delta);
std::optional<int64_t> rangeLength(double start, double limit, double delta, bool f32);

} // namespace moec::onnx::detail

#endif // MOEC_DIALECTS_ONNX_SHAPEHELPERS_H
