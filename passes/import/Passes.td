//===- Passes.td - import passes ---------------------------*- tablegen -*-===//
#ifndef MOEC_PASSES_IMPORT_PASSES_TD
#define MOEC_PASSES_IMPORT_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Shape inference
//===----------------------------------------------------------------------===//

def MoecOnnxInferShapes : Pass<"moec-onnx-infer-shapes", "mlir::func::FuncOp"> {
  let summary = "Infers the result types of onnx ops and the function's result types";
  let description = [{
    Walks the function body in order and calls each onnx op's
    ONNXShapeInferenceOpInterface::inferShapes, so every result gets a ranked
    type whose only dynamic dimension is the token count T. Reshape targets
    and other shape operands are read through Shape/Gather/Concat chains.
    Finally the function's result types are updated to the returned values.
    Fails at the first op whose shape cannot be inferred, for example a
    reshape that would make a dimension 2*T.
  }];
}

#endif // MOEC_PASSES_IMPORT_PASSES_TD
