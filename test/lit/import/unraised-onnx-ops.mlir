// RUN: moec-opt %s -split-input-file -moec-convert-onnx-to-moe -moec-lower-to-kernel -verify-diagnostics

// OneHot, NonZero, Tile and GatherND exist in the onnx dialect only so that
// the importer can read the MoE blocks torch.onnx writes and the raising
// passes can replace them; no kernel runs them. One that survives raising
// (with a known shape, so moec-onnx-infer-shapes lets it through) is a clear
// error at the op when lowering, not a crash.

// Tests that a surviving Tile is refused by the host target.
func.func @tile(%x: tensor<?x1x8xf32>) -> tensor<?x2x8xf32> {
  %r = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  // expected-error @+1 {{op 'Tile' (opset 17) is not supported by the host target}}
  %y = onnx.Tile %x, %r : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  return %y : tensor<?x2x8xf32>
}

// -----

// Tests that a surviving GatherND is refused by the host target.
func.func @gathernd(%w: tensor<4x6x8xf32>, %idx: tensor<?x1xi64>) -> tensor<?x6x8xf32> {
  // expected-error @+1 {{op 'GatherND' (opset 17) is not supported by the host target}}
  %g = onnx.GatherND %w, %idx : (tensor<4x6x8xf32>, tensor<?x1xi64>) -> tensor<?x6x8xf32>
  return %g : tensor<?x6x8xf32>
}

// -----

// Tests that a surviving OneHot is refused by the host target.
func.func @onehot(%ids: tensor<?x2xi64>) -> tensor<?x2x4xf32> {
  %depth = onnx.Constant {value = dense<4> : tensor<i64>} : () -> tensor<i64>
  %values = onnx.Constant {value = dense<[0.0, 1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  // expected-error @+1 {{op 'OneHot' (opset 17) is not supported by the host target}}
  %h = onnx.OneHot %ids, %depth, %values : (tensor<?x2xi64>, tensor<i64>, tensor<2xf32>) -> tensor<?x2x4xf32>
  return %h : tensor<?x2x4xf32>
}
