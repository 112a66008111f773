//===- HostEmitter.h - C++ code generation for the host target ---*- C++ -*-===//
#ifndef MOEC_COMPILER_HOST_HOSTEMITTER_H
#define MOEC_COMPILER_HOST_HOSTEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <optional>
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

// The x86-64 level the host kernels are compiled for: "generic" (the
// x86-64 baseline, SSE2), "x86-64-v2", "x86-64-v3" (AVX2, FMA), "x86-64-v4"
// (AVX-512). moec compile --host-cpu records it on the module under this
// attribute; the artifact writer copies it into Model.host_cpu, which
// libmoert checks against the CPU at session creation.
inline constexpr llvm::StringLiteral kHostCpuAttr = "moec.host_cpu";
// moec's default: the best whole level of the compiling machine, so an
// artifact run where it was compiled (the common case, and every test) gets
// that CPU's vector width and cannot be refused. To deploy elsewhere, pass the
// target's level; a CPU without it gets a clear refusal from libmoert, never
// SIGILL. Results are bit-identical across levels (no FMA contraction).
inline constexpr llvm::StringLiteral kDefaultHostCpu = "native";

// Validates a --host-cpu value and resolves "native" to the best level this
// machine has ("generic" off x86-64). std::nullopt and `*error` (one line,
// listing the choices) for anything else.
std::optional<std::string> resolveHostCpu(llvm::StringRef level, std::string *error);

// The level recorded on `module` (kHostCpuAttr), "generic" when none.
std::string hostCpuOf(mlir::ModuleOp module);

struct HostCompileOptions {
  std::string cxx;            // compiler; empty: $MOEC_HOST_CXX, else "c++"
  std::string keepSourcesDir; // non-empty: write sources there and keep them
  std::string hostCpu;        // see kHostCpuAttr; empty: "generic"
};

// Compiles `source` into a shared object and returns its bytes. Errors are
// reported at `loc` with the compiler's first lines of output.
mlir::FailureOr<std::vector<char>> compileHostSource(mlir::Location loc,
                                                     const std::string &source,
                                                     const HostCompileOptions &options);

} // namespace moec

#endif // MOEC_COMPILER_HOST_HOSTEMITTER_H
