//===- Pipeline.h - moec's pass pipelines, shared by moec and moec-opt -*- C++ -*-===//
#ifndef MOEC_COMPILER_PIPELINE_PIPELINE_H
#define MOEC_COMPILER_PIPELINE_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace moec {

// Where a compile stops: each stage is the IR (or file) after that point.
enum class Stage { OnnxMlir, MoeMlir, KernelMlir, Source, Artifact };

struct PipelineOptions : public mlir::PassPipelineOptions<PipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("host, or a CUDA architecture (sm_80, sm_86, "
                                            "sm_89, sm_90a)"),
                             llvm::cl::init("host")};
  Option<std::string> precision{*this, "precision",
                                llvm::cl::desc("CUDA targets: storage type of float tensors "
                                               "(bf16, f16 or f32)"),
                                llvm::cl::init("bf16")};
  Option<std::string> gpuGemm{*this, "gpu-gemm",
                              llvm::cl::desc("GPU targets: tensor-core GEMM kernels, mma or "
                                             "wgmma (sm_90a)"),
                              llvm::cl::init("mma")};
  Option<std::string> quantize{*this, "quantize",
                               llvm::cl::desc("Weight quantization: none or int8"),
                               llvm::cl::init("none")};
  Option<int64_t> groupSize{*this, "group-size",
                            llvm::cl::desc("Weights per quantization scale (0: per row)"),
                            llvm::cl::init(0)};
  Option<std::string> quantizeConfig{*this, "quantize-config",
                                     llvm::cl::desc("JSON file of per-layer quantization "
                                                    "overrides (moec-quantize-weights config)")};
  Option<std::string> calibration{*this, "calibration",
                                  llvm::cl::desc("Directory of .npy batches of the model's "
                                                 "inputs: run moec-calibrate after raising and, "
                                                 "when quantizing, moec-awq-scale")};
  Option<std::string> activations{*this, "activations",
                                  llvm::cl::desc("With calibration: the activation directory "
                                                 "moec-calibrate writes and later passes read")};
  Option<double> pruneExperts{*this, "prune-experts",
                              llvm::cl::desc("With calibration: remove the experts routed "
                                             "below this share of the slots (< 0: off)"),
                              llvm::cl::init(-1.0)};
  Option<bool> progress{*this, "progress",
                        llvm::cl::desc("Progress lines on stderr for long steps"),
                        llvm::cl::init(false)};
  Option<bool> failOnSpills{*this, "fail-on-spills",
                            llvm::cl::desc("CUDA targets: a register spill is an error"),
                            llvm::cl::init(false)};
  Option<std::string> output{*this, "output", llvm::cl::desc("Path of the .moe artifact")};
  Option<std::string> keepSources{*this, "keep-sources",
                                  llvm::cl::desc("Keep the generated C++ in this directory")};
  Option<std::string> cxx{*this, "cxx", llvm::cl::desc("Host C++ compiler")};
  Option<std::string> report{*this, "report",
                             llvm::cl::desc("Write the compile report here (.json: JSON, "
                                            "else Markdown); see docs/user-guide.md")};
  Option<bool> reportMemory{*this, "report-memory",
                            llvm::cl::desc("Report the arena size as a remark"),
                            llvm::cl::init(false)};
};

// onnx dialect -> artifact for options.target, stopping after `stopAfter`.
// The module must come from the importer (shapes inferred, or deferred as
// unranked values that the expert raising passes remove).
void buildPipeline(mlir::OpPassManager &pm, const PipelineOptions &options,
                   Stage stopAfter = Stage::Artifact);

// True for "sm_80", "sm_86", "sm_89", "sm_90a".
bool isCudaTarget(llvm::StringRef target);

// Every dialect moec's IR may contain.
void registerAllDialects(mlir::DialectRegistry &registry);
// Every moec pass and the `moec-host-pipeline` pipeline, for moec-opt.
void registerAllPassesAndPipelines();

} // namespace moec

#endif // MOEC_COMPILER_PIPELINE_PIPELINE_H
