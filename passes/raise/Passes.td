//===- Passes.td - raising passes: onnx dialect to moe dialect -*- tablegen -*-===//
#ifndef MOEC_PASSES_RAISE_PASSES_TD
#define MOEC_PASSES_RAISE_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecConvertOnnxToMoe : Pass<"moec-convert-onnx-to-moe", "mlir::func::FuncOp"> {
  let summary = "Converts onnx ops to their moe-level counterparts";
  let description = [{
    com.microsoft.MoE becomes moe.router + moe.experts; MatMul/Gemm with a
    constant matrix become moe.linear, other MatMuls moe.matmul; elementwise
    ops (arithmetic, activations, comparisons, Cast, Where, Expand,
    ConstantOfShape) become single-op moe.elementwise regions that the fusion
    pass can merge. Ops without a moe counterpart (Softmax, TopK, Gather, ...)
    are left as they are. Constants used only for shapes stay in place.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect"];
}

#endif // MOEC_PASSES_RAISE_PASSES_TD
