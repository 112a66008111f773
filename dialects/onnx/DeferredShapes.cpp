//===- DeferredShapes.cpp - infer an op's shapes, or defer them ------------===//
#include "dialects/onnx/DeferredShapes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;

namespace moec::onnx {
namespace {

bool isUnranked(Value value) { return isa<UnrankedTensorType>(value.getType()); }

// Sets every result unranked with its rule's element type. Fails (with the
// message in `error`) if the op has no rule for some result.
LogicalResult makeResultsUnranked(ONNXShapeInferenceOpInterface op, std::string &error) {
  Operation *operation = op.getOperation();
  SmallVector<Type> elements = op.inferElementTypes();
  if (elements.size() != operation->getNumResults() || llvm::is_contained(elements, Type())) {
    error = "internal error: no element type rule for a result whose shape is deferred";
    return failure();
  }
  for (auto [result, element] : llvm::zip(operation->getResults(), elements))
    result.setType(UnrankedTensorType::get(element));
  return success();
}

} // namespace

ShapeOutcome inferOrDeferShapes(ONNXShapeInferenceOpInterface op) {
  Operation *operation = op.getOperation();
  ShapeOutcome outcome;

  if (llvm::any_of(operation->getOperands(), isUnranked)) {
    // The shape was lost upstream; that op holds the reason. inferShapes is
    // not called: it may assume ranked operands.
    operation->removeAttr(kUnknownShapeAttr);
    if (failed(makeResultsUnranked(op, outcome.message)))
      outcome.kind = ShapeOutcome::Invalid;
    else
      outcome.kind = ShapeOutcome::Deferred;
    return outcome;
  }

  std::string message;
  LogicalResult inferred = success();
  {
    // Keep the op's first error; let remarks and warnings through.
    ScopedDiagnosticHandler capture(operation->getContext(), [&](Diagnostic &diag) {
      if (diag.getSeverity() != DiagnosticSeverity::Error)
        return failure();
      if (message.empty())
        message = diag.str();
      return success();
    });
    inferred = op.inferShapes();
  }
  if (succeeded(inferred)) {
    operation->removeAttr(kUnknownShapeAttr);
    return outcome;
  }
  // Ops prefix their errors with "'onnx.X' op "; callers name the op themselves.
  std::string prefix = "'" + operation->getName().getStringRef().str() + "' op ";
  if (llvm::StringRef(message).starts_with(prefix))
    message = message.substr(prefix.size());
  if (message.empty())
    message = "invalid op";
  if (!llvm::StringRef(message).starts_with(kCannotInferShape)) {
    outcome.kind = ShapeOutcome::Invalid;
    outcome.message = std::move(message);
    return outcome;
  }
  if (failed(makeResultsUnranked(op, outcome.message))) {
    outcome.kind = ShapeOutcome::Invalid;
    return outcome;
  }
  operation->setAttr(kUnknownShapeAttr, StringAttr::get(operation->getContext(), message));
  outcome.kind = ShapeOutcome::Deferred;
  outcome.message = std::move(message);
  return outcome;
}

std::optional<llvm::StringRef> getUnknownShapeReason(Operation *op) {
  if (auto reason = op->getAttrOfType<StringAttr>(kUnknownShapeAttr))
    return reason.getValue();
  return std::nullopt;
}

bool hasUnrankedResult(Operation *op) { return llvm::any_of(op->getResults(), isUnranked); }

std::string describeOnnxOp(Operation *op) {
  llvm::StringRef name = op->getName().getStringRef();
  name.consume_front("onnx.");
  llvm::StringRef domain = "ai.onnx";
  if (name.consume_front("ms."))
    domain = "com.microsoft";
  std::string text = "op '" + name.str() + "'";
  auto module = op->getParentOfType<ModuleOp>();
  auto opsets = module ? module->getAttrOfType<DictionaryAttr>("onnx.opset_import")
                       : DictionaryAttr();
  if (auto version = opsets ? opsets.getAs<IntegerAttr>(domain) : IntegerAttr())
    text += " (opset " + std::to_string(version.getInt()) + ")";
  return text;
}

} // namespace moec::onnx
