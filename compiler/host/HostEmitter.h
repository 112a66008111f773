//===- HostEmitter.h - C++ code generation for the host target ---*- C++ -*-===//
#ifndef MOEC_COMPILER_HOST_HOSTEMITTER_H
#define MOEC_COMPILER_HOST_HOSTEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace moec {

// Generates the C++ source of every kernel.launch in `module` (one
// extern "C" function each) and records each function's name in the
// launch's `symbol` attribute. Reports unsupported launches at their op.
mlir::FailureOr<std::string> emitHostSource(mlir::ModuleOp module);

// The kernel template header the generated source includes
// (compiler/host/kernels/moec_host_kernels.h, embedded at build time).
llvm::StringRef hostKernelHeader();
inline constexpr const char *kHostKernelHeaderName = "moec_host_kernels.h";

struct HostCompileOptions {
  std::string cxx;            // compiler; empty: $MOEC_HOST_CXX, else "c++"
  std::string keepSourcesDir; // non-empty: write sources there and keep them
};

// Compiles `source` into a shared object and returns its bytes. Errors are
// reported at `loc` with the compiler's first lines of output.
mlir::FailureOr<std::vector<char>> compileHostSource(mlir::Location loc,
                                                     const std::string &source,
                                                     const HostCompileOptions &options);

} // namespace moec

#endif // MOEC_COMPILER_HOST_HOSTEMITTER_H
