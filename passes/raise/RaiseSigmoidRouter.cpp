//===- RaiseSigmoidRouter.cpp - DeepSeek-V3 routing to one moe.router -------===//
//
// DeepSeek-V3's router, as torch.onnx exports it (and as bench/shapes writes
// it), is some twenty ONNX ops:
//
//   s      = Sigmoid(logits)                               [T, E]
//   b      = Add(s, bias)           (the selection bias; optional)
//   -- group-limited selection (optional) --
//   g      = Reshape(b, [-1, G, E/G]); TopK(g, 2).values -> ReduceSum(-1)
//   gidx   = TopK(group scores, topk_groups).indices       [T, tg]
//   mask   = ScatterElements(zeros [T, G], gidx, ones, axis 1)
//            -> Unsqueeze(2) -> Expand / Mul(ones) -> Reshape [T, E] -> Cast(bool)
//   sel    = Where(mask, b, -big)  or  Where(Not(mask), -big, b)
//   --
//   idx    = TopK(sel, k).indices                          [T, k]
//   w      = GatherElements(s, idx, axis 1)  (the UNbiased scores)
//   w      = w / ReduceSum(w, -1, keepdims)  (optional)
//   w      = w * scaling                     (optional)
//
// The pass turns it into one moe.router {scoring = "sigmoid"} whose results
// replace w and idx, so it runs as one kernel. Without bias and groups the
// weights may also be the TopK's own values (w, idx = TopK(s, k); Flint):
// the same router. The mask may be built with
// ConstantOfShape or Expand for the zeros and ones, Expand or a Mul by ones
// for the group-to-expert broadcast, and with or without Not. Anything else
// (a different group score than the sum of the top two, groups that are not
// consecutive equal blocks, a bias that is not a constant, a gather from
// other scores than the sigmoid's, intermediates used elsewhere) is left
// alone. Runs on onnx ops, before moec-convert-onnx-to-moe.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>
#include <optional>

