//===- ONNXOps.td - every op of the onnx dialect -----------*- tablegen -*-===//
#ifndef MOEC_DIALECTS_ONNX_ONNXOPS_TD
#define MOEC_DIALECTS_ONNX_ONNXOPS_TD

include "dialects/onnx/ONNXDialect.td"
include "dialects/onnx/ONNXMathOps.td"
include "dialects/onnx/ONNXNNOps.td"
include "dialects/onnx/ONNXTensorOps.td"
include "dialects/onnx/ONNXMicrosoftOps.td"

#endif // MOEC_DIALECTS_ONNX_ONNXOPS_TD
