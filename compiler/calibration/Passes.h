//===- Passes.h - calibration passes ----------------------------*- C++ -*-===//
#ifndef MOEC_COMPILER_CALIBRATION_PASSES_H
#define MOEC_COMPILER_CALIBRATION_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec {
#define GEN_PASS_DECL
#include "compiler/calibration/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/calibration/Passes.h.inc"
} // namespace moec

#endif // MOEC_COMPILER_CALIBRATION_PASSES_H
