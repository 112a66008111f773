//===- Passes.td - fusion passes -------------------------------*- tablegen -*-===//
#ifndef MOEC_PASSES_FUSION_PASSES_TD
#define MOEC_PASSES_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecFuseElementwise : Pass<"moec-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Merges chains of moe.elementwise ops into one region";
  let description = [{
    A moe.elementwise whose only users are other moe.elementwise ops of the
    same result shape is inlined into each of them, so the chain becomes one
    loop and its intermediate tensors never reach memory (with several such
    users it is recomputed in each: a few flops cost less than a round trip
    through memory). Scalar constants feeding an elementwise op are folded
    into its body. A producer that is broadcast by its consumer (smaller
    shape) is left alone: inlining it would recompute it once per broadcast
    element. A producer with any non-elementwise user is left alone too: its
    tensor must exist anyway.
  }];
  let dependentDialects = ["moec::moe::MoEDialect", "mlir::arith::ArithDialect"];
}

def MoecFuseResidualNorm : Pass<"moec-fuse-residual-norm", "mlir::func::FuncOp"> {
  let summary = "Fuses a residual add into the RMSNorm launch that reads it";
  let description = [{
    On kernel launches (after moec-lower-to-kernel): an rms_norm whose input
    is an elementwise launch computing exactly a + b (same type, no
    broadcast) becomes one rms_norm launch with `has_residual`, reading a
    and b and writing both the normalized rows and the sum (which the
    residual stream still reads). One launch and one read of the sum fewer
    per norm. Left alone: any other producer, an add that broadcasts or
    casts, and a sum read before the norm.
  }];
  let dependentDialects = ["moec::kernel::KernelDialect", "mlir::arith::ArithDialect"];
}

#endif // MOEC_PASSES_FUSION_PASSES_TD
