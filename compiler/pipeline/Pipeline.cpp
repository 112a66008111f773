//===- Pipeline.cpp - moec's pass pipelines ---------------------------------===//
#include "compiler/pipeline/Pipeline.h"

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

void buildHostPipeline(OpPassManager &pm, const HostPipelineOptions &options, Stage stopAfter) {
  if (stopAfter == Stage::OnnxMlir)
    return;
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createMoecConvertOnnxToMoe());
  funcPm.addPass(createMoecFuseElementwise());
  funcPm.addPass(createCSEPass());
  if (stopAfter == Stage::MoeMlir)
    return;
  OpPassManager &lowerPm = pm.nest<func::FuncOp>();
  lowerPm.addPass(createMoecLowerToKernel());
  MoecPlanMemoryOptions planOptions;
  planOptions.report = options.reportMemory;
  lowerPm.addPass(createMoecPlanMemory(planOptions));
  if (stopAfter == Stage::KernelMlir)
    return;
  MoecEmitHostOptions emitOptions;
  emitOptions.compile = stopAfter == Stage::Artifact;
  emitOptions.keepSourcesDir = options.keepSources;
  emitOptions.cxx = options.cxx;
  pm.addPass(createMoecEmitHost(emitOptions));
  if (stopAfter == Stage::HostCpp)
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
  PassPipelineRegistration<HostPipelineOptions>(
      "moec-host-pipeline", "Compiles imported onnx IR to a host .moe artifact",
      [](OpPassManager &pm, const HostPipelineOptions &options) {
        buildHostPipeline(pm, options);
      });
}

} // namespace moec
