//===- Passes.h - import passes -----------------------------------*- C++ -*-===//
#ifndef MOEC_PASSES_IMPORT_PASSES_H
#define MOEC_PASSES_IMPORT_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace moec {
#define GEN_PASS_DECL
#include "passes/import/Passes.h.inc"

// The moec-onnx-infer-shapes pass (same as createMoecOnnxInferShapes()).
std::unique_ptr<mlir::Pass> createMoecOnnxInferShapesPass();

#define GEN_PASS_REGISTRATION
#include "passes/import/Passes.h.inc"
} // namespace moec

#endif // MOEC_PASSES_IMPORT_PASSES_H
