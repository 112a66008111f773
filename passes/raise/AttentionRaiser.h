//===- AttentionRaiser.h - moec-raise-attention's matcher and raiser -*- C++ -*-===//
//
// Shared by the two files of moec-raise-attention: RaiseAttention.cpp (the
// pass, the match from a Softmax to MatMul(q, kᵀ), attention without a
// cache) and RaiseAttentionOverCache.cpp (attention over a growing KV cache
// the importer made fixed-capacity, raised to moe.attention).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_RAISE_ATTENTIONRAISER_H
#define MOEC_PASSES_RAISE_ATTENTIONRAISER_H

#include "passes/raise/TokenBoundEvaluator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::raise::attention {

// A mask value at or below this masks the key out. Exporters use -inf, the
// float32 minimum, -1e9 or -1e4, and fp16 models the float16 minimum -65504.
// The softmax weight of a key so masked is exp(s + m - max) with m <= -1e4;
// in float32 (how moec's kernels and onnxruntime compute it) that underflows
// to exactly 0 whenever the key's score is within 9896 of the row maximum
// (exp of less than -104 is 0), and scores q.k * scale are nowhere near
// such spreads. So skipping the key gives the model's result exactly.
// Anything between this and 0 is a bias (ALiBi), which is refused.
constexpr double kMaskedBelow = -1e4;

// What a mask operand means: an additive bias (0 keeps, <= kMaskedBelow
// drops) or a boolean condition (true keeps) selecting scores over a fill.
struct MaskTerm {
  mlir::Value value;
  bool boolean = false;
};

// Everything the pass found between the two MatMuls.
struct AttentionMatch {
  mlir::Value query, key, value, sinks; // sinks: the constant [1, N, 1, 1]-like logits
  // k is Transpose(key, keyPerm) unless keyPerm is the identity.
  llvm::SmallVector<int64_t, 4> keyPerm{0, 1, 2, 3};
  double scale = 1.0, softcap = 0.0;
  llvm::SmallVector<MaskTerm> masks;
  mlir::Operation *root = nullptr; // MatMul(probabilities, v)
};

// A key or value of a decoder with a KV cache: Concat(past, new) along the
// sequence axis, past one of the fixed-capacity cache arguments.
struct CacheConcat {
  mlir::Operation *concat = nullptr;
  mlir::Value past, fresh;
};

std::optional<CacheConcat> matchCacheConcat(mlir::Value v, int64_t capacity);

// The keys each of `rows` queries keeps under all of `masks` (additive:
// 0 keeps, <= kMaskedBelow drops; boolean: true keeps), evaluated by `e`, as
// [rows, keys] row-major; std::nullopt with `why` set when a mask cannot be
// evaluated, is not [.., rows, keys] (`expectedShape` names that), holds a
// bias, or differs between heads or batch rows.
std::optional<std::vector<char>> keptKeys(llvm::ArrayRef<MaskTerm> masks,
                                          TokenBoundEvaluator &e, int64_t rows, int64_t keys,
                                          int64_t heads, llvm::StringRef expectedShape,
                                          std::string &why);

class AttentionRaiser {
public:
  // Finds the arguments compiler/import/GrowingCache.h added, if any.
  explicit AttentionRaiser(mlir::func::FuncOp func);

  // Raises the attention whose Softmax is `softmax`. Fails (with a
  // diagnostic) only for [T, T] scores, or scores over a cache, it cannot
  // raise.
  mlir::LogicalResult raise(mlir::Operation *softmax);

private:
  std::optional<AttentionMatch> match(mlir::Operation *softmax, std::string &why);
  mlir::LogicalResult checkMask(const AttentionMatch &m, int64_t &window, std::string &why);

  // RaiseAttentionOverCache.cpp.
  mlir::LogicalResult checkCachedMask(const AttentionMatch &m, int64_t &window,
                                      std::string &why);
  mlir::LogicalResult raiseCached(mlir::Operation *softmax, AttentionMatch &m,
                                  const CacheConcat &key, const CacheConcat &value);
  mlir::Value peelCachedRepeatKv(mlir::Value v);
  void replaceGrownShapes(mlir::Value grown);
  // An evaluator at T tokens after `past` cached ones (past only matters
  // with a cache: it is what total_sequence_length - T reads).
  TokenBoundEvaluator evaluator(int64_t tokens, int64_t past = 2) const;

  mlir::func::FuncOp func;
  // With a growing cache rewritten by the importer: its arguments.
  mlir::Value totalLength, seqlens;
  llvm::SmallVector<mlir::BlockArgument> caches; // the past_* buffers
  int64_t capacity = 0;
  // Set by match(): it stopped at values whose shapes are deferred upstream.
  bool deferred = false;
};

} // namespace moec::raise::attention

#endif // MOEC_PASSES_RAISE_ATTENTIONRAISER_H
