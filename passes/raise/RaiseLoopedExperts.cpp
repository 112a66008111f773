//===- RaiseLoopedExperts.cpp - the unrolled per-expert loop to moe.experts -===//
//
// transformers 5 MoE blocks (Mixtral, OLMoE, Qwen2-MoE, DeepSeek-V3) keep the
// expert weights stacked, gate_up [E, 2I, H] and down [E, H, I], and with the
// default eager experts loop over the experts that got a token. torch.onnx
// (torchscript) unrolls that loop once per expert the trace input hit:
//
//   maskT = Transpose(OneHot(ids [T, k], E (+1), [0, 1]), perm [2, 1, 0])  [E, k, T]
//   hit   = Split(Transpose(NonZero(Greater(ReduceSum(maskT, k and T axes), 0))),
//                 E rows)
//   acc   = ConstantOfShape(Shape(x)) zeros                           [T, H]
//   for i in 0..E-1:
//     e      = Gather(Squeeze(hit_i), 0)          the i-th expert that got tokens
//     choice, token = rows of NonZero(Gather(maskT, e))  (Transpose, Split, Squeeze)
//     h      = Gather(x, token) · Transpose(Gather(gate_up, e))          [n, 2I]
//     a      = silu(h[:, :I]) * h[:, I:]     (the halves sliced with bounds
//                                             computed from Shape(h))
//     y      = a · Transpose(Gather(down, e)) * w[token, choice]          [n, H]
//              (w read as Gather(Flatten(Unsqueeze(w, 2)), token * k + choice),
//               reshaped to a column)
//     acc    = acc + ScatterElements(zeros, Expand(Unsqueeze(token, 1)),
//                                    Expand(Cast(y)), axis 0)      (index_add_)
//
// This pass matches the chain of Adds from its last one back to the zeros and
// replaces it by one moe.experts(x, w, ids, fc1 = gate_up as it is with
// swiglu_fusion = 2 (gate rows first), fc2 = down). Values inside the loop
// are unranked (their row count is data-dependent), so nothing here reads
// their shapes: every size comes from x, the router and the weights, and the
// slice bounds are evaluated from Shape(h) = [n, 2I].
//
// The export is only valid when all E experts got a token: otherwise the
// Split into E rows fails at run time. When every expert is hit, NonZero
// lists them in order, so iteration i computes expert i with weights
// gate_up[i] and down[i]. moe.experts computes the same sum for every input,
// including the inputs the export rejects: a refinement.
//
// Anything that does not match is left alone, without a diagnostic: a
// missing or repeated iteration, other weights in some iteration, the gate
// and linear halves swapped, a multiplier not read from w at (token, choice),
// an intermediate value with a use outside the block, another activation.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <limits>

namespace moec {
#define GEN_PASS_DEF_MOECRAISELOOPEDEXPERTS
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec::raise;
using moec::definedByOnnx;
using moec::isOnnxOp;
namespace moe = moec::moe;

namespace {

constexpr int64_t kUnknown = ShapedType::kDynamic;

// Shape of all dims (no opset-15 start/end range).
bool isWholeShape(Operation *shape) {
  return moec::getIntAttr(shape, "start", 0) == 0 && !shape->getAttr("end");
}

// ConstantOfShape's fill: absent (float zeros) or a zero.
bool isZeroFill(Operation *constantOfShape) {
  auto fill = constantOfShape->getAttrOfType<ElementsAttr>("value");
  auto value = fill ? moec::getElementAsDouble(fill, 0) : std::optional<double>(0.0);
  return !(constantOfShape->getAttr("value") && !fill) && value && *value == 0.0;
}

// The known int values of `v`, exactly `expected`.
bool knownIntsAre(Value v, ArrayRef<int64_t> expected) {
  auto known = moec::getKnownInts(v);
  return known && ArrayRef<int64_t>(*known) == expected;
}

// The axes of a Squeeze/Unsqueeze/Reduce*: the input (opset 13+) or the
// attribute.
std::optional<std::vector<int64_t>> axesOf(Operation *op, unsigned input) {
  if (Value axes = moec::getOnnxInput(op, input))
    return moec::getKnownInts(axes);
  return moec::getIntsAttr(op, "axes");
}

bool axesAre(Operation *op, unsigned input, std::initializer_list<int64_t> accepted) {
  auto axes = axesOf(op, input);
  return axes && axes->size() == 1 && llvm::is_contained(accepted, axes->front());
}

//===----------------------------------------------------------------------===//
// Integer shape arithmetic with one substituted shape
//===----------------------------------------------------------------------===//

// The slice bounds of h's halves are computed from Shape(h), and h is
// unranked (its row count is data-dependent). This evaluates such a chain of
// small int ops with Shape(`of`) taken to be `dims` (kUnknown where not
// known); getKnownInts covers everything else.
class IntEvaluator {
public:
  IntEvaluator(Value of, SmallVector<int64_t> dims) : of(of), dims(std::move(dims)) {}

