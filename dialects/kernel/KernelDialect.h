//===- KernelDialect.h - the kernel dialect -----------------------*- C++ -*-===//
#ifndef MOEC_DIALECTS_KERNEL_KERNELDIALECT_H
#define MOEC_DIALECTS_KERNEL_KERNELDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/kernel/KernelOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/kernel/KernelOps.h.inc"

namespace moec::kernel {
// Attribute names shared by the memory planner, the emitters and the writer.
inline constexpr llvm::StringLiteral kArenaOffsetsAttr = "arena_offsets";
inline constexpr llvm::StringLiteral kScratchBytesAttr = "scratch_bytes";
inline constexpr llvm::StringLiteral kScratchOffsetAttr = "scratch_offset";
// On a launch: for each result, the operand whose buffer it may share (the
// kernel then writes only what changes), or -1. The artifact writer turns it
// into an in-place output when that operand is a graph input read by nothing
// else and the result is a graph output.
inline constexpr llvm::StringLiteral kInplaceOperandsAttr = "inplace_operands";
inline constexpr llvm::StringLiteral kSymbolAttr = "symbol";
inline constexpr llvm::StringLiteral kArenaSizeAttr = "kernel.arena_size";
inline constexpr llvm::StringLiteral kHostSourceAttr = "kernel.host_source";
inline constexpr llvm::StringLiteral kHostBinaryAttr = "kernel.host_binary";
inline constexpr llvm::StringLiteral kCudaSourceAttr = "kernel.cuda_source";
inline constexpr llvm::StringLiteral kCudaBinaryAttr = "kernel.cuda_binary";
// The target the module was compiled for ("host", "sm_90a", ...).
inline constexpr llvm::StringLiteral kTargetAttr = "kernel.target";

// One compiled GPU wrapper of a launch, as moec-emit-cuda records it: the
// launch's `variants` (one per token-count bucket), or the launch itself.
struct GpuLaunchVariant {
  llvm::StringRef symbol;
  llvm::ArrayRef<int64_t> grid; // x then y: (base, per_token, divisor) each
  int64_t block = 0, sharedBytes = 0;
  int64_t minTokens = 0, maxTokens = -1; // -1: no upper bound
};
// The variants of an emitted GPU launch, or an error at the launch when one
// lacks its symbol, grid, block or shared memory size.
mlir::FailureOr<llvm::SmallVector<GpuLaunchVariant>> gpuLaunchVariants(LaunchOp launch);
} // namespace moec::kernel

#endif // MOEC_DIALECTS_KERNEL_KERNELDIALECT_H
