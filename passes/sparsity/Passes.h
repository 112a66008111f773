//===- Passes.h - sparsity passes ------------------------------*- C++ -*-===//
#ifndef MOEC_PASSES_SPARSITY_PASSES_H
#define MOEC_PASSES_SPARSITY_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec {
#define GEN_PASS_DECL
#include "passes/sparsity/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/sparsity/Passes.h.inc"
} // namespace moec

#endif
