//===- ExpertActivation.h - the gated activation of MoE experts -*- C++ -*-===//
//
// Every expert form the raising passes accept (the eager per-expert loop and
// the batched_mm form, transformers 4 and 5, gpt-oss) ends its first layer
// the same way: a gated activation a = G·sigmoid(alpha·G)·(L + beta) of the
// gate G = min(gate, limit) and the linear half L = clamp(up, -limit, limit),
// where gate and up are either two products, or the halves (or the even and
// odd columns) of one [n, 2I] product whose slice bounds torchscript computes
// from that product's run-time shape. The passes share this matcher so that
// they accept the same activations and fill moe.experts' swiglu_fusion,
// alpha, beta and limit the same way.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_RAISE_EXPERTACTIVATION_H
#define MOEC_PASSES_RAISE_EXPERTACTIVATION_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <functional>
#include <limits>
#include <optional>

namespace moec::raise {

// A one-element float constant's value.
std::optional<double> scalarFloat(mlir::Value v);

// Evaluates a small integer shape computation (Shape, Gather, Concat,
// Add/Sub/Mul/Div, and the value-preserving Unsqueeze, Squeeze, Reshape,
// Identity and integer Casts) in which Shape(`of`) is taken to be `dims`
// (ShapedType::kDynamic where unknown): the values inside an expert are
// unranked (their row count is data-dependent) but their width is known.
// Shapes of other ranked values give their static dims; everything else is
// left to getKnownInts. Each op whose operands read Shape(`of`) is appended
// to `reads` when it is given: such ops die with the block.
class ShapeEvaluator {
public:
  ShapeEvaluator(mlir::Value of, llvm::SmallVector<int64_t> dims,
                 llvm::SmallVectorImpl<mlir::Operation *> *reads = nullptr)
      : of(of), dims(std::move(dims)), reads(reads) {}

  std::optional<llvm::SmallVector<int64_t>> eval(mlir::Value v);

private:
  std::optional<llvm::SmallVector<int64_t>> eval(mlir::Value v, bool &readsOf, int depth);

  mlir::Value of;
  llvm::SmallVector<int64_t> dims;
  llvm::SmallVectorImpl<mlir::Operation *> *reads;
};

// The columns a Slice takes from the last axis of a rank-2 value `width`
// wide: begin and end clamped as ONNX clamps them, and the step.
struct ColumnRange {
  int64_t begin = 0, end = 0, step = 1;
  bool operator==(const ColumnRange &o) const {
    return begin == o.begin && end == o.end && step == o.step;
  }
};

// The range `slice` takes from `h`'s last axis (h rank 2, `width` wide, its
// rows unknown), its bounds evaluated with Shape(h) = [?, width]. Axes must
// be given (without them the bound is for the rows) and name the last axis;
// the step must be positive. Ops reading Shape(h) go to `reads`.
std::optional<ColumnRange> lastAxisColumns(mlir::Operation *slice, mlir::Value h, int64_t width,
                                           llvm::SmallVectorImpl<mlir::Operation *> *reads);

// moe.experts' SwiGLU parameters and where its two inputs come from.
struct GatedActivation {
  mlir::Value gate, up; // before the clamps
  double alpha = 1.0, beta = 0.0, limit = std::numeric_limits<double>::infinity();
  // Set by ActivationMatcher::halves: the [n, 2I] value gate and up are cut
  // from, and how (1: even and odd columns, 2: first and second halves).
  mlir::Value fused;
  int64_t fusion = 0;
};

// Matches the gated activation. Every op it matches is appended to `ops`
// (rolled back on a failed alternative); values are looked at through
// `inner`, which may skip (and record in `ops`) ops that keep a value as it
// is (the batched form's Squeeze(Unsqueeze) round trips). Use constraints
// are the caller's: it checks that nothing it erases is read from outside.
class ActivationMatcher {
public:
  ActivationMatcher(llvm::SmallVectorImpl<mlir::Operation *> &ops,
                    std::function<mlir::Value(mlir::Value)> inner)
      : ops(ops), inner(std::move(inner)) {}

  // a = G·sigmoid(alpha·G)·(L + beta), the products either way round:
  // silu(gate) * up (alpha 1, beta 0, no clamps) or gpt-oss's
  // (clamp(up, -l, l) + 1) * (g * sigmoid(g * 1.702)) with g = min(gate, l).
  // Left alone: a non-constant alpha or beta, clamps moe.experts cannot
  // express (one side only, other limits on gate and up).
  std::optional<GatedActivation> match(mlir::Value a);

  // Whether gate and up are cut from one [n, 2I] value's last axis: Split's
  // two results or two Slices (the halves, fusion 2), or Slices with step 2
  // from 0 and from 1 (the even and odd columns, fusion 1, gpt-oss). Sets
  // `act.fused` and `act.fusion`.
  bool halves(GatedActivation &act, int64_t inter);

private:
  mlir::Operation *take(mlir::Value v, llvm::StringRef type);
  mlir::Value clamped(mlir::Value v, double &lo, double &hi);
  bool sliceIs(mlir::Operation *slice, mlir::Value h, int64_t width, ColumnRange range);

  llvm::SmallVectorImpl<mlir::Operation *> &ops;
  std::function<mlir::Value(mlir::Value)> inner;
};

} // namespace moec::raise

#endif // MOEC_PASSES_RAISE_EXPERTACTIVATION_H
