//===- OnnxInferShapes.cpp - the moec-onnx-infer-shapes pass ---------------===//
//
// The check between raising and the rest of the pipeline: after the raising
// passes have replaced the MoE blocks whose values had no expressible shape,
// every value must have one. Re-inference uses the importer's rule
// (dialects/onnx/DeferredShapes.h) and the error names the node that first
// lost a shape, in the importer's words.
//
//===----------------------------------------------------------------------===//
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/import/Passes.h"

namespace moec {
#define GEN_PASS_DEF_MOECONNXINFERSHAPES
#include "passes/import/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace {

class OnnxInferShapes : public moec::impl::MoecOnnxInferShapesBase<OnnxInferShapes> {
public:
  using MoecOnnxInferShapesBase::MoecOnnxInferShapesBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Ops are visited in order, so every operand is refined before its use.
    WalkResult walk = func.walk([](moec::onnx::ONNXShapeInferenceOpInterface op) {
      moec::onnx::ShapeOutcome outcome = moec::onnx::inferOrDeferShapes(op);
      if (outcome.kind != moec::onnx::ShapeOutcome::Invalid)
        return WalkResult::advance();
      op->emitError() << moec::onnx::describeOnnxOp(op) << ": " << outcome.message;
      return WalkResult::interrupt();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (!func.isExternal())
      if (Operation *terminator = func.getBody().back().getTerminator())
        func.setType(FunctionType::get(&getContext(), func.getArgumentTypes(),
                                       terminator->getOperandTypes()));
    if (!allowUnknown && failed(checkAllKnown(func)))
      signalPassFailure();
  }

private:
  // The first op with a recorded reason is the one to report: every later
  // unranked value descends from one such op.
  static LogicalResult checkAllKnown(func::FuncOp func) {
    Operation *reasoned = nullptr, *unranked = nullptr;
    func.walk([&](Operation *op) {
      if (moec::onnx::getUnknownShapeReason(op)) {
        reasoned = op;
        return WalkResult::interrupt();
      }
      if (!unranked && moec::onnx::hasUnrankedResult(op))
        unranked = op;
      return WalkResult::advance();
    });
    if (reasoned) {
      reasoned->emitError() << describe(reasoned) << ": "
                            << *moec::onnx::getUnknownShapeReason(reasoned);
      return failure();
    }
    if (unranked) {
      unranked->emitError() << describe(unranked)
                            << ": has a result of unknown shape, and no op records why";
      return failure();
    }
    return success();
  }

  static std::string describe(Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "onnx")
      return moec::onnx::describeOnnxOp(op);
    return "op '" + op->getName().getStringRef().str() + "'";
  }
};

} // namespace

std::unique_ptr<Pass> moec::createMoecOnnxInferShapesPass() {
  return createMoecOnnxInferShapes();
}
