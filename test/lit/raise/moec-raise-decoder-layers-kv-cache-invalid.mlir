// RUN: moec-opt %s --moec-raise-decoder-layers --verify-diagnostics

// Tests that a growing cache whose Concat(past, new) no raised attention
// consumes (here a compressed cache decompressed by a MatMul, as DeepSeek's
// MLA exports keep it) is reported at the Concat, with its cache input and
// the op that reads it, instead of as the deferred shape it leaves behind.
module attributes {moec.kv_cache_capacity = 16 : i64} {
func.func @compressed_cache(%c: tensor<1x1x?x16xf32>,
    %pk: tensor<1x1x16x16xf32> {onnx.name = "past_key_0"},
    %seqlens: tensor<1xi32> {onnx.name = "seqlens_k"}, %total: tensor<1xi32> {onnx.name = "total_sequence_length"})
    -> (tensor<*xf32>, tensor<*xf32>) {
  // expected-error @+1 {{the KV cache input 'past_key_0' grows here (past and new rows concatenated), and moec compiles a growing cache only as the keys or values of a causal attention it raises to moe.attention; these are read by op 'MatMul'}}
  %grown = onnx.Concat %pk, %c {axis = -2 : i64} : (tensor<1x1x16x16xf32>, tensor<1x1x?x16xf32>) -> tensor<*xf32>
  %w = onnx.Constant {value = dense<0.5> : tensor<16x64xf32>} : () -> tensor<16x64xf32>
  %kv = onnx.MatMul %grown, %w : (tensor<*xf32>, tensor<16x64xf32>) -> tensor<*xf32>
  return %kv, %grown : tensor<*xf32>, tensor<*xf32>
}
}
