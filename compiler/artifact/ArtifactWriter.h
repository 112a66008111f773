//===- ArtifactWriter.h - the .moe artifact ---------------------*- C++ -*-===//
#ifndef MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
#define MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moec {

struct ArtifactSummary {
  size_t kernels = 0, steps = 0, weights = 0, weightBytes = 0, fileBytes = 0;
  int64_t arenaBase = 0, arenaPerToken = 0;
};

// Serializes a module after memory planning and code emission (function
// @main of kernel.launch/kernel.constant ops, a `kernel.host_binary`) into
// the bytes of a .moe file.
mlir::FailureOr<std::vector<uint8_t>> buildArtifact(mlir::ModuleOp module,
                                                    ArtifactSummary *summary = nullptr);

// buildArtifact + write to `path` (atomically: a temp file renamed into place,
// so a failed compile never leaves a half-written artifact).
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::StringRef path,
                                  ArtifactSummary *summary = nullptr);

} // namespace moec

#endif // MOEC_COMPILER_ARTIFACT_ARTIFACTWRITER_H
