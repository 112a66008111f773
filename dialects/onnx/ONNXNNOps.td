//===- ONNXNNOps.td - neural-network ops: Softmax, TopK --------*- tablegen -*-===//
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

def ONNX_TopKOp : ONNX_Op<"TopK"> {
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

#endif // MOEC_DIALECTS_ONNX_ONNXNNOPS_TD
