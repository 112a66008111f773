//===- Passes.td - import passes ---------------------------*- tablegen -*-===//
#ifndef MOEC_PASSES_IMPORT_PASSES_TD
#define MOEC_PASSES_IMPORT_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Shape inference
//===----------------------------------------------------------------------===//

def MoecOnnxInferShapes : Pass<"moec-onnx-infer-shapes", "mlir::func::FuncOp"> {
  let summary = "Re-infers onnx result types and fails on shapes still unknown";
  let description = [{
    Walks the function body in order and infers or defers each onnx op's
    result types (moec::onnx::inferOrDeferShapes, the importer's rule), so
    every result gets a ranked type whose only dynamic dimension is the token
    count T, or stays unranked where moec cannot express the shape (e.g. a
    dimension 2*T): the op that lost the shape records why in
    `moec.unknown_shape`, ops fed by it are unranked without a reason. Ops
    deferred at import whose operands have become known since (raising
    passes) are inferred again and lose the attribute. Reshape targets and
    other shape operands are read through Shape/Gather/Concat chains. The
    function's result types are updated to the returned values.

    Unless allow-unknown is set, it then fails at the first op (in order)
    still carrying a reason, with the importer's one-line message
    (`op 'Reshape' (opset 18): cannot infer shape: ...` at the node). An
    invalid op (e.g. operand shapes that cannot broadcast) always fails.
  }];
  let options = [
    Option<"allowUnknown", "allow-unknown", "bool", /*default=*/"false",
           "Leave ops whose shape is still unknown (unranked, with their reason) "
           "instead of failing">,
  ];
}

#endif // MOEC_PASSES_IMPORT_PASSES_TD
