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
// gpt-oss (transformers 5) stores its experts [E, in, out] (gate_up
// [E, H, 2I], down [E, I, H]) with biases [E, 2I] and [E, H]: each layer is
// MatMul(v, Gather(W, e)) + Gather(b, e), with no Transpose; gate and up are
// h's even and odd columns (Slices with step 2) and the activation is the
// clamped (clamp(up, -l, l) + 1) * (g * sigmoid(g * 1.702)), g = min(gate, l).
// That becomes moe.experts with swiglu_fusion 1, alpha, beta and limit, both
// biases, and the weights transposed to [E, out, in] at compile time. The
// activation matcher (ExpertActivation.h) is the one moec-raise-batched-experts
// uses; the per-iteration matcher is in LoopedExpertsMatch.cpp.
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
// The dynamo exporter writes the 4.x loop over all E experts (OLMoE) its own
// way: the one-hot as Cast(Equal(Unsqueeze(ids, -1), [0 .. E-1])), NonZero's
// rows unbound by Squeeze(Slice(.., [r], [r + 1], axis 1)), the rows and the
// routing weight read with GatherND, and the sum accumulated by a chain of
// ScatterND(acc, Unsqueeze(token, -1), y * w[token, choice], reduction add)
// from Expand(0, shape of x). The chain ends in a ScatterND, not an Add.
//
// Anything that does not match is left alone, without a diagnostic: a
// missing or repeated iteration, other weights in some iteration, the gate
// and linear halves swapped, a multiplier not read from w at (token, choice),
// an intermediate value with a use outside the block (other than shape
// arithmetic on values outside it), another activation or clamps
// moe.experts cannot express, a bias gathered at another expert's e,
// per-expert weights of different shapes.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/LoopedExpertsMatch.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace moec {
#define GEN_PASS_DEF_MOECRAISELOOPEDEXPERTS
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec::raise;
using namespace moec::raise::looped;
using moec::definedByOnnx;
using moec::isOnnxOp;

namespace {


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
  ShapeEvaluator evaluator(Value(), {});
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
    } else if (op && isOnnxOp(op, "Shape") && op->getOperand(0) == src &&
               op->getAttr("end") &&
               moec::getIntAttr(op, "end", 0) == moec::getIntAttr(op, "start", 0) + 1) {
      axis = moec::getIntAttr(op, "start", 0); // Shape(src)[i:i+1] (opset 15)
      if (*axis < 0)
        *axis += leading + 1;
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
  // An axis of size 1 may be left out of the product.
  for (int64_t i = 0; i < leading; ++i)
    if (!used.test(i) && srcType.getDimSize(i) != 1)
      return false;
  return true;
}

