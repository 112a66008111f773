//===- StandaloneEmitter.h - a generated, model-specific runtime -*- C++ -*-===//
//
// `moec compile --emit standalone -o DIR` writes a self-contained project for
// one model and one target: the step list unrolled into C++ (no interpreter,
// no artifact parsing at run time), the kernels (host C++ source, or the
// cubin), weights.bin, a C header with create/run/destroy, a CMakeLists.txt
// that builds one shared library, and a README. See docs/deploy.md.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_STANDALONE_STANDALONEEMITTER_H
#define MOEC_COMPILER_STANDALONE_STANDALONEEMITTER_H

#include "compiler/pipeline/Pipeline.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace moec::standalone {

struct StandaloneOptions {
  std::string directory;     // created if missing; moec's files in it are replaced
  std::string name;          // C prefix; empty: from the ONNX file's name
  bool embedWeights = false; // the CMake option's default
};

struct StandaloneSummary {
  std::string name;
  std::vector<std::string> files;
  size_t steps = 0;
  uint64_t weightBytes = 0;
};

// The pipeline of `--emit standalone`: the artifact pipeline up to kernel
// emission without writing an artifact. The host kernels are generated but
// not compiled (the project compiles them); GPU kernels are compiled to a
// cubin with NVRTC.
void buildStandalonePipeline(mlir::OpPassManager &pm, const PipelineOptions &options);

// Writes the project for a module that went through that pipeline.
mlir::LogicalResult writeStandaloneProject(mlir::ModuleOp module,
                                           const StandaloneOptions &options,
                                           StandaloneSummary *summary = nullptr);

// "mixtral_moe_node" for "mixtral-moe node.onnx": a C identifier.
std::string defaultName(llvm::StringRef source);
// True if `name` can prefix C identifiers and name files.
bool isValidName(llvm::StringRef name);

} // namespace moec::standalone

#endif // MOEC_COMPILER_STANDALONE_STANDALONEEMITTER_H
