//===- DataFlow.h - which ops and operands carry run-time data ---*- C++ -*-===//
//
// Shared by the lowering (what becomes a launch) and the compile report
// (what would have been one before fusion), so the two never disagree.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_UTILS_DATAFLOW_H
#define MOEC_COMPILER_UTILS_DATAFLOW_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallVector.h"

namespace moec {

// The operand positions of `op` whose *data* a kernel reads. The others are
// compile-time inputs (a Reshape's shape, a TopK's K, Slice bounds) folded
// into the launch's specialization.
llvm::SmallVector<unsigned> dataOperands(mlir::Operation *op);

// The ops of `func`'s body that its results need as data, in program order.
// The others only compute compile-time operands.
llvm::SmallVector<mlir::Operation *> dataOps(mlir::func::FuncOp func);

} // namespace moec

#endif // MOEC_COMPILER_UTILS_DATAFLOW_H
