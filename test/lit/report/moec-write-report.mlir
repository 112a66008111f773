// RUN: moec-opt %s --moec-write-report="target=sm_90a" -o /dev/null | FileCheck %s --check-prefix=MD
// RUN: moec-opt %s --moec-write-report="format=json" -o /dev/null | FileCheck %s --check-prefix=JSON
// RUN: moec-opt %s --moec-write-report | FileCheck %s --check-prefix=IR

// Tests the report of planned GPU launches (bf16: 2 bytes an element):
// the expert GEMMs count the k = 2 selected experts per token,
// 2*T*k*(H*F1 + I*H) = 12288*T + 6144*T for H = 32, F1 = 96, I = 48;
// attention counts every query over min(window, capacity) = 4 keys:
// 4 * 4 * 64*T; moe_route_linear 2*32*4 per token for the logits plus 4 per
// logit for the softmax; one elementwise multiply (the extf is a
// conversion, not counted). Bytes: inputs read and results written once,
// weights (kernel.constant) at their size. Launches group by the layer in
// their node names; the counts before fusion come from moec.unfused.
// Listed as fused: the Cast (a launch before fusion, none after) and the
// router's MatMul (after fusion only in a launch that also carries the MoE
// node's name); not the MoE node, which keeps launches of its own.

// MD: # moec compile report: module (target sm_90a)
// MD: Summary: 7 kernel launches after fusion, 9 before; bytes moved at T = 1: 40,012 after fusion, 40,052 before; at T = 256: 433,732 after, 443,972 before.
// MD: | bytes moved | 1,544*T + 38,468 | 1,584*T + 38,468 |
// MD: | FLOPs | 19,856*T | |
// MD: | weights stored | 37,376 bytes in 3 tensors | |
// MD: ## layers.0
// MD-EMPTY:
// MD-NEXT: 5 launches (7 before fusion); bytes moved at T = 1: 38,340 (38,380 before fusion); FLOPs: 18,768*T
// MD: | 0 | moe_route_linear | /model/layers.0/moe/router/MatMul + /model/layers.0/moe/MoE | 272 | 272*T | 600 | 512 |
// MD-NEXT: | 1 | moe_permute | /model/layers.0/moe/MoE | 0 | 0 | 44 | 0 |
// MD-NEXT: | 2 | moe_gemm_up | /model/layers.0/moe/MoE | 12,288 | 12,288*T | 24,860 | 24,576 |
// MD-NEXT: | 3 | moe_gemm_down | /model/layers.0/moe/MoE | 6,144 | 6,144*T | 12,644 | 12,288 |
// MD-NEXT: | 4 | moe_combine | /model/layers.0/moe/MoE | 64 | 64*T | 192 | 0 |
// MD: Fused into other launches (no launch of their own): `/model/layers.0/moe/router/MatMul`, `/model/layers.0/moe/Cast`{{$}}
// MD: ## layers.1
// MD-EMPTY:
// MD-NEXT: 2 launches (2 before fusion); bytes moved at T = 1: 1,672 (1,672 before fusion); FLOPs: 1,088*T
// MD: | 5 | attention | /model/layers.1/attn/GroupQueryAttention | 1,024 | 1,024*T | 1,288 | 0 |
// MD-NEXT: | 6 | elementwise | /model/layers.1/Mul | 64 | 64*T | 384 | 0 |
// MD: FLOPs count a multiply-add as 2

// JSON: "format": "moec-compile-report",
// JSON: "weight_bytes_stored": 37376,
// JSON: "weight_count": 3,
// JSON: "totals": {
// JSON-NEXT: "launches": 7,
// JSON-NEXT: "launches_before_fusion": 9,
// JSON-NEXT: "flops": {
// JSON-NEXT: "base": 0,
// JSON-NEXT: "per_token": 19856
// JSON: "layers": [
// JSON: "name": "layers.0",
// JSON: "fused_nodes": [
// JSON-NEXT: "/model/layers.0/moe/router/MatMul",
// JSON-NEXT: "/model/layers.0/moe/Cast"
// JSON: "kernel": "moe_gemm_up",
// JSON: "layer": "layers.0",
// JSON-NEXT: "flops": {
// JSON-NEXT: "base": 0,
// JSON-NEXT: "per_token": 12288
// JSON: "before_fusion": [

