//===- ONNXTensorOps.td - data movement, shape and constant ops -*- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXTENSOROPS_TD
#define MOEC_DIALECTS_ONNX_ONNXTENSOROPS_TD

include "dialects/onnx/ONNXDialect.td"

//===----------------------------------------------------------------------===//
// Constants and shapes
//===----------------------------------------------------------------------===//

def ONNX_ConstantOp : ONNX_Op<"Constant", [], ONNX_OwnElementTypes> {
  let summary = "a compile-time tensor (Constant nodes and graph initializers)";
  let description = [{
    Initializers use dense_resource attributes whose blob the context owns;
    small Constant nodes use dense attributes. The importer folds ONNX's
    value_float / value_ints / ... forms into `value`.

    ```mlir
    %w = onnx.Constant {value = dense_resource<fc1_weight> : tensor<4x32x16xf32>} : () -> tensor<4x32x16xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = "attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ConstantOfShapeOp : ONNX_Op<"ConstantOfShape", [], ONNX_OwnElementTypes> {
  let summary = "a tensor of the given shape filled with one value";
  let description = [{
    `value` is a 1-element tensor giving the element type and the fill value;
    absent, it is float32 zero.

    ```mlir
    %z = onnx.ConstantOfShape %shape {value = dense<1> : tensor<1xi64>}
        : (tensor<2xi64>) -> tensor<?x8xi64>
    ```
  }];
  let arguments = (ins AnyTensor:$input, OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_ShapeOp : ONNX_Op<"Shape", [], ONNX_OwnElementTypes> {
  let summary = "the shape of a tensor as a 1-D int64 tensor";
  let description = [{
    `start` and `end` (opset 15) select a range of dimensions, negative values
    counting from the back. A `?` dimension is the token count T.

    ```mlir
    %s = onnx.Shape %x : (tensor<?x16xf32>) -> tensor<2xi64>
    ```
  }];
  let arguments = (ins AnyTensor:$data, ONNX_DefaultI64<"0">:$start,
                   OptionalAttr<I64Attr>:$end);
  let results = (outs AnyTensor:$shape);
}

def ONNX_IdentityOp : ONNX_Op<"Identity"> {
  let summary = "returns its input";
  let description = [{
    ```mlir
    %y = onnx.Identity %x : (tensor<?x16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$output);
}

def ONNX_CastOp : ONNX_Op<"Cast", [], ONNX_OwnElementTypes> {
  let summary = "converts elements to another type";
  let description = [{
    `to` is the target element type (ONNX's TensorProto data type, as an MLIR
    type). Float to bool is `x != 0`.

    ```mlir
    %y = onnx.Cast %x {to = f32} : (tensor<?x2xi64>) -> tensor<?x2xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, TypeAttr:$to, ONNX_DefaultI64<"1">:$saturate);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reshaping
//===----------------------------------------------------------------------===//

def ONNX_ReshapeOp : ONNX_Op<"Reshape"> {
  let summary = "reshapes to a shape given as a 1-D int64 tensor";
  let description = [{
    In `shape`, 0 copies the input dimension (unless allowzero is 1) and -1 is
    inferred from the element count. The shape must be known at compile time
    (directly or through Shape/Gather/Concat chains).

    ```mlir
    %y = onnx.Reshape %x, %shape : (tensor<?x16xf32>, tensor<3xi64>) -> tensor<?x4x4xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$shape, ONNX_DefaultI64<"0">:$allowzero);
  let results = (outs AnyTensor:$reshaped);
  let hasVerifier = 1;
}

def ONNX_FlattenOp : ONNX_Op<"Flatten"> {
  let summary = "flattens to 2-D: dims before axis times dims from axis on";
  let description = [{
    ```mlir
    %y = onnx.Flatten %x {axis = 1 : i64} : (tensor<?x4x4xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, ONNX_DefaultI64<"1">:$axis);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_SqueezeOp : ONNX_Op<"Squeeze"> {
  let summary = "removes size-1 dimensions";
  let description = [{
    `axes` (an input since opset 13) lists the dims to remove; without it all
    static size-1 dims are removed.

    ```mlir
    %y = onnx.Squeeze %x, %axes : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, Optional<AnyTensor>:$axes);
  let results = (outs AnyTensor:$squeezed);
  let hasVerifier = 1;
}

def ONNX_UnsqueezeOp : ONNX_Op<"Unsqueeze"> {
  let summary = "inserts size-1 dimensions";
  let description = [{
    `axes` (an input since opset 13) are positions in the result.

    ```mlir
    %y = onnx.Unsqueeze %x, %axes : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$axes);
  let results = (outs AnyTensor:$expanded);
  let hasVerifier = 1;
}

def ONNX_TransposeOp : ONNX_Op<"Transpose"> {
  let summary = "permutes dimensions";
  let description = [{
    Without `perm` the dimensions are reversed.

    ```mlir
    %y = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<?x8xf32>) -> tensor<8x?xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, OptionalAttr<DenseI64ArrayAttr>:$perm);
  let results = (outs AnyTensor:$transposed);
  let hasVerifier = 1;
}

def ONNX_ExpandOp : ONNX_Op<"Expand"> {
  let summary = "broadcasts to a shape given as a 1-D int64 tensor";
  let description = [{
    The result shape is the numpy broadcast of the input shape and `shape`.

    ```mlir
    %y = onnx.Expand %x, %shape : (tensor<1x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$shape);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_TileOp : ONNX_Op<"Tile"> {
  let summary = "repeats a tensor along each axis";
  let description = [{
    `repeats` is a 1-D int64 tensor with one entry per input dimension; the
    result dimension i is input.shape[i] * repeats[i]. The repeats must be
    known at compile time; repeating the token axis more than once (T * r,
    r > 1) is a shape moec cannot express, so it is deferred.

    ```mlir
    %y = onnx.Tile %x, %repeats : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$repeats);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Joining and splitting
//===----------------------------------------------------------------------===//

def ONNX_ConcatOp : ONNX_Op<"Concat"> {
  let summary = "concatenates tensors along an axis";
  let description = [{
    ```mlir
    %y = onnx.Concat %a, %b {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
    ```
  }];
  let arguments = (ins Variadic<AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyTensor:$concat_result);
  let hasVerifier = 1;
}

def ONNX_SliceOp : ONNX_Op<"Slice", [AttrSizedOperandSegments]> {
  let summary = "a strided slice along some axes";
  let description = [{
    starts, ends, and the optional axes and steps are 1-D int tensors (inputs
    since opset 10; the importer converts the attribute form).

    ```mlir
    %y = onnx.Slice %x, %starts, %ends axes(%axes) : (tensor<?x8xf32>, tensor<1xi64>,
        tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$starts, AnyTensor:$ends,
                   Optional<AnyTensor>:$axes, Optional<AnyTensor>:$steps);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = [{
    $data `,` $starts `,` $ends (`axes` `(` $axes^ `)`)? (`steps` `(` $steps^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_SplitOp : ONNX_Op<"Split"> {
  let summary = "splits a tensor into several along an axis";
  let description = [{
    `split` (an input since opset 13) gives the part sizes; without it the
    axis is divided evenly among the results (num_outputs, opset 18).

    ```mlir
    %a, %b = onnx.Split %x, %sizes {axis = 1 : i64}
        : (tensor<?x8xf32>, tensor<2xi64>) -> (tensor<?x6xf32>, tensor<?x2xf32>)
    ```
  }];
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$split,
                   ONNX_DefaultI64<"0">:$axis, OptionalAttr<I64Attr>:$num_outputs);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

def ONNX_GatherOp : ONNX_Op<"Gather"> {
  let summary = "takes entries of data along an axis at the given indices";
  let description = [{
    The result shape is data.shape[:axis] + indices.shape + data.shape[axis+1:].
    Negative indices count from the end.

    ```mlir
    %t = onnx.Gather %shape, %zero {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, ONNX_DefaultI64<"0">:$axis);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_GatherElementsOp : ONNX_Op<"GatherElements"> {
  let summary = "elementwise gather along an axis (torch.gather)";
  let description = [{
    ```mlir
    %y = onnx.GatherElements %x, %idx {axis = 1 : i64}
        : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, ONNX_DefaultI64<"0">:$axis);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_ScatterElementsOp : ONNX_Op<"ScatterElements"> {
  let summary = "elementwise scatter of updates into a copy of data along an axis";
  let description = [{
    `reduction` is none, add, mul, max or min.

    ```mlir
    %y = onnx.ScatterElements %x, %idx, %upd {axis = 1 : i64}
        : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   ONNX_DefaultI64<"0">:$axis,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_ScatterNDOp : ONNX_Op<"ScatterND"> {
  let summary = "scatter of slices of updates into a copy of data at index tuples";
  let description = [{
    The last dimension of `indices` (length q) addresses the first q axes of
    data; updates has shape indices.shape[:-1] + data.shape[q:]. Negative
    indices count from the end. `reduction` is none, add, mul, max or min
    (opset 16 added add/mul, 18 max/min; older opsets have none only). The
    result has data's type and shape.

    ```mlir
    %y = onnx.ScatterND %x, %idx, %upd {reduction = "add"}
        : (tensor<?x8xf32>, tensor<3x1xi64>, tensor<3x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_GatherNDOp : ONNX_Op<"GatherND"> {
  let summary = "gathers slices of data addressed by index tuples";
  let description = [{
    The last dimension of `indices` (length q) indexes the first q axes of
    data; the result shape is indices.shape[:-1] + data.shape[q:]. Only
    batch_dims = 0 is supported (the form torch.onnx writes for x[idx]).

    ```mlir
    %w = onnx.GatherND %weights, %idx {batch_dims = 0 : i64}
        : (tensor<4x96x32xf32>, tensor<?x1xi64>) -> tensor<?x96x32xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, ONNX_DefaultI64<"0">:$batch_dims);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_OneHotOp : ONNX_Op<"OneHot", [], ONNX_OwnElementTypes> {
  let summary = "one-hot encoding of indices (opset 11)";
  let description = [{
    `depth` is a scalar or one-element tensor; `values` is [off, on] and gives
    the result's element type. The result is indices' shape with a dimension
    of size depth inserted at `axis` (-1: last). Negative indices count from
    depth; out-of-range indices give an all-off row. Known indices, depth
    and integer values fold to a known value (getKnownIntValues).

    ```mlir
    %h = onnx.OneHot %idx, %depth, %values {axis = -1 : i64}
        : (tensor<?x2xi64>, tensor<i64>, tensor<2xf32>) -> tensor<?x2x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$indices, AnyTensor:$depth, AnyTensor:$values,
                   ONNX_DefaultI64<"-1">:$axis);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_NonZeroOp : ONNX_Op<"NonZero", [], ONNX_OwnElementTypes> {
  let summary = "the indices of the nonzero elements, one column per element";
  let description = [{
    The result is int64 [rank(X), n] where n, the number of nonzero
    elements, depends on the input data: its shape is always deferred
    (unranked) and only a raising pass can remove it.

    ```mlir
    %nz = onnx.NonZero %mask : (tensor<?x4xi1>) -> tensor<*xi64>
    ```
  }];
  let arguments = (ins AnyTensor:$X);
  let results = (outs AnyTensor:$Y);
}

//===----------------------------------------------------------------------===//
// Generators
//===----------------------------------------------------------------------===//

def ONNX_RangeOp : ONNX_Op<"Range"> {
  let summary = "the sequence start, start + delta, ... up to (excluding) limit";
  let description = [{
    start, limit and delta are scalars of one type (int32, int64, float32,
    float64); the result has max(ceil((limit - start) / delta), 0) elements,
    element i being start + i * delta. Its length is static when the three
    are known integers or floats, T for Range(0, T, 1) (torch's position
    ids), and deferred otherwise. Known integer scalars also give a known
    value (getKnownIntValues), so shape computations through Range fold.

    ```mlir
    %pos = onnx.Range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    ```
  }];
  let arguments = (ins AnyTensor:$start, AnyTensor:$limit, AnyTensor:$delta);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

#endif // MOEC_DIALECTS_ONNX_ONNXTENSOROPS_TD
