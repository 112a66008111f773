//===- ONNXShapeInference.td - per-op shape inference ------*- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXSHAPEINFERENCE_TD
#define MOEC_DIALECTS_ONNX_ONNXSHAPEINFERENCE_TD

include "mlir/IR/OpBase.td"

def ONNXShapeInferenceOpInterface : OpInterface<"ONNXShapeInferenceOpInterface"> {
  let cppNamespace = "::moec::onnx";
  let description = [{
    Refines an op's result types (element type and shape) from its operand
    types and from operand values known at compile time. The token count T
    is the only dimension that may stay dynamic; an op whose result would
    depend on T in any other way reports an error instead of guessing.
  }];
  let methods = [
    InterfaceMethod<[{
        Sets the result types from the operands. Emits a diagnostic on the
        op and returns failure if the operands are inconsistent or if the
        result shape cannot be expressed with T as the only dynamic dim.
      }],
      "::llvm::LogicalResult", "inferShapes", (ins)>,
  ];
}

#endif // MOEC_DIALECTS_ONNX_ONNXSHAPEINFERENCE_TD
