//===- KernelOps.td - the kernel dialect: one op per launch -*- tablegen -*-===//
//
// The last level before code generation. Each kernel.launch is exactly one
// kernel launch at run time: which kernel template it instantiates, the
// compile-time specialization of that template, and (after memory planning)
// where its results live. Emitters (host C++, CUDA) walk these ops in order.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_KERNEL_KERNELOPS_TD
#define MOEC_DIALECTS_KERNEL_KERNELOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Kernel_Dialect : Dialect {
  let name = "kernel";
  let cppNamespace = "::moec::kernel";
  let summary = "Kernel launches with their specialization and buffer placement";
  let description = [{
    Attributes the memory planner attaches:
      - on kernel.launch, `arena_offsets = array<i64: base0, per_token0, ...>`:
        per result, the arena byte offset base + per_token * T, or -1, -1
        for a result that is a graph output (written straight into the
        caller's buffer);
      - on kernel.launch with `scratch_bytes`, `scratch_offset`;
      - on the function, `kernel.arena_size = array<i64: base, per_token>`.
    The host emitter attaches `symbol`, the generated function's name.
  }];
}

class Kernel_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kernel_Dialect, mnemonic, traits>;

def Kernel_ConstantOp : Kernel_Op<"constant", [Pure]> {
  let summary = "A weight, stored in the artifact in the layout kernels read";
  let description = [{
    ```mlir
    %w = kernel.constant {name = "fc1"} dense_resource<fc1> : tensor<4x32x16xf32> -> tensor<4x32x16xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value, OptionalAttr<StrAttr>:$name);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "attr-dict $value `->` type($output)";
  let hasVerifier = 1;
}

def Kernel_LaunchOp : Kernel_Op<"launch", [RecursiveMemoryEffects]> {
  let summary = "One kernel launch: a template, its specialization, its buffers";
  let description = [{
    `kernel` names the template, a function of the target's kernel headers
    (compiler/host/kernels, compiler/cuda/kernels) that moec-lower-to-kernel
    chose: "elementwise", "linear", "softmax", "attention",
    "self_attention", "moe_experts", "range", "scatter_nd", ... `spec` holds the
    compile-time constants of the specialization. Only "elementwise" has a
    body: the scalar computation of one output element, ending in
    kernel.yield.

    ```mlir
    %y = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}}
        : (tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, StrAttr:$kernel,
                       DictionaryAttr:$spec);
  let results = (outs Variadic<AnyRankedTensor>:$outputs);
  let regions = (region AnyRegion:$body);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs) ($body^)?
  }];
  let hasVerifier = 1;
}

def Kernel_YieldOp : Kernel_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"LaunchOp">]> {
  let summary = "Yields the element computed by an elementwise launch body";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // MOEC_DIALECTS_KERNEL_KERNELOPS_TD
