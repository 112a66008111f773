//===- LoopedExpertsMatch.cpp - one iteration of the eager experts loop ---===//
#include "passes/raise/LoopedExpertsMatch.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using moec::definedByOnnx;
using moec::isOnnxOp;

namespace moec::raise::looped {

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

// The axes of a Squeeze/Unsqueeze/Reduce*: the input (opset 13+) or the
// attribute.
std::optional<std::vector<int64_t>> axesOf(Operation *op, unsigned input) {
  if (Value axes = moec::getOnnxInput(op, input))
    return moec::getKnownInts(axes);
  return moec::getIntsAttr(op, "axes");
}

namespace {

// The known int values of `v`, exactly `expected`.
bool knownIntsAre(Value v, ArrayRef<int64_t> expected) {
  auto known = moec::getKnownInts(v);
  return known && ArrayRef<int64_t>(*known) == expected;
}

bool axesAre(Operation *op, unsigned input, std::initializer_list<int64_t> accepted) {
  auto axes = axesOf(op, input);
  return axes && axes->size() == 1 && llvm::is_contained(accepted, axes->front());
}

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
  // dynamo's unbind: Slice(Transpose(nz), [r], [r + 1], axes [1]).
  if (Operation *slice = definedByOnnx(column, "Slice")) {
    auto starts = moec::getKnownInts(moec::getOnnxInput(slice, 1));
    auto ends = moec::getKnownInts(moec::getOnnxInput(slice, 2));
    Value axesValue = moec::getOnnxInput(slice, 3), steps = moec::getOnnxInput(slice, 4);
    auto axes = axesValue ? moec::getKnownInts(axesValue) : std::nullopt;
    Operation *transpose = definedByOnnx(slice->getOperand(0), "Transpose");
    auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
    Operation *nonzero = transpose ? definedByOnnx(transpose->getOperand(0), "NonZero") : nullptr;
    if (!nonzero || !perm || *perm != std::vector<int64_t>{1, 0} || !starts || !ends || !axes ||
        starts->size() != 1 || ends->size() != 1 || axes->size() != 1 ||
        ((*axes)[0] != 1 && (*axes)[0] != -1) || (*ends)[0] != (*starts)[0] + 1 ||
        (*starts)[0] < 0 || (*starts)[0] > 1 || (steps && !knownIntsAre(steps, {1})))
      return std::nullopt;
    return NonZeroRow{nonzero, (*starts)[0]};
  }
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

// hit_r, a result of the Split of the hit experts; or Squeeze(hit_r, [0]).
bool matchHitRow(Value row, Iteration &it) {
  Operation *split = definedByOnnx(row, "Split");
  if (!split)
    return false;
  it.hitSplit = split;
  it.hitRow = cast<OpResult>(row).getResultNumber();
  return true;
}
bool matchSqueezedHitRow(Operation *squeeze, Iteration &it) {
  return axesAre(squeeze, 1, {0}) && matchHitRow(squeeze->getOperand(0), it);
}

// e = Gather(Squeeze(Split_r, [0]), 0): the r-th expert that got a token.
bool matchHitExpert(Value e, Iteration &it) {
  Operation *gather = definedByOnnx(e, "Gather");
  if (!gather || moec::getIntAttr(gather, "axis", 0) != 0 || scalarInt(gather->getOperand(1)) != 0)
    return false;
  Value row = gather->getOperand(0);
  if (Operation *squeeze = definedByOnnx(row, "Squeeze"))
    return matchSqueezedHitRow(squeeze, it);
  return matchHitRow(row, it);
}

// W[e]: Transpose(Gather(W, e), [1, 0]), W stacked [E, out, in]; or, with
// W stored [E, in, out] (gpt-oss), Gather(W, e) itself (`inOut`). W is a
// rank-3 float constant. Sets `e` when it is null, else requires that index.
Value matchExpertWeight(Value v, Value &e, bool &inOut) {
  Operation *transpose = definedByOnnx(v, "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  if (transpose && (!perm || *perm != std::vector<int64_t>{1, 0}))
    return {};
  inOut = !transpose;
  Operation *gather = definedByOnnx(transpose ? transpose->getOperand(0) : v, "Gather");
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

// MatMul(input, W[e]), or Add(that, Gather(B, e)) with B a rank-2 float
// constant [E, out] (gpt-oss's biases, either operand). Returns the MatMul's
// input; sets the weight, its layout and the bias (null without one).
Value matchExpertProduct(Value out, Value e, Value &weight, bool &inOut, Value &bias) {
  bias = {};
  if (Operation *add = definedByOnnx(out, "Add")) {
    for (unsigned i = 0; i < 2 && !bias; ++i) {
      Operation *gather = definedByOnnx(add->getOperand(1 - i), "Gather");
      ElementsAttr elements =
          gather ? moec::getConstantElements(gather->getOperand(0)) : ElementsAttr();
      auto type = elements ? dyn_cast<RankedTensorType>(elements.getType()) : nullptr;
      if (type && type.getRank() == 2 && type.hasStaticShape() &&
          isa<FloatType>(type.getElementType()) && moec::getIntAttr(gather, "axis", 0) == 0 &&
          gather->getOperand(1) == e && definedByOnnx(add->getOperand(i), "MatMul")) {
        bias = gather->getOperand(0);
        out = add->getOperand(i);
      }
    }
    if (!bias)
      return {};
  }
  Operation *matmul = definedByOnnx(out, "MatMul");
  weight = matmul ? matchExpertWeight(matmul->getOperand(1), e, inOut) : Value();
  return weight ? matmul->getOperand(0) : Value();
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

} // namespace

std::optional<Mask> matchMask(Value maskT) {
  Operation *transpose = definedByOnnx(maskT, "Transpose");
  auto perm = transpose ? moec::getIntsAttr(transpose, "perm") : std::nullopt;
  if (!perm)
    return std::nullopt;
  Mask mask;
  if (Operation *oneHot = definedByOnnx(transpose->getOperand(0), "OneHot")) {
    // ids [T, k] -> OneHot [T, k, E] (axis -1 or 2).
    int64_t axis = moec::getIntAttr(oneHot, "axis", -1);
    if (axis != -1 && axis != 2)
      return std::nullopt;
    mask.oneHot = oneHot;
    mask.ids = oneHot->getOperand(0);
    auto depth = moec::getKnownInts(oneHot->getOperand(1));
    mask.classes = depth && depth->size() == 1 ? depth->front() : 0;
  } else {
    // Equal(Unsqueeze(ids, -1), [0, 1, .., E-1]) [T, k, E], cast to a number.
    Value v = transpose->getOperand(0);
    if (Operation *cast = definedByOnnx(v, "Cast"))
      v = cast->getOperand(0);
    Operation *equal = definedByOnnx(v, "Equal");
    if (!equal)
      return std::nullopt;
    for (unsigned i = 0; i < 2 && !mask.ids; ++i) {
      Operation *unsqueeze = definedByOnnx(equal->getOperand(i), "Unsqueeze");
      auto classes = moec::getKnownInts(equal->getOperand(1 - i));
      auto idsType = unsqueeze ? rankedType(unsqueeze->getOperand(0)) : nullptr;
      if (!unsqueeze || !axesAre(unsqueeze, 1, {2, -1}) || !classes || classes->empty() ||
          !idsType || idsType.getRank() != 2)
        continue;
      bool iota = true;
      for (size_t c = 0; c < classes->size(); ++c)
        iota &= (*classes)[c] == static_cast<int64_t>(c);
      if (!iota)
        continue;
      mask.ids = unsqueeze->getOperand(0);
      mask.classes = static_cast<int64_t>(classes->size());
    }
    if (!mask.ids)
      return std::nullopt;
  }
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

namespace {

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
  Operation *hit = squeeze ? definedByOnnx(e, "Squeeze") : nullptr;
  if (squeeze ? !hit || !matchSqueezedHitRow(hit, it) : !matchHitExpert(e, it))
    return false;
  it.slot = it.hitRow;
  return true;
}

// y = act(h) · down[e]ᵀ (+ down_bias[e]) with h = rows · gate_up[e]ᵀ
// (+ gate_up_bias[e]), act the gated activation of h's halves (or even and
// odd columns): the stacked weights of transformers 5, read at the mask
// row's e. gpt-oss stores them [E, in, out] and reads W[e] untransposed.
// Returns rows.
Value matchStackedExpert(Value y, Value e, Iteration &it) {
  ExpertWeights &w = it.stacked;
  Value a = matchExpertProduct(y, e, w.fc2, w.fc2InOut, w.fc2Bias);
  int64_t inter = a ? cast<ShapedType>(w.fc2.getType()).getDimSize(w.fc2InOut ? 1 : 2) : 0;
  SmallVector<Operation *> matched;
  ActivationMatcher activation(matched, [](Value v) { return v; });
  auto act = a ? activation.match(a) : std::nullopt;
  Value rows;
  if (act && activation.halves(*act, inter))
    rows = matchExpertProduct(act->fused, e, w.fc1, w.fc1InOut, w.fc1Bias);
  if (!rows) {
    it.stacked = {};
    return {};
  }
  it.activation = *act;
  return rows;
}

// y = down(act(gate(rows), up(rows))) with the expert's own constant
// weights (transformers 4: nn.Linear exported as a MatMul by the transposed
// weight or a Gemm with transB) and act the gated activation, whichever
// operand of its Mul the gate is. Returns rows.
Value matchLinearExpert(Value y, Iteration &it) {
  auto down = matchLinear(y, /*rankedValues=*/false);
  SmallVector<Operation *> matched;
  auto act = down ? ActivationMatcher(matched, [](Value v) { return v; }).match(down->input)
                  : std::nullopt;
  auto gate = act ? matchLinear(act->gate, false) : std::nullopt;
  auto up = gate ? matchLinear(act->up, false) : std::nullopt;
  if (!up || gate->input != up->input)
    return {};
  it.gate = *gate;
  it.up = *up;
  it.down = *down;
  it.activation = *act;
  return gate->input;
}

// x, when `rows` are its rows at `tokens`: Gather(x, tokens), or, as
// transformers 4 writes hidden_states[None, top_x].reshape(-1, H),
// Reshape(Gather(Unsqueeze(x, 0), tokens, axis 1), [-1, H]).
Value matchTokenRows(Value rows, Value tokens) {
  // dynamo: Reshape(Transpose(GatherND(Transpose(Unsqueeze(x, 0), [1, 0, 2]),
  // Unsqueeze(tokens, -1)), [1, 0, 2]), [-1, H]).
  if (Operation *reshape = definedByOnnx(rows, "Reshape")) {
    Operation *after = definedByOnnx(reshape->getOperand(0), "Transpose");
    Operation *gather = after ? definedByOnnx(after->getOperand(0), "GatherND") : nullptr;
    Operation *before = gather ? definedByOnnx(gather->getOperand(0), "Transpose") : nullptr;
    Operation *batch = before ? definedByOnnx(before->getOperand(0), "Unsqueeze") : nullptr;
    Operation *index = gather ? definedByOnnx(gather->getOperand(1), "Unsqueeze") : nullptr;
    auto swap = std::vector<int64_t>{1, 0, 2};
    if (batch && index && moec::getIntsAttr(after, "perm") == swap &&
        moec::getIntsAttr(before, "perm") == swap && moec::getIntAttr(gather, "batch_dims", 0) == 0 &&
        axesAre(batch, 1, {0}) && axesAre(index, 1, {1, -1}) && index->getOperand(0) == tokens) {
      Value x = batch->getOperand(0);
      auto xType = rankedType(x);
      auto target = ShapeEvaluator(Value(), {}).eval(reshape->getOperand(1));
      if (xType && xType.getRank() == 2 && !xType.isDynamicDim(1) && target &&
          *target == SmallVector<int64_t>{-1, xType.getDimSize(1)})
        return x;
      return {};
    }
  }
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
  auto target = ShapeEvaluator(Value(), {}).eval(reshape->getOperand(1));
  if (!xType || xType.getRank() != 2 || xType.isDynamicDim(1) || !target ||
      *target != SmallVector<int64_t>{-1, xType.getDimSize(1)})
    return {};
  return x;
}

} // namespace

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

bool matchScatterNDIteration(Operation *scatter, Iteration &it) {
  if (!isOnnxOp(scatter, "ScatterND") ||
      moec::getStringAttr(scatter, "reduction", "none") != "add")
    return false;
  it.zerosOf = scatter->getOperand(0);
  // indices = Unsqueeze(token, -1): whole rows of the [T, H] accumulator.
  Operation *unsqueeze = definedByOnnx(scatter->getOperand(1), "Unsqueeze");
  if (!unsqueeze || !axesAre(unsqueeze, 1, {1, -1}))
    return false;
  Value tokens = unsqueeze->getOperand(0);
  auto token = matchNonZeroRow(tokens);
  Value e;
  if (!token || !matchMaskRow(token->nonzero, it, e))
    return false;
  it.nonzero = token->nonzero;
  auto mask = matchMask(it.maskT);
  if (!mask || token->row != mask->tokenRow)
    return false;
  // updates = expert(x[token]) * w[token, choice], either way round, with
  // w[token, choice] = GatherND(Unsqueeze(w, -1), Concat(Unsqueeze(token, -1),
  // Unsqueeze(choice, -1), axis -1)) [n, 1].
  Operation *scale = definedByOnnx(scatter->getOperand(2), "Mul");
  if (!scale)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    Value y = scale->getOperand(i), rw = scale->getOperand(1 - i);
    Operation *pick = definedByOnnx(rw, "GatherND");
    Operation *column = pick ? definedByOnnx(pick->getOperand(0), "Unsqueeze") : nullptr;
    Operation *pair = pick ? definedByOnnx(pick->getOperand(1), "Concat") : nullptr;
    if (!y.hasOneUse() || !column || !pair || pair->getNumOperands() != 2 ||
        !axesAre(column, 1, {2, -1}) || moec::getIntAttr(pick, "batch_dims", 0) != 0 ||
        !isLastAxis(moec::getIntAttr(pair, "axis", 0), 2) || pair->getOperand(0) != scatter->getOperand(1))
      continue;
    Operation *choiceColumn = definedByOnnx(pair->getOperand(1), "Unsqueeze");
    auto choice = choiceColumn && axesAre(choiceColumn, 1, {1, -1})
                      ? matchNonZeroRow(choiceColumn->getOperand(0))
                      : std::nullopt;
    auto wType = rankedType(column->getOperand(0));
    if (!choice || choice->nonzero != token->nonzero || choice->row != mask->choiceRow ||
        !wType || wType.getRank() != 2 || wType.isDynamicDim(1))
      continue;
    Value rows = matchStackedExpert(y, e, it);
    if (!rows && (rows = matchLinearExpert(y, it)))
      it.perExpert = true;
    it.x = rows ? matchTokenRows(rows, tokens) : Value();
    if (!it.x)
      continue;
    it.weights = column->getOperand(0);
    it.k = wType.getDimSize(1);
    return true;
  }
  return false;
}

} // namespace moec::raise::looped
