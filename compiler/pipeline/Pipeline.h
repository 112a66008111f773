//===- Pipeline.h - moec's pass pipelines, shared by moec and moec-opt -*- C++ -*-===//
#ifndef MOEC_COMPILER_PIPELINE_PIPELINE_H
#define MOEC_COMPILER_PIPELINE_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace moec {

// Where a compile stops: each stage is the IR (or file) after that point.
enum class Stage { OnnxMlir, MoeMlir, KernelMlir, HostCpp, Artifact };

struct HostPipelineOptions : public mlir::PassPipelineOptions<HostPipelineOptions> {
  Option<std::string> output{*this, "output", llvm::cl::desc("Path of the .moe artifact")};
  Option<std::string> keepSources{*this, "keep-sources",
                                  llvm::cl::desc("Keep the generated C++ in this directory")};
  Option<std::string> cxx{*this, "cxx", llvm::cl::desc("Host C++ compiler")};
  Option<bool> reportMemory{*this, "report-memory",
                            llvm::cl::desc("Report the arena size as a remark"),
                            llvm::cl::init(false)};
};

// onnx dialect -> artifact for the host target, stopping after `stopAfter`.
// The module must come from the importer (shapes already inferred).
void buildHostPipeline(mlir::OpPassManager &pm, const HostPipelineOptions &options,
                       Stage stopAfter = Stage::Artifact);

// Every dialect moec's IR may contain.
void registerAllDialects(mlir::DialectRegistry &registry);
// Every moec pass and the `moec-host-pipeline` pipeline, for moec-opt.
void registerAllPassesAndPipelines();

} // namespace moec

#endif // MOEC_COMPILER_PIPELINE_PIPELINE_H
