//===- RaiseDenseMoE.cpp - densely computed MoE blocks to top-k dispatch ----===//
//
// Some exports unroll the per-expert loop of an MoE block and compute every
// expert for every token, scaling each expert's output by a routing weight
// that is zero unless the expert is among the token's top k:
//
//   probs = Softmax(logits)            or  v, idx = TopK(logits, k)
//   v, idx = TopK(probs, k)                w = Softmax(v)
//   w = v  |  v / ReduceSum(v, last, keepdims)
//   for e in 0..E-1:
//     rw_e = ReduceSum(Where(Equal(idx, e), w, 0)          (or Mul(Cast(Equal(idx, e)), w))
//                      over k) [Unsqueeze / Reshape to [T, 1]]
//     y_e  = FFN_e(x)
//   y = y_0 * rw_0 + y_1 * rw_1 + ...                      (Adds in any association)
//
// (The top k may also be the results of a moe.router that an earlier pass
// raised, e.g. a sigmoid router: it is reused as it is.)
//
// That runs E/k times the expert FLOPs the model needs. This pass recognizes
// the whole block and replaces the sum by moe.router + moe.experts, so only
// the selected experts run. The per-expert weights are stacked (transposed
// where the export wrote them [in, out]) into the com.microsoft.MoE layout
// moe.experts reads: fc1 [E, I, H], fc2 [E, H, I], fc3 [E, I, H].
//
// FFN_e is one of (each linear a MatMul by a constant, or by the Transpose of
// one, or a Gemm with alpha = beta = 1; each with an optional constant bias):
//   SwiGLU:  W2(silu(W1 x) * (W3 x)), silu written Mul(g, Sigmoid(g))
//   single:  W2(act(W1 x)) with act Relu or silu
// and every expert must have the same form, shapes and types.
//
// Anything else is left alone, without a diagnostic: the dense form is a
// correct (if slow) program. In particular: a missing or repeated expert id,
// selections from different TopKs, weights that are not constants, experts
// of different structure, an intermediate value with a use outside the
// block, a router that is not a softmax, an incomplete sum.
//
// One observable difference, by design: the dense form multiplies every
// expert's output by its routing weight, so an unselected expert that
// produces inf or NaN turns the sum into NaN (inf * 0). The raised form does
// not compute unselected experts, so their overflow never reaches the output.
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

#include <limits>
#include <map>