// The IR is left as it was.
// IR: kernel.launch "moe_gemm_up"
module {
  func.func @main(%x: tensor<?x32xbf16>, %xf: tensor<?x32xbf16>, %q: tensor<1x?x64xbf16>, %pk: tensor<1x2x8x16xbf16>, %pv: tensor<1x2x8x16xbf16>, %sl: tensor<1xi32>, %tl: tensor<i32>) -> (tensor<?x32xbf16>, tensor<1x?x64xbf16>, tensor<1x?x64xf32>) attributes {moec.unfused = {launches = 9 : i64, activation_bytes = array<i64: 0, 0>, result_bytes = array<i64: 0, 0>, weight_bytes = 0 : i64, ops = [
      {node = "/model/layers.0/moe/router/MatMul", op = "moe.linear", launches = 1 : i64, activation_bytes = array<i64: 0, 80>, weight_bytes = 512 : i64},
      {node = "/model/layers.0/moe/MoE", op = "moe.router", launches = 1 : i64, activation_bytes = array<i64: 0, 40>, weight_bytes = 0 : i64},
      {node = "/model/layers.0/moe/Cast", op = "moe.elementwise", launches = 1 : i64, activation_bytes = array<i64: 0, 12>, weight_bytes = 0 : i64},
      {node = "/model/layers.0/moe/MoE", op = "moe.experts", launches = 4 : i64, activation_bytes = array<i64: 60, 812>, weight_bytes = 36864 : i64},
      {node = "/model/layers.1/attn/GroupQueryAttention", op = "moe.attention", launches = 1 : i64, activation_bytes = array<i64: 1032, 256>, weight_bytes = 0 : i64},
      {node = "/model/layers.1/Mul", op = "moe.elementwise", launches = 1 : i64, activation_bytes = array<i64: 0, 384>, weight_bytes = 0 : i64}]}} {
    %wr = kernel.constant {name = "router"} dense<1.0> : tensor<4x32xf32> -> tensor<4x32xf32>
    %fc1 = kernel.constant {name = "fc1"} dense<1.0> : tensor<4x96x32xbf16> -> tensor<4x96x32xbf16>
    %fc2 = kernel.constant {name = "fc2"} dense<1.0> : tensor<4x32x48xbf16> -> tensor<4x32x48xbf16>
    %route:2 = kernel.launch "moe_route_linear"(%x, %wr) {spec = {k = 2 : i64, normalize = true, has_bias = false}} : (tensor<?x32xbf16>, tensor<4x32xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>) loc(fused["/model/layers.0/moe/router/MatMul", "/model/layers.0/moe/MoE"])
    %perm:2 = kernel.launch "moe_permute"(%route#1) {spec = {experts = 4 : i64}} : (tensor<?x2xi64>) -> (tensor<5xi32>, tensor<?x2xi32>) loc("/model/layers.0/moe/MoE")
    %up = kernel.launch "moe_gemm_up"(%x, %perm#1, %perm#0, %fc1) {spec = {has_fc3 = false}} : (tensor<?x32xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x96x32xbf16>) -> tensor<?x2x48xbf16> loc("/model/layers.0/moe/MoE")
    %down = kernel.launch "moe_gemm_down"(%up, %perm#1, %perm#0, %fc2, %route#0) {spec = {}} : (tensor<?x2x48xbf16>, tensor<?x2xi32>, tensor<5xi32>, tensor<4x32x48xbf16>, tensor<?x2xf32>) -> tensor<?x2x32xbf16> loc("/model/layers.0/moe/MoE")
    %y = kernel.launch "moe_combine"(%down) {spec = {}} : (tensor<?x2x32xbf16>) -> tensor<?x32xbf16> loc("/model/layers.0/moe/MoE")
    %att = kernel.launch "attention"(%q, %pk, %pv, %sl, %tl) {spec = {num_heads = 4 : i64, kv_heads = 2 : i64, window = 4 : i64}} : (tensor<1x?x64xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1xi32>, tensor<i32>) -> tensor<1x?x64xbf16> loc("/model/layers.1/attn/GroupQueryAttention")
    %sq = kernel.launch "elementwise"(%att) {spec = {}} : (tensor<1x?x64xbf16>) -> tensor<1x?x64xf32> {
    ^bb0(%v: bf16):
      %f = arith.extf %v : bf16 to f32
      %m = arith.mulf %f, %f : f32
      kernel.yield %m : f32
    } loc("/model/layers.1/Mul")
    return %y, %att, %sq : tensor<?x32xbf16>, tensor<1x?x64xbf16>, tensor<1x?x64xf32>
  }
}
