// RUN: moec-opt %s --moec-lower-to-kernel="target=cuda" | FileCheck %s

// Tests that on the cuda target an int8 weight read by a kernel that cannot
// decode it (a batch matmul; the GEMMs of linear and experts read int8, see
// moec-lower-to-kernel-cuda-quant.mlir) folds at compile time into the
// constant of its exact values, q * scale per block: q = [3, -2] with scale
// 0.5 along the row gives [1.5, -1.0]; the matmul reads it like any float.
// CHECK-LABEL: func.func @quantized_linear
// CHECK: %[[W:.+]] = kernel.constant {{.*}} : tensor<2x2xf32>
// CHECK: kernel.launch "batch_matmul"(%{{.+}}, %[[W]])
// CHECK-NOT: moe.dequantize
// The folded values 1.5, -1.0, 0.25, 1.0 as little-endian f32:
// CHECK: dequantized: "0x{{[0-9A-F]+}}0000C03F000080BF0000803E0000803F"
func.func @quantized_linear(%x: tensor<?x3x2xf32>) -> tensor<?x3x2xf32> {
  %q = "onnx.Constant"() {value = dense<[[3, -2], [1, 4]]> : tensor<2x2xi8>} : () -> tensor<2x2xi8>
  %s = "onnx.Constant"() {value = dense<[[0.5], [0.25]]> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
  %dq = moe.dequantize %q, %s {axis = 1 : i64, block_size = 2 : i64} : (tensor<2x2xi8>, tensor<2x1xf32>) -> tensor<2x2xf32>
  %y = moe.matmul %x, %dq : (tensor<?x3x2xf32>, tensor<2x2xf32>) -> tensor<?x3x2xf32>
  return %y : tensor<?x3x2xf32>
}
