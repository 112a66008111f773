//===- Pipeline.cpp - moec's pass pipelines ---------------------------------===//
#include "compiler/pipeline/Pipeline.h"

#include "compiler/cuda/CudaEmitter.h"
#include "compiler/report/Passes.h"
#include "dialects/kernel/KernelDialect.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/emit/Passes.h"
#include "passes/fusion/Passes.h"
#include "passes/import/Passes.h"
#include "passes/lower/Passes.h"
#include "passes/quant/Passes.h"
#include "passes/raise/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace moec {

bool isCudaTarget(llvm::StringRef target) { return lookupCudaTarget(target) != nullptr; }

void buildPipeline(OpPassManager &pm, const PipelineOptions &options, Stage stopAfter) {
  if (stopAfter == Stage::OnnxMlir)
    return;
  bool cuda = isCudaTarget(options.target);
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createMoecRaiseDequantize());
  funcPm.addPass(createMoecRaiseRmsNorm());
  funcPm.addPass(createMoecRaiseSigmoidRouter());
  funcPm.addPass(createMoecRaiseDenseMoE());
  funcPm.addPass(createMoecConvertOnnxToMoe());
  if (options.quantize != "none" || !options.quantizeConfig.empty()) {
    MoecQuantizeWeightsOptions quantize;
    quantize.format = options.quantize;
    quantize.groupSize = options.groupSize;
    quantize.config = options.quantizeConfig;
    funcPm.addPass(createMoecQuantizeWeights(quantize));
  }
  // 16-bit storage before fusion, so the boundary casts fuse with their
  // neighbours.
  if (cuda && options.precision != "f32") {
    MoecConvertFloatPrecisionOptions precision;
    precision.to = options.precision;
    funcPm.addPass(createMoecConvertFloatPrecision(precision));
  }
  if (!options.report.empty()) // the counts before fusion, for the report
    funcPm.addPass(createMoecRecordUnfused({cuda ? "cuda" : "host"}));
  funcPm.addPass(createMoecFuseElementwise());
  funcPm.addPass(createCSEPass());
  if (stopAfter == Stage::MoeMlir)
    return;
  OpPassManager &lowerPm = pm.nest<func::FuncOp>();
  MoecLowerToKernelOptions lowerOptions;
  lowerOptions.target = cuda ? "cuda" : "host";
  lowerPm.addPass(createMoecLowerToKernel(lowerOptions));
  lowerPm.addPass(createMoecFuseResidualNorm());
  MoecPlanMemoryOptions planOptions;
  planOptions.report = options.reportMemory;
  lowerPm.addPass(createMoecPlanMemory(planOptions));
  if (!options.report.empty())
    pm.addPass(createMoecWriteReport({options.report, "", options.target}));
  if (stopAfter == Stage::KernelMlir)
    return;
  if (cuda) {
    MoecEmitCudaOptions emitOptions;
    emitOptions.arch = options.target;
    emitOptions.compile = stopAfter == Stage::Artifact;
    emitOptions.keepSourcesDir = options.keepSources;
    emitOptions.failOnSpills = options.failOnSpills;
    emitOptions.gemm = options.gpuGemm;
    pm.addPass(createMoecEmitCuda(emitOptions));
  } else {
    MoecEmitHostOptions emitOptions;
    emitOptions.compile = stopAfter == Stage::Artifact;
    emitOptions.keepSourcesDir = options.keepSources;
    emitOptions.cxx = options.cxx;
    pm.addPass(createMoecEmitHost(emitOptions));
  }
  if (stopAfter == Stage::Source)
    return;
  MoecWriteArtifactOptions writeOptions;
  writeOptions.output = options.output;
  pm.addPass(createMoecWriteArtifact(writeOptions));
}

void registerAllDialects(DialectRegistry &registry) {
  registry.insert<func::FuncDialect, arith::ArithDialect, math::MathDialect,
                  onnx::ONNXDialect, moe::MoEDialect, kernel::KernelDialect>();
}

void registerAllPassesAndPipelines() {
  registerImportPasses();
  registerRaisePasses();
  registerFusionPasses();
  registerLowerPasses();
  registerEmitPasses();
  registerQuantPasses();
  registerReportPasses();
  PassPipelineRegistration<PipelineOptions>(
      "moec-pipeline", "Compiles imported onnx IR to a .moe artifact for target=",
      [](OpPassManager &pm, const PipelineOptions &options) { buildPipeline(pm, options); });
}

} // namespace moec