  std::optional<SmallVector<int64_t>> eval(Value v, int depth = 0) {
    if (!v || depth > 16)
      return std::nullopt;
    if (auto known = moec::getKnownInts(v))
      return SmallVector<int64_t>(known->begin(), known->end());
    Operation *op = v.getDefiningOp();
    if (!op)
      return std::nullopt;
    if (isOnnxOp(op, "Shape")) {
      if (op->getOperand(0) != of || !isWholeShape(op))
        return std::nullopt;
      return dims;
    }
    // Value-preserving ops on lists of at most one dimension.
    if (isOnnxOp(op, "Unsqueeze") || isOnnxOp(op, "Squeeze") || isOnnxOp(op, "Reshape") ||
        isOnnxOp(op, "Identity") ||
        (isOnnxOp(op, "Cast") && isa_and_nonnull<IntegerType>(elementTypeOf(v))))
      return eval(op->getOperand(0), depth + 1);
    if (isOnnxOp(op, "Concat")) {
      SmallVector<int64_t> all;
      for (Value part : op->getOperands()) {
        auto values = eval(part, depth + 1);
        if (!values)
          return std::nullopt;
        all.append(*values);
      }
      return all;
    }
    if (isOnnxOp(op, "Gather")) {
      if (moec::getIntAttr(op, "axis", 0) != 0)
        return std::nullopt;
      auto data = eval(op->getOperand(0), depth + 1);
      auto indices = eval(op->getOperand(1), depth + 1);
      if (!data || !indices)
        return std::nullopt;
      SmallVector<int64_t> picked;
      int64_t size = static_cast<int64_t>(data->size());
      for (int64_t index : *indices) {
        if (index < 0)
          index += size;
        if (index < 0 || index >= size)
          return std::nullopt;
        picked.push_back((*data)[index]);
      }
      return picked;
    }
    for (StringRef arith : {"Add", "Sub", "Mul", "Div"}) {
      if (!isOnnxOp(op, arith))
        continue;
      auto lhs = eval(op->getOperand(0), depth + 1);
      auto rhs = eval(op->getOperand(1), depth + 1);
      if (!lhs || !rhs)
        return std::nullopt;
      size_t n = std::max(lhs->size(), rhs->size());
      if ((lhs->size() != n && lhs->size() != 1) || (rhs->size() != n && rhs->size() != 1))
        return std::nullopt;
      SmallVector<int64_t> out;
      for (size_t i = 0; i < n; ++i) {
        int64_t a = (*lhs)[lhs->size() == 1 ? 0 : i], b = (*rhs)[rhs->size() == 1 ? 0 : i];
        if (a == kUnknown || b == kUnknown) {
          out.push_back(kUnknown);
          continue;
        }
        if (arith == "Div" && b == 0)
          return std::nullopt;
        out.push_back(arith == "Add"   ? a + b
                      : arith == "Sub" ? a - b
                      : arith == "Mul" ? a * b
                                       : a / b); // ONNX integer Div truncates
      }
      return out;
    }
    return std::nullopt;
  }

private:
  Value of;
  SmallVector<int64_t> dims;
};

// The column range [begin, end) that `slice` takes from the last axis of the
// rank-2 `h` whose last dimension is `width`, with step 1; std::nullopt for
// any other slice.
std::optional<std::pair<int64_t, int64_t>> lastAxisRange(Operation *slice, Value h, int64_t width) {
  if (!isOnnxOp(slice, "Slice") || slice->getOperand(0) != h)
    return std::nullopt;
  IntEvaluator evaluator(h, {kUnknown, width});
  auto starts = evaluator.eval(moec::getOnnxInput(slice, 1));
  auto ends = evaluator.eval(moec::getOnnxInput(slice, 2));
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1)
    return std::nullopt;
  Value axes = moec::getOnnxInput(slice, 3), steps = moec::getOnnxInput(slice, 4);
  if (!axes) // without axes, the one bound is for axis 0: the rows
    return std::nullopt;
  auto axis = evaluator.eval(axes);
  if (!axis || axis->size() != 1 || !isLastAxis(axis->front(), 2))
    return std::nullopt;
  if (steps && !knownIntsAre(steps, {1}))
    return std::nullopt;
  auto clamp = [&](int64_t bound) {
    if (bound < 0)
      bound += width;
    return std::clamp<int64_t>(bound, 0, width);
  };
  if (starts->front() == kUnknown || ends->front() == kUnknown)
    return std::nullopt;
  return std::make_pair(clamp(starts->front()), clamp(ends->front()));
}

//===----------------------------------------------------------------------===//
// One iteration of the loop
//===----------------------------------------------------------------------===//

// A row of NonZero's [rank, n] result as a 1-D [n] value: Squeeze of one
// column of Split(Transpose(nz)) (how torch.where exports), or Gather(nz, r).
struct NonZeroRow {
  Operation *nonzero = nullptr;
  int64_t row = -1;
};

std::optional<NonZeroRow> matchNonZeroRow(Value v) {
  if (Operation *gather = definedByOnnx(v, "Gather")) {
    auto row = scalarInt(gather->getOperand(1));
    Operation *nonzero = definedByOnnx(gather->getOperand(0), "NonZero");
    auto rowType = rankedType(gather->getOperand(1));
    if (!nonzero || !row || moec::getIntAttr(gather, "axis", 0) != 0 || !rowType ||
        rowType.getRank() != 0)
      return std::nullopt;
    return NonZeroRow{nonzero, *row};
  }
  Operation *squeeze = definedByOnnx(v, "Squeeze");
  if (!squeeze || !axesAre(squeeze, 1, {1, -1}))
    return std::nullopt;
  Value column = squeeze->getOperand(0);
  Operation *split = definedByOnnx(column, "Split");
  if (!split || split->getNumResults() != 2 || !isLastAxis(moec::getIntAttr(split, "axis", 0), 2))
    return std::nullopt;
  if (Value sizes = moec::getOnnxInput(split, 1); sizes && !knownIntsAre(sizes, {1, 1}))
    return std::nullopt;
  Operation *transpose = definedByOnnx(split->getOperand(0), "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  Operation *nonzero = transpose ? definedByOnnx(transpose->getOperand(0), "NonZero") : nullptr;
  if (!nonzero || !perm || *perm != std::vector<int64_t>{1, 0})
    return std::nullopt;
  return NonZeroRow{nonzero, static_cast<int64_t>(cast<OpResult>(column).getResultNumber())};
}

// Everything one iteration reads, for the block-level checks.
struct Iteration {
  Operation *hitSplit = nullptr; // the Split of the hit experts
  int64_t hitRow = -1;           // which of its results this iteration takes
  Value maskT;                   // [E, k, T] (or [E, T, k]) one-hot it selects from
  Operation *nonzero = nullptr;  // NonZero(maskT[e])
  Value x, weights, fc1, fc2;
  int64_t k = 0;      // the flat index's row stride
  Value zerosOf;      // the value whose Shape the scatter's zeros take
  Value rowOf;        // the value whose first row gives the updates' broadcast shape
  int64_t rowEnd = 0; // that row's column bound (clamped to H)
};

// e = Gather(Squeeze(Split_r, [0]), 0): the r-th expert that got a token.
bool matchHitExpert(Value e, Iteration &it) {
  Operation *gather = definedByOnnx(e, "Gather");
  if (!gather || moec::getIntAttr(gather, "axis", 0) != 0 || scalarInt(gather->getOperand(1)) != 0)
    return false;
  Value row = gather->getOperand(0);
  if (Operation *squeeze = definedByOnnx(row, "Squeeze")) {
    if (!axesAre(squeeze, 1, {0}))
      return false;
    row = squeeze->getOperand(0);
  }
  Operation *split = definedByOnnx(row, "Split");
  if (!split)
    return false;
  it.hitSplit = split;
  it.hitRow = cast<OpResult>(row).getResultNumber();
  return true;
}

// Transpose(Gather(W, e), [1, 0]) with W a rank-3 float constant: W[e]ᵀ.
// Sets `e` when it is null, else requires that index.
Value matchExpertWeightT(Value v, Value &e) {
  Operation *transpose = definedByOnnx(v, "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  if (!perm || *perm != std::vector<int64_t>{1, 0})
    return {};
  Operation *gather = definedByOnnx(transpose->getOperand(0), "Gather");
  if (!gather || moec::getIntAttr(gather, "axis", 0) != 0 || (e && gather->getOperand(1) != e))
    return {};
  e = gather->getOperand(1);
  Value stacked = gather->getOperand(0);
  ElementsAttr elements = moec::getConstantElements(stacked);
  auto type = elements ? dyn_cast<RankedTensorType>(elements.getType()) : nullptr;
  if (!type || type.getRank() != 3 || !type.hasStaticShape() ||
      !isa<FloatType>(type.getElementType()))
    return {};
  return stacked;
}

// a = silu(h[:, :I]) * h[:, I:] for h of width 2I: the gate half first,
// sliced or split. Returns h.
Value matchGatedHalves(Value a, int64_t width) {
  Operation *mul = definedByOnnx(a, "Mul");
  if (!mul || width % 2 != 0)
    return {};
  int64_t inter = width / 2;
  for (unsigned i = 0; i < 2; ++i) {
    Value activated = mul->getOperand(i), up = mul->getOperand(1 - i);
    Value gate = activated.hasOneUse() ? matchSilu(activated) : Value();
    if (!gate || !up.hasOneUse())
      continue;
    Operation *gateOp = gate.getDefiningOp(), *upOp = up.getDefiningOp();
    if (!gateOp || !upOp)
      continue;
    if (isOnnxOp(gateOp, "Split") && gateOp == upOp) {
      // Split(h, [I, I], last axis): result 0 the gate, result 1 the linear half.
      Value h = gateOp->getOperand(0);
      Value sizes = moec::getOnnxInput(gateOp, 1);
      bool halves = sizes ? knownIntsAre(sizes, {inter, inter})
                          : moec::getIntAttr(gateOp, "num_outputs", 2) == 2;
      if (gateOp->getNumResults() == 2 && halves &&
          isLastAxis(moec::getIntAttr(gateOp, "axis", 0), 2) &&
          cast<OpResult>(gate).getResultNumber() == 0 && cast<OpResult>(up).getResultNumber() == 1)
        return h;
      continue;
    }
    Value h = gateOp->getNumOperands() > 0 ? gateOp->getOperand(0) : Value();
    auto gateRange = lastAxisRange(gateOp, h, width);
    auto upRange = lastAxisRange(upOp, h, width);
    if (gateRange && upRange && *gateRange == std::pair<int64_t, int64_t>(0, inter) &&
        *upRange == std::make_pair(inter, width))
      return h;
  }
  return {};
}

// Reshapes of the gathered weights to an [n, 1] column: each target is
// Concat(rows, [1]) with rows -1 or Shape(of a 1-D index).
Value peelColumnReshapes(Value v, bool &reshaped) {
  reshaped = false;
  while (Operation *reshape = definedByOnnx(v, "Reshape")) {
    Operation *concat = definedByOnnx(reshape->getOperand(1), "Concat");
    if (knownIntsAre(reshape->getOperand(1), {-1, 1})) {
      v = reshape->getOperand(0);
      reshaped = true;
      continue;
    }
    if (!concat || concat->getNumOperands() != 2 || !knownIntsAre(concat->getOperand(1), {1}))
      return {};
    Value rows = concat->getOperand(0);
    Operation *shape = definedByOnnx(rows, "Shape");
    if (!knownIntsAre(rows, {-1}) && !(shape && isWholeShape(shape)))
      return {};
    v = reshape->getOperand(0);
    reshaped = true;
  }
  return v;
}

// rw = w[token, choice] as a column: Gather(Flatten(Unsqueeze(w, 2), 2),
// choice + token * k) (or w reshaped to [T*k] / [T*k, 1]), Reshaped to [n, 1].
bool matchRoutingWeight(Value rw, const NonZeroRow &token, int64_t choiceRow, Iteration &it) {
  // A 1-D [n] multiplier would broadcast along H instead of down the rows.
  bool column = false;
  Value picked = peelColumnReshapes(rw, column);
  Operation *gather = definedByOnnx(picked, "Gather");
  if (!gather || moec::getIntAttr(gather, "axis", 0) != 0)
    return false;
  // The flat weights: w row-major, flat[t * k + j] = w[t, j].
  Value flat = gather->getOperand(0);
  if (Operation *flatten = definedByOnnx(flat, "Flatten")) {
    Operation *unsqueeze = definedByOnnx(flatten->getOperand(0), "Unsqueeze");
    if (!unsqueeze || moec::getIntAttr(flatten, "axis", 1) != 2 || !axesAre(unsqueeze, 1, {2, -1}))
      return false;
    it.weights = unsqueeze->getOperand(0);
    column = true; // [T*k, 1]
  } else if (Operation *reshape = definedByOnnx(flat, "Reshape")) {
    bool flat2d = knownIntsAre(reshape->getOperand(1), {-1, 1});
    if (!flat2d && !knownIntsAre(reshape->getOperand(1), {-1}))
      return false;
    it.weights = reshape->getOperand(0);
    column |= flat2d;
  } else {
    return false;
  }
  auto wType = rankedType(it.weights);
  if (!column || !wType || wType.getRank() != 2)
    return false;
  // The flat index: choice + token * k, in either order.
  Operation *add = definedByOnnx(gather->getOperand(1), "Add");
  if (!add)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    auto choice = matchNonZeroRow(add->getOperand(i));
    Operation *mul = definedByOnnx(add->getOperand(1 - i), "Mul");
    if (!choice || choice->nonzero != token.nonzero || choice->row != choiceRow || !mul)
      continue;
    for (unsigned j = 0; j < 2; ++j) {
      auto tokenRow = matchNonZeroRow(mul->getOperand(j));
      auto stride = moec::getKnownInts(mul->getOperand(1 - j));
      if (tokenRow && tokenRow->nonzero == token.nonzero && tokenRow->row == token.row && stride &&
          stride->size() == 1 && (*stride)[0] > 0) {
        it.k = (*stride)[0];
        return true;
      }
    }
  }
  return false;
}

// Expand(v, Shape(Slice(acc, [0, 0], [1, big], [0, 1]))): acc's first row is
// [1, H], so this broadcast leaves an [n, H] update as it is.
Value peelRowBroadcast(Value v, Iteration &it) {
  Operation *expand = definedByOnnx(v, "Expand");
  if (!expand)
    return v;
  Operation *shape = definedByOnnx(expand->getOperand(1), "Shape");
  Operation *slice =
      shape && isWholeShape(shape) ? definedByOnnx(shape->getOperand(0), "Slice") : nullptr;
  if (!slice)
    return {};
  auto starts = moec::getKnownInts(moec::getOnnxInput(slice, 1));
  auto ends = moec::getKnownInts(moec::getOnnxInput(slice, 2));
  Value axesValue = moec::getOnnxInput(slice, 3), steps = moec::getOnnxInput(slice, 4);
  auto axes =
      axesValue ? moec::getKnownInts(axesValue) : std::optional<std::vector<int64_t>>{{0, 1}};
  if (!starts || !ends || !axes || *starts != std::vector<int64_t>{0, 0} || ends->size() != 2 ||
      (*ends)[0] != 1 || *axes != std::vector<int64_t>{0, 1} ||
      (steps && !knownIntsAre(steps, {1, 1})))
    return {};
  it.rowOf = slice->getOperand(0);
  it.rowEnd = (*ends)[1];
  return expand->getOperand(0);
}

// The one-hot mask an iteration selects its tokens from: Transpose(OneHot(ids,
// E), perm) with the expert axis first. Which NonZero row is the token and
// which the choice depends on the perm.
struct Mask {
  Operation *oneHot = nullptr;
  int64_t tokenRow = -1, choiceRow = -1;
};

std::optional<Mask> matchMask(Value maskT) {
  Operation *transpose = definedByOnnx(maskT, "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  Operation *oneHot = transpose ? definedByOnnx(transpose->getOperand(0), "OneHot") : nullptr;
  if (!oneHot || !perm)
    return std::nullopt;
  // ids [T, k] -> OneHot [T, k, E] (axis -1 or 2).
  int64_t axis = moec::getIntAttr(oneHot, "axis", -1);
  if (axis != -1 && axis != 2)
    return std::nullopt;
  Mask mask{oneHot};
  if (*perm == std::vector<int64_t>{2, 1, 0}) { // [E, k, T]
    mask.choiceRow = 0;
    mask.tokenRow = 1;
  } else if (*perm == std::vector<int64_t>{2, 0, 1}) { // [E, T, k]
    mask.tokenRow = 0;
    mask.choiceRow = 1;
  } else {
    return std::nullopt;
  }
  return mask;
}

// Matches one ScatterElements term; fills `it` with what it reads.
bool matchIteration(Value term, Iteration &it) {
  Operation *scatter = definedByOnnx(term, "ScatterElements");
  if (!scatter || moec::getIntAttr(scatter, "axis", 0) != 0 ||
      moec::getStringAttr(scatter, "reduction", "none") != "none")
    return false;
  // Scattered into zeros of the accumulator's shape: the term is the update
  // rows at the token rows, zero elsewhere.
  Operation *zeros = definedByOnnx(scatter->getOperand(0), "ConstantOfShape");
  Operation *zerosShape = zeros ? definedByOnnx(zeros->getOperand(0), "Shape") : nullptr;
  if (!zerosShape || !isWholeShape(zerosShape))
    return false;
  if (!isZeroFill(zeros))
    return false;
  it.zerosOf = zerosShape->getOperand(0);

  Value updates = scatter->getOperand(2);
  Value broadcast = peelRowBroadcast(updates, it);
  if (!broadcast)
    return false;
  Value scaled = skipNoopCasts(broadcast);

  // indices = Expand(Unsqueeze(token, 1), Shape(updates)): whole rows.
  Operation *expand = definedByOnnx(scatter->getOperand(1), "Expand");
  Operation *indexShape = expand ? definedByOnnx(expand->getOperand(1), "Shape") : nullptr;
  Operation *unsqueeze = expand ? definedByOnnx(expand->getOperand(0), "Unsqueeze") : nullptr;
  if (!indexShape || !unsqueeze || !axesAre(unsqueeze, 1, {1, -1}) || !isWholeShape(indexShape) ||
      !llvm::is_contained({updates, broadcast, scaled}, indexShape->getOperand(0)))
    return false;
  Value tokens = unsqueeze->getOperand(0);
  auto token = matchNonZeroRow(tokens);
  if (!token)
    return false;

  // scaled = (a · down[e]ᵀ) * rw, either way round.
  Operation *scale = definedByOnnx(scaled, "Mul");
  if (!scale)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    Operation *down = definedByOnnx(scale->getOperand(i), "MatMul");
    Value rw = scale->getOperand(1 - i);
    if (!down || !scale->getOperand(i).hasOneUse())
      continue;
    Value e;
    it.fc2 = matchExpertWeightT(down->getOperand(1), e);
    if (!it.fc2 || !matchHitExpert(e, it))
      return false;
    int64_t inter = cast<ShapedType>(it.fc2.getType()).getDimSize(2);
    Value a = down->getOperand(0);
    Value h = a.hasOneUse() ? matchGatedHalves(a, 2 * inter) : Value();
    Operation *up = definedByOnnx(h, "MatMul");
    if (!up)
      return false;
    it.fc1 = matchExpertWeightT(up->getOperand(1), e);
    Operation *rows = definedByOnnx(up->getOperand(0), "Gather");
    if (!it.fc1 || !rows || moec::getIntAttr(rows, "axis", 0) != 0 ||
        rows->getOperand(1) != tokens || !up->getOperand(0).hasOneUse())
      return false;
    it.x = rows->getOperand(0);

    // The tokens are the rows of NonZero(maskT[e]) (cast to bool or not).
    Value selected = token->nonzero->getOperand(0);
    if (Operation *cast = definedByOnnx(selected, "Cast"))
      if (elementTypeOf(selected) && elementTypeOf(selected).isInteger(1))
        selected = cast->getOperand(0);
    Operation *pick = definedByOnnx(selected, "Gather");
    if (!pick || moec::getIntAttr(pick, "axis", 0) != 0 || pick->getOperand(1) != e)
      return false;
    it.maskT = pick->getOperand(0);
    it.nonzero = token->nonzero;
    auto mask = matchMask(it.maskT);
    if (!mask || token->row != mask->tokenRow)
      return false;
    return matchRoutingWeight(rw, *token, mask->choiceRow, it);
  }
  return false;
}

// hit = Split(Transpose(NonZero(Greater(ReduceSum(maskT, the k and T axes), 0))),
// ones, axis 0): the experts that got a token, one per result.
bool matchHitSplit(Operation *split, Value maskT, int64_t experts) {
  if (split->getNumResults() != static_cast<unsigned>(experts) ||
      moec::getIntAttr(split, "axis", 0) != 0)
    return false;
  if (Value sizes = moec::getOnnxInput(split, 1)) {
    auto known = moec::getKnownInts(sizes);
    if (!known || llvm::any_of(*known, [](int64_t s) { return s != 1; }))
      return false;
  }
  Operation *transpose = definedByOnnx(split->getOperand(0), "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  Operation *nonzero = transpose ? definedByOnnx(transpose->getOperand(0), "NonZero") : nullptr;
  Operation *greater = nonzero ? definedByOnnx(nonzero->getOperand(0), "Greater") : nullptr;
  Operation *sum = greater ? definedByOnnx(greater->getOperand(0), "ReduceSum") : nullptr;
  if (!perm || *perm != std::vector<int64_t>{1, 0} || !sum ||
      !isZeroConstant(greater->getOperand(1)) || sum->getOperand(0) != maskT ||
      moec::getIntAttr(sum, "keepdims", 1) != 0)
    return false;
  auto axes = axesOf(sum, 1);
  if (!axes || axes->size() != 2)
    return false;
  llvm::SmallDenseSet<int64_t> reduced;
  for (int64_t axis : *axes)
    reduced.insert(axis < 0 ? axis + 3 : axis);
  return reduced.contains(1) && reduced.contains(2);
}

// Whether every op between `root` and the `leaves` (and constants) is used
// only inside that set, so replacing the root leaves all of it dead.
bool isSelfContained(Operation *root, ArrayRef<Value> leaves) {
  llvm::SmallDenseSet<Value> stop(leaves.begin(), leaves.end());
  llvm::SmallPtrSet<Operation *, 32> inside;
  SmallVector<Operation *> worklist{root};
  inside.insert(root);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (stop.contains(operand) || !def || def->getNumOperands() == 0)
        continue;
      if (!def->getDialect() || def->getDialect()->getNamespace() != "onnx")
        return false;
      if (inside.insert(def).second)
        worklist.push_back(def);
    }
  }
  for (Operation *op : inside)
    if (op != root)
      for (Operation *user : op->getUsers())
        if (!inside.contains(user))
          return false;
  return true;
}

class Raiser {
public:
  // Tries to raise the accumulation ending at `root`; leaves everything as
  // it was on any mismatch. Fails only on an internal inconsistency.
  LogicalResult raise(Operation *root) {
    Value result = root->getResult(0);
    if (!termIndex(root))
      return success();
    // The last Add of the chain: not the accumulator of another term.
    for (OpOperand &use : result.getUses()) {
      auto index = termIndex(use.getOwner());
      if (index && use.getOperandNumber() != *index)
        return success();
    }
    SmallVector<Value> accs, terms;
    Value acc = result;
    while (Operation *add = definedByOnnx(acc, "Add")) {
      auto index = termIndex(add);
      if (!index)
        break;
      accs.push_back(acc);
      terms.push_back(add->getOperand(*index));
      acc = add->getOperand(1 - *index);
    }
    accs.push_back(acc);

    SmallVector<Iteration> iterations;
    for (Value term : terms) {
      Iteration it;
      if (!matchIteration(term, it))
        return success();
      iterations.push_back(it);
    }
    const Iteration &first = iterations.front();
    int64_t experts = static_cast<int64_t>(terms.size());
    llvm::SmallBitVector seen(experts);
    for (const Iteration &it : iterations) {
      if (it.hitSplit != first.hitSplit || it.maskT != first.maskT || it.x != first.x ||
          it.weights != first.weights || it.fc1 != first.fc1 || it.fc2 != first.fc2 ||
          it.k != first.k || it.hitRow < 0 || it.hitRow >= experts || seen.test(it.hitRow))
        return success();
      seen.set(it.hitRow);
    }
    // E iterations, each row of an E-way split once: every expert once.
    if (!matchHitSplit(first.hitSplit, first.maskT, experts))
      return success();

    // Sizes from x and the weights: x [T, H], gate_up [E, 2I, H], down [E, H, I].
    Value x = first.x;
    auto xType = rankedType(x);
    auto fc1Type = cast<RankedTensorType>(first.fc1.getType());
    auto fc2Type = cast<RankedTensorType>(first.fc2.getType());
    if (!xType || xType.getRank() != 2 || xType.isDynamicDim(1))
      return success();
    int64_t hidden = xType.getDimSize(1), inter = fc2Type.getDimSize(2);
    Type element = xType.getElementType();
    if (fc1Type.getShape() != ArrayRef<int64_t>{experts, 2 * inter, hidden} ||
        fc2Type.getShape() != ArrayRef<int64_t>{experts, hidden, inter} ||
        fc1Type.getElementType() != element || fc2Type.getElementType() != element ||
        elementTypeOf(result) != element)
      return success();

    // The accumulator starts at zeros of x's shape, and every term's zeros
    // and broadcast row come from x or the accumulator (all [T, H]).
    llvm::SmallDenseSet<Value> sameShape(accs.begin(), accs.end());
    sameShape.insert(x);
    Operation *zeros = definedByOnnx(acc, "ConstantOfShape");
    Operation *zerosShape = zeros ? definedByOnnx(zeros->getOperand(0), "Shape") : nullptr;
    if (!zerosShape || zerosShape->getOperand(0) != x || !isWholeShape(zerosShape) ||
        !isZeroFill(zeros) || elementTypeOf(acc) != element)
      return success();
    for (const Iteration &it : iterations)
      if (!sameShape.contains(it.zerosOf) || (it.rowOf && !sameShape.contains(it.rowOf)) ||
          (it.rowOf && it.rowEnd < hidden))
        return success();

    // The mask is the one-hot of the router's ids over the E experts, or
    // over E + 1 classes (transformers 5 reserves class E for tokens routed
    // nowhere; a top-k of E logits never selects it, so it is never hit).
    auto mask = matchMask(first.maskT);
    Operation *oneHot = mask->oneHot;
    Value ids = oneHot->getOperand(0);
    auto depth = moec::getKnownInts(oneHot->getOperand(1));
    ElementsAttr values = moec::getConstantElements(oneHot->getOperand(2));
    auto off =
        values && values.getNumElements() == 2 ? moec::getElementAsDouble(values, 0) : std::nullopt;
    auto on =
        values && values.getNumElements() == 2 ? moec::getElementAsDouble(values, 1) : std::nullopt;
    if (!depth || depth->size() != 1 || ((*depth)[0] != experts && (*depth)[0] != experts + 1) ||
        !off || *off != 0.0 || !on || *on <= 0.0)
      return success();

    Value weights = skipNoopCasts(first.weights);
    auto weightsType = rankedType(weights), idsType = rankedType(ids);
    std::optional<SoftmaxRouter> router = matchRouter(weights, ids, experts);
    auto logitsType = router ? rankedType(router->logits) : nullptr;
    if (!router || router->k != first.k || !weightsType || !idsType ||
        weightsType.getShape() != idsType.getShape() || weightsType.getDimSize(1) != first.k ||
        weightsType.getElementType() != element || logitsType.getElementType() != element ||
        logitsType.getDimSize(0) != xType.getDimSize(0))
      return success();

    // Nothing inside the block is used outside it.
    if (!isSelfContained(root, {x, first.weights, ids}))
      return success();
    // Users of an unranked result re-infer their shapes; others would see a
    // new type.
    if (result.getType() != xType && llvm::any_of(result.getUsers(), [](Operation *user) {
          return !user->getDialect() || user->getDialect()->getNamespace() != "onnx";
        }))
      return success();
    return build(root, *router, x, first.fc1, first.fc2);
  }

private:
  // Which operand of an Add is a ScatterElements term (the other being the
  // accumulator); none if neither or both are.
  static std::optional<unsigned> termIndex(Operation *add) {
    if (!isOnnxOp(add, "Add"))
      return std::nullopt;
    bool lhs = definedByOnnx(add->getOperand(0), "ScatterElements");
    bool rhs = definedByOnnx(add->getOperand(1), "ScatterElements");
    if (lhs == rhs)
      return std::nullopt;
    return lhs ? 0u : 1u;
  }

