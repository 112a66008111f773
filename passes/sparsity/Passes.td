//===- Passes.td - sparsity passes: removing work that does not change the answer -*- tablegen -*-===//
#ifndef MOEC_PASSES_SPARSITY_PASSES_TD
#define MOEC_PASSES_SPARSITY_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Expert pruning
//===----------------------------------------------------------------------===//

def MoecPruneExperts : Pass<"moec-prune-experts", "mlir::func::FuncOp"> {
  let summary = "Removes experts the calibration data rarely routes to";
  let description = [{
    For each moe.router feeding one moe.experts, reads how many routed slots
    chose each expert on the calibration batches (`activations`, the
    directory `moec compile --calibration` writes) and removes the experts
    whose share of the slots is below `threshold`: their columns of the
    router's logits linear (weight and bias), their entries of a sigmoid
    router's selection bias, and their slices of fc1/fc2/fc3 and biases
    (constants or moe.dequantize of constants). k stays; at least k experts
    are kept. Routed weights keep their meaning: a softmax router without
    renormalization keeps the original denominator (see PruneExperts.cpp).
    Each router's histogram is a remark and is recorded on the function as
    `moec.pruned_experts`. Group-limited routers, non-constant weights and
    experts not fed by a moe.router are left alone with a remark.
  }];
  let options = [
    Option<"activations", "activations", "std::string", /*default=*/"\"\"",
           "Calibration directory holding the routing counts per router">,
    Option<"threshold", "threshold", "double", /*default=*/"0.0",
           "Remove an expert whose share of routed slots is below this, in [0, 1)">,
    Option<"maxPruned", "max-pruned", "int64_t", /*default=*/"-1",
           "At most this many experts removed per router (-1: no cap)">,
  ];
  let dependentDialects = ["moec::moe::MoEDialect", "moec::onnx::ONNXDialect",
                           "mlir::arith::ArithDialect"];
}

#endif // MOEC_PASSES_SPARSITY_PASSES_TD
