//===- OnnxImporter.h - ONNX protobuf to the onnx dialect ---------*- C++ -*-===//
//
// Reads an .onnx file (and its external data) into a module holding one
// func.func @main in the onnx dialect, with every result type inferred, or
// deferred (unranked, the reason on the op that lost the shape) where moec
// cannot express a shape: see dialects/onnx/DeferredShapes.h.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_IMPORT_ONNXIMPORTER_H
#define MOEC_COMPILER_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>

namespace moec {

struct OnnxImportOptions {
  // Fix named symbolic dims to a value, e.g. {"batch", 1}. All remaining
  // symbolic dims must be one name: the token count.
  std::map<std::string, int64_t> dimBindings;
  // The rows of the fixed-capacity cache a growing KV cache (past_* inputs
  // concatenated with the new keys) is compiled into: compiler/import/GrowingCache.h.
  int64_t kvCapacity = 4096;
};

// Reads the file (with external data relative to its directory). On failure
// emits exactly one error diagnostic, located at the file or at the node
// ("<file>: node '<name>'"), and returns nullptr. Loads the onnx and func
// dialects into `ctx`.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(mlir::MLIRContext &ctx, llvm::StringRef path,
                                                 const OnnxImportOptions &options);

} // namespace moec

#endif // MOEC_COMPILER_IMPORT_ONNXIMPORTER_H
