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
// transformers 4.x (Mixtral, Qwen2-MoE, OLMoE) gives each expert its own
// module with nn.Linear weights, and its exports differ in three places:
//   - e = Squeeze(hit_i, [0]) (a [1] index; the mask row is then squeezed),
//     or, for the loop over all E experts (OLMoE in 4.57), a constant i: that
//     form is valid for every input;
//   - the rows are Reshape(Gather(Unsqueeze(x, 0), token, axis 1), [-1, H]);
//   - y = down(silu(gate(rows)) * up(rows)), each Linear a MatMul by the
//     expert's own constant [in, out] (or the Transpose of one [out, in]) or
//     a Gemm with transB, with an optional bias;
// and the accumulator starts at zeros of Concat(batch * seq, H), computed
// from the shape x was reshaped from. The weights are stacked at compile time
// into fc1 (gates) [E, I, H], fc3 (ups) [E, I, H], fc2 (downs) [E, H, I] with
// swiglu_fusion = 0, each iteration's at the expert its mask row names
// (hit row i or constant i), never by its position in the sum.
//
// Anything that does not match is left alone, without a diagnostic: a
// missing or repeated iteration, other weights in some iteration, the gate
// and linear halves swapped, a multiplier not read from w at (token, choice),
// an intermediate value with a use outside the block (other than shape
// arithmetic on values outside it), another activation, per-expert weights
// of different shapes.
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
      if (!isWholeShape(op))
        return std::nullopt;
      if (op->getOperand(0) == of)
        return dims;
      // Any other ranked value: its static dims (kUnknown is kDynamic).
      if (auto type = rankedType(op->getOperand(0)))
        return SmallVector<int64_t>(type.getShape());
      return std::nullopt;
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
  Operation *hitSplit = nullptr; // the Split of the hit experts (null: a constant e)
  int64_t hitRow = -1;           // which of its results this iteration takes
  int64_t slot = -1;             // the expert it computes: hitRow, or the constant e
  Value maskT;                   // [E, k, T] (or [E, T, k]) one-hot it selects from
  Operation *nonzero = nullptr;  // NonZero(maskT[e])
  Value x, weights, fc1, fc2;    // fc1, fc2: the stacked weights (transformers 5)
  Linear gate, up, down;         // or the expert's own nn.Linear weights (transformers 4)
  bool perExpert = false;
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

// The mask row an iteration's tokens come from: NonZero([Cast to bool](maskT[e]))
// with e the r-th hit expert, Gather(Squeeze(hit_r), 0) (transformers 5), or
// a constant (a loop over all E experts). transformers 4 gathers with the
// 1-element Squeeze(hit_r, [0]) (or a [1] constant) and squeezes the
// [1, k, T] row. Sets e, maskT and the expert the iteration computes.
bool matchMaskRow(Operation *nonzero, Iteration &it, Value &e) {
  Value selected = nonzero->getOperand(0);
  if (Operation *cast = definedByOnnx(selected, "Cast"))
    if (elementTypeOf(selected) && elementTypeOf(selected).isInteger(1))
      selected = cast->getOperand(0);
  Operation *squeeze = definedByOnnx(selected, "Squeeze");
  if (squeeze) {
    if (!axesAre(squeeze, 1, {0}))
      return false;
    selected = squeeze->getOperand(0);
  }
  Operation *pick = definedByOnnx(selected, "Gather");
  if (!pick || moec::getIntAttr(pick, "axis", 0) != 0)
    return false;
  it.maskT = pick->getOperand(0);
  e = pick->getOperand(1);
  if (auto constant = scalarInt(e)) {
    // A scalar picks the row [k, T]; a [1] index picks [1, k, T], squeezed.
    auto type = rankedType(e);
    if (!type || type.getRank() != (squeeze ? 1 : 0))
      return false;
    it.slot = *constant;
    return true;
  }
  if (squeeze) {
    Operation *hit = definedByOnnx(e, "Squeeze");
    Value row = hit && axesAre(hit, 1, {0}) ? hit->getOperand(0) : Value();
    Operation *split = definedByOnnx(row, "Split");
    if (!split)
      return false;
    it.hitSplit = split;
    it.hitRow = cast<OpResult>(row).getResultNumber();
  } else if (!matchHitExpert(e, it)) {
    return false;
  }
  it.slot = it.hitRow;
  return true;
}

