//===- Passes.h - the compile report's passes -------------------*- C++ -*-===//
#ifndef MOEC_COMPILER_REPORT_PASSES_H
#define MOEC_COMPILER_REPORT_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec {
#define GEN_PASS_DECL
#include "compiler/report/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/report/Passes.h.inc"
} // namespace moec

#endif // MOEC_COMPILER_REPORT_PASSES_H
