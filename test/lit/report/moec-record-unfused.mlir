// RUN: moec-opt %s --split-input-file --moec-record-unfused | FileCheck %s --check-prefixes=CHECK,HOST
// RUN: moec-opt %s --split-input-file --moec-record-unfused=target=cuda | FileCheck %s --check-prefixes=CHECK,CUDA

// Tests that each live data op is one launch priced as "inputs read and
// results written once" (f32: 4 bytes an element, T tokens), that a scalar
// constant counts as a weight, that a dead op is not counted, and that the
// ops themselves are left alone (the fusion pass runs next).
// CHECK-LABEL: func.func @silu_times_up
// CHECK-SAME: moec.unfused = {activation_bytes = array<i64: 0, 256>, launches = 3 : i64, ops = [
// CHECK-SAME: {activation_bytes = array<i64: 0, 64>, launches = 1 : i64, node = "/mlp/Sigmoid", op = "moe.elementwise", weight_bytes = 4 : i64},
// CHECK-SAME: {activation_bytes = array<i64: 0, 96>, launches = 1 : i64, node = "/mlp/Mul", op = "moe.elementwise", weight_bytes = 0 : i64},
// CHECK-SAME: {activation_bytes = array<i64: 0, 96>, launches = 1 : i64, node = "/mlp/Mul_1", op = "moe.elementwise", weight_bytes = 0 : i64}],
// CHECK-SAME: result_bytes = array<i64: 0, 96>, weight_bytes = 4 : i64}
// CHECK-COUNT-4: moe.elementwise
func.func @silu_times_up(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %sig = moe.elementwise ins(%g, %one : tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %c: f32):
    %n = arith.negf %x : f32
    %e = math.exp %n : f32
    %d = arith.addf %c, %e : f32
    %s = arith.divf %c, %d : f32
    moe.yield %s : f32
  } loc("/mlp/Sigmoid")
  %silu = moe.elementwise ins(%g, %sig : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %s: f32):
    %m = arith.mulf %x, %s : f32
    moe.yield %m : f32
  } loc("/mlp/Mul")
  %out = moe.elementwise ins(%silu, %u : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %b : f32
    moe.yield %m : f32
  } loc("/mlp/Mul_1")
  %dead = moe.elementwise ins(%u : tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32):
    %m = arith.mulf %a, %a : f32
    moe.yield %m : f32
  } loc("/mlp/Unused")
  return %out : tensor<?x8xf32>
}

// -----

// Tests that a shape computation is not a launch (only the Reshape's data
// input is read), that a weight is counted at its size (8x4 f32: 128
// bytes), and that a returned graph input costs a copy launch.
// CHECK-LABEL: func.func @shapes_weights_outputs
// CHECK-SAME: moec.unfused = {activation_bytes = array<i64: 0, 176>, launches = 3 : i64, ops = [
// CHECK-SAME: {activation_bytes = array<i64: 0, 64>, launches = 1 : i64, node = "/Reshape", op = "onnx.Reshape", weight_bytes = 0 : i64},
// CHECK-SAME: {activation_bytes = array<i64: 0, 48>, launches = 1 : i64, node = "/MatMul", op = "moe.linear", weight_bytes = 128 : i64},
// CHECK-SAME: {activation_bytes = array<i64: 0, 64>, launches = 1 : i64, node = "", op = "copy", weight_bytes = 0 : i64}],
// CHECK-SAME: result_bytes = array<i64: 0, 80>, weight_bytes = 128 : i64}
func.func @shapes_weights_outputs(%x: tensor<?x8xf32>) -> (tensor<?x2x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>) {
  %shape = "onnx.Shape"(%x) : (tensor<?x8xf32>) -> tensor<2xi64>
  %zero = "onnx.Constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %t = "onnx.Gather"(%shape, %zero) {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %axes = "onnx.Constant"() {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %t1 = "onnx.Unsqueeze"(%t, %axes) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %rest = "onnx.Constant"() {value = dense<[2, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %target = "onnx.Concat"(%t1, %rest) {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %r = "onnx.Reshape"(%x, %target) : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x2x4xf32> loc("/Reshape")
  %w = "onnx.Constant"() {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %y = moe.linear %x, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32> loc("/MatMul")
  return %r, %y, %x : tensor<?x2x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>
}

// -----

// Tests that the experts are one launch on the host and four on the GPU
// (permute, up GEMM, down GEMM, combine: T x 2 slots, I = 32, H = 16,
// offsets 5 x i32), with both weights (2 x 8192 bytes) counted once.
// Host: x 64T + routing weights 8T + ids 16T read, 64T written.
// GPU: permute 16T + (8T + 20); up 64T + 8T + 20 + 256T;
// down 256T + 8T + 20 + 8T + 128T; combine 128T + 64T.
// CHECK-LABEL: func.func @experts
// HOST-SAME: {activation_bytes = array<i64: 0, 152>, launches = 1 : i64, node = "/moe/MoE", op = "moe.experts", weight_bytes = 16384 : i64}
// CUDA-SAME: {activation_bytes = array<i64: 60, 944>, launches = 4 : i64, node = "/moe/MoE", op = "moe.experts", weight_bytes = 16384 : i64}
func.func @experts(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>) -> tensor<?x16xf32> {
  %fc1 = "onnx.Constant"() {value = dense<0.5> : tensor<4x32x16xf32>} : () -> tensor<4x32x16xf32>
  %fc2 = "onnx.Constant"() {value = dense<0.25> : tensor<4x16x32xf32>} : () -> tensor<4x16x32xf32>
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "silu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32> loc("/moe/MoE")
  return %y : tensor<?x16xf32>
}

// -----

// Tests that attention is two launches and that a cache the append may
// update in place (a graph input read only here, returned as present)
// moves only the new rows: append reads k, v (128T each) and the two
// lengths (8), writes 128T + 128T; attention reads q (256T), the present
// caches (2 x 1024) and the lengths, writes 256T.
// CHECK-LABEL: func.func @attention_in_place
// CHECK-SAME: moec.unfused = {activation_bytes = array<i64: 2064, 1024>, launches = 2 : i64
// CHECK-SAME: result_bytes = array<i64: 0, 512>
func.func @attention_in_place(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) {
  %0:3 = moe.attention %q, %k, %v, %pk, %pv, %sl, %tl {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
}

// -----

// Tests the near miss: the present caches are not graph outputs, so the
// append copies the whole cache (reads 2 x 1024, writes 2 x 1024).
// CHECK-LABEL: func.func @attention_copy
// CHECK-SAME: moec.unfused = {activation_bytes = array<i64: 6160, 768>, launches = 2 : i64
// CHECK-SAME: result_bytes = array<i64: 2048, 256>
func.func @attention_copy(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %v: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %pv: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> tensor<1x?x64xf32> {
  %0:3 = moe.attention %q, %k, %v, %pk, %pv, %sl, %tl {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return %0#0 : tensor<1x?x64xf32>
}
