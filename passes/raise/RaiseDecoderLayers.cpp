//===- RaiseDecoderLayers.cpp - raise attention and experts layer by layer ===//
//
// In an exported decoder every layer's input shape depends on the layer
// before it being raised: the mask makes the attention's scores unranked
// (its shape is deferred at import) until moec-raise-attention replaces
// them, and the MoE block's k*T rows make the block's output unranked until
// an expert raiser replaces it (the sigmoid router raiser, whose router the
// expert raisers read, runs before them). Each raiser needs ranked inputs, so
// one run of each raises one layer at most. This pass runs them in rounds, in order,
// until a round raises nothing more: L layers take L + 1 rounds.
//
//===----------------------------------------------------------------------===//
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

namespace moec {
#define GEN_PASS_DEF_MOECRAISEDECODERLAYERS
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace {

int64_t countMoeOps(func::FuncOp func) {
  int64_t n = 0;
  func.walk([&](Operation *op) {
    if (isa<moec::moe::MoEDialect>(op->getDialect()))
      ++n;
  });
  return n;
}

struct RaiseDecoderLayers : moec::impl::MoecRaiseDecoderLayersBase<RaiseDecoderLayers> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    OpPassManager round(func::FuncOp::getOperationName());
    round.addPass(moec::createMoecRaiseAttention());
    round.addPass(moec::createMoecRaiseSigmoidRouter());
    round.addPass(moec::createMoecRaiseLoopedExperts());
    round.addPass(moec::createMoecRaiseBatchedExperts());
    int64_t raised = countMoeOps(func);
    while (true) {
      // What the last round raised gives the next layer its shapes back.
      moec::raise::refreshShapes(func);
      if (failed(runPipeline(round, func)))
        return signalPassFailure();
      int64_t now = countMoeOps(func);
      if (now == raised)
        return;
      raised = now;
    }
  }
};

} // namespace
