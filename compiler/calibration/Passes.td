//===- Passes.td - calibration passes --------------------------*- tablegen -*-===//
#ifndef MOEC_COMPILER_CALIBRATION_PASSES_TD
#define MOEC_COMPILER_CALIBRATION_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecExposeCalibrationTaps
    : Pass<"moec-expose-calibration-taps", "mlir::func::FuncOp"> {
  let summary = "Returns the values a calibration run samples as extra function results";
  let description = [{
    Run on a copy of the raised module that `moec compile --calibration`
    compiles for the host and runs on the user's batches. Appends to the
    function's results, once per distinct value:

    - the input of every moe.linear whose weight is an f32 constant and whose
      output does not only select experts (a router's logits stay float, so
      nothing needs measuring there);
    - the input and the expert_ids of every moe.experts;
    - the expert_ids of every moe.router (the routing counts).

    Each new result is named `moec.tap.N` (`onnx.name`, the name the artifact
    gives the output) and the function records what it holds:

    ```mlir
    func.func @main(...) attributes {moec.calibration_taps = [
        {key = "/q_proj/MatMul", op = "moe.linear", value = "input", output = "moec.tap.0"},
        {key = "/moe/MoE", op = "moe.router", value = "expert_ids", output = "moec.tap.1"}, ...]}
    ```

    Keys are CalibrationData.h's (the ONNX node name, "#n" for repeats).
    Nothing else changes, so the tapped model computes what the model does.
  }];
  let dependentDialects = ["moec::moe::MoEDialect"];
}

#endif // MOEC_COMPILER_CALIBRATION_PASSES_TD
