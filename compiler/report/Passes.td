//===- Passes.td - the compile report's passes -----------------*- tablegen -*-===//
#ifndef MOEC_COMPILER_REPORT_PASSES_TD
#define MOEC_COMPILER_REPORT_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoecRecordUnfused : Pass<"moec-record-unfused", "mlir::func::FuncOp"> {
  let summary = "Records the launches and bytes the graph would cost without fusion";
  let description = [{
    An analysis for the compile report (`moec compile --report`), run right
    before moec-fuse-elementwise. It changes no op: it prices the function
    as if every data op were lowered on its own and stores the result on the
    function as `moec.unfused`:

    ```mlir
    func.func @main(...) attributes {moec.unfused = {
        launches = 5 : i64,                            // kernel launches
        activation_bytes = array<i64: base, per_token>, // read + written
        result_bytes = array<i64: base, per_token>,     // written
        weight_bytes = 4096 : i64,                      // read, per launch
        ops = [{node = "/mlp/act/Sigmoid", op = "moe.elementwise",
                launches = 1 : i64, activation_bytes = array<i64: 0, 64>,
                weight_bytes = 0 : i64}, ...]}}
    ```

    A data op is one the outputs need as data (ops that only compute
    shapes, counts or bounds are folded into specializations, never run).
    Each is one launch, except: constants and moe.dequantize (read by their
    consumers' kernels) are none; onnx Split is one per result;
    moe.attention is two (cache append, attention); on target=cuda
    moe.experts is four (permute, up GEMM, down GEMM, combine). A graph
    output that no launch of its own produces adds a copy. Bytes follow the
    report's rule (compiler/report/Cost.h): each data input read and each
    result written once in full; weights at their stored size (host
    quantized weights as their int8/int4 values plus scales).
    On a function attribute because a function pass may not modify its
    module. Leaves the IR alone otherwise; dead ops are not counted.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"host\"",
           "How the lowering splits ops into launches: host or cuda">
  ];
  let dependentDialects = ["moec::moe::MoEDialect"];
}

def MoecWriteReport : Pass<"moec-write-report", "mlir::ModuleOp"> {
  let summary = "Writes the compile report of the planned kernel launches";
  let description = [{
    Run after moec-plan-memory. Per launch: kernel, ONNX node, FLOPs and
    bytes moved as a*T + b, weight bytes; grouped per decoder layer when the
    node names tell it (`layers.N`); totals, and the counts before fusion
    that moec-record-unfused stored. `output` ending in `.json` gets JSON
    (schema in docs/user-guide.md), any other name Markdown; `-` is stdout.
    The IR is left unchanged. Fails, naming the file, when it cannot be
    written.
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Report file (.json: JSON, else Markdown; -: stdout as Markdown)">,
    Option<"format", "format", "std::string", /*default=*/"\"\"",
           "markdown or json (default: from the file name)">,
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "The target named in the report (host, sm_90a, ...)">
  ];
}

#endif // MOEC_COMPILER_REPORT_PASSES_TD
