//===- ONNXMathOps.td - arithmetic, comparison, reduction ops -*- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXMATHOPS_TD
#define MOEC_DIALECTS_ONNX_ONNXMATHOPS_TD

include "dialects/onnx/ONNXDialect.td"

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def ONNX_MatMulOp : ONNX_Op<"MatMul"> {
  let summary = "numpy-style matrix product";
  let description = [{
    Matrix product with numpy.matmul semantics: rank-1 operands are promoted,
    leading (batch) dimensions broadcast.

    ```mlir
    %y = onnx.MatMul %a, %w : (tensor<?x16xf32>, tensor<16x32xf32>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$A, AnyTensor:$B);
  let results = (outs AnyTensor:$Y);
  let hasVerifier = 1;
}

def ONNX_GemmOp : ONNX_Op<"Gemm"> {
  let summary = "general matrix multiply: alpha * A' * B' + beta * C";
  let description = [{
    A' and B' are A and B transposed when transA / transB are 1. C is optional
    and broadcasts to (M, N).

    ```mlir
    %y = onnx.Gemm %a, %w, %b {transB = 1 : i64}
        : (tensor<?x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$A, AnyTensor:$B, Optional<AnyTensor>:$C,
                   ONNX_DefaultF32<"1.0">:$alpha, ONNX_DefaultF32<"1.0">:$beta,
                   ONNX_DefaultI64<"0">:$transA, ONNX_DefaultI64<"0">:$transB);
  let results = (outs AnyTensor:$Y);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops with multidirectional (numpy) broadcasting
//===----------------------------------------------------------------------===//

class ONNX_BinaryOp<string mnemonic, string what, list<string> overridden = []>
    : ONNX_Op<mnemonic, [], overridden> {
  let summary = "elementwise " # what # " with numpy broadcasting";
  let description = [{
    ```mlir
    %c = onnx.}] # mnemonic # [{ %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$A, AnyTensor:$B);
  let results = (outs AnyTensor:$C);
}

def ONNX_AddOp : ONNX_BinaryOp<"Add", "sum">;
def ONNX_SubOp : ONNX_BinaryOp<"Sub", "difference">;
def ONNX_MulOp : ONNX_BinaryOp<"Mul", "product">;
def ONNX_DivOp : ONNX_BinaryOp<"Div", "quotient (integer division truncates)">;

def ONNX_PowOp : ONNX_Op<"Pow"> {
  let summary = "elementwise X raised to the power Y, with numpy broadcasting";
  let description = [{
    The result has X's element type.

    ```mlir
    %z = onnx.Pow %x, %two : (tensor<?x16xf32>, tensor<f32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$X, AnyTensor:$Y);
  let results = (outs AnyTensor:$Z);
}

// Comparisons and logical ops produce i1 (ONNX bool).
class ONNX_CompareOp<string mnemonic, string what>
    : ONNX_BinaryOp<mnemonic, what, ONNX_OwnElementTypes> {
  let description = [{
    The result is a bool (i1) tensor of the broadcast shape.

    ```mlir
    %c = onnx.}] # mnemonic # [{ %a, %b : (tensor<?x4xi64>, tensor<i64>) -> tensor<?x4xi1>
    ```
  }];
  let hasVerifier = 1;
}

def ONNX_EqualOp : ONNX_CompareOp<"Equal", "equality test">;
def ONNX_LessOp : ONNX_CompareOp<"Less", "less-than test">;
def ONNX_GreaterOp : ONNX_CompareOp<"Greater", "greater-than test">;
def ONNX_LessOrEqualOp : ONNX_CompareOp<"LessOrEqual", "less-or-equal test">;
def ONNX_GreaterOrEqualOp : ONNX_CompareOp<"GreaterOrEqual", "greater-or-equal test">;
def ONNX_AndOp : ONNX_CompareOp<"And", "logical and of bool tensors">;
def ONNX_OrOp : ONNX_CompareOp<"Or", "logical or of bool tensors">;

// Max and Min take one or more inputs, all broadcast together.
class ONNX_VariadicOp<string mnemonic, string what> : ONNX_Op<mnemonic> {
  let summary = "elementwise " # what # " of one or more inputs, with numpy broadcasting";
  let description = [{
    ```mlir
    %m = onnx.}] # mnemonic # [{ %a, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyTensor>:$data_0);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

def ONNX_MaxOp : ONNX_VariadicOp<"Max", "maximum">;
def ONNX_MinOp : ONNX_VariadicOp<"Min", "minimum">;

def ONNX_WhereOp : ONNX_Op<"Where", [], ONNX_OwnElementTypes> {
  let summary = "elementwise select: X where condition is true, else Y";
  let description = [{
    All three operands broadcast together; condition is bool (i1).

    ```mlir
    %r = onnx.Where %c, %x, %y : (tensor<?x1xi1>, tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$condition, AnyTensor:$X, AnyTensor:$Y);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Unary elementwise ops: result type = operand type
//===----------------------------------------------------------------------===//

class ONNX_UnaryOp<string mnemonic, string what, list<string> overridden = []>
    : ONNX_Op<mnemonic, [], overridden> {
  let summary = "elementwise " # what;
  let description = [{
    ```mlir
    %y = onnx.}] # mnemonic # [{ %x : (tensor<?x16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$X);
  let results = (outs AnyTensor:$Y);
}

def ONNX_SqrtOp : ONNX_UnaryOp<"Sqrt", "square root">;
def ONNX_NegOp : ONNX_UnaryOp<"Neg", "negation">;
def ONNX_ExpOp : ONNX_UnaryOp<"Exp", "exponential">;
def ONNX_SigmoidOp : ONNX_UnaryOp<"Sigmoid", "logistic sigmoid 1 / (1 + exp(-x))">;
def ONNX_ReluOp : ONNX_UnaryOp<"Relu", "max(x, 0)">;
def ONNX_TanhOp : ONNX_UnaryOp<"Tanh", "hyperbolic tangent">;
def ONNX_ErfOp : ONNX_UnaryOp<"Erf", "Gauss error function">;
def ONNX_CosOp : ONNX_UnaryOp<"Cos", "cosine (radians)">;
def ONNX_SinOp : ONNX_UnaryOp<"Sin", "sine (radians)">;

def ONNX_GeluOp : ONNX_Op<"Gelu"> {
  let summary = "elementwise Gaussian error linear unit";
  let description = [{
    x * Phi(x): exactly 0.5 * x * (1 + erf(x / sqrt(2))) with `approximate`
    "none", or 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))) with
    "tanh". Also com.microsoft.Gelu, which is the exact form.

    ```mlir
    %y = onnx.Gelu %x {approximate = "tanh"} : (tensor<?x16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$X, DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs AnyTensor:$Y);
  let hasVerifier = 1;
}
def ONNX_ClipOp : ONNX_Op<"Clip", [AttrSizedOperandSegments]> {
  let summary = "elementwise min(max(x, min), max)";
  let description = [{
    `min` and `max` are optional scalars (rank 0, or one element) of x's
    element type; an absent bound does not clamp. Opsets before 11 give them
    as float attributes, which the importer turns into constant inputs.

    ```mlir
    %y = onnx.Clip %x min(%lo) max(%hi) : (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
        -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$min, Optional<AnyTensor>:$max);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = [{
    $input (`min` `(` $min^ `)`)? (`max` `(` $max^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_AbsOp : ONNX_UnaryOp<"Abs", "absolute value">;
def ONNX_LogOp : ONNX_UnaryOp<"Log", "natural logarithm">;
def ONNX_ReciprocalOp : ONNX_UnaryOp<"Reciprocal", "1 / x">;
def ONNX_NotOp : ONNX_UnaryOp<"Not", "logical negation of a bool tensor",
                              ONNX_OwnElementTypes> {
  let hasVerifier = 1;
}
def ONNX_IsNaNOp : ONNX_UnaryOp<"IsNaN", "NaN test of a float tensor (bool result)",
                                ONNX_OwnElementTypes> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions (axes as an optional input: ReduceSum since opset 13, the
// others since opset 18; the importer converts the attribute form)
//===----------------------------------------------------------------------===//

class ONNX_ReduceOp<string mnemonic, string what> : ONNX_Op<mnemonic> {
  let summary = what # " over the given axes";
  let description = [{
    `axes` is an optional 1-D int64 input; without it every axis is reduced,
    unless noop_with_empty_axes is 1. keepdims keeps reduced axes as size 1.

    ```mlir
    %s = onnx.}] # mnemonic # [{ %x, %axes {keepdims = 1 : i64}
        : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, Optional<AnyTensor>:$axes,
                   ONNX_DefaultI64<"1">:$keepdims,
                   ONNX_DefaultI64<"0">:$noop_with_empty_axes);
  let results = (outs AnyTensor:$reduced);
  let hasVerifier = 1;
}

def ONNX_ReduceSumOp : ONNX_ReduceOp<"ReduceSum", "sum">;
def ONNX_ReduceMeanOp : ONNX_ReduceOp<"ReduceMean", "mean">;
def ONNX_ReduceMaxOp : ONNX_ReduceOp<"ReduceMax", "maximum">;
def ONNX_ReduceMinOp : ONNX_ReduceOp<"ReduceMin", "minimum">;

//===----------------------------------------------------------------------===//
// Scans
//===----------------------------------------------------------------------===//

def ONNX_CumSumOp : ONNX_Op<"CumSum"> {
  let summary = "cumulative sum along an axis";
  let description = [{
    `axis` is a scalar (or one-element) int32/int64 tensor; the kernels need
    it known at compile time. With exclusive = 1 element i sums the elements
    before i (the first is 0); with reverse = 1 the sums run from the end.
    The result has x's type and shape.

    ```mlir
    %y = onnx.CumSum %x, %axis {exclusive = 0 : i64, reverse = 0 : i64}
        : (tensor<?x8xi64>, tensor<i64>) -> tensor<?x8xi64>
    ```
  }];
  let arguments = (ins AnyTensor:$x, AnyTensor:$axis,
                   ONNX_DefaultI64<"0">:$exclusive, ONNX_DefaultI64<"0">:$reverse);
  let results = (outs AnyTensor:$y);
  let hasVerifier = 1;
}

#endif // MOEC_DIALECTS_ONNX_ONNXMATHOPS_TD
