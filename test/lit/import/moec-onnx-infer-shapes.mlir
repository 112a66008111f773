// RUN: moec-opt %s -split-input-file -moec-onnx-infer-shapes -verify-diagnostics | FileCheck %s

// Tests that the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain an
// exporter writes resolves to a static shape with `?` only where T is, and
// that the function's result type follows.
// CHECK-LABEL: func.func @reshape_chain
// CHECK-SAME: -> tensor<?x4x8xf32>
func.func @reshape_chain(%x: tensor<?x32xf32>) -> tensor<*xf32> {
  // CHECK: onnx.Shape %{{.*}} : (tensor<?x32xf32>) -> tensor<2xi64>
  %shape = onnx.Shape %x : (tensor<?x32xf32>) -> tensor<*xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  // CHECK: onnx.Gather {{.*}} -> tensor<i64>
  %t = onnx.Gather %shape, %zero : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %axes = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  // CHECK: onnx.Unsqueeze {{.*}} -> tensor<1xi64>
  %t1 = onnx.Unsqueeze %t, %axes : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %rest = onnx.Constant {value = dense<[4, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  // CHECK: onnx.Concat {{.*}} -> tensor<3xi64>
  %target = onnx.Concat %t1, %rest {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> tensor<*xi64>
  // CHECK: onnx.Reshape {{.*}} : (tensor<?x32xf32>, tensor<3xi64>) -> tensor<?x4x8xf32>
  %y = onnx.Reshape %x, %target : (tensor<?x32xf32>, tensor<*xi64>) -> tensor<*xf32>
  // CHECK: return {{.*}} : tensor<?x4x8xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests Reshape's -1 (inferred as T) and 0 (copy) entries, and Flatten.
// CHECK-LABEL: func.func @reshape_minus_one
func.func @reshape_minus_one(%x: tensor<?x4x8xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %s = onnx.Constant {value = dense<[-1, 32]> : tensor<2xi64>} : () -> tensor<2xi64>
  // CHECK: onnx.Reshape {{.*}} -> tensor<?x32xf32>
  %a = onnx.Reshape %x, %s : (tensor<?x4x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %s2 = onnx.Constant {value = dense<[0, 2, -1]> : tensor<3xi64>} : () -> tensor<3xi64>
  // CHECK: onnx.Reshape {{.*}} -> tensor<?x2x16xf32>
  %b = onnx.Reshape %x, %s2 : (tensor<?x4x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  // CHECK: onnx.Flatten {{.*}} -> tensor<?x32xf32>
  %c = onnx.Flatten %x : (tensor<?x4x8xf32>) -> tensor<*xf32>
  return %a, %b, %c : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests the router part of an MoE block: MatMul, Softmax, TopK with a
// constant K, ReduceSum with keepdims, broadcasting Div, and a comparison.
// CHECK-LABEL: func.func @router
func.func @router(%x: tensor<?x16xf32>, %w: tensor<16x8xf32>) -> (tensor<*xf32>, tensor<*xi1>) {
  // CHECK: onnx.MatMul {{.*}} -> tensor<?x8xf32>
  %logits = onnx.MatMul %x, %w : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<*xf32>
  // CHECK: onnx.Softmax {{.*}} -> tensor<?x8xf32>
  %p = onnx.Softmax %logits {axis = -1 : i64} : (tensor<*xf32>) -> tensor<*xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  // CHECK: onnx.TopK {{.*}} -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %v, %i = onnx.TopK %p, %k : (tensor<*xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
  %axes = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  // CHECK: onnx.ReduceSum {{.*}} -> tensor<?x1xf32>
  %sum = onnx.ReduceSum %v, %axes : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  // CHECK: onnx.Div {{.*}} -> tensor<?x2xf32>
  %norm = onnx.Div %v, %sum : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  // CHECK: onnx.Equal {{.*}} -> tensor<?x2xi1>
  %hit = onnx.Equal %i, %zero : (tensor<*xi64>, tensor<i64>) -> tensor<*xi1>
  return %norm, %hit : tensor<*xf32>, tensor<*xi1>
}

// -----

// Tests Gemm with transB, Transpose, Concat and Split along a static axis,
// Slice of the whole token range, and Expand of a static tensor to (T, 8).
// CHECK-LABEL: func.func @tensor_ops
func.func @tensor_ops(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %row: tensor<1x8xf32>) -> tensor<*xf32> {
  // CHECK: onnx.Gemm {{.*}} -> tensor<?x8xf32>
  %y = onnx.Gemm %x, %w {transB = 1 : i64} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<*xf32>
  // CHECK: onnx.Transpose {{.*}} -> tensor<8x?xf32>
  %t = onnx.Transpose %y : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: onnx.Concat {{.*}} -> tensor<?x24xf32>
  %c = onnx.Concat %y, %x {axis = 1 : i64} : (tensor<*xf32>, tensor<?x16xf32>) -> tensor<*xf32>
  // CHECK: onnx.Split {{.*}} -> (tensor<?x12xf32>, tensor<?x12xf32>)
  %s0, %s1 = onnx.Split %c {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<*xf32>) -> (tensor<*xf32>, tensor<*xf32>)
  %start = onnx.Constant {value = dense<[0, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %end = onnx.Constant {value = dense<[9223372036854775807, 10]> : tensor<2xi64>} : () -> tensor<2xi64>
  // CHECK: onnx.Slice {{.*}} -> tensor<?x8xf32>
  %sl = onnx.Slice %s0, %start, %end : (tensor<*xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %shape = onnx.Shape %x : (tensor<?x16xf32>) -> tensor<*xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %tok = onnx.Slice %shape, %zero, %one : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
  %eight = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %target = onnx.Concat %tok, %eight {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  // CHECK: onnx.Expand {{.*}} -> tensor<?x8xf32>
  %e = onnx.Expand %row, %target : (tensor<1x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  // CHECK: onnx.Add {{.*}} -> tensor<?x8xf32>
  %sum = onnx.Add %e, %sl : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return %sum : tensor<*xf32>
}

// -----

// Tests that the MoE op's result takes the input's type.
// CHECK-LABEL: func.func @moe
// CHECK: onnx.ms.MoE {{.*}} -> tensor<?x16xf32>
func.func @moe(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x32x16xf32>, %w2: tensor<4x16x32xf32>) -> tensor<*xf32> {
  %y = onnx.ms.MoE %x, %r, %w1, %w2 {k = 2 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that a reshape making a dimension 4*T is refused.
func.func @refuse_token_multiple(%x: tensor<?x4xf32>) -> tensor<*xf32> {
  %s = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{cannot infer shape: dimension depends on the token count in a way moec does not support (only a dimension equal to the token count may be dynamic)}}
  %y = onnx.Reshape %x, %s : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that T * 2 computed from Shape is not folded into a reshape target.
func.func @refuse_scaled_token_count(%x: tensor<?x4xf32>) -> tensor<*xf32> {
  %shape = onnx.Shape %x {end = 1 : i64} : (tensor<?x4xf32>) -> tensor<*xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %t2 = onnx.Mul %shape, %two : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %two_d = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %target = onnx.Concat %t2, %two_d {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  // expected-error @+1 {{cannot infer shape: the target shape is not known at compile time}}
  %y = onnx.Reshape %x, %target : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that concatenating two token-count dims (2*T) is refused.
func.func @refuse_concat_tokens(%x: tensor<?x4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{only a dimension equal to the token count may be dynamic}}
  %y = onnx.Concat %x, %x {axis = 0 : i64} : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that a declared result type contradicting the operands is reported.
func.func @refuse_contradiction(%x: tensor<?x4xf32>, %w: tensor<4x8xf32>) -> tensor<?x9xf32> {
  // expected-error @+1 {{result #0 is declared as 'tensor<?x9xf32>' but its operands give 'tensor<?x8xf32>'}}
  %y = onnx.MatMul %x, %w : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x9xf32>
  return %y : tensor<?x9xf32>
}

// -----

// Tests Slice lengths on a static axis against numpy's: x[:, 1::2], x[:, ::-1],
// x[:, -3:], x[:, 7:0:-3] and x[:, 2:100:5] of an 8-wide axis.
// CHECK-LABEL: func.func @slice_lengths
// CHECK-SAME: -> (tensor<?x4xf32>, tensor<?x8xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x2xf32>)
func.func @slice_lengths(%x: tensor<?x8xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %axis = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %max = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %two = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %a = onnx.Slice %x, %one, %max axes(%axis) steps(%two) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %m1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %m9 = onnx.Constant {value = dense<-9> : tensor<1xi64>} : () -> tensor<1xi64>
  %b = onnx.Slice %x, %m1, %m9 axes(%axis) steps(%m1) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %m3 = onnx.Constant {value = dense<-3> : tensor<1xi64>} : () -> tensor<1xi64>
  %c = onnx.Slice %x, %m3, %max axes(%axis) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %seven = onnx.Constant {value = dense<7> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %d = onnx.Slice %x, %seven, %zero axes(%axis) steps(%m3) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %hundred = onnx.Constant {value = dense<100> : tensor<1xi64>} : () -> tensor<1xi64>
  %five = onnx.Constant {value = dense<5> : tensor<1xi64>} : () -> tensor<1xi64>
  %e = onnx.Slice %x, %two, %hundred axes(%axis) steps(%five) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  return %a, %b, %c, %d, %e : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests that slicing a part of the token dimension (x[:4]) is refused: the
// result would be min(T, 4), not T.
func.func @refuse_partial_token_slice(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %four = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{only a dimension equal to the token count may be dynamic}}
  %y = onnx.Slice %x, %zero, %four : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests Range's static case: known integer scalars give a static length
// (max(ceil((limit - start) / delta), 0): 10, 7, -3 -> 1; 0 when the step
// points away from limit) and a known value, so a shape computed through
// Range folds (here Reshape's target [2, 3] = Range(2, 4, 1) + [0, 1] ... as
// Concat(Range(2, 4, 1))); known float scalars give a static length too,
// computed in float32 like the kernels do (ceil(1.0 / 0.3) = 4).
// CHECK-LABEL: func.func @range_static
// CHECK-SAME: -> (tensor<1xi64>, tensor<0xi32>, tensor<2x3xf32>, tensor<4xf32>)
func.func @range_static(%x: tensor<6xf32>) -> (tensor<*xi64>, tensor<*xi32>, tensor<*xf32>, tensor<*xf32>) {
  %ten = onnx.Constant {value = dense<10> : tensor<i64>} : () -> tensor<i64>
  %seven = onnx.Constant {value = dense<7> : tensor<i64>} : () -> tensor<i64>
  %minus3 = onnx.Constant {value = dense<-3> : tensor<i64>} : () -> tensor<i64>
  // CHECK: onnx.Range {{.*}} -> tensor<1xi64>
  %a = onnx.Range %ten, %seven, %minus3 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  %one32 = onnx.Constant {value = dense<1> : tensor<i32>} : () -> tensor<i32>
  %five32 = onnx.Constant {value = dense<5> : tensor<i32>} : () -> tensor<i32>
  // CHECK: onnx.Range {{.*}} -> tensor<0xi32>
  %b = onnx.Range %five32, %one32, %one32 : (tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<*xi32>
  %two = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %four = onnx.Constant {value = dense<4> : tensor<i64>} : () -> tensor<i64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  // [2, 3]: a known value.
  %dims = onnx.Range %two, %four, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  // CHECK: onnx.Reshape {{.*}} -> tensor<2x3xf32>
  %c = onnx.Reshape %x, %dims : (tensor<6xf32>, tensor<*xi64>) -> tensor<*xf32>
  %f0 = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %f1 = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %f03 = onnx.Constant {value = dense<0.3> : tensor<f32>} : () -> tensor<f32>
  // CHECK: onnx.Range {{.*}} -> tensor<4xf32>
  %d = onnx.Range %f0, %f1, %f03 : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  return %a, %b, %c, %d : tensor<*xi64>, tensor<*xi32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests Range's token case: Range(0, T, 1), T read off the input's shape and
// cast as torch writes it, has length T: the position ids of a prompt. The
// comparison of two known lists folds (LessOrEqual([1, 2], [2, 2]) = [1, 1]
// selects the Where's X), GreaterOrEqual gives a bool of the broadcast shape.
// CHECK-LABEL: func.func @range_tokens
// CHECK-SAME: -> (tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xi1>)
func.func @range_tokens(%x: tensor<?x4x2xf32>) -> (tensor<*xi64>, tensor<*xf32>, tensor<*xi1>) {
  %shape = onnx.Shape %x : (tensor<?x4x2xf32>) -> tensor<*xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %t = onnx.Gather %shape, %zero : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %tc = onnx.Cast %t {to = i64} : (tensor<*xi64>) -> tensor<*xi64>
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  // CHECK: onnx.Range {{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %pos = onnx.Range %zero, %tc, %one : (tensor<i64>, tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %lhs = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %rhs = onnx.Constant {value = dense<[2, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %le = onnx.LessOrEqual %lhs, %rhs : (tensor<2xi64>, tensor<2xi64>) -> tensor<*xi1>
  %good = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %bad = onnx.Constant {value = dense<[3, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
  %target = onnx.Where %le, %good, %bad : (tensor<*xi1>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xi64>
  // CHECK: onnx.Reshape {{.*}} -> tensor<?x8xf32>
  %y = onnx.Reshape %x, %target : (tensor<?x4x2xf32>, tensor<*xi64>) -> tensor<*xf32>
  // CHECK: onnx.GreaterOrEqual {{.*}} -> tensor<?x8xi1>
  %ge = onnx.GreaterOrEqual %y, %y : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xi1>
  return %pos, %y, %ge : tensor<*xi64>, tensor<*xf32>, tensor<*xi1>
}

// -----

// Tests that CumSum, ScatterND, Cos and Sin keep their input's shape.
// CHECK-LABEL: func.func @same_shape_ops
// CHECK-SAME: -> (tensor<?x8xi64>, tensor<?x8xf32>, tensor<?x8xf32>)
func.func @same_shape_ops(%x: tensor<?x8xi64>, %f: tensor<?x8xf32>, %idx: tensor<2x1xi64>, %u: tensor<2x8xf32>) -> (tensor<*xi64>, tensor<*xf32>, tensor<*xf32>) {
  %axis = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  // CHECK: onnx.CumSum {{.*}} -> tensor<?x8xi64>
  %c = onnx.CumSum %x, %axis {exclusive = 1 : i64} : (tensor<?x8xi64>, tensor<i64>) -> tensor<*xi64>
  // CHECK: onnx.ScatterND {{.*}} -> tensor<?x8xf32>
  %s = onnx.ScatterND %f, %idx, %u : (tensor<?x8xf32>, tensor<2x1xi64>, tensor<2x8xf32>) -> tensor<*xf32>
  // CHECK: onnx.Cos {{.*}} -> tensor<?x8xf32>
  %cos = onnx.Cos %s : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: onnx.Sin {{.*}} -> tensor<?x8xf32>
  %sin = onnx.Sin %cos : (tensor<*xf32>) -> tensor<*xf32>
  return %c, %s, %sin : tensor<*xi64>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Tests IsNaN's bool result of its input's shape, and that INT64_MIN as a
// constant Slice bound is the literal "from the very start" (exporters write
// shape[:-2] that way), not the token count that known values write the same.
// CHECK-LABEL: func.func @isnan_and_int64_min_bound
// CHECK: onnx.IsNaN {{.*}} -> tensor<?x8xi1>
// CHECK: onnx.Slice {{.*}} -> tensor<2xi64>
// CHECK: onnx.Reshape {{.*}} -> tensor<4x?x2xf32>
func.func @isnan_and_int64_min_bound(%x: tensor<1x4x?x2xf32>, %f: tensor<?x8xf32>) -> (tensor<*xi1>, tensor<*xf32>) {
  %n = onnx.IsNaN %f : (tensor<?x8xf32>) -> tensor<*xi1>
  %shape = onnx.Shape %x : (tensor<1x4x?x2xf32>) -> tensor<4xi64>
  %min = onnx.Constant {value = dense<-9223372036854775808> : tensor<1xi64>} : () -> tensor<1xi64>
  %m2 = onnx.Constant {value = dense<-2> : tensor<1xi64>} : () -> tensor<1xi64>
  %batch = onnx.Slice %shape, %min, %m2 : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
  %neg1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %prod = onnx.ReduceSum %batch, %ax0 {keepdims = 1 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %tail = onnx.Constant {value = dense<[-1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %four = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %target = onnx.Concat %four, %tail {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %r = onnx.Reshape %x, %target : (tensor<1x4x?x2xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %n, %r : tensor<*xi1>, tensor<*xf32>
}
