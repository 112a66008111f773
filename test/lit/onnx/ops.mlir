// RUN: moec-opt %s | moec-opt | FileCheck %s
// RUN: moec-opt %s --mlir-print-op-generic | moec-opt | FileCheck %s

// Tests that every onnx op prints and parses back unchanged.

// CHECK-LABEL: func.func @math
func.func @math(%a: tensor<?x16xf32>, %b: tensor<16xf32>, %w: tensor<16x8xf32>,
                %c: tensor<8xf32>, %i: tensor<?x4xi64>, %p: tensor<?x1xi1>) {
  // CHECK: onnx.MatMul %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %0 = onnx.MatMul %a, %w : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Gemm {{.*}} {alpha = 5.000000e-01 : f32, transB = 1 : i64}
  %1 = onnx.Gemm %a, %w, %c {alpha = 0.5 : f32, transB = 1 : i64} : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Gemm %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %2 = onnx.Gemm %a, %w : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Add
  %3 = onnx.Add %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Sub
  %4 = onnx.Sub %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Mul
  %5 = onnx.Mul %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Div
  %6 = onnx.Div %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Pow
  %7 = onnx.Pow %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Max %{{.*}}, %{{.*}}, %{{.*}} :
  %8 = onnx.Max %a, %b, %a : (tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Min
  %9 = onnx.Min %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Equal
  %10 = onnx.Equal %i, %i : (tensor<?x4xi64>, tensor<?x4xi64>) -> tensor<?x4xi1>
  // CHECK: onnx.Less
  %11 = onnx.Less %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xi1>
  // CHECK: onnx.Greater
  %12 = onnx.Greater %a, %b : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xi1>
  // CHECK: onnx.And
  %13 = onnx.And %10, %10 : (tensor<?x4xi1>, tensor<?x4xi1>) -> tensor<?x4xi1>
  // CHECK: onnx.Or
  %14 = onnx.Or %10, %10 : (tensor<?x4xi1>, tensor<?x4xi1>) -> tensor<?x4xi1>
  // CHECK: onnx.Not
  %15 = onnx.Not %10 : (tensor<?x4xi1>) -> tensor<?x4xi1>
  // CHECK: onnx.IsNaN
  %is_nan = onnx.IsNaN %a : (tensor<?x16xf32>) -> tensor<?x16xi1>
  // CHECK: onnx.Where
  %16 = onnx.Where %p, %a, %b : (tensor<?x1xi1>, tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Sqrt
  %17 = onnx.Sqrt %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Neg
  %18 = onnx.Neg %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Exp
  %19 = onnx.Exp %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Sigmoid
  %20 = onnx.Sigmoid %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Relu
  %21 = onnx.Relu %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Tanh
  %22 = onnx.Tanh %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Erf
  %23 = onnx.Erf %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Abs
  %24 = onnx.Abs %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Log
  %25 = onnx.Log %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Reciprocal
  %26 = onnx.Reciprocal %a : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return
}

// CHECK-LABEL: func.func @reductions_and_nn
func.func @reductions_and_nn(%x: tensor<?x8xf32>, %axes: tensor<1xi64>, %k: tensor<1xi64>) {
  // CHECK: onnx.ReduceSum %{{.*}}, %{{.*}} : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %0 = onnx.ReduceSum %x, %axes : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  // CHECK: onnx.ReduceMean {{.*}} {keepdims = 0 : i64}
  %1 = onnx.ReduceMean %x, %axes {keepdims = 0 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?xf32>
  // CHECK: onnx.ReduceMax %{{.*}} : (tensor<?x8xf32>) -> tensor<1x1xf32>
  %2 = onnx.ReduceMax %x : (tensor<?x8xf32>) -> tensor<1x1xf32>
  // CHECK: onnx.ReduceMin {{.*}} {noop_with_empty_axes = 1 : i64}
  %3 = onnx.ReduceMin %x {noop_with_empty_axes = 1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Softmax %{{.*}} {axis = -1 : i64}
  %4 = onnx.Softmax %x {axis = -1 : i64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: %{{.*}}, %{{.*}} = onnx.TopK {{.*}} {largest = 0 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %5:2 = onnx.TopK %x, %k {largest = 0 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return
}

// CHECK-LABEL: func.func @tensors
func.func @tensors(%x: tensor<?x8xf32>, %s: tensor<2xi64>, %i: tensor<?x2xi64>, %u: tensor<?x2xf32>,
                   %one: tensor<1xi64>) {
  // CHECK: onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  // CHECK: onnx.Constant {value = dense_resource<blob1> : tensor<2xf32>}
  %1 = onnx.Constant {value = dense_resource<blob1> : tensor<2xf32>} : () -> tensor<2xf32>
  // CHECK: onnx.ConstantOfShape {{.*}} {value = dense<1> : tensor<1xi64>}
  %2 = onnx.ConstantOfShape %s {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<?x8xi64>
  // CHECK: onnx.Shape {{.*}} {end = 1 : i64}
  %3 = onnx.Shape %x {end = 1 : i64} : (tensor<?x8xf32>) -> tensor<1xi64>
  // CHECK: onnx.Identity
  %4 = onnx.Identity %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Cast {{.*}} {to = f16}
  %5 = onnx.Cast %x {to = f16} : (tensor<?x8xf32>) -> tensor<?x8xf16>
  // CHECK: onnx.Reshape
  %6 = onnx.Reshape %x, %s : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  // CHECK: onnx.Flatten {{.*}} {axis = 0 : i64}
  %7 = onnx.Flatten %x {axis = 0 : i64} : (tensor<?x8xf32>) -> tensor<1x?xf32>
  // CHECK: onnx.Unsqueeze
  %8 = onnx.Unsqueeze %x, %one : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  // CHECK: onnx.Squeeze %{{.*}}, %{{.*}} :
  %9 = onnx.Squeeze %8, %one : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  // CHECK: onnx.Squeeze %{{.*}} : (tensor<?x1x8xf32>) -> tensor<?x8xf32>
  %10 = onnx.Squeeze %8 : (tensor<?x1x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Transpose {{.*}} {perm = array<i64: 1, 0>}
  %11 = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<?x8xf32>) -> tensor<8x?xf32>
  // CHECK: onnx.Expand
  %12 = onnx.Expand %x, %s : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  // CHECK: onnx.Concat {{.*}} {axis = 1 : i64}
  %13 = onnx.Concat %x, %x {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.Slice %{{.*}}, %{{.*}}, %{{.*}} axes(%{{.*}}) :
  %14 = onnx.Slice %x, %one, %one axes(%one) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x0xf32>
  // CHECK: onnx.Slice %{{.*}}, %{{.*}}, %{{.*}} steps(%{{.*}}) :
  %15 = onnx.Slice %x, %one, %one steps(%one) : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x8xf32>
  // CHECK: onnx.Split {{.*}} {axis = 1 : i64} : (tensor<?x8xf32>, tensor<2xi64>) -> (tensor<?x6xf32>, tensor<?x2xf32>)
  %16:2 = onnx.Split %x, %s {axis = 1 : i64} : (tensor<?x8xf32>, tensor<2xi64>) -> (tensor<?x6xf32>, tensor<?x2xf32>)
  // CHECK: onnx.Split {{.*}} {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %17:2 = onnx.Split %x {axis = 1 : i64, num_outputs = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  // CHECK: onnx.Gather
  %18 = onnx.Gather %x, %i : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2x8xf32>
  // CHECK: onnx.GatherElements {{.*}} {axis = 1 : i64}
  %19 = onnx.GatherElements %x, %i {axis = 1 : i64} : (tensor<?x8xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  // CHECK: onnx.ScatterElements {{.*}} {axis = 1 : i64, reduction = "add"}
  %20 = onnx.ScatterElements %x, %i, %u {axis = 1 : i64, reduction = "add"} : (tensor<?x8xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x8xf32>
  return
}

// CHECK-LABEL: func.func @decoder_ops
func.func @decoder_ops(%x: tensor<?x8xf32>, %n: tensor<i64>, %axis: tensor<i64>,
                       %idx: tensor<3x1xi64>, %u: tensor<3x8xf32>) {
  // CHECK: onnx.Cos %{{.*}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %0 = onnx.Cos %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.Sin %{{.*}} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = onnx.Sin %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: onnx.LessOrEqual {{.*}} -> tensor<?x8xi1>
  %2 = onnx.LessOrEqual %x, %0 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xi1>
  // CHECK: onnx.GreaterOrEqual {{.*}} -> tensor<?x8xi1>
  %3 = onnx.GreaterOrEqual %x, %1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xi1>
  // CHECK: onnx.Range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %4 = onnx.Range %n, %n, %n : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  // CHECK: onnx.CumSum {{.*}} {exclusive = 1 : i64, reverse = 1 : i64}
  %5 = onnx.CumSum %x, %axis {exclusive = 1 : i64, reverse = 1 : i64} : (tensor<?x8xf32>, tensor<i64>) -> tensor<?x8xf32>
  // CHECK: onnx.ScatterND {{.*}} {reduction = "max"} : (tensor<?x8xf32>, tensor<3x1xi64>, tensor<3x8xf32>) -> tensor<?x8xf32>
  %6 = onnx.ScatterND %x, %idx, %u {reduction = "max"} : (tensor<?x8xf32>, tensor<3x1xi64>, tensor<3x8xf32>) -> tensor<?x8xf32>
  return
}

// CHECK-LABEL: func.func @moe
func.func @moe(%x: tensor<?x16xf32>, %logits: tensor<?x4xf32>, %fc1: tensor<4x32x16xf32>,
               %b1: tensor<4x32xf32>, %fc2: tensor<4x16x32xf32>, %b2: tensor<4x16xf32>,
               %fc3: tensor<4x32x16xf32>) {
  // CHECK: onnx.ms.MoE %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  %0 = onnx.ms.MoE %x, %logits, %fc1, %fc2 : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x16x32xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.ms.MoE %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} fc1_bias(%{{[a-z0-9]+}}) fc2_bias(%{{[a-z0-9]+}}) fc3(%{{[a-z0-9]+}})
  // CHECK-SAME: {activation_alpha = 1.702000e+00 : f32, activation_type = "swiglu", k = 2 : i64, normalize_routing_weights = 1 : i64, swiglu_limit = 7.000000e+00 : f32
  %1 = onnx.ms.MoE %x, %logits, %fc1, %fc2 fc1_bias(%b1) fc2_bias(%b2) fc3(%fc3) {activation_type = "swiglu", k = 2 : i64, normalize_routing_weights = 1 : i64, swiglu_limit = 7.0 : f32, activation_alpha = 1.702 : f32} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x32x16xf32>, tensor<4x32xf32>, tensor<4x16x32xf32>, tensor<4x16xf32>, tensor<4x32x16xf32>) -> tensor<?x16xf32>
  return
}

{-#
  dialect_resources: {
    builtin: {
      blob1: "0x040000000000803F00000040"
    }
  }
#-}

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<?x16xf32>, %r: tensor<?x16xf32>, %w: tensor<16xf32>) {
  // CHECK: onnx.RMSNormalization {{.*}} {epsilon = 9.99999997E-7 : f32}
  %0 = onnx.RMSNormalization %x, %w {epsilon = 1.0e-6 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // CHECK: onnx.SimplifiedLayerNormalization {{.*}} -> (tensor<?x16xf32>, tensor<?x1xf32>)
  %1:2 = onnx.SimplifiedLayerNormalization %x, %w : (tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x1xf32>)
  // CHECK: onnx.ms.SkipSimplifiedLayerNormalization {{.*}} -> (tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x16xf32>)
  %2:4 = onnx.ms.SkipSimplifiedLayerNormalization %x, %r, %w : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x16xf32>)
  return
}

// CHECK-LABEL: func.func @quantization
func.func @quantization(%q: tensor<16x8xi8>, %s: tensor<8xf32>, %b: tensor<16x2xf32>) {
  // CHECK: onnx.DequantizeLinear {{.*}} : (tensor<16x8xi8>, tensor<8xf32>) -> tensor<16x8xf32>
  %0 = onnx.DequantizeLinear %q, %s : (tensor<16x8xi8>, tensor<8xf32>) -> tensor<16x8xf32>
  // CHECK: onnx.DequantizeLinear {{.*}} {block_size = 4 : i64}
  %1 = onnx.DequantizeLinear %q, %b {axis = 1 : i64, block_size = 4 : i64} : (tensor<16x8xi8>, tensor<16x2xf32>) -> tensor<16x8xf32>
  return
}
