//===- ConstantData.h - reading compile-time constant tensors ----*- C++ -*-===//
//
// Constants reach moec's passes in three forms: DenseElementsAttr (small ONNX
// Constant nodes, values folded by passes), DenseResourceElementsAttr (ONNX
// initializers, kept as blobs so large weights are not copied into the
// context's uniquer) and splats. These helpers give every pass one way to
// read them.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_UTILS_CONSTANTDATA_H
#define MOEC_COMPILER_UTILS_CONSTANTDATA_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Value.h"

#include <optional>
#include <vector>

namespace moec {

// The ElementsAttr behind `value` if it is produced by a constant op
// (onnx.Constant, kernel.constant or arith.constant), else null.
mlir::ElementsAttr getConstantElements(mlir::Value value);

// Size in bytes of one element as moec stores it (i1 takes one byte).
int64_t storageBytes(mlir::Type elementType);

// All elements in row-major order, each `storageBytes` wide, little endian.
// Splats are expanded. std::nullopt if the data cannot be read (a resource
// blob that was dropped, an element type moec does not store).
std::optional<std::vector<char>> getConstantBytes(mlir::ElementsAttr attr);

// Element `index` converted to double (ints and floats alike).
std::optional<double> getElementAsDouble(mlir::ElementsAttr attr, int64_t index);

// All elements of the constant behind `value` as doubles, read in one pass
// over its bytes (weights are large); std::nullopt if `value` is no constant
// or its element type is not f32, f16, bf16 or an integer of 8, 16 or 32 bits.
std::optional<std::vector<double>> getConstantValues(mlir::Value value);

// The f32 constant behind `value` (static shape), row-major; std::nullopt for
// anything else (run-time values, moe.dequantize weights, other types).
std::optional<std::vector<float>> getConstantFloats(mlir::Value value);

// All elements converted to int64 (for shape-like tensors).
std::optional<std::vector<int64_t>> getConstantInts(mlir::ElementsAttr attr);

} // namespace moec

#endif // MOEC_COMPILER_UTILS_CONSTANTDATA_H
