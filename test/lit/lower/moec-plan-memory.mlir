// RUN: moec-opt %s --split-input-file --moec-plan-memory="report=true" --verify-diagnostics | FileCheck %s

// Tests that buffers whose live ranges do not overlap share the arena, that
// sizes are affine in the token count, and that graph outputs get no arena
// space (-1, -1: written into the caller's buffer).
// CHECK-LABEL: func.func @chain
// CHECK-SAME: kernel.arena_size = array<i64: 0, 64>
func.func @chain(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-remark @-1 {{arena peak 64*T bytes for 3 buffers (96*T bytes without reuse)}}
  // CHECK: kernel.launch "copy"{{.*}}arena_offsets = array<i64: 0, 0>
  %a = kernel.launch "copy" (%x) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: kernel.launch "copy"{{.*}}arena_offsets = array<i64: 0, 32>
  %b = kernel.launch "copy" (%a) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // %a is dead once %b exists, so %c reuses its place.
  // CHECK: kernel.launch "copy"{{.*}}arena_offsets = array<i64: 0, 0>
  %c = kernel.launch "copy" (%b) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: kernel.launch "copy"{{.*}}arena_offsets = array<i64: -1, -1>
  %d = kernel.launch "copy" (%c) {spec = {}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}

// -----

// Tests that a static-size buffer and a scratch workspace are planned, and
// that the workspace lives only during its launch.
// CHECK-LABEL: func.func @scratch
// CHECK: kernel.launch "softmax"{{.*}}arena_offsets = array<i64: [[A:0|112]], 0>
// CHECK: kernel.launch "copy"{{.*}}scratch_offset = array<i64: {{0|64}}, 0>
func.func @scratch(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-remark @-1 {{arena peak 176 bytes for 2 buffers (164 bytes without reuse)}}
  %a = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %b = kernel.launch "copy" (%a) {spec = {}, scratch_bytes = array<i64: 100, 0>} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  return %b : tensor<4x4xf32>
}
