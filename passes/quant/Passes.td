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

def MoecQuantizeWeights : Pass<"moec-quantize-weights", "mlir::func::FuncOp"> {
  let summary = "Stores expert and linear weights as int8, int4 or fp8 with float32 block scales";
  let description = [{
    Weight-only, symmetric int8, int4 (packed two per byte) or fp8 (E4M3FN,
    scale = max|w| / 448, q rounded to nearest even and saturated): every f32
    constant weight of moe.experts (fc1, fc2, fc3) and moe.linear becomes
    moe.dequantize(q: i8 or f8E4M3FN, scale: f32, bits)
    with one scale per `group-size` elements along the reduction axis (0:
    per output row); linear weights are stored [N, K]. Linears whose only
    users select experts (moe.router, Softmax/TopK) stay float. With
    `config`, per-layer or per-expert-block overrides by node name (format
    "none" keeps an op float), e.g. attention in int8 and experts in int4.
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"int8\"",
           "Weight format: int8, int4 (two values per byte) or fp8 (E4M3FN)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Elements per scale along the reduction axis (0: one per output row)">,
    Option<"config", "config", "std::string", /*default=*/"\"\"",
           "JSON file of per-layer overrides: {\"rules\": [{\"match\": SUBSTRING, "
           "\"format\": none|int8|int4|fp8, \"group_size\": G}, ...]}; the first rule whose "
           "match is in an op's ONNX node name decides, others use format/group-size">,
  ];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

def MoecAwqScale : Pass<"moec-awq-scale", "mlir::func::FuncOp"> {
  let summary = "Activation-aware per-input-channel scales before weight quantization";
  let description = [{
    AWQ-style, with the activation directory a calibration run wrote
    (`activations`, compiler/calibration/CalibrationData.h). For each group
    of consumers sharing an input whose producer can be rescaled exactly,
    searches per-input-channel scales s = mean|x|^alpha (normalized to
    geometric mean 1; alpha on 0, 0.05, ..., 1) and keeps the alpha that
    minimizes the summed output error ||X W - (X/s) Q(diag(s) W)||^2 of the
    group's quantized consumers on the calibration rows, among the alphas
    that make no consumer worse than round-to-nearest (alpha = 0 is RTN, so
    none is worse on those rows). Q is exactly moec-quantize-weights'
    rounding with its per-op format choice (same `format`, `group-size`,
    `config`). The fold is exact: 1/s into the producer, s into every
    consumer's float weights, including consumers that stay float (a router
    reading the same normed x gets diag(s) W_router, so routing does not
    change).

    Producers: moe.rms_norm with a constant (or no) scale; an f32 constant
    moe.linear (its output columns and bias); for fc2 of a gated expert
    (swiglu, beta = 0, no limit), the linear half of the same expert (fc3
    rows, or fc1's linear rows when fused), one alpha per experts op.
    Consumers: moe.linear and moe.experts (fc1, fc3) reading the value,
    also through reshapes that keep the last axis.

    Left alone: consumers whose producer cannot be rescaled exactly (other
    users, a run-time or non-f32 weight), non-gated fc2, ops the format
    choice leaves float, pre-quantized weights. Records, per quantized weight,
    the format, group size, bytes before and after, and the relative output
    error for RTN and AWQ on the function as `moec.quantization` (the compile
    report's quantization section).
  }];
  let options = [
    Option<"activations", "activations", "std::string", /*default=*/"\"\"",
           "Activation directory of a calibration run (index.json + rows/)">,
    Option<"format", "format", "std::string", /*default=*/"\"int8\"",
           "As moec-quantize-weights' format">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "As moec-quantize-weights' group-size">,
    Option<"config", "config", "std::string", /*default=*/"\"\"",
           "As moec-quantize-weights' config">,
  ];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect"];
}

#endif // MOEC_PASSES_QUANT_PASSES_TD