// The accumulator's start: ConstantOfShape(shape of x) of zeros, or, as
// dynamo exports zeros_like, Expand(0, shape of x).
bool isZerosOf(Value acc, Value x, int64_t hidden) {
  if (Operation *zeros = definedByOnnx(acc, "ConstantOfShape"))
    return isShapeOf(zeros->getOperand(0), x, hidden) && isZeroFill(zeros);
  Operation *expand = definedByOnnx(acc, "Expand");
  if (!expand)
    return false;
  ElementsAttr fill = moec::getConstantElements(expand->getOperand(0));
  auto value = fill && fill.getNumElements() == 1 ? moec::getElementAsDouble(fill, 0)
                                                  : std::nullopt;
  return value && *value == 0.0 && isShapeOf(expand->getOperand(1), x, hidden);
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
    SmallVector<Value> accs;
    std::vector<Iteration> iterations;
    Value acc = result;
    if (isScatterAdd(root)) {
      // dynamo: a chain of ScatterND(acc, rows, updates, reduction add).
      for (Operation *user : result.getUsers())
        if (isScatterAdd(user) && user->getOperand(0) == result)
          return success(); // not the last step
      while (Operation *scatter = acc.getDefiningOp()) {
        if (!isScatterAdd(scatter))
          break;
        Iteration it;
        if (!matchScatterNDIteration(scatter, it))
          return success();
        iterations.push_back(it);
        accs.push_back(acc);
        acc = scatter->getOperand(0);
      }
    } else {
      if (!termIndex(root))
        return success();
      // The last Add of the chain: not the accumulator of another term.
      for (OpOperand &use : result.getUses()) {
        auto index = termIndex(use.getOwner());
        if (index && use.getOperandNumber() != *index)
          return success();
      }
      SmallVector<Value> terms;
      while (Operation *add = definedByOnnx(acc, "Add")) {
        auto index = termIndex(add);
        if (!index)
          break;
        accs.push_back(acc);
        terms.push_back(add->getOperand(*index));
        acc = add->getOperand(1 - *index);
      }
      for (Value term : terms) {
        Iteration it;
        if (!matchIteration(term, it))
          return success();
        iterations.push_back(it);
      }
    }
    accs.push_back(acc);
    if (iterations.empty())
      return success();
    const Iteration &first = iterations.front();
    int64_t experts = static_cast<int64_t>(iterations.size());
    llvm::SmallBitVector seen(experts);
    for (const Iteration &it : iterations) {
      if (it.hitSplit != first.hitSplit || it.maskT != first.maskT || it.x != first.x ||
          it.weights != first.weights || !sameStacked(it.stacked, first.stacked) ||
          !sameActivation(it.activation, first.activation) || it.perExpert != first.perExpert ||
          it.k != first.k || it.slot < 0 || it.slot >= experts || seen.test(it.slot))
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
      // gate_up [E, 2I, H] and down [E, H, I], or gpt-oss's [E, H, 2I] and
      // [E, I, H]; biases [E, 2I] and [E, H].
      const ExpertWeights &w = first.stacked;
      auto fc1Type = cast<RankedTensorType>(w.fc1.getType());
      auto fc2Type = cast<RankedTensorType>(w.fc2.getType());
      int64_t inter = fc2Type.getDimSize(w.fc2InOut ? 1 : 2);
      auto layout = [&](bool inOut, int64_t out, int64_t in) {
        return inOut ? SmallVector<int64_t>{experts, in, out}
                     : SmallVector<int64_t>{experts, out, in};
      };
      auto biasFits = [&](Value bias, int64_t out) {
        return !bias || (cast<RankedTensorType>(bias.getType()).getShape() ==
                             ArrayRef<int64_t>{experts, out} &&
                         elementTypeOf(bias) == element);
      };
      if (fc1Type.getShape() != ArrayRef<int64_t>(layout(w.fc1InOut, 2 * inter, hidden)) ||
          fc2Type.getShape() != ArrayRef<int64_t>(layout(w.fc2InOut, hidden, inter)) ||
          fc1Type.getElementType() != element || fc2Type.getElementType() != element ||
          !biasFits(w.fc1Bias, 2 * inter) || !biasFits(w.fc2Bias, hidden))
        return success();
    }

    // The accumulator starts at zeros of x's shape, and every term's zeros
    // and broadcast row come from x or the accumulator (all [T, H]).
    llvm::SmallDenseSet<Value> sameShape(accs.begin(), accs.end());
    sameShape.insert(x);
    if (!isZerosOf(acc, x, hidden) || elementTypeOf(acc) != element)
      return success();
    for (const Iteration &it : iterations)
      if (!sameShape.contains(it.zerosOf) || (it.rowOf && !sameShape.contains(it.rowOf)) ||
          (it.rowOf && it.rowEnd < hidden))
        return success();

    // The mask is the one-hot of the router's ids over the E experts, or
    // over E + 1 classes (transformers 5 reserves class E for tokens routed
    // nowhere; a top-k of E logits never selects it, so it is never hit).
    auto mask = matchMask(first.maskT);
    Value ids = mask->ids;
    if (mask->classes != experts && mask->classes != experts + 1)
      return success();
    if (Operation *oneHot = mask->oneHot) {
      ElementsAttr values = moec::getConstantElements(oneHot->getOperand(2));
      auto off = values && values.getNumElements() == 2 ? moec::getElementAsDouble(values, 0)
                                                        : std::nullopt;
      auto on = values && values.getNumElements() == 2 ? moec::getElementAsDouble(values, 1)
                                                       : std::nullopt;
      if (!off || *off != 0.0 || !on || *on <= 0.0)
        return success();
    }

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
    const GatedActivation &act = first.activation;
    SwigluParams swiglu{first.perExpert ? 0 : act.fusion, act.alpha, act.beta, act.limit};
    if (!first.perExpert)
      return replaceByExperts(root, *router, x, first.stacked, swiglu);
    return buildStacked(root, *router, x, iterations, swiglu);
  }

private:
  static bool isScatterAdd(Operation *op) {
    return isOnnxOp(op, "ScatterND") && moec::getStringAttr(op, "reduction", "none") == "add";
  }

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

  static bool sameStacked(const ExpertWeights &a, const ExpertWeights &b) {
    return a.fc1 == b.fc1 && a.fc1Bias == b.fc1Bias && a.fc2 == b.fc2 && a.fc2Bias == b.fc2Bias &&
           a.fc1InOut == b.fc1InOut && a.fc2InOut == b.fc2InOut;
  }

  static bool sameActivation(const GatedActivation &a, const GatedActivation &b) {
    return a.fusion == b.fusion && a.alpha == b.alpha && a.beta == b.beta && a.limit == b.limit;
  }

  // Stacks every iteration's own weights at the expert it computes (its
  // slot), so expert i's weights are the ones used with mask row i.
  LogicalResult buildStacked(Operation *root, const SoftmaxRouter &router, Value x,
                             ArrayRef<Iteration> iterations, const SwigluParams &swiglu) {
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
    ExpertWeights w;
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
    return replaceByExperts(root, router, x, w, swiglu);
  }
};

struct RaiseLoopedExpertsPass : moec::impl::MoecRaiseLoopedExpertsBase<RaiseLoopedExpertsPass> {
  using MoecRaiseLoopedExpertsBase::MoecRaiseLoopedExpertsBase;
  void runOnOperation() override {
    Raiser raiser;
    // The accumulation ends in an Add (torchscript) or a ScatterND (dynamo).
    for (StringRef last : {"Add", "ScatterND"})
      if (failed(raiseEach(getOperation(), last,
                           [&](Operation *op) { return raiser.raise(op); }))) {
        signalPassFailure();
        return;
      }
  }
};

} // namespace
