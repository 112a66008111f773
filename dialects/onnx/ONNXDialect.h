//===- ONNXDialect.h - the onnx dialect ---------------------------*- C++ -*-===//
//
// Everything a user of the onnx dialect needs: the dialect, its ops, the
// shape-inference interface and the known-value helpers that shape
// inference (and later passes) use to read compile-time shapes.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECTS_ONNX_ONNXDIALECT_H
#define MOEC_DIALECTS_ONNX_ONNXDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>

#include "dialects/onnx/ONNXOpsDialect.h.inc"
#include "dialects/onnx/ONNXShapeInference.h.inc"

#define GET_OP_CLASSES
#include "dialects/onnx/ONNXOps.h.inc"

namespace moec::onnx {

// The elements of `value` if it is produced by an onnx.Constant (dense or
// dense_resource), else null.
mlir::ElementsAttr getConstantElements(mlir::Value value);

// The values of a small integer tensor (at most kMaxKnownValues elements)
// when they are known at compile time, in row-major order. The token count T
// appears as mlir::ShapedType::kDynamic. Sees through Constant, Shape,
// Gather/Slice/Concat/Unsqueeze/Squeeze/Cast/Identity of known values,
// Add/Sub/Mul/Div and the comparisons (Equal, Less, Greater, LessOrEqual,
// GreaterOrEqual) of fully static known values, Where picking between known
// values, Range of static integer scalars, and OneHot of known indices, depth
// and integer values.
inline constexpr int64_t kMaxKnownValues = 4096;
std::optional<llvm::SmallVector<int64_t>> getKnownIntValues(mlir::Value value);

} // namespace moec::onnx

#endif // MOEC_DIALECTS_ONNX_ONNXDIALECT_H
