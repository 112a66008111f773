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

    A result whose shape cannot be expressed is unranked (`tensor<*xf32>`)
    with the element type inferElementTypes gives: see DeferredShapes.h for
    when a shape is deferred rather than refused.
  }];
  let methods = [
    InterfaceMethod<[{
        Sets the result types from the operands. Emits a diagnostic on the
        op and returns failure if the operands are inconsistent or if the
        result shape cannot be expressed with T as the only dynamic dim.
      }],
      "::llvm::LogicalResult", "inferShapes", (ins)>,
    InterfaceMethod<[{
        The element type of every result, from the operands and attributes
        alone (no shapes needed), so a result whose shape is deferred still
        has its exact element type. A null entry means "not known". The
        default is operand 0's element type for every result; ops whose
        results differ (comparisons, Cast, Shape, TopK's indices, ...)
        override it.
      }],
      "::llvm::SmallVector<::mlir::Type>", "inferElementTypes", (ins), [{}], [{
        ::mlir::Operation *op = $_op.getOperation();
        ::mlir::Type element;
        if (op->getNumOperands() > 0)
          if (auto shaped = ::llvm::dyn_cast<::mlir::ShapedType>(op->getOperand(0).getType()))
            element = shaped.getElementType();
        return ::llvm::SmallVector<::mlir::Type>(op->getNumResults(), element);
      }]>,
  ];
}

#endif // MOEC_DIALECTS_ONNX_ONNXSHAPEINFERENCE_TD
