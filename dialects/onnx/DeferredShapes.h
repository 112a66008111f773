//===- DeferredShapes.h - infer an op's shapes, or defer them -----*- C++ -*-===//
//
// moec's shapes allow one dynamic dim, the token count T. Inside an MoE block
// exporters compute values moec cannot describe that way ([k*T, H] rows, the
// data-dependent count of NonZero); raising passes later replace the whole
// block by one op of known shape. So shape inference may *defer*: such a
// value gets an unranked type with its exact element type, and the op that
// lost the shape records why in the `moec.unknown_shape` attribute. Ops fed
// by an unranked value become unranked too, without a reason of their own.
// moec-onnx-infer-shapes re-infers after raising and reports the first
// reason that is left.
//
// The importer (per node) and moec-onnx-infer-shapes (per function) both use
// inferOrDeferShapes, so the rule lives in one place.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECTS_ONNX_DEFERREDSHAPES_H
#define MOEC_DIALECTS_ONNX_DEFERREDSHAPES_H

#include "dialects/onnx/ONNXDialect.h"

#include <optional>
#include <string>

namespace moec::onnx {

// The discardable string attribute holding why an op's results are unranked.
inline constexpr llvm::StringLiteral kUnknownShapeAttr = "moec.unknown_shape";

// Shape inference messages with this prefix describe a shape moec cannot
// express (not an invalid model); those are deferred instead of refused.
inline constexpr llvm::StringLiteral kCannotInferShape = "cannot infer shape:";

struct ShapeOutcome {
  enum Kind {
    Inferred, // every result has its ranked type; no reason on the op
    Deferred, // every result is unranked; `message` is the reason ("" when an
              // operand was already unranked: the reason is upstream)
    Invalid,  // the op is invalid; `message` is the error, without the
              // "'onnx.X' op " prefix. Nothing was reported yet.
  };
  Kind kind = Inferred;
  std::string message;
};

// Infers `op`'s result types, or defers them:
//  - an unranked tensor operand: results unranked (element types from
//    inferElementTypes), no reason, inferShapes not called;
//  - inferShapes fails with "cannot infer shape: ...": results unranked and
//    the message stored in kUnknownShapeAttr;
//  - inferShapes succeeds: kUnknownShapeAttr removed (a deferred op whose
//    operands became known is re-inferred this way);
//  - any other failure: Invalid, types possibly partly refined.
// Diagnostics inferShapes emits are captured, never reported.
ShapeOutcome inferOrDeferShapes(ONNXShapeInferenceOpInterface op);

// The reason `op` records for its unranked results, if any.
std::optional<llvm::StringRef> getUnknownShapeReason(mlir::Operation *op);

// True if some result of `op` is an unranked tensor.
bool hasUnrankedResult(mlir::Operation *op);

// "op 'Reshape' (opset 18)": how the importer names a node's op in its
// errors, rebuilt from an onnx-dialect op (com.microsoft ops by their ONNX
// name, the opset from the module's onnx.opset_import; "op 'Reshape'" alone
// when the module records no opset).
std::string describeOnnxOp(mlir::Operation *op);

} // namespace moec::onnx

#endif // MOEC_DIALECTS_ONNX_DEFERREDSHAPES_H
