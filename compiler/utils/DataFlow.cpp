//===- DataFlow.cpp - which ops and operands carry run-time data -----------===//
#include "compiler/utils/DataFlow.h"

#include "compiler/utils/OnnxOpAccess.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace moec {

SmallVector<unsigned> dataOperands(Operation *op) {
  if (op->getDialect() && op->getDialect()->getNamespace() == "onnx") {
    StringRef type = onnxOpType(op);
    if (type == "Shape" || type == "ConstantOfShape" || type == "Constant")
      return {};
    if (type == "Reshape" || type == "Expand" || type == "Slice" || type == "TopK" ||
        type == "ReduceSum" || type == "ReduceMean" || type == "ReduceMax" ||
        type == "ReduceMin" || type == "Squeeze" || type == "Unsqueeze" || type == "Split" ||
        type == "Flatten" || type == "CumSum")
      return {0};
  }
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < op->getNumOperands(); ++i)
    all.push_back(i);
  return all;
}

SmallVector<Operation *> dataOps(func::FuncOp func) {
  llvm::SetVector<Operation *> live;
  SmallVector<Operation *> worklist;
  auto mark = [&](Value v) {
    if (Operation *def = v ? v.getDefiningOp() : nullptr)
      if (def->getParentOp() == func && live.insert(def))
        worklist.push_back(def);
  };
  for (Block &block : func.getBody())
    for (Value v : block.getTerminator()->getOperands())
      mark(v);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (unsigned i : dataOperands(op))
      mark(op->getOperand(i));
  }
  SmallVector<Operation *> ordered;
  for (Operation &op : func.getBody().front().without_terminator())
    if (live.contains(&op))
      ordered.push_back(&op);
  return ordered;
}

} // namespace moec
