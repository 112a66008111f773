// RUN: moec compile %S/../../models/mixtral_moe_node.onnx --emit onnx-mlir | moec-opt | FileCheck %s --check-prefix=ONNX
// RUN: moec compile %S/../../models/mixtral_moe_node.onnx --emit moe-mlir | moec-opt | FileCheck %s --check-prefix=MOE
// RUN: moec compile %S/../../models/mixtral_moe_node.onnx --emit kernel-mlir | moec-opt | FileCheck %s --check-prefix=KERNEL

// Tests that the IR moec prints at each stage parses back with moec-opt, so
// a user can take any stage and run single passes on it; in particular the
// default ONNX domain's opset is keyed "ai.onnx" (an empty key would not
// parse).
// ONNX: onnx.opset_import = {ai.onnx = 17 : i64, com.microsoft = 1 : i64}
// ONNX: onnx.ms.MoE
// MOE: moe.experts
// KERNEL: kernel.launch "moe_experts"
