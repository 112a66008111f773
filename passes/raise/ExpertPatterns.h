//===- ExpertPatterns.h - pieces shared by the MoE-block raising passes -*- C++ -*-===//
//
// Every export of an MoE block, however it computes the experts (densely, in a
// per-expert loop, or by gathering each token's expert weights), starts from
// the same router subgraph and writes the same activations. The raising
// passes share these matchers so that they agree on which routers and
// activations they accept, and build the same moe.router.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_RAISE_EXPERTPATTERNS_H
#define MOEC_PASSES_RAISE_EXPERTPATTERNS_H

#include "dialects/moe/MoEDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace moec::raise {

// The ranked type of `v`, or null (unranked: a shape the importer deferred).
mlir::RankedTensorType rankedType(mlir::Value v);

// The element type of a tensor value, ranked or not (null otherwise).
mlir::Type elementTypeOf(mlir::Value v);

// A Cast to the type its input already has: exporters write them around
// routing weights and router scores (`.to(hidden_states.dtype)`).
bool isNoopCast(mlir::Operation *op);

// `v` without the no-op Casts on top of it; they are appended to `skipped`.
mlir::Value skipNoopCasts(mlir::Value v,
                          llvm::SmallVectorImpl<mlir::Operation *> *skipped = nullptr);

// The last axis of a rank-`rank` tensor, as ONNX may write it.
bool isLastAxis(int64_t axis, int64_t rank);

// A reduction over exactly the last axis of its rank-2 input, with the given
// keepdims.
bool reducesLastAxis(mlir::Operation *reduce, int64_t keepdims);

// A small constant (1 to 64 elements) whose elements are all zero: a fill
// value, a threshold, a Where's "else".
bool isZeroConstant(mlir::Value v);

// A one-element integer constant's value (an expert id).
std::optional<int64_t> scalarInt(mlir::Value v);

// silu(g) written Mul(g, Sigmoid(g)), operands either way round: returns g,
// which must have exactly those two uses. Null otherwise.
mlir::Value matchSilu(mlir::Value v);

// A softmax top-k router whose selections the experts read.
struct SoftmaxRouter {
  mlir::Value logits; // [T, E]
  int64_t k = 0;
  bool normalize = false;
  // A router an earlier pass already raised (moec-raise-sigmoid-router),
  // whose results the experts read: reused as it is.
  moec::moe::RouterOp existing;
};

// The top-k (`weights` [T, k], `ids` [T, k]) as a router over `experts`
// logits: Softmax then TopK (weights the top-k values, or those divided by
// their sum), TopK of the logits then Softmax of the k values, or a
// moe.router. No-op Casts anywhere between the Softmax and the weights are
// seen through. `experts` < 0 accepts any expert count.
std::optional<SoftmaxRouter> matchRouter(mlir::Value weights, mlir::Value ids,
                                         int64_t experts);

// `router.existing`, or a new moe.router at `b`'s insertion point.
moec::moe::RouterOp getOrCreateRouter(mlir::OpBuilder &b, mlir::Location loc,
                                      const SoftmaxRouter &router);

// Erases `root` (which must have no uses) and every onnx op that only it kept
// alive, transitively.
void eraseDeadOnnxOps(mlir::Operation *root);

// One linear layer of an expert: out = input · W (+ bias), W constant.
struct Linear {
  mlir::Value input;
  mlir::ElementsAttr weight; // stored [in, out] or, when `outIn`, [out, in]
  bool outIn = false;
  mlir::ElementsAttr bias; // [out] or [1, out]; null without a bias
  int64_t in = 0, out = 0;
};

// Matches `out` as a linear layer by a constant weight: a MatMul by a rank-2
// float constant or by its Transpose, or a Gemm (alpha = 1, transA = 0, any
// transB), each with an optional constant bias (an Add, or Gemm's C with
// beta = 1). With `rankedValues` the input and `out` must be ranked [n, in]
// and [n, out]; without, values whose row count is data-dependent may be
// unranked (their element type must still be the weight's).
std::optional<Linear> matchLinear(mlir::Value out, bool rankedValues = true);

// Same in, out, element type and bias presence.
bool sameShape(const Linear &a, const Linear &b);

// Stacks the weights (or, with `bias`, the biases) of `linears`, one per
// expert in expert order, into a new constant [E, out, in] (or [E, out]):
// the com.microsoft.MoE layout moe.experts reads. All must have the same
// shape. Null when some weight's data cannot be read (a dropped blob).
mlir::Value stackLinears(mlir::OpBuilder &b, mlir::Location loc,
                         llvm::ArrayRef<const Linear *> linears, bool bias,
                         llvm::StringRef key);

// moe.experts' weights: fc1 (gate, or gate and up fused as swiglu_fusion
// says), fc2 (down), fc3 (up, with swiglu_fusion 0), each [E, out, in] or,
// when its flag is set, stored [E, in, out] (gpt-oss) and transposed at
// compile time; the biases [E, out] (or null).
struct ExpertWeights {
  mlir::Value fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias;
  bool fc1InOut = false, fc2InOut = false, fc3InOut = false;
};

// moe.experts' SwiGLU: G·sigmoid(alpha·G)·(L + beta) with G = min(gate,
// limit), L = clamp(up, -limit, limit); gate and up separate (fusion 0),
// interleaved (1) or gate rows first (2).
struct SwigluParams {
  int64_t fusion = 0;
  double alpha = 1.0, beta = 0.0, limit = 0.0;
};

// Replaces `root`'s result by moe.experts(x, the router's top k, `weights`)
// built before `root`, then erases `root` and every onnx op only it kept
// alive. Leaves everything as it was (and succeeds) when a weight to
// transpose cannot be read (a dropped blob); fails only when the created ops
// do not verify, an internal inconsistency.
mlir::LogicalResult replaceByExperts(mlir::Operation *root, const SoftmaxRouter &router,
                                     mlir::Value x, const ExpertWeights &weights,
                                     const SwigluParams &swiglu);

// Re-infers every onnx op's shapes in order (deferring what still cannot be
// known, leaving invalid ops for moec-onnx-infer-shapes to report) and sets
// the function's result types: after a raise, the values downstream of the
// raised block get their shapes back.
void refreshShapes(mlir::func::FuncOp func);

// The raising passes' driver: calls `raise` on every onnx op of `type` in
// `scope`, in program order, collected first (a raise erases only ops before
// its root). Stops at the first failure.
mlir::LogicalResult raiseEach(mlir::Operation *scope, llvm::StringRef type,
                              llvm::function_ref<mlir::LogicalResult(mlir::Operation *)> raise);

} // namespace moec::raise

#endif // MOEC_PASSES_RAISE_EXPERTPATTERNS_H