  LogicalResult build(Operation *root, const SoftmaxRouter &router, Value x, Value fc1, Value fc2) {
    OpBuilder b(root);
    Location loc = root->getLoc();
    bool created = !router.existing;
    moe::RouterOp route = getOrCreateRouter(b, loc, router);
    // gate_up as it is: the gate rows first (swiglu_fusion 2); SwiGLU with
    // alpha 1, beta 0 and no limit is exactly silu(gate) * up.
    auto grouped = moe::ExpertsOp::create(
        b, loc, x.getType(), x, route.getWeights(), route.getExpertIds(), fc1, Value(), fc2,
        Value(), Value(), Value(), b.getStringAttr("swiglu"), b.getI64IntegerAttr(2),
        b.getF32FloatAttr(1.0f), b.getF32FloatAttr(0.0f),
        b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
    if (failed(mlir::verify(grouped)) || (created && failed(mlir::verify(route)))) {
      grouped->erase();
      if (created)
        route->erase();
      return failure();
    }
    root->getResult(0).replaceAllUsesWith(grouped.getOutput());
    // Every op eraseDeadOnnxOps removes precedes the root, so the caller's
    // forward walk never revisits an erased op.
    eraseDeadOnnxOps(root);
    return success();
  }
};

struct RaiseLoopedExpertsPass : moec::impl::MoecRaiseLoopedExpertsBase<RaiseLoopedExpertsPass> {
  using MoecRaiseLoopedExpertsBase::MoecRaiseLoopedExpertsBase;
  void runOnOperation() override {
    SmallVector<Operation *> adds;
    getOperation().walk([&](Operation *op) {
      if (isOnnxOp(op, "Add"))
        adds.push_back(op);
    });
    // Forward order: a raise erases only ops before its root, all visited.
    Raiser raiser;
    for (Operation *add : adds)
      if (failed(raiser.raise(add)))
        return signalPassFailure();
  }
};

} // namespace
