//===- ImportContext.h - state shared by the importer's parts ----*- C++ -*-===//
//
// Private to compiler/import. The importer is split into the driver
// (OnnxImporter.cpp: file, graph, function), tensor conversion
// (TensorImport.cpp: types, initializers, external data) and node conversion
// (NodeImport.cpp: op table, attributes, older opset forms).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_IMPORT_IMPORTCONTEXT_H
#define MOEC_COMPILER_IMPORT_IMPORTCONTEXT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"

#include "llvm/ADT/StringMap.h"

// onnx_pb.h defines ONNX_API, then includes onnx-ml.pb.h (ONNX_ML=1).
#include <onnx/onnx_pb.h>

#include <map>
#include <string>

namespace moec::import {

struct ImportContext {
  mlir::MLIRContext &ctx;
  std::string path;      // as the user gave it; used in diagnostics
  std::string directory; // external data is relative to this
  mlir::Location fileLoc;
  std::map<std::string, int64_t> opsets; // domain ("" for ai.onnx) -> version
  mlir::OpBuilder builder;
  llvm::StringMap<mlir::Value> values; // ONNX value name -> SSA value

  ImportContext(mlir::MLIRContext &ctx, std::string path, std::string directory,
                mlir::Location fileLoc)
      : ctx(ctx), path(std::move(path)), directory(std::move(directory)), fileLoc(fileLoc),
        builder(&ctx) {}

  // ai.onnx's opset version (0 if the model imports none).
  int64_t defaultOpset() const {
    auto it = opsets.find("");
    return it == opsets.end() ? 0 : it->second;
  }
};

// The MLIR element type of an ONNX TensorProto data type, or null.
mlir::Type convertDataType(mlir::MLIRContext &ctx, int32_t dataType);

// Converts an initializer or Constant tensor. Tensors with at most
// `denseLimit` elements become DenseElementsAttr, others a dense_resource
// whose key is `resourceName` (sanitized). On failure reports one error at
// `loc` mentioning `what` (e.g. "initializer 'w'") and returns null.
mlir::ElementsAttr convertTensor(ImportContext &ic, const ::onnx::TensorProto &tensor,
                                 llvm::StringRef what, mlir::Location loc, int64_t denseLimit,
                                 llvm::StringRef resourceName);

// Converts one node into ops and records its outputs in ic.values. Reports
// one error at the node and returns failure on any problem.
mlir::LogicalResult importNode(ImportContext &ic, const ::onnx::NodeProto &node, int index);

} // namespace moec::import

#endif // MOEC_COMPILER_IMPORT_IMPORTCONTEXT_H
