//===- Passes.td - precision and quantization passes ----------*- tablegen -*-===//
#ifndef MOEC_PASSES_QUANT_PASSES_TD
#define MOEC_PASSES_QUANT_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecConvertFloatPrecision
    : Pass<"moec-convert-float-precision", "mlir::func::FuncOp"> {
  let summary = "Stores float32 tensors as bfloat16 or float16 inside the model";
  let description = [{
    Tensor cores read 16-bit floats and decode moves weight bytes, so the GPU
    targets keep weights and activations in 16 bits and accumulate in
    float32. Every f32 tensor inside the function becomes `to`; weights are
    rounded (to nearest even) at compile time; model inputs are converted on
    entry and outputs back to f32 on exit, so the model's signature does not
    change. Elementwise bodies compute in f32 (extf after loading, truncf
    before storing).

    Left in f32: expert selection. moe.router and onnx.TopK ops, and every
    op whose results only they use (the router's logits GEMM, a softmax
    before a TopK), keep f32 data and weights and read the f32 model input
    when that is their input, so the experts chosen match the f32 model; the
    routing weights are converted after selection.
  }];
  let options = [
    Option<"to", "to", "std::string", "\"bf16\"", "Target type: bf16 or f16">
  ];
  let dependentDialects = ["moec::moe::MoEDialect", "mlir::arith::ArithDialect"];
}

#endif // MOEC_PASSES_QUANT_PASSES_TD
