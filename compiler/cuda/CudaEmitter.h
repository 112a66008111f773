//===- CudaEmitter.h - CUDA code generation and NVRTC -----------*- C++ -*-===//
#ifndef MOEC_COMPILER_CUDA_CUDAEMITTER_H
#define MOEC_COMPILER_CUDA_CUDAEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace moec {

// What the CUDA emitter specializes on: the architecture and its tiles.
struct CudaTarget {
  std::string arch;   // "sm_80", "sm_86", "sm_89", "sm_90a"
  int smemLimit;      // dynamic shared memory per block the arch allows (bytes)
  bool hasWgmma;      // Hopper: wgmma tensor-core instructions
};

// Which tensor-core GEMM kernels the emitter instantiates for 16-bit types.
// "mma": mma.sync (every target). "wgmma": Hopper's asynchronous warpgroup
// MMA (sm_90a only; opt-in until validated on a GPU).
enum class GemmImpl { Mma, Wgmma };

// Known targets; nullptr for an unknown name.
const CudaTarget *lookupCudaTarget(llvm::StringRef arch);
// The list of supported names, for messages: "sm_80, sm_86, sm_89, sm_90a".
std::string supportedCudaTargets();

// Generates the CUDA source of every kernel.launch (one extern "C" __global__
// wrapper each) and records on each launch its `symbol`, `grid`
// (array<i64: base_x, per_token_x, div_x, base_y, per_token_y, div_y>),
// `block` and `shared_bytes`.
mlir::FailureOr<std::string> emitCudaSource(mlir::ModuleOp module, const CudaTarget &target,
                                            GemmImpl gemm = GemmImpl::Mma);

// The device template headers the generated source includes (embedded).
struct EmbeddedHeader {
  const char *name;
  std::string text;
};
const std::vector<EmbeddedHeader> &cudaKernelHeaders();

// Writes kernels.cu and the device headers into `dir` (--keep-sources).
mlir::LogicalResult writeCudaSources(mlir::Location loc, const std::string &source,
                                     llvm::StringRef dir);

// Register/spill/shared-memory usage of one compiled kernel, from ptxas.
struct KernelResources {
  std::string kernel;
  int registers = 0;
  long spillStores = 0, spillLoads = 0;
  long sharedBytes = 0;
};

struct NvrtcResult {
  std::vector<char> cubin;
  std::vector<KernelResources> resources;
  std::string log;
};

// Compiles `source` in process with NVRTC for exactly `target.arch`.
// Errors are reported at `loc` with NVRTC's log.
mlir::FailureOr<NvrtcResult> compileCudaSource(mlir::Location loc, const std::string &source,
                                               const CudaTarget &target,
                                               const std::string &keepSourcesDir);

// Parses ptxas' verbose output ("Compiling entry function 'k' ...",
// "Used N registers", "N bytes spill stores, M bytes spill loads").
std::vector<KernelResources> parsePtxasLog(llvm::StringRef log);

} // namespace moec

#endif // MOEC_COMPILER_CUDA_CUDAEMITTER_H
