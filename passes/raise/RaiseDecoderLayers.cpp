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
// A growing KV cache (compiler/import/GrowingCache.h) compiles only when each
// of its Concat(past, new) was consumed by an attention raised to
// moe.attention; one left over is reported here, naming what reads it,
// rather than as the deferred shape it leaves downstream.
//
//===----------------------------------------------------------------------===//
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"

#include "compiler/utils/OnnxOpAccess.h"

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

// The first Concat(past, new) left of a growing cache, reported; failure if any.
LogicalResult checkGrowingCaches(func::FuncOp func) {
  auto module = func->getParentOfType<ModuleOp>();
  if (!module || !module->hasAttr("moec.kv_cache_capacity"))
    return success();
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, "onnx.name");
    if (!name || !name.getValue().starts_with("past"))
      continue; // not a cache buffer (the importer kept the past_* names)
    SmallVector<Value> views{func.getArgument(i)};
    while (!views.empty()) {
      Value view = views.pop_back_val();
      for (Operation *user : view.getUsers()) {
        if (!moec::isOnnxOp(user, "Concat") && !moec::isOnnxOp(user, "Identity"))
          continue;
        if (user->getNumOperands() == 1) {
          views.push_back(user->getResult(0));
          continue;
        }
        if (user->getOperand(0) != view)
          continue; // the cache is not what grows here
        Operation *reader = nullptr;
        // The first reader of its data (a Shape reads only its length).
        for (Operation *r : user->getResult(0).getUsers())
          if (!isa<func::ReturnOp>(r) && !moec::isOnnxOp(r, "Shape") &&
              (!reader || r->isBeforeInBlock(reader)))
            reader = r;
        std::string readBy = "nothing but the graph outputs";
        if (reader) {
          std::vector<std::string> names = moec::nodeNames(reader->getLoc());
          readBy = "op '" + moec::onnxOpType(reader).str() + "'" +
                   (names.empty() ? "" : " (node '" + names.front() + "')");
        }
        return user->emitError()
               << "the KV cache input '" << name.getValue()
               << "' grows here (past and new rows concatenated), and moec compiles a growing "
                  "cache only as the keys or values of a causal attention it raises to "
                  "moe.attention; these are read by "
               << readBy
               << " (a compressed cache, as DeepSeek's MLA keeps, or an attention "
                  "moec-raise-attention does not recognize)";
      }
    }
  }
  return success();
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
      if (now == raised) {
        if (failed(checkGrowingCaches(func)))
          signalPassFailure();
        return;
      }
      raised = now;
    }
  }
};

} // namespace
