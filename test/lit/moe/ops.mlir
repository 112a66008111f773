// RUN: moec-opt --allow-unregistered-dialect %s | moec-opt --allow-unregistered-dialect | FileCheck %s

// Tests that every moe op prints and parses back to itself.

// CHECK-LABEL: func.func @mixtral_block
func.func @mixtral_block(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>,
                         %fc1: tensor<4x64x16xf32>, %fc2: tensor<4x16x32xf32>) -> tensor<?x16xf32> {
  // CHECK: %[[W:.+]], %[[IDS:.+]] = moe.router %{{.+}} {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  // CHECK: moe.experts %{{.+}}, %[[W]], %[[IDS]] fc1(%{{.+}}) fc2(%{{.+}})
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 1 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x64x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @dense
func.func @dense(%x: tensor<?x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>,
                 %m: tensor<?x8x2xf32>) -> (tensor<?x8xf32>, tensor<?x16x2xf32>) {
  // CHECK: moe.linear %{{.+}}, %{{.+}}, %{{.+}} : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %y = moe.linear %x, %w, %b : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: moe.elementwise ins(%{{.+}}, %{{.+}} : tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: arith.addf
  // CHECK: moe.yield
  %z = moe.elementwise ins(%y, %b : tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
  ^bb0(%p: f32, %q: f32):
    %s = arith.addf %p, %q : f32
    moe.yield %s : f32
  }
  // CHECK: moe.rms_norm %{{.+}}, %{{.+}} {axis = 1 : i64, epsilon = 9.99999997E-7 : f32} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %n = moe.rms_norm %z, %b {axis = 1 : i64, epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: moe.rms_norm %{{.+}} {axis = 1 : i64, epsilon = 0.000000e+00 : f32} : (tensor<?x8xf32>) -> tensor<?x8xbf16>
  %n2 = moe.rms_norm %n {axis = 1 : i64, epsilon = 0.0 : f32} : (tensor<?x8xf32>) -> tensor<?x8xbf16>
  %x3 = "onnx_unregistered.placeholder"() : () -> tensor<?x16x8xf32>
  // CHECK: moe.matmul
  %mm = moe.matmul %x3, %m : (tensor<?x16x8xf32>, tensor<?x8x2xf32>) -> tensor<?x16x2xf32>
  return %z, %mm : tensor<?x8xf32>, tensor<?x16x2xf32>
}

// CHECK-LABEL: func.func @attention
// CHECK: moe.attention {{.*}} {kv_heads = 2 : i64, num_heads = 4 : i64, {{.*}}scale = 2.500000e-01 : f32}
func.func @attention(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>, %cos: tensor<8x4xf32>) -> tensor<1x?x64xf32> {
  %0:3 = moe.attention %q, %k, %k, %pk, %pk, %sl, %tl, %cos, %cos {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>, tensor<8x4xf32>, tensor<8x4xf32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return %0#0 : tensor<1x?x64xf32>
}