// y = (silu(h[:, :I]) * h[:, I:]) · down[e]ᵀ with h = rows · gate_up[e]ᵀ: the
// stacked weights of transformers 5, read at the mask row's e. Returns rows.
Value matchStackedExpert(Value y, Value e, Iteration &it) {
  Operation *down = definedByOnnx(y, "MatMul");
  it.fc2 = down ? matchExpertWeightT(down->getOperand(1), e) : Value();
  if (!it.fc2)
    return {};
  int64_t inter = cast<ShapedType>(it.fc2.getType()).getDimSize(2);
  Value a = down->getOperand(0);
  Value h = a.hasOneUse() ? matchGatedHalves(a, 2 * inter) : Value();
  Operation *up = definedByOnnx(h, "MatMul");
  it.fc1 = up && up->getOperand(0).hasOneUse() ? matchExpertWeightT(up->getOperand(1), e) : Value();
  if (!it.fc1)
    it.fc2 = {};
  return it.fc1 ? up->getOperand(0) : Value();
}

// y = down(silu(gate(rows)) * up(rows)) with the expert's own constant
// weights (transformers 4: nn.Linear exported as a MatMul by the transposed
// weight or a Gemm with transB). The gate is the Linear under the silu,
// whichever operand of the Mul it is. Returns rows.
Value matchLinearExpert(Value y, Iteration &it) {
  auto down = matchLinear(y, /*rankedValues=*/false);
  Operation *mul = down && down->input.hasOneUse() ? definedByOnnx(down->input, "Mul") : nullptr;
  if (!mul)
    return {};
  for (unsigned i = 0; i < 2; ++i) {
    Value activated = mul->getOperand(i), linear = mul->getOperand(1 - i);
    Value g = activated.hasOneUse() ? matchSilu(activated) : Value();
    if (!g || !linear.hasOneUse())
      continue;
    auto gate = matchLinear(g, false), up = matchLinear(linear, false);
    if (!gate || !up || gate->input != up->input)
      continue;
    it.gate = *gate;
    it.up = *up;
    it.down = *down;
    return gate->input;
  }
  return {};
}

