//===- LaunchView.h - what both emitters read off a kernel.launch -*- C++ -*-===//
//
// The host and CUDA emitters call templates with the same arguments in the
// same order; only the namespace, the index type's name and the launch
// mechanics differ. LaunchView holds what they share: spec accessors, the
// [outer, axis, inner] views, and the array arguments (shapes, strides,
// slice starts) of the templates that take them.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CODEGEN_LAUNCHVIEW_H
#define MOEC_COMPILER_CODEGEN_LAUNCHVIEW_H

#include "dialects/kernel/KernelDialect.h"

#include <string>

namespace moec::codegen {

class LaunchView {
public:
  explicit LaunchView(kernel::LaunchOp op) : op(op) {}

  // "softmax for node 'n': (tensor<...>) -> (tensor<...>)", for comments.
  std::string describe();

  llvm::ArrayRef<int64_t> shapeOf(mlir::Value v) {
    return llvm::cast<mlir::ShapedType>(v.getType()).getShape();
  }
  llvm::ArrayRef<int64_t> inputShape(unsigned i) { return shapeOf(op.getInputs()[i]); }
  llvm::ArrayRef<int64_t> outputShape(unsigned i) { return shapeOf(op.getOutputs()[i]); }

  int64_t specInt(llvm::StringRef name);
  bool specBool(llvm::StringRef name);
  llvm::ArrayRef<int64_t> specInts(llvm::StringRef name);
  std::string specStr(llvm::StringRef name);
  double specFloat(llvm::StringRef name);

  // "outer, axis_len, inner" of `shape` viewed around `axis`.
  std::string outerInnerAround(llvm::ArrayRef<int64_t> shape, int64_t axis);

  // Array declarations (one `const <type> name[] = {...};` line each, two
  // spaces indented) and the call's argument list after the data pointers.
  struct ArrayArgs {
    std::string declarations;
    std::string arguments;
  };
  // slice: rank, in_shape, starts (ONNX-normalized at run time), steps, out_shape
  ArrayArgs sliceArgs(llvm::StringRef indexType);
  // batch_matmul: batch_rank, batch_shape, a_strides, b_strides, M, K, N
  ArrayArgs batchMatmulArgs(llvm::StringRef indexType);
  // reduce: rank, shape, reduced (the kind enum is appended by the caller)
  ArrayArgs reduceArgs(llvm::StringRef indexType);
  // transpose: rank, shape, perm
  ArrayArgs transposeArgs(llvm::StringRef indexType);
  // gather_elements / scatter_elements: rank, data_shape, idx_shape, axis
  ArrayArgs elementsArgs(llvm::StringRef indexType);
  // concat: inputs, lens, count, out, outer, inner (pointer array of `elementType`)
  ArrayArgs concatArgs(llvm::StringRef elementType, llvm::StringRef indexType);
  // rms_norm: "<TIn>, <TScale>, <TOut>" template arguments, then the call's
  // arguments "in0, <scale or typed null>, out0, rows, cols, epsilon"; with
  // a fused residual (`residual`: call rms_norm_residual) "in0, in1, <scale>,
  // out0, out1, rows, cols, epsilon".
  struct RmsNormArgs {
    std::string types;
    std::string arguments;
    bool residual = false;
  };
  mlir::FailureOr<RmsNormArgs> rmsNormArgs(bool cuda);
  // attention_kv_append / attention: "<T>, <TC>" template arguments, a local
  // `shape` (AttentionShape of namespace `ns`) in `declarations`, and the
  // call's arguments up to and including "shape".
  struct AttentionArgs {
    std::string types;
    std::string declarations;
    std::string arguments;
  };
  mlir::FailureOr<AttentionArgs> attentionArgs(bool cuda);
  // rotary: the same parts; arguments "in0, in1, in2, in3, out0, shape".
  mlir::FailureOr<AttentionArgs> rotaryArgs(bool cuda);
  // The ReduceKind / ScatterReduction enumerator for the spec.
  std::string reduceKind();
  mlir::FailureOr<std::string> scatterReduction();

  kernel::LaunchOp op;
};

} // namespace moec::codegen

#endif // MOEC_COMPILER_CODEGEN_LAUNCHVIEW_H
