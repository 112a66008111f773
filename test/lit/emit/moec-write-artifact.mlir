// RUN: moec-opt %s --split-input-file --verify-diagnostics --moec-plan-memory --moec-emit-host --moec-write-artifact="output=%t.moe"
// RUN: head -c 7 %t.moe | FileCheck %s --check-prefix=MAGIC
// RUN: python3 -c "import numpy as np; np.save('%t.x.npy', np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8))"
// RUN: moec-run %t.moe --input x=%t.x.npy --output y=%t.y.npy | FileCheck %s --check-prefix=RAN
// RUN: python3 -c "import numpy as np; x = np.load('%t.x.npy').astype(np.float64); y = np.load('%t.y.npy'); e = np.exp(x - x.max(1, keepdims=True)); ref = e / e.sum(1, keepdims=True) * 0.5; assert np.abs(y - ref).max() <= 1e-6, np.abs(y - ref).max()"

// Tests that a planned, compiled module becomes a .moe file that libmoert
// loads and runs: the container magic, then a run whose output matches
// softmax(x) * 0.5 computed independently in float64 (tolerance 1e-6 for a
// float32 softmax of 8 values in [-1, 1]).
// MAGIC: MOECART
// RAN: T=2
module attributes {moec.source = "lit.onnx", moec.token_dim = "tokens"} {
  func.func @main(%x: tensor<?x8xf32> {onnx.name = "x"}) -> (tensor<?x8xf32> {onnx.name = "y"}) {
    %half = kernel.constant dense<0.5> : tensor<8xf32> -> tensor<8xf32>
    %s = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    %y = kernel.launch "elementwise" (%s, %half) {spec = {}} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
    ^bb0(%a: f32, %b: f32):
      %p = arith.mulf %a, %b : f32
      kernel.yield %p : f32
    }
    return %y : tensor<?x8xf32>
  }
}
