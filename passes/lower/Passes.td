//===- Passes.td - lowering passes: moe to kernel, memory planning -*- tablegen -*-===//
#ifndef MOEC_PASSES_LOWER_PASSES_TD
#define MOEC_PASSES_LOWER_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecLowerToKernel : Pass<"moec-lower-to-kernel", "mlir::func::FuncOp"> {
  let summary = "Turns moe ops and the remaining onnx ops into kernel launches";
  let description = [{
    Every compute op becomes one kernel.launch naming its template and its
    compile-time specialization; constants become kernel.constant; pure
    shape computations (Shape, Gather of shapes, Concat of shapes feeding
    Reshape/Expand/Slice) are folded into the specialization and disappear;
    reshapes become copies. Each graph output is made the result of its own
    launch, so the kernel that produces it can write it in place. Ops the
    host target cannot run are reported with their node name.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"host\"",
           "host, or cuda (weights in the tensor-core layout; the MoE block as "
           "permute, two grouped GEMMs and a combine)">
  ];
  let dependentDialects = ["moec::kernel::KernelDialect",
                           "mlir::arith::ArithDialect"];
}

def MoecPlanMemory : Pass<"moec-plan-memory", "mlir::func::FuncOp"> {
  let summary = "Assigns arena offsets to intermediate tensors by liveness";
  let description = [{
    Sizes are affine in the token count T (base + per_token * T bytes).
    Tensors whose live ranges overlap get disjoint arena ranges for every T;
    others share memory. Records offsets on each kernel.launch, the arena
    size on the function, and reports the peak as a remark when asked.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", "16",
           "Byte alignment of every buffer. Per-token sizes are rounded up to it "
           "too, so a large value wastes memory on narrow [T, n] tensors; 16 "
           "keeps 128-bit vector loads aligned">,
    Option<"report", "report", "bool", "false",
           "Emit a remark with the arena size (peak bytes)">
  ];
}

#endif // MOEC_PASSES_LOWER_PASSES_TD
