// RUN: rm -rf %t && mkdir -p %t
// RUN: moec-opt %s --moec-lower-to-kernel --moec-plan-memory --moec-emit-host --moec-write-artifact="output=%t/model.moe"
// RUN: python3 %S/Inputs/self_attention_reference.py gen %t 2 4 2 33 16 8
// RUN: moec-run %t/model.moe --input q=%t/q.npy --input k=%t/k.npy --input v=%t/v.npy --output o=%t/o.npy | FileCheck %s --check-prefix=RAN33
// RUN: python3 %S/Inputs/self_attention_reference.py check %t 0.25 30 3 0.5 -1 2 0 | FileCheck %s
// RUN: python3 %S/Inputs/self_attention_reference.py gen %t 2 4 2 1 16 8
// RUN: moec-run %t/model.moe --input q=%t/q.npy --input k=%t/k.npy --input v=%t/v.npy --output o=%t/o.npy | FileCheck %s --check-prefix=RAN1
// RUN: python3 %S/Inputs/self_attention_reference.py check %t 0.25 30 3 0.5 -1 2 0 | FileCheck %s

// Tests moe.self_attention end to end on the host target: lowered, planned,
// compiled, packaged, then run by libmoert on fresh random q, k, v with 33
// tokens (more than one 32-key stage, the window and causal mask both cut)
// and with 1 token, against the op's definition in float64
// (Inputs/self_attention_reference.py): GQA 4 query heads over 2 kv heads,
// value size 8 != key size 16, window 3, softcap 30 and per-head sinks.
// RAN33: T=33
// RAN1: T=1
// CHECK: self_attention matches float64
module attributes {moec.source = "lit.onnx", moec.token_dim = "tokens"} {
  func.func @main(%q: tensor<2x4x?x16xf32> {onnx.name = "q"}, %k: tensor<2x2x?x16xf32> {onnx.name = "k"}, %v: tensor<2x2x?x8xf32> {onnx.name = "v"}) -> (tensor<2x4x?x8xf32> {onnx.name = "o"}) {
    %sinks = "onnx.Constant"() {value = dense<[0.5, -1.0, 2.0, 0.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %o = moe.self_attention %q, %k, %v, %sinks {scale = 0.25 : f32, softcap = 30.0 : f32, window = 3 : i64} : (tensor<2x4x?x16xf32>, tensor<2x2x?x16xf32>, tensor<2x2x?x8xf32>, tensor<4xf32>) -> tensor<2x4x?x8xf32>
    return %o : tensor<2x4x?x8xf32>
  }
}
