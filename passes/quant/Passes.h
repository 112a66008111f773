//===- Passes.h - quant passes ---------------------------------*- C++ -*-===//
#ifndef MOEC_PASSES_QUANT_PASSES_H
#define MOEC_PASSES_QUANT_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec {
#define GEN_PASS_DECL
#include "passes/quant/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/quant/Passes.h.inc"
} // namespace moec

#endif