namespace moec {
#define GEN_PASS_DEF_MOECRAISEDENSEMOE
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec::raise;
using moec::definedByOnnx;
using moec::isOnnxOp;
namespace moe = moec::moe;

namespace {

struct Expert {
  std::string activation; // "swiglu", "silu" or "relu"
  Linear fc1, fc2;
  std::optional<Linear> fc3; // SwiGLU's linear (ungated) branch
};

// Matches y = FFN(x); every value strictly inside the FFN has no use outside.
std::optional<Expert> matchFfn(Value y) {
  Expert expert;
  if (!y.hasOneUse())
    return std::nullopt;
  auto fc2 = matchLinear(y);
  if (!fc2 || !fc2->input.hasOneUse())
    return std::nullopt;
  expert.fc2 = *fc2;
  Value h = fc2->input;
  Value gate;
  if (Operation *mul = definedByOnnx(h, "Mul")) {
    for (unsigned i = 0; i < 2 && !expert.fc3; ++i) {
      Value a = mul->getOperand(i), b = mul->getOperand(1 - i);
      Value g = a.hasOneUse() ? matchSilu(a) : Value();
      if (!g || !b.hasOneUse())
        continue;
      auto fc1 = matchLinear(g), fc3 = matchLinear(b);
      if (!fc1 || !fc3 || fc1->input != fc3->input)
        continue;
      expert.activation = "swiglu";
      expert.fc1 = *fc1;
      expert.fc3 = *fc3;
    }
    if (expert.fc3)
      return expert;
  }
  if (Operation *relu = definedByOnnx(h, "Relu")) {
    gate = relu->getOperand(0);
    if (!gate.hasOneUse())
      return std::nullopt;
    expert.activation = "relu";
  } else if ((gate = matchSilu(h))) {
    expert.activation = "silu";
  } else {
    return std::nullopt;
  }
  auto fc1 = matchLinear(gate);
  if (!fc1)
    return std::nullopt;
  expert.fc1 = *fc1;
  return expert;
}

// rw_e: expert `expert`'s routing weight, [T, 1], selected from the top-k
// (`weights`, `ids`).
struct Selection {
  Value ids, weights;
  int64_t expert = -1;
};

std::optional<Selection> matchSelection(Value rw) {
  auto rwType = rankedType(rw);
  if (!rw.hasOneUse() || !rwType || rwType.getRank() != 2 || rwType.getDimSize(1) != 1)
    return std::nullopt;
  // [T] -> [T, 1] by Unsqueeze or Reshape; or a ReduceSum that kept the dim.
  Value sum = rw;
  int64_t keepdims = 1;
  Operation *column = definedByOnnx(rw, "Unsqueeze");
  if (!column)
    column = definedByOnnx(rw, "Reshape");
  if (column) {
    sum = column->getOperand(0);
    auto sumType = rankedType(sum);
    if (!sumType || sumType.getRank() != 1 || !sum.hasOneUse() ||
        sumType.getDimSize(0) != rwType.getDimSize(0))
      return std::nullopt;
    keepdims = 0;
  }
  Operation *reduce = definedByOnnx(sum, "ReduceSum");
  if (!reduce || !reducesLastAxis(reduce, keepdims))
    return std::nullopt;
  Value selected = reduce->getOperand(0);
  if (!selected.hasOneUse())
    return std::nullopt;

  // Where(Equal(ids, e), w, 0), or Mul(Cast(Equal(ids, e)), w) either way round.
  Selection selection;
  Value isExpert;
  if (Operation *where = definedByOnnx(selected, "Where")) {
    if (!isZeroConstant(where->getOperand(2)))
      return std::nullopt;
    isExpert = where->getOperand(0);
    selection.weights = where->getOperand(1);
  } else if (Operation *mul = definedByOnnx(selected, "Mul")) {
    for (unsigned i = 0; i < 2 && !isExpert; ++i) {
      Operation *cast = definedByOnnx(mul->getOperand(i), "Cast");
      if (cast && mul->getOperand(i).hasOneUse() && definedByOnnx(cast->getOperand(0), "Equal")) {
        isExpert = cast->getOperand(0);
        selection.weights = mul->getOperand(1 - i);
      }
    }
  }
  Operation *equal = definedByOnnx(isExpert, "Equal");
  if (!equal || !isExpert.hasOneUse())
    return std::nullopt;
  for (unsigned i = 0; i < 2 && selection.expert < 0; ++i) {
    if (auto id = scalarInt(equal->getOperand(1 - i))) {
      selection.ids = equal->getOperand(i);
      selection.expert = *id;
    }
  }
  // The selection keeps the top-k's shape: nothing broadcast it.
  auto weightsType = rankedType(selection.weights), idsType = rankedType(selection.ids);
  auto selectedType = rankedType(selected);
  if (selection.expert < 0 || !weightsType || !idsType || !selectedType ||
      weightsType.getRank() != 2 || idsType.getShape() != weightsType.getShape() ||
      selectedType.getShape() != weightsType.getShape() ||
      selectedType.getElementType() != weightsType.getElementType())
    return std::nullopt;
  return selection;
}

class Raiser {
public:
  // Tries to raise the sum ending at `root`; leaves everything as it was on
  // any mismatch. Fails only on an internal inconsistency (reported).
  LogicalResult raise(Operation *root) {
    // The root is the last Add of the sum: not itself a term of a bigger sum.
    Value result = root->getResult(0);
    if (result.hasOneUse() && isOnnxOp(*result.getUsers().begin(), "Add"))
      return success();
    SmallVector<Value> terms;
    collectTerms(root, terms);
    if (terms.size() < 2)
      return success();

    // Each term is y_e * rw_e, one per expert id.
    std::map<int64_t, Expert> experts;
    Value ids, weights, x;
    for (Value term : terms) {
      Operation *mul = definedByOnnx(term, "Mul");
      if (!mul || !term.hasOneUse())
        return success();
      std::optional<Selection> selection;
      std::optional<Expert> expert;
      for (unsigned i = 0; i < 2 && !expert; ++i) {
        selection = matchSelection(mul->getOperand(i));
        if (selection)
          expert = matchFfn(mul->getOperand(1 - i));
      }
      if (!expert || rankedType(term) != rankedType(result))
        return success();
      if (!ids) {
        ids = selection->ids;
        weights = selection->weights;
        x = expert->fc1.input;
      }
      if (selection->ids != ids || selection->weights != weights || expert->fc1.input != x ||
          !experts.emplace(selection->expert, *expert).second)
        return success();
    }
    int64_t count = static_cast<int64_t>(experts.size());
    if (experts.begin()->first != 0 || experts.rbegin()->first != count - 1)
      return success(); // ids are distinct, so 0..count-1 means each exactly once

    // Same structure for all.
    const Expert &first = experts.begin()->second;
    for (auto &[id, e] : experts) {
      if (e.activation != first.activation || !sameShape(e.fc1, first.fc1) ||
          !sameShape(e.fc2, first.fc2) || e.fc3.has_value() != first.fc3.has_value() ||
          (e.fc3 && !sameShape(*e.fc3, *first.fc3)))
        return success();
    }
    int64_t hidden = first.fc1.in, inter = first.fc1.out;
    Type element = first.fc1.weight.getElementType();
    auto xType = rankedType(x);
    if (first.fc2.in != inter || first.fc2.out != hidden || xType != rankedType(result) ||
        xType.getElementType() != element)
      return success();

    // The router scores the same rows the experts read (moe.experts takes
    // one routing row per token; a [1, E] router broadcast over all tokens
    // is another computation).
    std::optional<SoftmaxRouter> router = matchRouter(weights, ids, count);
    auto logitsType = router ? rankedType(router->logits) : nullptr;
    if (!router || logitsType.getElementType() != element ||
        rankedType(weights).getElementType() != element ||
        logitsType.getDimSize(0) != xType.getDimSize(0))
      return success();

    return build(root, *router, experts, x);
  }

private:
  // The terms of the Add tree under `add`: operands that are not themselves
  // single-use Adds of the tree.
  void collectTerms(Operation *add, SmallVectorImpl<Value> &terms) {
    for (Value operand : add->getOperands()) {
      Operation *inner = definedByOnnx(operand, "Add");
      if (inner && operand.hasOneUse())
        collectTerms(inner, terms);
      else
        terms.push_back(operand);
    }
  }

