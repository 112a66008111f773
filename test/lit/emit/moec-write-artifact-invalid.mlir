// RUN: moec-opt %s --verify-diagnostics --moec-write-artifact="output=%t.moe"
// RUN: not test -e %t.moe

// Tests that a module without a memory plan or compiled kernels is refused
// and no file is left behind.
// expected-error @+1 {{the module has no memory plan or no compiled kernels}}
module {
  func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %s = kernel.launch "softmax" (%x) {spec = {axis = 1 : i64}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
    return %s : tensor<?x8xf32>
  }
}
