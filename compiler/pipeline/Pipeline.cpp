//===- Pipeline.cpp - moec's pass pipelines ---------------------------------===//
#include "compiler/pipeline/Pipeline.h"

#include "compiler/calibration/CalibrationRun.h"
#include "compiler/calibration/Passes.h"
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
#include "passes/sparsity/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace moec {

bool isCudaTarget(llvm::StringRef target) { return lookupCudaTarget(target) != nullptr; }

namespace {

void buildAfterRaising(OpPassManager &pm, const PipelineOptions &options, Stage stopAfter);

// The float model compiled for the host, for moec-calibrate's run: the same
// passes as a host compile, without quantization or report.
calibration::HostPipelineBuilder hostBuilder(const PipelineOptions &options) {
  std::string cxx = options.cxx;
  return [cxx](OpPassManager &pm, const std::string &artifact) {
    PipelineOptions host;
    host.target = "host";
    host.output = artifact;
    host.cxx = cxx;
    buildAfterRaising(pm, host, Stage::Artifact);
  };
}

} // namespace

void buildPipeline(OpPassManager &pm, const PipelineOptions &options, Stage stopAfter) {
  if (stopAfter == Stage::OnnxMlir)
    return;
  OpPassManager &raisePm = pm.nest<func::FuncOp>();
  raisePm.addPass(createMoecRaiseDequantize());
  // The expert raisers (after the sigmoid router raiser, whose router they
  // read) remove the values whose shapes the importer deferred (k*T rows,
  // data-dependent counts); the attention raiser removes the [T, T] scores
  // and masks the memory plan has no place for. Layer by layer, since each
  // layer's input is ranked only once the layer before it is raised.
  raisePm.addPass(createMoecRaiseDecoderLayers());
  // Every shape must be known from here on: the raising passes above may
  // have replaced the MoE blocks whose shapes the importer deferred.
  raisePm.addPass(createMoecOnnxInferShapes());
  raisePm.addPass(createMoecRaiseRmsNorm());
  raisePm.addPass(createMoecRaiseDenseMoE());
  raisePm.addPass(createMoecConvertOnnxToMoe());
  // The calibration run sees the raised float model (the ops the later
  // passes rewrite, by the same keys).
  if (!options.calibration.empty()) {
    calibration::CalibrateOptions calibrate;
    calibrate.batches = options.calibration;
    calibrate.output = options.activations;
    calibrate.progress = options.progress;
    pm.addPass(calibration::createCalibratePass(hostBuilder(options), calibrate));
  }
  buildAfterRaising(pm, options, stopAfter);
}

namespace {

void buildAfterRaising(OpPassManager &pm, const PipelineOptions &options, Stage stopAfter) {
  bool cuda = isCudaTarget(options.target);
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  bool quantizing = options.quantize != "none" || !options.quantizeConfig.empty();
  // AWQ scales are folded into the float weights the quantizer then rounds.
  if (quantizing && !options.calibration.empty()) {
    MoecAwqScaleOptions awq;
    awq.activations = options.activations;
    awq.format = options.quantize;
    awq.groupSize = options.groupSize;
    awq.config = options.quantizeConfig;
    funcPm.addPass(createMoecAwqScale(awq));
  }
  if (quantizing) {
    MoecQuantizeWeightsOptions quantize;
    quantize.format = options.quantize;
    quantize.groupSize = options.groupSize;
    quantize.config = options.quantizeConfig;
    funcPm.addPass(createMoecQuantizeWeights(quantize));
  }
  // After quantization, so the calibration rows line up with the experts
  // the AWQ search saw; the pass cuts quantized weights in their stored form.
  if (options.pruneExperts >= 0 && !options.calibration.empty()) {
    MoecPruneExpertsOptions prune;
    prune.activations = options.activations;
    prune.threshold = options.pruneExperts;
    funcPm.addPass(createMoecPruneExperts(prune));
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

} // namespace

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
  registerSparsityPasses();
  registerCalibrationPasses();
  // moec-calibrate compiles the float model with this pipeline; registered
  // here since the pipeline lives above the calibration library.
  registerPass([] { return calibration::createCalibratePass(hostBuilder(PipelineOptions())); });
  PassPipelineRegistration<PipelineOptions>(
      "moec-pipeline", "Compiles imported onnx IR to a .moe artifact for target=",
      [](OpPassManager &pm, const PipelineOptions &options) { buildPipeline(pm, options); });
}

} // namespace moec
