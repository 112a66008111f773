// RUN: moec-opt %s -split-input-file -moec-onnx-infer-shapes="allow-unknown=true" -verify-diagnostics

// Tests that an invalid op stays an error even with allow-unknown: operand
// shapes that cannot broadcast are not a shape moec merely cannot express.
func.func @invalid_is_not_deferred(%x: tensor<?x8xf32>, %y: tensor<?x3xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{op 'Add': operand shapes cannot be broadcast together: dimension 8 against 3}}
  %z = onnx.Add %x, %y : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<*xf32>
  return %z : tensor<*xf32>
}

// -----

// Tests that GatherND's batch_dims other than 0 is refused by the verifier.
func.func @gathernd_batch_dims(%w: tensor<4x6x8xf32>, %idx: tensor<4x1xi64>) -> tensor<*xf32> {
  // expected-error @+1 {{batch_dims = 1 is not supported (only 0)}}
  %g = onnx.GatherND %w, %idx {batch_dims = 1 : i64} : (tensor<4x6x8xf32>, tensor<4x1xi64>) -> tensor<*xf32>
  return %g : tensor<*xf32>
}

// -----

// Tests that Tile's repeats must match the input's rank.
func.func @tile_rank(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %r = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  // expected-error @+1 {{repeats has 3 entries for an input of rank 2}}
  %y = onnx.Tile %x, %r : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that OneHot's values must be [off, on].
func.func @onehot_values(%i: tensor<?xi64>, %d: tensor<i64>, %v: tensor<3xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{values must be [off, on] (2 elements)}}
  %y = onnx.OneHot %i, %d, %v : (tensor<?xi64>, tensor<i64>, tensor<3xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Tests that a known delta of 0 is an invalid Range, not a deferred shape.
func.func @range_zero_delta() -> tensor<*xi64> {
  %zero = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %four = onnx.Constant {value = dense<4> : tensor<i64>} : () -> tensor<i64>
  // expected-error @+1 {{delta must not be 0 and the length must fit int64 (start 0, limit 4, delta 0)}}
  %r = onnx.Range %zero, %four, %zero : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  return %r : tensor<*xi64>
}

// -----

// Tests that a known CumSum axis out of range is an error at the op.
func.func @cumsum_axis_range(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %axis = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = onnx.CumSum %x, %axis : (tensor<?x8xf32>, tensor<i64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}
