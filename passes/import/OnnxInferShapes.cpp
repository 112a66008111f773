//===- OnnxInferShapes.cpp - the moec-onnx-infer-shapes pass ---------------===//
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
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Ops are visited in order, so every operand is inferred before its use.
    WalkResult walk = func.walk([](moec::onnx::ONNXShapeInferenceOpInterface op) {
      return failed(op.inferShapes()) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (func.isExternal())
      return;
    Operation *terminator = func.getBody().back().getTerminator();
    if (!terminator)
      return;
    auto type = FunctionType::get(&getContext(), func.getArgumentTypes(),
                                  terminator->getOperandTypes());
    func.setType(type);
  }
};

} // namespace

std::unique_ptr<Pass> moec::createMoecOnnxInferShapesPass() {
  return createMoecOnnxInferShapes();
}