// x, when `rows` are its rows at `tokens`: Gather(x, tokens), or, as
// transformers 4 writes hidden_states[None, top_x].reshape(-1, H),
// Reshape(Gather(Unsqueeze(x, 0), tokens, axis 1), [-1, H]).
Value matchTokenRows(Value rows, Value tokens) {
  if (Operation *gather = definedByOnnx(rows, "Gather"))
    return moec::getIntAttr(gather, "axis", 0) == 0 && gather->getOperand(1) == tokens
               ? gather->getOperand(0)
               : Value();
  Operation *reshape = definedByOnnx(rows, "Reshape");
  Operation *gather = reshape ? definedByOnnx(reshape->getOperand(0), "Gather") : nullptr;
  Operation *batch = gather ? definedByOnnx(gather->getOperand(0), "Unsqueeze") : nullptr;
  if (!batch || moec::getIntAttr(gather, "axis", 0) != 1 || gather->getOperand(1) != tokens ||
      !axesAre(batch, 1, {0}))
    return {};
  Value x = batch->getOperand(0);
  auto xType = rankedType(x);
  auto target = IntEvaluator(Value(), {}).eval(reshape->getOperand(1));
  if (!xType || xType.getRank() != 2 || xType.isDynamicDim(1) || !target ||
      *target != SmallVector<int64_t>{-1, xType.getDimSize(1)})
    return {};
  return x;
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

  // The tokens are a row of NonZero(maskT[e]); e says which expert.
  Value e;
  if (!matchMaskRow(token->nonzero, it, e))
    return false;
  it.nonzero = token->nonzero;
  auto mask = matchMask(it.maskT);
  if (!mask || token->row != mask->tokenRow)
    return false;

  // scaled = expert(x[token]) * rw, either way round.
  Operation *scale = definedByOnnx(scaled, "Mul");
  if (!scale)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    Value y = scale->getOperand(i), rw = scale->getOperand(1 - i);
    if (!y.hasOneUse())
      continue;
    Value rows = matchStackedExpert(y, e, it);
    if (!rows && (rows = matchLinearExpert(y, it)))
      it.perExpert = true;
    it.x = rows ? matchTokenRows(rows, tokens) : Value();
    if (it.x)
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

// Whether `shape` is x's shape [T, H]: Shape(x), or, where x = Reshape(src,
// [-1, H]) flattens src's leading axes, Concat(d0 * ... * d(r-2), H) of
// src's dims (transformers 4's torch.zeros((batch * seq, H))).
bool isShapeOf(Value shape, Value x, int64_t hidden) {
  if (Operation *whole = definedByOnnx(shape, "Shape"))
    return whole->getOperand(0) == x && isWholeShape(whole);
  Operation *concat = definedByOnnx(shape, "Concat");
  Operation *reshape = definedByOnnx(x, "Reshape");
  Value src = reshape ? reshape->getOperand(0) : Value();
  auto srcType = rankedType(src);
  if (!concat || concat->getNumOperands() != 2 || !srcType || srcType.getRank() < 2 ||
      srcType.getShape().back() != hidden)
    return false;
  IntEvaluator evaluator(Value(), {});
  auto target = evaluator.eval(reshape->getOperand(1));
  auto width = evaluator.eval(concat->getOperand(1));
  if (!target || *target != SmallVector<int64_t>{-1, hidden} || !width ||
      *width != SmallVector<int64_t>{hidden})
    return false;
  // The rows: a product of Gather(Shape(src), i), each leading axis i once.
  int64_t leading = srcType.getRank() - 1;
  llvm::SmallBitVector used(leading);
  SmallVector<Value> factors{concat->getOperand(0)};
  while (!factors.empty()) {
    Value factor = factors.pop_back_val();
    Operation *op = factor.getDefiningOp();
    if (op && (isOnnxOp(op, "Unsqueeze") || isOnnxOp(op, "Squeeze") || isOnnxOp(op, "Identity"))) {
      factors.push_back(op->getOperand(0)); // one element: the axes change no value
      continue;
    }
    if (op && isOnnxOp(op, "Mul")) {
      factors.append({op->getOperand(0), op->getOperand(1)});
      continue;
    }
    // A static axis may have been folded to its size.
    auto known = moec::getKnownInts(factor);
    std::optional<int64_t> axis;
    if (known && known->size() == 1) {
      for (int64_t i = 0; i < leading && !axis; ++i)
        if (!used.test(i) && srcType.getDimSize(i) == known->front())
          axis = i;
    } else if (Operation *dims = op && isOnnxOp(op, "Gather")
                                     ? definedByOnnx(op->getOperand(0), "Shape")
                                     : nullptr) {
      if (dims->getOperand(0) == src && isWholeShape(dims) && moec::getIntAttr(op, "axis", 0) == 0)
        axis = scalarInt(op->getOperand(1));
      if (axis && *axis < 0)
        *axis += leading + 1;
    }
    if (!axis || *axis < 0 || *axis >= leading || used.test(*axis))
      return false;
    used.set(*axis);
  }
  return used.all();
}

// Integer arithmetic on constants and the shapes of values outside the
// block (transformers 4 computes its sizes from Shape(hidden_states), and
// shares them with the code around the block): it stays valid, and stays
// alive for its other users, when the block is replaced.
bool isOuterShapeArithmetic(Operation *op, const llvm::SmallPtrSetImpl<Operation *> &inside,
                            int depth = 0) {
  if (depth > 16 || op->getNumResults() != 1)
    return false;
  if (isOnnxOp(op, "Shape")) {
    Operation *of = op->getOperand(0).getDefiningOp();
    return !of || !inside.contains(of);
  }
  if (!isa_and_nonnull<IntegerType>(elementTypeOf(op->getResult(0))) ||
      !llvm::any_of(std::initializer_list<StringRef>{"Constant", "Gather", "Unsqueeze", "Squeeze",
                                                     "Concat", "Mul", "Add", "Sub", "Div",
                                                     "Cast", "Identity"},
                    [&](StringRef type) { return isOnnxOp(op, type); }))
    return false;
  return llvm::all_of(op->getOperands(), [&](Value v) {
    Operation *def = v.getDefiningOp();
    return def && isOuterShapeArithmetic(def, inside, depth + 1);
  });
}

// Whether every op between `root` and the `leaves` (and constants) is used
// only inside that set (or is shape arithmetic on values outside it), so
// replacing the root leaves all of the loop dead.
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
        if (!inside.contains(user) && !isOuterShapeArithmetic(op, inside))
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

    std::vector<Iteration> iterations;
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
          it.perExpert != first.perExpert || it.k != first.k || it.slot < 0 ||
          it.slot >= experts || seen.test(it.slot))
        return success();
      seen.set(it.slot);
    }
    // E iterations, each row of an E-way split once (or each constant e in
    // 0..E-1 once): every expert once.
    if (first.hitSplit && !matchHitSplit(first.hitSplit, first.maskT, experts))
      return success();

    // Sizes from x and the weights: x [T, H], gate_up [E, 2I, H], down [E, H, I]
    // (or per expert: gate and up H -> I, down I -> H).
    Value x = first.x;
    auto xType = rankedType(x);
    if (!xType || xType.getRank() != 2 || xType.isDynamicDim(1) ||
        elementTypeOf(result) != xType.getElementType())
      return success();
    int64_t hidden = xType.getDimSize(1);
    Type element = xType.getElementType();
    if (first.perExpert) {
      const Linear &gate = first.gate, &up = first.up, &down = first.down;
      if (gate.in != hidden || up.in != hidden || up.out != gate.out || down.in != gate.out ||
          down.out != hidden || gate.weight.getElementType() != element)
        return success();
      for (const Iteration &it : iterations)
        if (!sameShape(it.gate, gate) || !sameShape(it.up, up) || !sameShape(it.down, down))
          return success();
    } else {
      auto fc1Type = cast<RankedTensorType>(first.fc1.getType());
      auto fc2Type = cast<RankedTensorType>(first.fc2.getType());
      int64_t inter = fc2Type.getDimSize(2);
      if (fc1Type.getShape() != ArrayRef<int64_t>{experts, 2 * inter, hidden} ||
          fc2Type.getShape() != ArrayRef<int64_t>{experts, hidden, inter} ||
          fc1Type.getElementType() != element || fc2Type.getElementType() != element)
        return success();
    }

    // The accumulator starts at zeros of x's shape, and every term's zeros
    // and broadcast row come from x or the accumulator (all [T, H]).
    llvm::SmallDenseSet<Value> sameShape(accs.begin(), accs.end());
    sameShape.insert(x);
    Operation *zeros = definedByOnnx(acc, "ConstantOfShape");
    if (!zeros || !isShapeOf(zeros->getOperand(0), x, hidden) || !isZeroFill(zeros) ||
        elementTypeOf(acc) != element)
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
    if (!first.perExpert)
      return build(root, *router, x, {first.fc1, {}, first.fc2, {}, {}, {}}, 2);
    return buildStacked(root, *router, x, iterations);
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

  // moe.experts' weights: fc1 (gate, or gate_up with swiglu_fusion 2), fc2
  // (down), fc3 (up, with swiglu_fusion 0), each with an optional bias.
  struct Weights {
    Value fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias;
  };

  // Stacks every iteration's own weights at the expert it computes (its
  // slot), so expert i's weights are the ones used with mask row i.
  LogicalResult buildStacked(Operation *root, const SoftmaxRouter &router, Value x,
                             ArrayRef<Iteration> iterations) {
    size_t experts = iterations.size();
    SmallVector<const Linear *> gates(experts), ups(experts), downs(experts);
    for (const Iteration &it : iterations) {
      gates[it.slot] = &it.gate;
      ups[it.slot] = &it.up;
      downs[it.slot] = &it.down;
    }
    OpBuilder b(root);
    Location loc = root->getLoc();
    SmallVector<Operation *> created;
    bool unreadable = false;
    auto stack = [&](ArrayRef<const Linear *> linears, bool bias, StringRef key) {
      if (bias && !linears.front()->bias)
        return Value();
      Value v = stackLinears(b, loc, linears, bias, key);
      if (v)
        created.push_back(v.getDefiningOp());
      unreadable |= !v;
      return v;
    };
    Weights w;
    w.fc1 = stack(gates, false, "looped_experts.fc1");
    w.fc1Bias = stack(gates, true, "looped_experts.fc1_bias");
    w.fc2 = stack(downs, false, "looped_experts.fc2");
    w.fc2Bias = stack(downs, true, "looped_experts.fc2_bias");
    w.fc3 = stack(ups, false, "looped_experts.fc3");
    w.fc3Bias = stack(ups, true, "looped_experts.fc3_bias");
    if (unreadable) {
      // A weight whose data cannot be read (a dropped blob): leave the loop.
      for (Operation *op : llvm::reverse(created))
        op->erase();
      return success();
    }
    return build(root, router, x, w, 0);
  }

  LogicalResult build(Operation *root, const SoftmaxRouter &router, Value x, const Weights &w,
                      int64_t fusion) {
    OpBuilder b(root);
    Location loc = root->getLoc();
    bool created = !router.existing;
    moe::RouterOp route = getOrCreateRouter(b, loc, router);
    // gate_up as it is: the gate rows first (swiglu_fusion 2), or separate
    // gate and up (0); SwiGLU with alpha 1, beta 0 and no limit is exactly
    // silu(gate) * up.
    auto grouped = moe::ExpertsOp::create(
        b, loc, x.getType(), x, route.getWeights(), route.getExpertIds(), w.fc1, w.fc1Bias, w.fc2,
        w.fc2Bias, w.fc3, w.fc3Bias, b.getStringAttr("swiglu"), b.getI64IntegerAttr(fusion),
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
