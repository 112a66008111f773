// RUN: moec-opt %s --split-input-file --verify-diagnostics

// Tests that the router rejects k larger than the number of experts.
func.func @router_k_too_large(%logits: tensor<?x4xf32>) {
  // expected-error @+1 {{k must be in [1, 4], got 5}}
  %w, %ids = moe.router %logits {k = 5 : i64, normalize = true, scoring = "softmax"} : tensor<?x4xf32> -> tensor<?x5xf32>, tensor<?x5xi64>
  return
}

// -----

// Tests that the router rejects an unknown scoring function.
func.func @router_scoring(%logits: tensor<?x4xf32>) {
  // expected-error @+1 {{scoring must be "softmax" or "sigmoid"}}
  %w, %ids = moe.router %logits {k = 2 : i64, normalize = true, scoring = "tanh"} : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return
}

// -----

// Tests that experts check fc1 against fc2 (SwiGLU packed needs 2*I rows).
func.func @experts_fc1_rows(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>,
                            %fc1: tensor<4x32x16xf32>, %fc2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{fc1 must be [4, 64, 16]}}
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 1 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that SwiGLU with separate weights (fusion 0) requires fc3.
func.func @experts_missing_fc3(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi64>,
                               %fc1: tensor<4x32x16xf32>, %fc2: tensor<4x16x32xf32>) {
  // expected-error @+1 {{swiglu with swiglu_fusion = 0 needs fc3}}
  %y = moe.experts %x, %w, %ids fc1(%fc1) fc2(%fc2) {activation = "swiglu", alpha = 1.0 : f32, beta = 0.0 : f32, limit = 0x7F800000 : f32, swiglu_fusion = 0 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  return
}

// -----

// Tests that an elementwise input must broadcast to the result.
func.func @elementwise_broadcast(%a: tensor<?x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{does not broadcast to}}
  %z = moe.elementwise ins(%a, %b : tensor<?x8xf32>, tensor<3xf32>) -> tensor<?x8xf32> {
  ^bb0(%p: f32, %q: f32):
    %s = arith.addf %p, %q : f32
    moe.yield %s : f32
  }
  return
}

// -----

// Tests that a linear weight must match the input's inner size.
func.func @linear_k(%x: tensor<?x16xf32>, %w: tensor<15x8xf32>) {
  // expected-error @+1 {{input inner size 16 does not match the weight's 15}}
  %y = moe.linear %x, %w : (tensor<?x16xf32>, tensor<15x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that moe.rms_norm wants its scale with exactly the normalized shape.
func.func @rms_norm_scale(%x: tensor<?x4x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{scale must have the shape of the normalized axes}}
  %0 = moe.rms_norm %x, %w {axis = 1 : i64, epsilon = 1.0e-6 : f32} : (tensor<?x4x8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  return
}

// -----

// Tests that moe.dequantize wants the blocked scale shape for its block size.
func.func @dequantize_scale(%q: tensor<4x16xi8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{scale must be 'tensor<4x2xf32>' for block_size 8 along axis 1, got 'tensor<4x1xf32>'}}
  %0 = moe.dequantize %q, %s {axis = 1 : i64, block_size = 8 : i64} : (tensor<4x16xi8>, tensor<4x1xf32>) -> tensor<4x16xf32>
  return
}

// -----

// Tests that packed 4-bit values must halve the last dimension.
func.func @dequantize_int4_shape(%q: tensor<4x16xi8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{the input must have the result's shape with the last dimension halved (two 4-bit values per byte)}}
  %0 = moe.dequantize %q, %s {axis = 1 : i64, block_size = 16 : i64, bits = 4 : i64} : (tensor<4x16xi8>, tensor<4x1xf32>) -> tensor<4x16xf32>
  return
}

// -----

// Tests that the present cache must have the past cache's type.
func.func @attention_present(%q: tensor<1x?x64xf32>, %k: tensor<1x?x32xf32>, %pk: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) {
  // expected-error @+1 {{past_value, present_key and present_value must have past_key's type 'tensor<1x2x8x16xf32>', got 'tensor<1x2x9x16xf32>'}}
  %0:3 = moe.attention %q, %k, %k, %pk, %pk, %sl, %tl {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x9x16xf32>, tensor<1x2x8x16xf32>)
  return
}

// -----

// Tests that a packed query must hold the q, k and v heads.
func.func @attention_packed(%q: tensor<1x?x64xf32>, %pk: tensor<1x2x8x16xf32>, %sl: tensor<1xi32>, %tl: tensor<i32>) {
  // expected-error @+1 {{query must be [1, S, 128], got 'tensor<1x?x64xf32>'}}
  %0:3 = moe.attention %q, %pk, %pk, %sl, %tl {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.25 : f32, operandSegmentSizes = array<i32: 1, 0, 0, 1, 1, 1, 1, 0, 0>} : (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x?x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  return
}

// -----

// Tests that a selection bias belongs to sigmoid routing.
func.func @router_bias_softmax(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{bias and groups are for sigmoid scoring}}
  %w, %i = moe.router %l {k = 2 : i64, normalize = true, scoring = "softmax", bias = array<f32: 0., 0., 0., 0., 0., 0., 0., 0.>} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return
}

// -----

// Tests that groups must split the experts evenly into groups of two or more.
func.func @router_groups(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{groups must divide the 8 experts into groups of at least 2, got 3}}
  %w, %i = moe.router %l {k = 2 : i64, normalize = true, scoring = "sigmoid", groups = 3 : i64} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return
}

// -----

// Tests that k cannot exceed the experts of the kept groups.
func.func @router_k_groups(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{k = 3 exceeds the 2 experts of the kept groups}}
  %w, %i = moe.router %l {k = 3 : i64, normalize = true, scoring = "sigmoid", groups = 4 : i64, topk_groups = 1 : i64} : tensor<?x8xf32> -> tensor<?x3xf32>, tensor<?x3xi64>
  return
}

// -----

// Tests that the bias has one value per expert.
func.func @router_bias_size(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{bias must have one value per expert (8), got 2}}
  %w, %i = moe.router %l {k = 2 : i64, normalize = true, scoring = "sigmoid", bias = array<f32: 0., 1.>} : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi64>
  return
}
