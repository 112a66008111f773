// RUN: moec-opt %s --moec-emit-cuda="arch=sm_80 compile=false print-source=true" -o /dev/null | FileCheck %s

// Tests that an elementwise launch without inputs (a constant fill, as
// exported graphs make with ConstantOfShape or Expand of a scalar) gets a
// plain loop over its output and one variant, like any SIMT launch.
// CHECK-LABEL: __launch_bounds__(256) moec_k0_elementwise(moec_cuda_args args)
// CHECK: const long long n = 8 * T;
// CHECK: out0[i] = v0;
module {
  func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %fill = kernel.launch "elementwise"() {spec = {}} : () -> tensor<?x8xf32> {
      %c = arith.constant -1.0e+30 : f32
      kernel.yield %c : f32
    }
    return %fill : tensor<?x8xf32>
  }
}