namespace moec {
#define GEN_PASS_DEF_MOECRAISESIGMOIDROUTER
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

RankedTensorType rankedType(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

// The op defining `v` if it is the ONNX op `type`, else null.
Operation *definedBy(Value v, StringRef type) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  if (!def || !def->getDialect() || def->getDialect()->getNamespace() != "onnx" ||
      moec::onnxOpType(def) != type)
    return nullptr;
  return def;
}

// Every element of `v` is `want`: a constant, or ConstantOfShape / Expand of
// one (whatever the shape).
bool isFilledWith(Value v, double want) {
  auto all = [&](const std::optional<std::vector<double>> &values) {
    return values && !values->empty() &&
           llvm::all_of(*values, [&](double x) { return x == want; });
  };
  if (all(moec::getConstantValues(v)))
    return true;
  if (Operation *fill = definedBy(v, "ConstantOfShape")) {
    auto value = fill->getAttrOfType<ElementsAttr>("value");
    if (!value)
      return want == 0.0; // ONNX default: a float zero
    auto x = moec::getElementAsDouble(value, 0);
    return x && *x == want;
  }
  if (Operation *expand = definedBy(v, "Expand"))
    return all(moec::getConstantValues(expand->getOperand(0)));
  return false;
}

// A large negative fill that no sigmoid score plus bias can reach.
bool isMaskingValue(Value v) {
  auto values = moec::getConstantValues(v);
  return values && values->size() == 1 && (*values)[0] <= -1e30;
}

// The TopK op whose result `index` is `v`, with k known and along the last
// axis, largest first; its k in `k`.
Operation *topKResult(Value v, unsigned index, int64_t *k) {
  Operation *topk = definedBy(v, "TopK");
  if (!topk || cast<OpResult>(v).getResultNumber() != index)
    return nullptr;
  auto input = rankedType(topk->getOperand(0));
  if (!input)
    return nullptr;
  int64_t axis = moec::getIntAttr(topk, "axis", -1);
  if (axis < 0)
    axis += input.getRank();
  auto known = moec::getKnownInts(topk->getOperand(1));
  if (axis != input.getRank() - 1 || moec::getIntAttr(topk, "largest", 1) != 1 || !known ||
      known->size() != 1)
    return nullptr;
  *k = (*known)[0];
  return topk;
}

bool reducesLastAxis(Operation *reduce, bool keepdims) {
  auto input = rankedType(reduce->getOperand(0));
  if (!input || moec::getIntAttr(reduce, "keepdims", 1) != (keepdims ? 1 : 0))
    return false;
  Value axesInput = moec::getOnnxInput(reduce, 1);
  auto axes = axesInput ? moec::getKnownInts(axesInput) : std::nullopt;
  return axes && axes->size() == 1 &&
         ((*axes)[0] == -1 || (*axes)[0] == input.getRank() - 1);
}

struct Match {
  Value logits;
  std::vector<float> bias; // empty: none
  int64_t groups = 1, topkGroups = 1, k = 0;
  bool normalize = false;
  double scaling = 1.0;
  Value weights, ids; // the values the router's results replace
};

class Raiser {
public:
  // Matches from a GatherElements; nullopt (no diagnostic) on any mismatch.
  std::optional<Match> match(Operation *gather) {
    Match m;
    auto gatherType = rankedType(gather->getResult(0));
    if (!gatherType || gatherType.getRank() != 2)
      return std::nullopt;
    int64_t axis = moec::getIntAttr(gather, "axis", 0);
    if (axis != 1 && axis != -1)
      return std::nullopt;
    Operation *sigmoid = definedBy(gather->getOperand(0), "Sigmoid");
    if (!sigmoid)
      return std::nullopt;
    Value s = sigmoid->getResult(0);
    auto sType = rankedType(s);
    if (!sType || sType.getRank() != 2 || sType.isDynamicDim(1) ||
        !sType.getElementType().isF32())
      return std::nullopt;
    int64_t experts = sType.getDimSize(1);
    m.logits = sigmoid->getOperand(0);
    Operation *topk = topKResult(gather->getOperand(1), 1, &m.k);
    if (!topk || m.k < 1 || m.k > experts)
      return std::nullopt;
    m.ids = topk->getResult(1);

    // What the experts are chosen by: the biased scores, maybe group-masked.
    Value selection = topk->getOperand(0);
    Value biased = selection;
    if (Operation *where = definedBy(selection, "Where")) {
      auto groups = matchGroupMask(where, s, experts, &biased);
      if (!groups)
        return std::nullopt;
      m.groups = groups->first;
      m.topkGroups = groups->second;
    }
    if (biased != s) {
      Operation *add = definedBy(biased, "Add");
      if (!add)
        return std::nullopt;
      Value other = add->getOperand(0) == s ? add->getOperand(1) : add->getOperand(0);
      if (add->getOperand(0) != s && add->getOperand(1) != s)
        return std::nullopt;
      auto bias = moec::getConstantValues(other);
      auto biasType = rankedType(other);
      if (!bias || static_cast<int64_t>(bias->size()) != experts || !biasType ||
          biasType.getShape().back() != experts)
        return std::nullopt;
      m.bias.assign(bias->begin(), bias->end());
    }
    // (Other readers of s or of the indices keep theirs: the old ops stay
    // for them and die with their last reader.)
    matchWeights(m, gather->getResult(0));
    return m;
  }

  // The plain form: the top k of the sigmoid scores themselves, no selection
  // bias, no groups (Flint): TopK(Sigmoid(logits)) whose values are the
  // weights, so no GatherElements is needed. Nullopt on any mismatch.
  std::optional<Match> matchDirect(Operation *topk) {
    Match m;
    Operation *sigmoid = definedBy(topk->getOperand(0), "Sigmoid");
    if (!sigmoid)
      return std::nullopt;
    auto sType = rankedType(sigmoid->getResult(0));
    if (!sType || sType.getRank() != 2 || sType.isDynamicDim(1) ||
        !sType.getElementType().isF32())
      return std::nullopt;
    int64_t experts = sType.getDimSize(1);
    if (topKResult(topk->getResult(1), 1, &m.k) != topk || m.k < 1 || m.k > experts)
      return std::nullopt;
    m.logits = sigmoid->getOperand(0);
    m.ids = topk->getResult(1);
    matchWeights(m, topk->getResult(0));
    return m;
  }

private:
  // The weights w of the chosen experts, then optionally normalized to sum
  // to one and scaled by a constant: sets m.normalize, m.scaling, m.weights.
  void matchWeights(Match &m, Value w) {
    for (Operation *user : w.getUsers())
      if (Value norm = matchNormalize(user, w)) {
        m.normalize = true;
        w = norm;
        break;
      }
    if (w.hasOneUse()) {
      Operation *mul = *w.getUsers().begin();
      if (mul->getDialect()->getNamespace() == "onnx" && moec::onnxOpType(mul) == "Mul") {
        Value other = mul->getOperand(0) == w ? mul->getOperand(1) : mul->getOperand(0);
        auto scale = moec::getConstantValues(other);
        if (scale && scale->size() == 1 && std::isfinite((*scale)[0]) &&
            mul->getResult(0).getType() == w.getType()) {
          m.scaling = (*scale)[0];
          w = mul->getResult(0);
        }
      }
    }
    m.weights = w;
  }

