//===- ArtifactWriter.h - the .moe artifact ---------------------*- C++ -*-===//
#ifndef MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
#define MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <cstdint>

namespace llvm {
class raw_pwrite_stream;
} // namespace llvm

namespace moec {

struct ArtifactSummary {
  size_t kernels = 0, steps = 0, weights = 0;
  uint64_t weightBytes = 0, fileBytes = 0; // the weights segment; the file
  int64_t arenaBase = 0, arenaPerToken = 0;
};

// Serializes a module after memory planning and code emission (function
// @main of kernel.launch/kernel.constant ops, a `kernel.host_binary` or
// `kernel.cuda_binary`) as a .moe file to `os`, starting at its current
// position: header, FlatBuffer, then the weights one at a time straight from
// their resource blobs (never the whole file in memory). The header is
// written last, with pwrite, once the weights checksum is known.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::raw_pwrite_stream &os,
                                  ArtifactSummary *summary = nullptr);

// The same to `path`, atomically: a temp file renamed into place, so a failed
// compile never leaves a half-written artifact.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::StringRef path,
                                  ArtifactSummary *summary = nullptr);

} // namespace moec

#endif // MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
