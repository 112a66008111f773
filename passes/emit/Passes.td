//===- Passes.td - emission passes: code and artifact -------*- tablegen -*-===//
#ifndef MOEC_PASSES_EMIT_PASSES_TD
#define MOEC_PASSES_EMIT_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecEmitHost : Pass<"moec-emit-host", "mlir::ModuleOp"> {
  let summary = "Generates C++ for every kernel launch and compiles it";
  let description = [{
    Writes one extern "C" function per kernel.launch (named by its `symbol`
    attribute) that computes the run-time sizes from the token count and
    calls the kernel template, or, for elementwise launches, holds the fused
    loop itself. The source is kept on the module as `kernel.host_source`;
    with `compile`, the system C++ compiler builds it into a shared object
    that the artifact writer packs.
  }];
  let options = [
    Option<"compile", "compile", "bool", "true",
           "Compile the source into a shared object">,
    Option<"printSource", "print-source", "bool", "false",
           "Print the generated C++ to stdout">,
    Option<"keepSourcesDir", "keep-sources", "std::string", "\"\"",
           "Directory to keep the generated source and the kernel header in">,
    Option<"cxx", "cxx", "std::string", "\"\"",
           "C++ compiler to use (default: $MOEC_HOST_CXX, else c++)">
  ];
}

def MoecEmitCuda : Pass<"moec-emit-cuda", "mlir::ModuleOp"> {
  let summary = "Generates CUDA C++ for every kernel launch and compiles it with NVRTC";
  let description = [{
    Writes one extern "C" __global__ wrapper per kernel.launch that computes
    sizes from the token count and calls a device template (or holds the
    fused elementwise loop), records each launch's grid, block and shared
    memory, and compiles the source in process with NVRTC into a cubin for
    exactly `arch`. ptxas' report of registers and spills is attached to
    each launch (`registers`, `spill_bytes`); `fail-on-spills` makes a spill
    in any kernel an error.
  }];
  let options = [
    Option<"arch", "arch", "std::string", "\"sm_90a\"",
           "Target architecture: sm_80, sm_86, sm_89 or sm_90a">,
    Option<"compile", "compile", "bool", "true",
           "Compile the source with NVRTC into a cubin">,
    Option<"printSource", "print-source", "bool", "false",
           "Print the generated CUDA C++ to stdout">,
    Option<"keepSourcesDir", "keep-sources", "std::string", "\"\"",
           "Directory to keep the generated source and the kernel headers in">,
    Option<"failOnSpills", "fail-on-spills", "bool", "false",
           "Make a register spill in any kernel an error">,
    Option<"gemm", "gemm", "std::string", "\"mma\"",
           "Tensor-core GEMMs for 16-bit types: mma (every target) or wgmma "
           "(sm_90a; opt-in until validated on a GPU)">
  ];
}

def MoecWriteArtifact : Pass<"moec-write-artifact", "mlir::ModuleOp"> {
  let summary = "Packs signature, weights, memory plan, steps and binary into a .moe";
  let options = [
    Option<"output", "output", "std::string", "\"\"", "Path of the .moe file">
  ];
}

#endif // MOEC_PASSES_EMIT_PASSES_TD
