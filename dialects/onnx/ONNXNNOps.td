//===- ONNXNNOps.td - neural-network ops: Softmax, TopK, norms *- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXNNOPS_TD
#define MOEC_DIALECTS_ONNX_ONNXNNOPS_TD

include "dialects/onnx/ONNXDialect.td"

def ONNX_SoftmaxOp : ONNX_Op<"Softmax"> {
  let summary = "softmax along one axis (opset 13 semantics)";
  let description = [{
    Always opset 13 semantics. `axis` is required here (not defaulted) because
    its ONNX default and meaning changed in opset 13 (before: the input was
    coerced to 2-D at axis); the importer writes it for every opset, so a
    reader never has to guess which default applies.

    ```mlir
    %p = onnx.Softmax %logits {axis = -1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$input, I64Attr:$axis);
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def ONNX_TopKOp : ONNX_Op<"TopK", [], ONNX_OwnElementTypes> {
  let summary = "the K largest (or smallest) elements along an axis and their indices";
  let description = [{
    K is a 1-element int64 input (opset 10 and later; the importer converts the
    older `k` attribute). Indices are int64.

    ```mlir
    %v, %i = onnx.TopK %probs, %k {axis = -1 : i64}
        : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
    ```
  }];
  let arguments = (ins AnyTensor:$X, AnyTensor:$K, ONNX_DefaultI64<"-1">:$axis,
                   ONNX_DefaultI64<"1">:$largest, ONNX_DefaultI64<"1">:$sorted);
  let results = (outs AnyTensor:$Values, AnyTensor:$Indices);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

def ONNX_RMSNormalizationOp : ONNX_Op<"RMSNormalization"> {
  let summary = "root-mean-square normalization over the trailing axes (opset 23)";
  let description = [{
    Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale, computed
    in float32 (`stash_type` 1, the only value ONNX defines). `scale` has the
    shape of the normalized axes.

    ```mlir
    %y = onnx.RMSNormalization %x, %w {epsilon = 1.0e-06 : f32}
        : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$X, AnyTensor:$scale, ONNX_DefaultI64<"-1">:$axis,
                   ONNX_DefaultF32<"1.0e-5">:$epsilon, ONNX_DefaultI64<"1">:$stash_type);
  let results = (outs AnyTensor:$Y);
  let hasVerifier = 1;
}

def ONNX_SimplifiedLayerNormalizationOp
    : ONNX_Op<"SimplifiedLayerNormalization", [], ONNX_OwnElementTypes> {
  let summary = "onnxruntime's RMS normalization (LayerNormalization without the mean)";
  let description = [{
    The contrib op onnxruntime registers in the ai.onnx domain and that
    onnxruntime-genai exports use for RMSNorm: Y as in RMSNormalization. An
    optional second result is inv_std_var, 1/sqrt(mean(X^2) + epsilon), with
    the normalized axes kept as size 1.

    ```mlir
    %y = onnx.SimplifiedLayerNormalization %x, %w {epsilon = 1.0e-06 : f32}
        : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$X, AnyTensor:$scale, ONNX_DefaultI64<"-1">:$axis,
                   ONNX_DefaultF32<"1.0e-5">:$epsilon, ONNX_DefaultI64<"1">:$stash_type);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def ONNX_DequantizeLinearOp : ONNX_Op<"DequantizeLinear", [], ONNX_OwnElementTypes> {
  let summary = "y = (x - x_zero_point) * x_scale, per tensor, per axis or blocked";
  let description = [{
    x_scale is a scalar (per tensor), 1-D along `axis` (per axis), or, with
    `block_size` > 0 (opset 21), x's shape with ceil(D / block_size) along
    `axis`. x_zero_point, when present, has x_scale's shape and x's type. The
    result has x's shape and x_scale's element type.

    ```mlir
    %w = onnx.DequantizeLinear %q, %s {axis = 1 : i64}
        : (tensor<16x8xi8>, tensor<8xf32>) -> tensor<16x8xf32>
    ```
  }];
  let arguments = (ins AnyTensor:$x, AnyTensor:$x_scale, Optional<AnyTensor>:$x_zero_point,
                   ONNX_DefaultI64<"1">:$axis, ONNX_DefaultI64<"0">:$block_size);
  let results = (outs AnyTensor:$y);
  let hasVerifier = 1;
}

#endif // MOEC_DIALECTS_ONNX_ONNXNNOPS_TD
