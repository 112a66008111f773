// RUN: moec-opt %s -split-input-file -moec-onnx-infer-shapes="allow-unknown=true" -verify-diagnostics | FileCheck %s
// RUN: not moec-opt %s -split-input-file -moec-onnx-infer-shapes -o /dev/null 2>&1 | FileCheck %s --check-prefix=STRICT

// Deferred shapes: a value whose shape moec cannot express is unranked with
// its exact element type; the op that lost the shape records why in
// moec.unknown_shape, the ops it feeds are unranked without a reason. With
// allow-unknown=true the pass keeps them; strict (the default) fails at the
// first reason, in the importer's words (STRICT lines: every error of the
// strict run, in order, and no other).

// Tests that a [T*2, 4] reshape is deferred with its reason, that the Relu it
// feeds is unranked with no reason of its own, and that the function result
// follows; the strict pass names the Reshape with the opset from the module.
// CHECK-LABEL: func.func @repeat_rows
// CHECK-SAME: -> tensor<*xf32>
// CHECK: onnx.Reshape {{.*}} {moec.unknown_shape = "cannot infer shape: dimension depends on the token count{{.*}}"} : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<*xf32>
// CHECK-NOT: moec.unknown_shape
// CHECK: onnx.Relu {{.*}} : (tensor<*xf32>) -> tensor<*xf32>
// STRICT: error: op 'Reshape' (opset 18): cannot infer shape: dimension depends on the token count in a way moec does not support (only a dimension equal to the token count may be dynamic)
// STRICT-NOT: error:
module attributes {onnx.opset_import = {ai.onnx = 18 : i64}} {
  func.func @repeat_rows(%x: tensor<?x8xf32>) -> tensor<*xf32> {
    %s = onnx.Constant {value = dense<[-1, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
    %y = onnx.Reshape %x, %s : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<*xf32>
    %z = onnx.Relu %y : (tensor<*xf32>) -> tensor<*xf32>
    return %z : tensor<*xf32>
  }
}

// -----

// Tests the element types of deferred results: Shape and NonZero give i64,
// Equal i1, Cast its `to`, Where its X, TopK (values, i64), ConstantOfShape
// its fill value's type; NonZero records the data-dependent count. Strict
// mode reports only the first reason (the Reshape), not NonZero's.
// CHECK-LABEL: func.func @element_types
// CHECK-SAME: -> (tensor<*xi1>, tensor<*xf16>, tensor<*xf32>, tensor<*xi64>, tensor<*xi32>)
// CHECK: onnx.Reshape {{.*}}moec.unknown_shape{{.*}} -> tensor<*xf32>
// CHECK: onnx.Shape {{.*}} : (tensor<*xf32>) -> tensor<*xi64>
// CHECK: onnx.Equal {{.*}} : (tensor<*xf32>, tensor<f32>) -> tensor<*xi1>
// CHECK: onnx.NonZero {{.*}} {moec.unknown_shape = "cannot infer shape: the number of nonzero elements depends on the input data"} : (tensor<?x8xi1>) -> tensor<*xi64>
// CHECK: onnx.Cast {{.*}} {to = f16} : (tensor<*xi64>) -> tensor<*xf16>
// CHECK: onnx.Where {{.*}} : (tensor<?x8xi1>, tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
// CHECK: onnx.TopK {{.*}} : (tensor<*xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
// CHECK: onnx.ConstantOfShape {{.*}} : (tensor<*xi64>) -> tensor<*xi32>
// STRICT: error: op 'Reshape': cannot infer shape: dimension depends on the token count
// STRICT-NOT: error:
func.func @element_types(%x: tensor<?x8xf32>, %m: tensor<?x8xi1>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %s = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %flat = onnx.Reshape %x, %s : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<*xf32>
  %shape = onnx.Shape %flat : (tensor<*xf32>) -> tensor<*xf32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %eq = onnx.Equal %flat, %zero : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %nz = onnx.NonZero %m : (tensor<?x8xi1>) -> tensor<*xf32>
  %h = onnx.Cast %nz {to = f16} : (tensor<*xf32>) -> tensor<*xf32>
  %w = onnx.Where %m, %flat, %zero : (tensor<?x8xi1>, tensor<*xf32>, tensor<f32>) -> tensor<*xi64>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %w, %k : (tensor<*xi64>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xf32>)
  %fill = onnx.ConstantOfShape %shape {value = dense<1> : tensor<1xi32>} : (tensor<*xf32>) -> tensor<*xf32>
  return %eq, %h, %v, %i, %fill : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests that an op deferred earlier whose operands are known now (what a
// raising pass does to the ops after an MoE block) is inferred again and
// loses its reason, so strict mode passes.
// CHECK-LABEL: func.func @known_again
// CHECK-SAME: -> tensor<?x8xf32>
// CHECK-NOT: moec.unknown_shape
// CHECK: onnx.Relu %{{.*}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
func.func @known_again(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %y = onnx.Relu %x {moec.unknown_shape = "cannot infer shape: stale"} : (tensor<?x8xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests Tile with known repeats: T * 1 stays T, 1 * 2 is 2; repeats computed
// by OneHot of constants (torch.onnx's repeat_interleave: OneHot([1], 3,
// [1, 2]) = [1, 2, 1]) fold to known values. GatherND takes
// indices.shape[:-1] + data.shape[1:], and OneHot inserts depth at axis -1.
// CHECK-LABEL: func.func @tile_gathernd_onehot
// CHECK: onnx.OneHot {{.*}} : (tensor<1xi64>, tensor<i64>, tensor<2xi64>) -> tensor<1x3xi64>
// CHECK: onnx.Tile {{.*}} : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
// CHECK: onnx.GatherND {{.*}} : (tensor<4x6x8xf32>, tensor<?x1xi64>) -> tensor<?x6x8xf32>
// CHECK: onnx.OneHot {{.*}} : (tensor<?x2xi64>, tensor<i64>, tensor<2xf32>) -> tensor<?x2x4xf32>
func.func @tile_gathernd_onehot(%x: tensor<?x1x8xf32>, %w: tensor<4x6x8xf32>, %idx: tensor<?x1xi64>, %ids: tensor<?x2xi64>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %three = onnx.Constant {value = dense<3> : tensor<i64>} : () -> tensor<i64>
  %offon = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %hot = onnx.OneHot %one, %three, %offon : (tensor<1xi64>, tensor<i64>, tensor<2xi64>) -> tensor<*xi64>
  %flat = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %repeats = onnx.Reshape %hot, %flat : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %t = onnx.Tile %x, %repeats : (tensor<?x1x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  %g = onnx.GatherND %w, %idx : (tensor<4x6x8xf32>, tensor<?x1xi64>) -> tensor<*xf32>
  %four = onnx.Constant {value = dense<4> : tensor<i64>} : () -> tensor<i64>
  %fvals = onnx.Constant {value = dense<[0.0, 1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %mask = onnx.OneHot %ids, %four, %fvals : (tensor<?x2xi64>, tensor<i64>, tensor<2xf32>) -> tensor<*xf32>
  return %t, %g, %mask : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests that repeating the token axis (T * 2) defers Tile, naming the op.
// CHECK-LABEL: func.func @tile_tokens
// CHECK: onnx.Tile {{.*}}moec.unknown_shape = "cannot infer shape: dimension depends on the token count{{.*}}"{{.*}} -> tensor<*xf32>
// STRICT: error: op 'Tile': cannot infer shape: dimension depends on the token count
// STRICT-NOT: error:
func.func @tile_tokens(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %r = onnx.Constant {value = dense<[2, 1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %y = onnx.Tile %x, %r : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that an unranked value no op accounts for (here an unranked
// argument) fails strict mode at the first op with an unranked result.
// CHECK-LABEL: func.func @no_reason
// CHECK: onnx.Exp {{.*}} : (tensor<*xf32>) -> tensor<*xf32>
// STRICT: error: op 'Exp': has a result of unknown shape, and no op records why
// STRICT-NOT: error:
func.func @no_reason(%x: tensor<*xf32>) -> tensor<*xf32> {
  %y = onnx.Exp %x : (tensor<*xf32>) -> tensor<*xf32>
  %z = onnx.Neg %y : (tensor<*xf32>) -> tensor<*xf32>
  return %z : tensor<*xf32>
}

// -----

// Tests that a Range whose length is neither static nor T (Range(1, T, 1):
// T - 1 elements; and Range(0, T, 2)) is deferred with its reason and that
// its users follow unranked; strict mode names the first Range.
// CHECK-LABEL: func.func @range_deferred
// CHECK-SAME: -> (tensor<*xi64>, tensor<*xi64>)
// CHECK: onnx.Range {{.*}} {moec.unknown_shape = "cannot infer shape: the length of Range is not known at compile time (start, limit and delta must be known, or start 0, delta 1 and limit the token count)"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
// CHECK: onnx.Neg {{.*}} : (tensor<*xi64>) -> tensor<*xi64>
// CHECK: onnx.Range {{.*}}moec.unknown_shape{{.*}} -> tensor<*xi64>
// STRICT: error: op 'Range': cannot infer shape: the length of Range is not known at compile time
// STRICT-NOT: error:
func.func @range_deferred(%x: tensor<?x8xf32>) -> (tensor<*xi64>, tensor<*xi64>) {
  %shape = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<2xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %t = onnx.Gather %shape, %zero : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %r = onnx.Range %one, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  %n = onnx.Neg %r : (tensor<*xi64>) -> tensor<*xi64>
  %two = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %r2 = onnx.Range %zero, %t, %two : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  return %n, %r2 : tensor<*xi64>, tensor<*xi64>
}
