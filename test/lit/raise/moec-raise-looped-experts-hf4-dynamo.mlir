// RUN: moec-opt %s --split-input-file --moec-raise-looped-experts | FileCheck %s

// transformers 4.x OLMoE's MoE block (2 experts, top-1, per-expert gate/up/down
// Linears as Gemm with transB) exported by torch.onnx's dynamo exporter
// (test/models/hf4 has the 8-expert one): the one-hot as Cast(Equal(Unsqueeze(ids),
// [0, 1])), NonZero rows unbound by Slice + Squeeze, rows and routing weights read
// by GatherND, the sum accumulated by ScatterND(reduction add) from Expand(0).
// The weights are splats here (the real ones are elided from printed IR).

// Tests that the loop over both experts becomes one router and one moe.experts
// with the per-expert weights stacked, and no loop op is left.
// CHECK-LABEL: func.func @olmoe_4x_dynamo
// CHECK: moe.router
// CHECK-SAME: k = 1 : i64
// CHECK: moe.experts
// CHECK-NOT: onnx.ScatterND
// CHECK-NOT: onnx.NonZero
// CHECK: return
module attributes {onnx.opset_import = {ai.onnx = 20 : i64}} {
  func.func @olmoe_4x_dynamo(%arg0: tensor<1x?x4xf32> {onnx.name = "hidden_states"}) -> (tensor<*xf32> {onnx.name = "output"}) {
    %0 = onnx.Constant {value = dense<0.125> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
    %1 = onnx.Constant {value = dense<0.25> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %2 = onnx.Constant {value = dense<0.375> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %3 = onnx.Constant {value = dense<0.5> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %4 = onnx.Constant {value = dense<0.625> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %5 = onnx.Constant {value = dense<0.75> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %6 = onnx.Constant {value = dense<0.875> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %7 = onnx.Constant {value = dense_resource<val_4> : tensor<2xi64>} : () -> tensor<2xi64>
    %8 = onnx.Constant {value = dense_resource<arange> : tensor<2xi64>} : () -> tensor<2xi64>
    %9 = onnx.Constant {value = dense_resource<val_6> : tensor<1xi64>} : () -> tensor<1xi64>
    %10 = onnx.Constant {value = dense_resource<val_7> : tensor<f32>} : () -> tensor<f32>
    %11 = onnx.Constant {value = dense_resource<val_10> : tensor<1xi64>} : () -> tensor<1xi64>
    %12 = onnx.Constant {value = dense_resource<val_12> : tensor<i64>} : () -> tensor<i64>
    %13 = onnx.Constant {value = dense_resource<val_20> : tensor<1xi64>} : () -> tensor<1xi64>
    %14 = onnx.Constant {value = dense_resource<val_23> : tensor<i64>} : () -> tensor<i64>
    %15 = onnx.Constant {value = dense_resource<val_28> : tensor<1xi64>} : () -> tensor<1xi64>
    %16 = onnx.Constant {value = dense_resource<val_33> : tensor<1xi64>} : () -> tensor<1xi64>
    %17 = onnx.Constant {value = dense_resource<val_119> : tensor<3xi64>} : () -> tensor<3xi64>
    %18 = onnx.Shape %arg0 {end = 2 : i64, start = 1 : i64} : (tensor<1x?x4xf32>) -> tensor<1xi64>
    %19 = onnx.Reshape %arg0, %7 {allowzero = 1 : i64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %20 = onnx.Gemm %19, %0 {transB = 1 : i64} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %21 = onnx.Softmax %20 {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
    %Values, %Indices = onnx.TopK %21, %9 : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
    %22 = onnx.Concat %18, %11 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
    %23 = onnx.Expand %10, %22 : (tensor<f32>, tensor<2xi64>) -> tensor<?x4xf32>
    %24 = onnx.Unsqueeze %Indices, %13 : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?x1x1xi64>
    %25 = onnx.Equal %24, %8 : (tensor<?x1x1xi64>, tensor<2xi64>) -> tensor<?x1x2xi1>
    %26 = onnx.Cast %25 {to = i64} : (tensor<?x1x2xi1>) -> tensor<?x1x2xi64>
    %27 = onnx.Transpose %26 {perm = array<i64: 2, 1, 0>} : (tensor<?x1x2xi64>) -> tensor<2x1x?xi64>
    %28 = onnx.Gather %27, %12 : (tensor<2x1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
    %29 = onnx.NonZero %28 {moec.unknown_shape = "cannot infer shape: the number of nonzero elements depends on the input data"} : (tensor<1x?xi64>) -> tensor<*xi64>
    %30 = onnx.Transpose %29 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
    %31 = onnx.Slice %30, %15, %9 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %32 = onnx.Squeeze %31, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %33 = onnx.Slice %30, %9, %16 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %34 = onnx.Squeeze %33, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %35 = onnx.Unsqueeze %19, %15 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
    %36 = onnx.Transpose %35 {perm = array<i64: 1, 0, 2>} : (tensor<1x?x4xf32>) -> tensor<?x1x4xf32>
    %37 = onnx.Unsqueeze %34, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %38 = onnx.GatherND %36, %37 : (tensor<?x1x4xf32>, tensor<*xi64>) -> tensor<*xf32>
    %39 = onnx.Transpose %38 {perm = array<i64: 1, 0, 2>} : (tensor<*xf32>) -> tensor<*xf32>
    %40 = onnx.Reshape %39, %7 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
    %41 = onnx.Gemm %40, %1 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %42 = onnx.Sigmoid %41 : (tensor<*xf32>) -> tensor<*xf32>
    %43 = onnx.Mul %41, %42 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %44 = onnx.Gemm %40, %2 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %45 = onnx.Mul %43, %44 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %46 = onnx.Gemm %45, %3 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %47 = onnx.Unsqueeze %Values, %16 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1x1xf32>
    %48 = onnx.Unsqueeze %32, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %49 = onnx.Concat %37, %48 {axis = -1 : i64} : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
    %50 = onnx.GatherND %47, %49 : (tensor<?x1x1xf32>, tensor<*xi64>) -> tensor<*xf32>
    %51 = onnx.Mul %46, %50 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %52 = onnx.ScatterND %23, %37, %51 {reduction = "add"} : (tensor<?x4xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
    %53 = onnx.Gather %27, %14 : (tensor<2x1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
    %54 = onnx.NonZero %53 {moec.unknown_shape = "cannot infer shape: the number of nonzero elements depends on the input data"} : (tensor<1x?xi64>) -> tensor<*xi64>
    %55 = onnx.Transpose %54 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
    %56 = onnx.Slice %55, %15, %9 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %57 = onnx.Squeeze %56, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %58 = onnx.Slice %55, %9, %16 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %59 = onnx.Squeeze %58, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %60 = onnx.Unsqueeze %59, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %61 = onnx.GatherND %36, %60 : (tensor<?x1x4xf32>, tensor<*xi64>) -> tensor<*xf32>
    %62 = onnx.Transpose %61 {perm = array<i64: 1, 0, 2>} : (tensor<*xf32>) -> tensor<*xf32>
    %63 = onnx.Reshape %62, %7 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
    %64 = onnx.Gemm %63, %4 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %65 = onnx.Sigmoid %64 : (tensor<*xf32>) -> tensor<*xf32>
    %66 = onnx.Mul %64, %65 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %67 = onnx.Gemm %63, %5 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %68 = onnx.Mul %66, %67 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %69 = onnx.Gemm %68, %6 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %70 = onnx.Unsqueeze %57, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %71 = onnx.Concat %60, %70 {axis = -1 : i64} : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
    %72 = onnx.GatherND %47, %71 : (tensor<?x1x1xf32>, tensor<*xi64>) -> tensor<*xf32>
    %73 = onnx.Mul %69, %72 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %74 = onnx.ScatterND %52, %60, %73 {reduction = "add"} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
    %75 = onnx.Reshape %74, %17 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
    return %75 : tensor<*xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      val_4: "0x10000000FFFFFFFFFFFFFFFF0400000000000000",
      arange: "0x1000000000000000000000000100000000000000",
      val_6: "0x100000000100000000000000",
      val_7: "0x1000000000000000",
      val_10: "0x100000000400000000000000",
      val_12: "0x100000000000000000000000",
      val_20: "0x10000000FFFFFFFFFFFFFFFF",
      val_23: "0x100000000100000000000000",
      val_28: "0x100000000000000000000000",
      val_33: "0x100000000200000000000000",
      val_119: "0x100000000100000000000000FFFFFFFFFFFFFFFF0400000000000000"
    }
  }
#-}


// -----

// Tests that a step that multiplies into the accumulator (reduction mul) is no
// sum over experts: the loop is left alone.
// CHECK-LABEL: func.func @second_step_multiplies
// CHECK-NOT: moe.experts
// CHECK: onnx.ScatterND {{.*}} {reduction = "add"}
// CHECK: onnx.ScatterND {{.*}} {reduction = "mul"}
module attributes {onnx.opset_import = {ai.onnx = 20 : i64}} {
  func.func @second_step_multiplies(%arg0: tensor<1x?x4xf32> {onnx.name = "hidden_states"}) -> (tensor<*xf32> {onnx.name = "output"}) {
    %0 = onnx.Constant {value = dense<0.125> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
    %1 = onnx.Constant {value = dense<0.25> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %2 = onnx.Constant {value = dense<0.375> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %3 = onnx.Constant {value = dense<0.5> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %4 = onnx.Constant {value = dense<0.625> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %5 = onnx.Constant {value = dense<0.75> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %6 = onnx.Constant {value = dense<0.875> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %7 = onnx.Constant {value = dense_resource<val_4> : tensor<2xi64>} : () -> tensor<2xi64>
    %8 = onnx.Constant {value = dense_resource<arange> : tensor<2xi64>} : () -> tensor<2xi64>
    %9 = onnx.Constant {value = dense_resource<val_6> : tensor<1xi64>} : () -> tensor<1xi64>
    %10 = onnx.Constant {value = dense_resource<val_7> : tensor<f32>} : () -> tensor<f32>
    %11 = onnx.Constant {value = dense_resource<val_10> : tensor<1xi64>} : () -> tensor<1xi64>
    %12 = onnx.Constant {value = dense_resource<val_12> : tensor<i64>} : () -> tensor<i64>
    %13 = onnx.Constant {value = dense_resource<val_20> : tensor<1xi64>} : () -> tensor<1xi64>
    %14 = onnx.Constant {value = dense_resource<val_23> : tensor<i64>} : () -> tensor<i64>
    %15 = onnx.Constant {value = dense_resource<val_28> : tensor<1xi64>} : () -> tensor<1xi64>
    %16 = onnx.Constant {value = dense_resource<val_33> : tensor<1xi64>} : () -> tensor<1xi64>
    %17 = onnx.Constant {value = dense_resource<val_119> : tensor<3xi64>} : () -> tensor<3xi64>
    %18 = onnx.Shape %arg0 {end = 2 : i64, start = 1 : i64} : (tensor<1x?x4xf32>) -> tensor<1xi64>
    %19 = onnx.Reshape %arg0, %7 {allowzero = 1 : i64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %20 = onnx.Gemm %19, %0 {transB = 1 : i64} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %21 = onnx.Softmax %20 {axis = 1 : i64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
    %Values, %Indices = onnx.TopK %21, %9 : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
    %22 = onnx.Concat %18, %11 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
    %23 = onnx.Expand %10, %22 : (tensor<f32>, tensor<2xi64>) -> tensor<?x4xf32>
    %24 = onnx.Unsqueeze %Indices, %13 : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?x1x1xi64>
    %25 = onnx.Equal %24, %8 : (tensor<?x1x1xi64>, tensor<2xi64>) -> tensor<?x1x2xi1>
    %26 = onnx.Cast %25 {to = i64} : (tensor<?x1x2xi1>) -> tensor<?x1x2xi64>
    %27 = onnx.Transpose %26 {perm = array<i64: 2, 1, 0>} : (tensor<?x1x2xi64>) -> tensor<2x1x?xi64>
    %28 = onnx.Gather %27, %12 : (tensor<2x1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
    %29 = onnx.NonZero %28 {moec.unknown_shape = "cannot infer shape: the number of nonzero elements depends on the input data"} : (tensor<1x?xi64>) -> tensor<*xi64>
    %30 = onnx.Transpose %29 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
    %31 = onnx.Slice %30, %15, %9 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %32 = onnx.Squeeze %31, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %33 = onnx.Slice %30, %9, %16 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %34 = onnx.Squeeze %33, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %35 = onnx.Unsqueeze %19, %15 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
    %36 = onnx.Transpose %35 {perm = array<i64: 1, 0, 2>} : (tensor<1x?x4xf32>) -> tensor<?x1x4xf32>
    %37 = onnx.Unsqueeze %34, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %38 = onnx.GatherND %36, %37 : (tensor<?x1x4xf32>, tensor<*xi64>) -> tensor<*xf32>
    %39 = onnx.Transpose %38 {perm = array<i64: 1, 0, 2>} : (tensor<*xf32>) -> tensor<*xf32>
    %40 = onnx.Reshape %39, %7 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
    %41 = onnx.Gemm %40, %1 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %42 = onnx.Sigmoid %41 : (tensor<*xf32>) -> tensor<*xf32>
    %43 = onnx.Mul %41, %42 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %44 = onnx.Gemm %40, %2 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %45 = onnx.Mul %43, %44 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %46 = onnx.Gemm %45, %3 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %47 = onnx.Unsqueeze %Values, %16 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1x1xf32>
    %48 = onnx.Unsqueeze %32, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %49 = onnx.Concat %37, %48 {axis = -1 : i64} : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
    %50 = onnx.GatherND %47, %49 : (tensor<?x1x1xf32>, tensor<*xi64>) -> tensor<*xf32>
    %51 = onnx.Mul %46, %50 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %52 = onnx.ScatterND %23, %37, %51 {reduction = "add"} : (tensor<?x4xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
    %53 = onnx.Gather %27, %14 : (tensor<2x1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
    %54 = onnx.NonZero %53 {moec.unknown_shape = "cannot infer shape: the number of nonzero elements depends on the input data"} : (tensor<1x?xi64>) -> tensor<*xi64>
    %55 = onnx.Transpose %54 {perm = array<i64: 1, 0>} : (tensor<*xi64>) -> tensor<*xi64>
    %56 = onnx.Slice %55, %15, %9 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %57 = onnx.Squeeze %56, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %58 = onnx.Slice %55, %9, %16 axes(%9) : (tensor<*xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xi64>
    %59 = onnx.Squeeze %58, %9 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %60 = onnx.Unsqueeze %59, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %61 = onnx.GatherND %36, %60 : (tensor<?x1x4xf32>, tensor<*xi64>) -> tensor<*xf32>
    %62 = onnx.Transpose %61 {perm = array<i64: 1, 0, 2>} : (tensor<*xf32>) -> tensor<*xf32>
    %63 = onnx.Reshape %62, %7 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
    %64 = onnx.Gemm %63, %4 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %65 = onnx.Sigmoid %64 : (tensor<*xf32>) -> tensor<*xf32>
    %66 = onnx.Mul %64, %65 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %67 = onnx.Gemm %63, %5 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %68 = onnx.Mul %66, %67 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %69 = onnx.Gemm %68, %6 {transB = 1 : i64} : (tensor<*xf32>, tensor<4x4xf32>) -> tensor<*xf32>
    %70 = onnx.Unsqueeze %57, %13 : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
    %71 = onnx.Concat %60, %70 {axis = -1 : i64} : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
    %72 = onnx.GatherND %47, %71 : (tensor<?x1x1xf32>, tensor<*xi64>) -> tensor<*xf32>
    %73 = onnx.Mul %69, %72 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %74 = onnx.ScatterND %52, %60, %73 {reduction = "mul"} : (tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) -> tensor<*xf32>
    %75 = onnx.Reshape %74, %17 {allowzero = 1 : i64} : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
    return %75 : tensor<*xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      val_4: "0x10000000FFFFFFFFFFFFFFFF0400000000000000",
      arange: "0x1000000000000000000000000100000000000000",
      val_6: "0x100000000100000000000000",
      val_7: "0x1000000000000000",
      val_10: "0x100000000400000000000000",
      val_12: "0x100000000000000000000000",
      val_20: "0x10000000FFFFFFFFFFFFFFFF",
      val_23: "0x100000000100000000000000",
      val_28: "0x100000000000000000000000",
      val_33: "0x100000000200000000000000",
      val_119: "0x100000000100000000000000FFFFFFFFFFFFFFFF0400000000000000"
    }
  }
#-}

