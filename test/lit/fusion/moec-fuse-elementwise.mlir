// RUN: moec-opt %s --split-input-file --moec-fuse-elementwise | FileCheck %s

// Tests that a SiLU(gate) * up chain becomes one region, with the scalar
// constant folded into the body.
// CHECK-LABEL: func.func @silu_times_up
// CHECK-SAME: (%[[G:.+]]: tensor<?x8xf32>, %[[U:.+]]: tensor<?x8xf32>)
// CHECK: %[[F:.+]] = moe.elementwise ins(%[[G]], %[[U]] : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK: ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32):
// CHECK: arith.constant 1.000000e+00 : f32
// CHECK: arith.negf %[[A]]
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.mulf %[[A]]
// CHECK: %[[R:.+]] = arith.mulf %{{.+}}, %[[B]]
// CHECK: moe.yield %[[R]]
// CHECK-NOT: moe.elementwise
// CHECK: return %[[F]]
func.func @silu_times_up(%g: tensor<?x8xf32>, %u: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %sig = moe.elementwise ins(%g, %one : tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %c: f32):
    %n = arith.negf %x : f32
    %e = math.exp %n : f32
    %d = arith.addf %c, %e : f32
    %s = arith.divf %c, %d : f32
    moe.yield %s : f32
  }
  %silu = moe.elementwise ins(%g, %sig : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %s: f32):
    %m = arith.mulf %x, %s : f32
    moe.yield %m : f32
  }
  %out = moe.elementwise ins(%silu, %u : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %b : f32
    moe.yield %m : f32
  }
  return %out : tensor<?x8xf32>
}

// -----

// Tests that a producer with a non-elementwise user is left alone: its
// tensor must exist anyway, so fusing would only duplicate work.
// CHECK-LABEL: func.func @shared_with_matmul
// CHECK: %[[P:.+]] = moe.elementwise
// CHECK: moe.elementwise ins(%[[P]]
// CHECK: moe.linear %[[P]]
func.func @shared_with_matmul(%a: tensor<?x8xf32>, %w: tensor<8x4xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>) {
  %p = moe.elementwise ins(%a : tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32):
    %e = math.exp %x : f32
    moe.yield %e : f32
  }
  %q = moe.elementwise ins(%p : tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32):
    %n = arith.negf %x : f32
    moe.yield %n : f32
  }
  %l = moe.linear %p, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return %q, %l : tensor<?x8xf32>, tensor<?x4xf32>
}

// -----

// Tests that a producer broadcast by its consumer is not fused: inlining it
// would recompute it for every broadcast element.
// CHECK-LABEL: func.func @broadcast_producer
// CHECK: %[[P:.+]] = moe.elementwise ins(%{{.+}} : tensor<8xf32>) -> tensor<8xf32>
// CHECK: moe.elementwise ins(%{{.+}}, %[[P]] : tensor<?x8xf32>, tensor<8xf32>)
func.func @broadcast_producer(%a: tensor<?x8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %p = moe.elementwise ins(%b : tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%x: f32):
    %e = math.exp %x : f32
    moe.yield %e : f32
  }
  %q = moe.elementwise ins(%a, %p : tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %y : f32
    moe.yield %m : f32
  }
  return %q : tensor<?x8xf32>
}

// -----

// Tests that a producer with two elementwise users is inlined into both.
// CHECK-LABEL: func.func @two_users
// CHECK-COUNT-2: math.exp
// CHECK-NOT: moe.elementwise ins(%{{.+}} : tensor<?x8xf32>) -> tensor<?x8xf32> {
func.func @two_users(%a: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %p = moe.elementwise ins(%a : tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32):
    %e = math.exp %x : f32
    moe.yield %e : f32
  }
  %q = moe.elementwise ins(%p, %a : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %y : f32
    moe.yield %m : f32
  }
  %r = moe.elementwise ins(%p, %a : tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%x: f32, %y: f32):
    %m = arith.addf %x, %y : f32
    moe.yield %m : f32
  }
  return %q, %r : tensor<?x8xf32>, tensor<?x8xf32>
}
