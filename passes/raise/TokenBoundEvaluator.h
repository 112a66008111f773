//===- TokenBoundEvaluator.h - evaluate shape-only subgraphs for one T -*- C++ -*-===//
//
// Exported decoders build their attention masks from nothing but the token
// count: Range over Shape(input_ids), comparisons, CumSum, GatherND, Where.
// The chains differ between exporters and transformers versions, so raising
// passes do not pattern-match them; they evaluate them. This evaluator
// computes an onnx-dialect value for a given token count T, reading only
// constants and the static shapes of run-time values (whose `?` dims are T).
// A value whose data depends on a run-time input cannot be evaluated.
//
// Everything is held as double: masks, positions and shape integers are all
// exact in a double (|v| < 2^53), and the int64 extremes exporters use for
// open slice ends survive as "very large", which is how Slice reads them.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_RAISE_TOKENBOUNDEVALUATOR_H
#define MOEC_PASSES_RAISE_TOKENBOUNDEVALUATOR_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::raise {

struct EvalTensor {
  enum class Kind { Float, Int, Bool };
  llvm::SmallVector<int64_t> shape;
  Kind kind = Kind::Float;
  std::vector<double> data; // row-major

  int64_t size() const;
};

class TokenBoundEvaluator {
public:
  // `maxElements` bounds every intermediate: a subgraph that would need more
  // is reported as not evaluable rather than allowed to take the memory.
  explicit TokenBoundEvaluator(int64_t tokens, int64_t maxElements = 1 << 22)
      : tokens(tokens), maxElements(maxElements) {}

  // The value of `v` at this token count, or std::nullopt with why() saying
  // which op stopped the evaluation.
  std::optional<EvalTensor> eval(mlir::Value v);
  // Gives a run-time value (a function argument) a value for this
  // evaluation, e.g. the cache length of a decoder with a KV cache.
  void bind(mlir::Value v, EvalTensor value) { memo[v] = std::move(value); }
  // Gives a run-time value the shape it has in the model's own terms, where
  // its type says otherwise: a fixed-capacity cache buffer that stands for
  // `past` rows.
  void bindShape(mlir::Value v, llvm::SmallVector<int64_t> shape) {
    shapeOverrides[v] = std::move(shape);
  }
  const std::string &why() const { return reason; }
  // The shape of `v` at this token count: its type's, or, for an unranked
  // value, what its ops make of their inputs' shapes (data not needed).
  std::optional<llvm::SmallVector<int64_t>> shape(mlir::Value v) {
    reason.clear();
    return shapeOf(v, 0);
  }

private:
  std::optional<EvalTensor> evalOp(mlir::Value v, int depth);
  std::optional<EvalTensor> get(mlir::Value v, int depth);
  std::optional<llvm::SmallVector<int64_t>> shapeOf(mlir::Value v, int depth);
  std::nullopt_t fail(mlir::Operation *op, const std::string &what);

  int64_t tokens, maxElements;
  llvm::DenseMap<mlir::Value, EvalTensor> memo;
  llvm::DenseMap<mlir::Value, llvm::SmallVector<int64_t>> shapeOverrides;
  std::string reason;
};

} // namespace moec::raise

#endif // MOEC_PASSES_RAISE_TOKENBOUNDEVALUATOR_H
