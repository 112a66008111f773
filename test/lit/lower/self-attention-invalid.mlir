// RUN: moec-opt %s --split-input-file --verify-diagnostics --moec-lower-to-kernel
// RUN: not moec-opt %s --split-input-file --moec-lower-to-kernel="target=cuda" --moec-emit-cuda="arch=sm_90a compile=false" -o /dev/null 2>&1 | FileCheck %s --check-prefix=CUDA

// Tests that a dynamic head size is refused at lowering, naming the shapes:
// the kernels are specialized on every size but the token count.
func.func @dynamic_head(%q: tensor<1x4x8x?xf32>, %k: tensor<1x2x8x?xf32>, %v: tensor<1x2x8x8xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{self-attention needs static head sizes and at most one dynamic dimension (batch or sequence), got query 'tensor<1x4x8x?xf32>'}}
  %o = moe.self_attention %q, %k, %v {scale = 0.25 : f32} : (tensor<1x4x8x?xf32>, tensor<1x2x8x?xf32>, tensor<1x2x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %o : tensor<1x4x8x8xf32>
}

// -----

// Tests that a head size the GPU kernel cannot hold in registers (> 256)
// lowers (the host runs it) but is a one-line error of the cuda emitter.
// CUDA: error: self-attention with head size 512 and value size 8 is not supported on the GPU (each in [1, 256])
func.func @wide_head(%q: tensor<1x2x?x512xf32>, %v: tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32> {
  %o = moe.self_attention %q, %q, %v {scale = 0.25 : f32} : (tensor<1x2x?x512xf32>, tensor<1x2x?x512xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}
