//===- ONNXDialect.cpp - onnx dialect registration -------------------------===//
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;

#include "dialects/onnx/ONNXOpsDialect.cpp.inc"
#include "dialects/onnx/ONNXShapeInference.cpp.inc"

namespace moec::onnx {

void ONNXDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/onnx/ONNXOps.cpp.inc"
      >();
}

} // namespace moec::onnx

#define GET_OP_CLASSES
#include "dialects/onnx/ONNXOps.cpp.inc"
