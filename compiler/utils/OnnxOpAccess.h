//===- OnnxOpAccess.h - reading onnx ops by their ONNX schema ----*- C++ -*-===//
//
// Passes that consume many onnx ops read them the way the ONNX spec describes
// them: input number i, attribute "axis" with its ONNX default. These helpers
// do that uniformly, whether an optional input is absent because the op was
// built with fewer operands, with a none-typed value, or with an empty
// operand segment.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_UTILS_ONNXOPACCESS_H
#define MOEC_COMPILER_UTILS_ONNXOPACCESS_H

#include "mlir/IR/Operation.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>
#include <string>
#include <vector>

namespace moec {

// The value of ONNX input `index` of `op`, or null if the input is absent.
mlir::Value getOnnxInput(mlir::Operation *op, unsigned index);

// Attribute readers with ONNX defaults.
int64_t getIntAttr(mlir::Operation *op, llvm::StringRef name, int64_t dflt);
double getFloatAttr(mlir::Operation *op, llvm::StringRef name, double dflt);
std::string getStringAttr(mlir::Operation *op, llvm::StringRef name,
                          llvm::StringRef dflt);
std::optional<std::vector<int64_t>> getIntsAttr(mlir::Operation *op,
                                                llvm::StringRef name);

// The ONNX node names in `loc` (NameLocs, through fused and call-site
// locations), in order, without repeats: whose nodes an op or launch came from.
std::vector<std::string> nodeNames(mlir::Location loc);

// The op type as ONNX names it ("TopK", "MoE"), from the op name.
llvm::StringRef onnxOpType(mlir::Operation *op);

// Whether `op` is the onnx-dialect op for ONNX type `type` ("MatMul").
bool isOnnxOp(mlir::Operation *op, llvm::StringRef type);

// The op defining `v` if it is the onnx op `type`, else null (also for a null
// value or a block argument): the first step of every raising pattern.
mlir::Operation *definedByOnnx(mlir::Value v, llvm::StringRef type);

// Compile-time int values of `value`: a constant, or a shape-like value the
// onnx dialect can evaluate. T (the token count) is ShapedType::kDynamic.
std::optional<std::vector<int64_t>> getKnownInts(mlir::Value value);

// An onnx.Constant of `type` holding `bytes` (row-major, the type's storage
// width) as a dense resource keyed `key`: how passes add weights they compute
// (quantized data, scales) without copying them into the context's uniquer.
mlir::Value createBlobConstant(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::RankedTensorType type, llvm::ArrayRef<char> bytes,
                               llvm::StringRef key);

} // namespace moec

#endif // MOEC_COMPILER_UTILS_ONNXOPACCESS_H
