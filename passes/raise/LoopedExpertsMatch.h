//===- LoopedExpertsMatch.h - one iteration of the eager experts loop -*- C++ -*-===//
//
// moec-raise-looped-experts (RaiseLoopedExperts.cpp) matches a chain of Adds
// of ScatterElements terms, one per unrolled iteration of the eager experts
// loop. This matches one such term and says what it reads; the pass checks
// that the iterations agree and together cover every expert once. The forms
// are described at the top of RaiseLoopedExperts.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_RAISE_LOOPEDEXPERTSMATCH_H
#define MOEC_PASSES_RAISE_LOOPEDEXPERTSMATCH_H

#include "passes/raise/ExpertActivation.h"
#include "passes/raise/ExpertPatterns.h"

#include <optional>
#include <vector>

namespace moec::raise::looped {

// Shape of all dims (no opset-15 start/end range).
bool isWholeShape(mlir::Operation *shape);

// ConstantOfShape's fill: absent (float zeros) or a zero.
bool isZeroFill(mlir::Operation *constantOfShape);

// The axes of a Squeeze/Unsqueeze/Reduce*: its input `input` (opset 13+) or
// the attribute.
std::optional<std::vector<int64_t>> axesOf(mlir::Operation *op, unsigned input);

// Everything one iteration reads, for the block-level checks.
struct Iteration {
  mlir::Operation *hitSplit = nullptr; // the Split of the hit experts (null: a constant e)
  int64_t hitRow = -1;                 // which of its results this iteration takes
  int64_t slot = -1;                   // the expert it computes: hitRow, or the constant e
  mlir::Value maskT;                   // [E, k, T] (or [E, T, k]) one-hot it selects from
  mlir::Operation *nonzero = nullptr;  // NonZero(maskT[e])
  mlir::Value x, weights;
  // The stacked weights (transformers 5), read at e: fc1 gate_up [E, 2I, H]
  // and fc2 down [E, H, I] under a Transpose, or stored [E, in, out] and
  // read as they are (`inOut`, gpt-oss); biases [E, out] or null.
  ExpertWeights stacked;
  // Or the expert's own nn.Linear weights (transformers 4).
  Linear gate, up, down;
  bool perExpert = false;
  GatedActivation activation; // its parameters; fusion 0 for perExpert
  int64_t k = 0;              // the flat index's row stride
  mlir::Value zerosOf;        // the value whose Shape the scatter's zeros take
  mlir::Value rowOf;          // the value whose first row gives the updates' broadcast shape
  int64_t rowEnd = 0;         // that row's column bound (clamped to H)
};

// Matches one ScatterElements term; fills `it` with what it reads.
bool matchIteration(mlir::Value term, Iteration &it);

// Matches one step of the dynamo export's accumulation,
// ScatterND(acc, Unsqueeze(token, -1), y * w[token, choice], reduction add);
// fills `it` with what it reads (zerosOf: the accumulator it adds to).
bool matchScatterNDIteration(mlir::Operation *scatter, Iteration &it);

// The one-hot mask an iteration selects its tokens from: Transpose(OneHot(ids,
// E), perm) with the expert axis first, or, as dynamo exports one_hot,
// Transpose(Cast(Equal(Unsqueeze(ids, -1), Range 0..E-1 constant)), perm).
// Which NonZero row is the token and which the choice depends on the perm.
struct Mask {
  mlir::Operation *oneHot = nullptr; // null for the Equal form
  mlir::Value ids;
  int64_t classes = 0; // E (or E + 1) one-hot classes, 0 if the OneHot's depth is unknown
  int64_t tokenRow = -1, choiceRow = -1;
};
std::optional<Mask> matchMask(mlir::Value maskT);

} // namespace moec::raise::looped

#endif // MOEC_PASSES_RAISE_LOOPEDEXPERTSMATCH_H