  // w / ReduceSum(w, -1, keepdims) [+ tiny eps on the sum]: the normalized
  // value, or null.
  Value matchNormalize(Operation *user, Value w) {
    auto isOnnx = [](Operation *op, StringRef type) {
      return op->getDialect()->getNamespace() == "onnx" && moec::onnxOpType(op) == type;
    };
    if (!isOnnx(user, "ReduceSum") || !reducesLastAxis(user, /*keepdims=*/true))
      return {};
    // w feeds the sum and the division: two users.
    Operation *div = nullptr;
    for (Operation *u : w.getUsers())
      if (u != user) {
        if (div || !isOnnx(u, "Div") || u->getOperand(0) != w)
          return {};
        div = u;
      }
    if (!div)
      return {};
    Value sum = user->getResult(0);
    Value denominator = div->getOperand(1);
    if (denominator != sum) {
      Operation *add = definedBy(denominator, "Add");
      if (!add || (add->getOperand(0) != sum && add->getOperand(1) != sum))
        return {};
      Value eps = add->getOperand(0) == sum ? add->getOperand(1) : add->getOperand(0);
      auto value = moec::getConstantValues(eps);
      // HF adds 1e-20 to a sum of sigmoids (>= one value in (0, 1)): no effect.
      if (!value || value->size() != 1 || std::fabs((*value)[0]) > 1e-12)
        return {};
    }
    return div->getResult(0);
  }

  // Where(mask, b, -big) or Where(Not(mask), -big, b) whose mask keeps the
  // experts of the top groups of b: (groups, topk_groups), and b in *biased.
  std::optional<std::pair<int64_t, int64_t>> matchGroupMask(Operation *where, Value s,
                                                            int64_t experts, Value *biased) {
    Value cond = where->getOperand(0);
    bool keepIsTrue;
    if (isMaskingValue(where->getOperand(2))) {
      *biased = where->getOperand(1);
      keepIsTrue = true;
    } else if (isMaskingValue(where->getOperand(1))) {
      *biased = where->getOperand(2);
      keepIsTrue = false;
    } else {
      return std::nullopt;
    }
    // Walk back through value-preserving ops to the group mask scatter.
    bool inverted = false;
    Value v = cond;
    Operation *scatter = nullptr;
    // The [T, G, E/G] broadcast nearest the selection (walking back, the
    // first rank-3 value) says how many experts one group covers.
    int64_t expandedGroupSize = 0;
    auto noteGroupShape = [&](Operation *def) {
      if (auto t = rankedType(def->getResult(0)); t && t.getRank() == 3 && !expandedGroupSize)
        expandedGroupSize = t.getDimSize(2);
    };
    for (int steps = 0; steps < 12 && !scatter; ++steps) {
      Operation *def = v.getDefiningOp();
      if (!def || !def->getDialect() || def->getDialect()->getNamespace() != "onnx")
        return std::nullopt;
      StringRef type = moec::onnxOpType(def);
      if (type == "Not") {
        inverted = !inverted;
        v = def->getOperand(0);
      } else if (type == "Cast" || type == "Reshape" || type == "Unsqueeze" ||
                 type == "Expand") {
        noteGroupShape(def);
        v = def->getOperand(0);
      } else if (type == "Mul") {
        // A broadcast by ones: the other operand is all ones.
        Value a = def->getOperand(0), b = def->getOperand(1);
        noteGroupShape(def);
        if (isFilledWith(b, 1.0))
          v = a;
        else if (isFilledWith(a, 1.0))
          v = b;
        else
          return std::nullopt;
      } else if (type == "ScatterElements") {
        scatter = def;
      } else {
        return std::nullopt;
      }
    }
    if (!scatter || inverted == keepIsTrue)
      return std::nullopt;
    int64_t axis = moec::getIntAttr(scatter, "axis", 0);
    std::string reduction = moec::getStringAttr(scatter, "reduction", "none");
    if ((axis != 1 && axis != -1) || reduction != "none" ||
        !isFilledWith(scatter->getOperand(0), 0.0) || !isFilledWith(scatter->getOperand(2), 1.0))
      return std::nullopt;
    int64_t topkGroups = 0;
    Operation *groupTopk = topKResult(scatter->getOperand(1), 1, &topkGroups);
    if (!groupTopk)
      return std::nullopt;
    Operation *sum = definedBy(groupTopk->getOperand(0), "ReduceSum");
    if (!sum || !reducesLastAxis(sum, /*keepdims=*/false))
      return std::nullopt;
    int64_t two = 0;
    Operation *pairTopk = topKResult(sum->getOperand(0), 0, &two);
    if (!pairTopk || two != 2)
      return std::nullopt;
    Operation *reshape = definedBy(pairTopk->getOperand(0), "Reshape");
    auto grouped = reshape ? rankedType(reshape->getResult(0)) : RankedTensorType();
    if (!reshape || reshape->getOperand(0) != *biased || !grouped || grouped.getRank() != 3 ||
        grouped.isDynamicDim(1) || grouped.isDynamicDim(2))
      return std::nullopt;
    int64_t groups = grouped.getDimSize(1), perGroup = grouped.getDimSize(2);
    if (groups * perGroup != experts || perGroup < 2 || expandedGroupSize != perGroup ||
        topkGroups < 1 || topkGroups > groups)
      return std::nullopt;
    (void)s;
    return std::make_pair(groups, topkGroups);
  }
};

struct RaiseSigmoidRouterPass : moec::impl::MoecRaiseSigmoidRouterBase<RaiseSigmoidRouterPass> {
  void runOnOperation() override {
    SmallVector<Operation *> gathers, topks;
    getOperation().walk([&](Operation *op) {
      if (!op->getDialect() || op->getDialect()->getNamespace() != "onnx")
        return;
      if (moec::onnxOpType(op) == "GatherElements")
        gathers.push_back(op);
      else if (moec::onnxOpType(op) == "TopK")
        topks.push_back(op);
    });
    Raiser raiser;
    bool raised = false;
    for (Operation *gather : gathers)
      if (auto matched = raiser.match(gather))
        raised |= replaceByRouter(*matched, gather->getLoc());
    // The plain form after the gathered one: a TopK whose values are the
    // weights (in the gathered form they are unused).
    for (Operation *topk : topks)
      if (!topk->getResult(0).use_empty())
        if (auto matched = raiser.matchDirect(topk))
          raised |= replaceByRouter(*matched, topk->getLoc());
    if (raised)
      eraseDeadOnnxOps();
  }