  // Stacks one weight (or bias) slot of all experts into a new constant.
  Value stack(OpBuilder &b, Location loc, const std::map<int64_t, Expert> &experts,
              function_ref<const Linear &(const Expert &)> slot, bool bias, StringRef key) {
    SmallVector<const Linear *> linears; // ids are 0..E-1 (checked), in order
    for (auto &[id, expert] : experts)
      linears.push_back(&slot(expert));
    return stackLinears(b, loc, linears, bias, key);
  }

  LogicalResult build(Operation *root, const SoftmaxRouter &router,
                      const std::map<int64_t, Expert> &experts, Value x) {
    OpBuilder b(root);
    Location loc = root->getLoc();
    const Expert &first = experts.begin()->second;
    SmallVector<Operation *> created;
    auto track = [&](Value v) {
      if (v)
        created.push_back(v.getDefiningOp());
      return v;
    };
    auto fc1 = [](const Expert &e) -> const Linear & { return e.fc1; };
    auto fc2 = [](const Expert &e) -> const Linear & { return e.fc2; };
    auto fc3 = [](const Expert &e) -> const Linear & { return *e.fc3; };
    bool swiglu = first.fc3.has_value();
    Value w1 = track(stack(b, loc, experts, fc1, false, "dense_moe.fc1"));
    Value w2 = track(stack(b, loc, experts, fc2, false, "dense_moe.fc2"));
    Value w3 = swiglu ? track(stack(b, loc, experts, fc3, false, "dense_moe.fc3")) : Value();
    Value b1 = first.fc1.bias ? track(stack(b, loc, experts, fc1, true, "dense_moe.fc1_bias"))
                              : Value();
    Value b2 = first.fc2.bias ? track(stack(b, loc, experts, fc2, true, "dense_moe.fc2_bias"))
                              : Value();
    Value b3 = swiglu && first.fc3->bias
                   ? track(stack(b, loc, experts, fc3, true, "dense_moe.fc3_bias"))
                   : Value();
    bool unreadable = !w1 || !w2 || (swiglu && !w3) || (first.fc1.bias && !b1) ||
                      (first.fc2.bias && !b2) || (swiglu && first.fc3->bias && !b3);
    if (unreadable) {
      // A weight whose data cannot be read (a dropped blob): leave the dense form.
      for (Operation *op : llvm::reverse(created))
        op->erase();
      return success();
    }

    moe::RouterOp route = getOrCreateRouter(b, loc, router);
    // alpha 1, beta 0, no limit: SwiGLU is exactly silu(gate) * linear.
    auto grouped = moe::ExpertsOp::create(
        b, loc, root->getResult(0).getType(), x, route.getWeights(), route.getExpertIds(), w1, b1,
        w2, b2, w3, b3, b.getStringAttr(first.activation), b.getI64IntegerAttr(0),
        b.getF32FloatAttr(1.0f), b.getF32FloatAttr(0.0f),
        b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
    if (failed(mlir::verify(grouped)) || failed(mlir::verify(route)))
      return failure();
    root->getResult(0).replaceAllUsesWith(grouped.getOutput());
    // Every op eraseDeadOnnxOps removes precedes the root, so the caller's
    // forward walk never revisits an erased op.
    eraseDeadOnnxOps(root);
    return success();
  }
};

struct RaiseDenseMoEPass : moec::impl::MoecRaiseDenseMoEBase<RaiseDenseMoEPass> {
  using MoecRaiseDenseMoEBase::MoecRaiseDenseMoEBase;
  void runOnOperation() override {
    Raiser raiser;
    if (failed(raiseEach(getOperation(), "Add",
                         [&](Operation *add) { return raiser.raise(add); })))
      signalPassFailure();
  }
};

} // namespace
