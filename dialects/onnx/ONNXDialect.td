//===- ONNXDialect.td - the onnx dialect and its op base class -*- tablegen -*-===//
//
// The onnx dialect mirrors the ONNX operator schemas one op for one ONNX op:
// operand and attribute names are the spec's names, attributes carry the
// spec's defaults. Version-dependent ops are represented in their newest form
// (e.g. ReduceSum's axes as an input); the importer rewrites older forms.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_DIALECTS_ONNX_ONNXDIALECT_TD
#define MOEC_DIALECTS_ONNX_ONNXDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "dialects/onnx/ONNXShapeInference.td"

def ONNX_Dialect : Dialect {
  let name = "onnx";
  let cppNamespace = "::moec::onnx";
  let summary = "ONNX operators, one MLIR op per ONNX op";
  let description = [{
    The import-level dialect of moec. Every op corresponds to one ONNX
    operator (ai.onnx, or com.microsoft for ops named `onnx.ms.*`). The only
    dynamic dimension allowed anywhere is the token count T, written `?`.
    A value whose shape moec cannot express at import (e.g. 2*T rows, or a
    data-dependent count) is unranked; the op that lost the shape carries
    the reason in a `moec.unknown_shape` string attribute.
  }];
}

// Every onnx op is free of side effects and refines its result types through
// ONNXShapeInferenceOpInterface. The default assembly lists the operands and
// prints a functional type; ops with several optional operands override it.
// `overridden` names interface methods with a default implementation that
// the op defines itself (e.g. ["inferElementTypes"]).
class ONNX_Op<string mnemonic, list<Trait> traits = [], list<string> overridden = []>
    : Op<ONNX_Dialect, mnemonic,
         !listconcat(traits, [NoMemoryEffect,
                              DeclareOpInterfaceMethods<ONNXShapeInferenceOpInterface,
                                                        overridden>])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

// ONNX integer attributes are int64 (signless i64 here); floats are float32.
class ONNX_DefaultI64<string value> : DefaultValuedAttr<I64Attr, value>;
class ONNX_DefaultF32<string value> : DefaultValuedAttr<F32Attr, value>;

// The interface method list for ops that define their own element-type rule.
defvar ONNX_OwnElementTypes = ["inferElementTypes"];

#endif // MOEC_DIALECTS_ONNX_ONNXDIALECT_TD