  // Replaces m's weights and ids by one moe.router's; false (nothing done)
  // when their types do not allow it.
  bool replaceByRouter(Match &m, Location loc) {
    if (!isa<RankedTensorType>(m.weights.getType()) || !isa<RankedTensorType>(m.ids.getType()))
      return false; // a deferred shape: moec-onnx-infer-shapes reports it
    auto weightsType = cast<RankedTensorType>(m.weights.getType());
    auto idsType = cast<RankedTensorType>(m.ids.getType());
    if (!idsType.getElementType().isInteger(64) || weightsType.getShape() != idsType.getShape())
      return false;
    OpBuilder b(m.weights.getDefiningOp()->getBlock(),
                std::next(Block::iterator(m.weights.getDefiningOp())));
    auto router = moe::RouterOp::create(
        b, loc, weightsType, idsType, m.logits, b.getI64IntegerAttr(m.k),
        b.getBoolAttr(m.normalize), b.getStringAttr("sigmoid"), b.getI64IntegerAttr(m.groups),
        b.getI64IntegerAttr(m.topkGroups), b.getF32FloatAttr(static_cast<float>(m.scaling)),
        m.bias.empty() ? DenseF32ArrayAttr() : b.getDenseF32ArrayAttr(m.bias));
    // The ids may be read before the weights are computed (the graph's
    // order); the router goes where both are available: before the first
    // use of either.
    Operation *first = nullptr;
    for (Value v : {m.weights, m.ids})
      for (Operation *user : v.getUsers())
        if (!first || user->isBeforeInBlock(first))
          first = user;
    if (first && first->isBeforeInBlock(router))
      router->moveBefore(first);
    m.weights.replaceAllUsesWith(router.getWeights());
    m.ids.replaceAllUsesWith(router.getExpertIds());
    return true;
  }

  // The replaced subgraph is dead now; drop it (and any other dead onnx op:
  // onnx ops are side-effect free) so the IR shows what will run.
  void eraseDeadOnnxOps() {
    for (Block &block : getOperation().getBody()) {
      bool changed = true;
      while (changed) {
        changed = false;
        for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block))) {
          if (op.getDialect() && op.getDialect()->getNamespace() == "onnx" && op.use_empty()) {
            op.erase();
            changed = true;
          }
        }
      }
    }
  }
};

} // namespace
