//===- RaiseAttention.cpp - exported eager attention to moe.self_attention ===//
//
// A decoder exported without a KV cache computes attention in plain ops:
//   scores = MatMul(q, Transpose(k, [0,1,3,2])) * scale   [B, N, T, T]
//   scores = scores + mask     (or Where(mask, scores, -inf))
//   out    = MatMul(Softmax(scores), v)                    [B, N, T, Dv]
// with q, k, v heads first and k, v possibly repeated from KV heads
// (repeat_kv: Reshape(Expand(Unsqueeze(k, 2)))). The scores and the mask are
// [T, T]: moec's memory plan is affine in T, so they can have no buffer, and
// a kernel that never stores them is what prefill wants anyway. This pass
// replaces the whole computation by one moe.self_attention.
//
// The mask is where exports differ most (Range/compare chains, CumSum and
// GatherND for packed sequences, sliding windows built from Sub and
// Greater). It depends on nothing but T, so instead of matching its ops the
// pass evaluates it (TokenBoundEvaluator) for a range of token counts and
// accepts it only if it is exactly causal, or causal with a sliding window,
// at every one of them. Anything else (a padding mask read from an input, an
// ALiBi bias, a bidirectional mask) is left alone, and since [T, T] scores
// cannot be compiled the pass then reports why it did not raise them.
//
// Attention over a growing KV cache (keys Concat(past, k)) is raised to
// moe.attention instead: RaiseAttentionOverCache.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/AttentionRaiser.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"
#include "passes/raise/TokenBoundEvaluator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

namespace moec {
#define GEN_PASS_DEF_MOECRAISEATTENTION
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace moec::raise::attention {
namespace {

// The largest token count the mask is evaluated at ([T, T] doubles per value).
constexpr int64_t kMaxCheckedTokens = 2048;

bool singleUse(Value v) { return v.hasOneUse(); }

std::optional<double> scalarFloat(Value v) {
  ElementsAttr attr = getConstantElements(v);
  if (!attr || attr.getNumElements() != 1)
    return std::nullopt;
  return getElementAsDouble(attr, 0);
}

// k repeated from KV heads to N as transformers' repeat_kv writes it:
// Reshape(Expand(Unsqueeze(k, 2), [B, KV, rep, T, D]), [B, N, T, D]).
// Returns k [B, KV, T, D], or `v` itself.
Value peelRepeatKv(Value v) {
  Operation *reshape = definedByOnnx(v, "Reshape");
  Operation *expand = reshape ? definedByOnnx(reshape->getOperand(0), "Expand") : nullptr;
  Operation *unsqueeze = expand ? definedByOnnx(expand->getOperand(0), "Unsqueeze") : nullptr;
  if (!unsqueeze)
    return v;
  Value base = unsqueeze->getOperand(0);
  auto baseType = rankedType(base), unsqType = rankedType(unsqueeze->getResult(0)),
       expType = rankedType(expand->getResult(0)), outType = rankedType(v);
  if (!baseType || !unsqType || !expType || !outType || baseType.getRank() != 4 ||
      expType.getRank() != 5)
    return v;
  auto b = baseType.getShape(), u = unsqType.getShape(), e = expType.getShape(),
       o = outType.getShape();
  bool shapes = u == ArrayRef<int64_t>{b[0], b[1], 1, b[2], b[3]} && e[0] == b[0] &&
                e[1] == b[1] && e[3] == b[2] && e[4] == b[3] && !ShapedType::isDynamic(e[2]) &&
                o == ArrayRef<int64_t>{b[0], b[1] * e[2], b[2], b[3]};
  return shapes ? base : v;
}

// Where(IsNaN(p), 0, p): SDPA's decomposition zeroes the rows a mask
// removes entirely. A causal mask keeps key 0 for every query, so no row is
// NaN and the guard is the identity: returns its result, or null.
Value skipNanGuard(Value p) {
  if (std::distance(p.getUses().begin(), p.getUses().end()) != 2)
    return {};
  Operation *isNan = nullptr, *where = nullptr;
  for (Operation *user : p.getUsers()) {
    if (isOnnxOp(user, "IsNaN"))
      isNan = user;
    else if (isOnnxOp(user, "Where"))
      where = user;
  }
  if (!isNan || !where || !isNan->getResult(0).hasOneUse() ||
      where->getOperand(0) != isNan->getResult(0) || where->getOperand(2) != p ||
      !isZeroConstant(where->getOperand(1)))
    return {};
  return where->getResult(0);
}

// kᵀ as a transpose of k: Transpose(x, perm) of rank 4 (perm [0, 1, 3, 2]
// of k itself, or another perm of another layout: DeepSeek's dynamo export
// assembles k by ScatterND along its first axis), or SDPA's decomposition
// Reshape(Transpose(Reshape(k, [B*N, T, D]), [0, 2, 1]), [B, N, D, T]).
// Sets m.key and m.keyPerm (key = Transpose(m.key, m.keyPerm)). Unranked
// values (keys over a growing cache) get their shapes from `shapes`.
bool matchKeyTranspose(Value kt, AttentionMatch &m, TokenBoundEvaluator &shapes) {
  if (Operation *transpose = definedByOnnx(kt, "Transpose")) {
    auto perm = getIntsAttr(transpose, "perm");
    if (!perm || perm->size() != 4)
      return false;
    m.key = transpose->getOperand(0);
    m.keyPerm = {(*perm)[0], (*perm)[1], (*perm)[3], (*perm)[2]};
    return true;
  }
  Operation *outer = definedByOnnx(kt, "Reshape");
  Operation *transpose = outer ? definedByOnnx(outer->getOperand(0), "Transpose") : nullptr;
  Operation *inner = transpose ? definedByOnnx(transpose->getOperand(0), "Reshape") : nullptr;
  if (!inner || !outer->getOperand(0).hasOneUse() || !transpose->getOperand(0).hasOneUse())
    return false;
  auto perm = getIntsAttr(transpose, "perm");
  if (!perm || ArrayRef<int64_t>(*perm) != ArrayRef<int64_t>{0, 2, 1})
    return false;
  auto k = rankedType(inner->getOperand(0)), flat = rankedType(inner->getResult(0)),
       out = rankedType(kt);
  if (k && flat && out) {
    if (k.getRank() != 4 || flat.getRank() != 3 || k.isDynamicDim(0) || k.isDynamicDim(1))
      return false;
    auto d = k.getShape();
    if (flat.getShape() != ArrayRef<int64_t>{d[0] * d[1], d[2], d[3]} ||
        out.getShape() != ArrayRef<int64_t>{d[0], d[1], d[3], d[2]})
      return false;
  } else {
    // Deferred shapes: compared at one token count (and cache length).
    auto d = shapes.shape(inner->getOperand(0)), f = shapes.shape(inner->getResult(0)),
         o = shapes.shape(kt);
    if (!d || !f || !o || d->size() != 4 ||
        ArrayRef<int64_t>(*f) != ArrayRef<int64_t>{(*d)[0] * (*d)[1], (*d)[2], (*d)[3]} ||
        ArrayRef<int64_t>(*o) != ArrayRef<int64_t>{(*d)[0], (*d)[1], (*d)[3], (*d)[2]})
      return false;
  }
  m.key = inner->getOperand(0);
  m.keyPerm = {0, 1, 2, 3};
  return true;
}


} // namespace

std::optional<AttentionMatch> AttentionRaiser::match(Operation *softmax, std::string &why) {
  AttentionMatch m;
  if (!isLastAxis(getIntAttr(softmax, "axis", -1), 4)) {
    why = "the softmax is not over the last axis of the scores";
    return std::nullopt;
  }

  // Downwards: Softmax -> [no-op Casts] -> [Slice dropping the sink column]
  // -> MatMul(p, v).
  Value p = softmax->getResult(0);
  bool droppedSink = false;
  while (true) {
    if (Value guarded = skipNanGuard(p)) {
      p = guarded;
      continue;
    }
    if (!singleUse(p)) {
      why = "the probabilities have other uses";
      return std::nullopt;
    }
    Operation *user = *p.getUsers().begin();
    if (isNoopCast(user)) {
      p = user->getResult(0);
      continue;
    }
    if (isOnnxOp(user, "Slice") && !droppedSink) {
      auto starts = getKnownInts(getOnnxInput(user, 1)), ends = getKnownInts(getOnnxInput(user, 2));
      Value axesValue = getOnnxInput(user, 3), stepsValue = getOnnxInput(user, 4);
      auto axes = axesValue ? getKnownInts(axesValue) : std::nullopt;
      auto steps = stepsValue ? getKnownInts(stepsValue) : std::optional<std::vector<int64_t>>(
                                                               std::vector<int64_t>{1});
      if (!starts || !ends || !axes || !steps || starts->size() != 1 || axes->size() != 1 ||
          (*starts)[0] != 0 || (*ends)[0] != -1 || !isLastAxis((*axes)[0], 4) ||
          (*steps)[0] != 1) {
        why = "a Slice of the probabilities other than dropping the last column";
        return std::nullopt;
      }
      droppedSink = true;
      p = user->getResult(0);
      continue;
    }
    if (isOnnxOp(user, "MatMul") && user->getOperand(0) == p) {
      m.root = user;
      m.value = user->getOperand(1);
      break;
    }
    why = "the probabilities do not feed a MatMul with v";
    return std::nullopt;
  }

  // Upwards from the Softmax input to MatMul(q, kᵀ).
  Value s = softmax->getOperand(0);
  // Softmax(x - max(x)) is Softmax(x): exports of sink attention subtract the
  // row maximum themselves.
  if (Operation *sub = definedByOnnx(s, "Sub")) {
    Operation *max = definedByOnnx(sub->getOperand(1), "ReduceMax");
    Value axes = max ? getOnnxInput(max, 1) : Value();
    auto axisList = axes ? getKnownInts(axes) : std::nullopt;
    if (max && max->getOperand(0) == sub->getOperand(0) && getIntAttr(max, "keepdims", 1) == 1 &&
        axisList && axisList->size() == 1 && isLastAxis((*axisList)[0], 4) && singleUse(s)) {
      s = sub->getOperand(0);
    }
  }
  if (droppedSink) {
    Operation *concat = definedByOnnx(s, "Concat");
    if (!concat || concat->getNumOperands() != 2 || !isLastAxis(getIntAttr(concat, "axis", 0), 4)) {
      why = "the dropped column is not a concatenated sink";
      return std::nullopt;
    }
    Value sink = concat->getOperand(1);
    if (Operation *expand = definedByOnnx(sink, "Expand"))
      sink = expand->getOperand(0);
    auto sinkType = rankedType(sink);
    auto values = getConstantValues(sink);
    if (!sinkType || !values || sinkType.getRank() != 4 || sinkType.getDimSize(0) != 1 ||
        sinkType.getDimSize(2) != 1 || sinkType.getDimSize(3) != 1) {
      why = "the sink column is not a constant [1, N, 1, 1]";
      return std::nullopt;
    }
    m.sinks = sink;
    s = concat->getOperand(0);
  }

  bool sawScale = false;
  while (true) {
    if (!singleUse(s)) {
      why = "the scores have other uses";
      return std::nullopt;
    }
    Operation *def = s.getDefiningOp();
    if (!def) {
      why = "the scores are a function argument";
      return std::nullopt;
    }
    if (isNoopCast(def)) {
      s = def->getOperand(0);
      continue;
    }
    if (isOnnxOp(def, "MatMul")) {
      // SDPA's decomposition scales q and kᵀ by sqrt(scale) each.
      Value q = def->getOperand(0), kt = def->getOperand(1);
      for (Value *side : {&q, &kt})
        if (Operation *mul = definedByOnnx(*side, "Mul"); mul && singleUse(*side))
          if (auto c = scalarFloat(mul->getOperand(1))) {
            m.scale *= *c;
            *side = mul->getOperand(0);
          }
      TokenBoundEvaluator shapes = evaluator(3);
      if (!singleUse(kt) || !matchKeyTranspose(kt, m, shapes)) {
        // Unranked: deferred upstream (an MoE block not raised yet); SDPA's
        // Reshape form of kᵀ is only recognizable by its shapes.
        deferred = !rankedType(q) || !rankedType(kt);
        why = "the scores are not MatMul(q, Transpose(k))";
        return std::nullopt;
      }
      m.query = q;
      break;
    }
    if (isOnnxOp(def, "Mul") || isOnnxOp(def, "Div")) {
      // A scale, or the outer Mul of a softcap: c * Tanh(x / c).
      for (unsigned side = 0; side < 2; ++side) {
        if (isOnnxOp(def, "Div") && side == 0)
          continue;
        auto c = scalarFloat(def->getOperand(side));
        if (!c)
          continue;
        Value other = def->getOperand(isOnnxOp(def, "Div") ? 0 : 1 - side);
        if (Operation *tanh = definedByOnnx(other, "Tanh"); tanh && isOnnxOp(def, "Mul")) {
          Operation *inner = tanh->getOperand(0).getDefiningOp();
          std::optional<double> cap;
          if (inner && isOnnxOp(inner, "Div"))
            cap = scalarFloat(inner->getOperand(1));
          else if (inner && isOnnxOp(inner, "Mul"))
            if (auto r = scalarFloat(inner->getOperand(1)); r && *r != 0.0)
              cap = 1.0 / *r;
          if (sawScale || m.softcap != 0.0 || !cap || *c <= 0.0 ||
              std::fabs(*cap - *c) > 1e-6 * *c || !singleUse(other) ||
              !singleUse(tanh->getOperand(0))) {
            why = "a Tanh in the scores that is not a softcap before the scale";
            return std::nullopt;
          }
          m.softcap = *c;
          s = inner->getOperand(0);
        } else {
          m.scale = isOnnxOp(def, "Div") ? m.scale / *c : m.scale * *c;
          if (!std::isfinite(m.scale) || m.softcap != 0.0) {
            why = "a scale after the softcap";
            return std::nullopt;
          }
          sawScale = true;
          s = other;
        }
        break;
      }
      if (s == def->getResult(0)) {
        why = "a Mul or Div of the scores by a run-time value";
        return std::nullopt;
      }
      continue;
    }
    if (isOnnxOp(def, "Add")) {
      // The mask is the operand computable at compile time (from T alone);
      // the scores read the model's input.
      TokenBoundEvaluator probe = evaluator(3);
      bool first = probe.eval(def->getOperand(0)).has_value();
      bool second = probe.eval(def->getOperand(1)).has_value();
      if (first == second) {
        why = "an Add to the scores that is not a mask computed from T";
        return std::nullopt;
      }
      unsigned maskSide = first ? 0 : 1;
      m.masks.push_back({def->getOperand(maskSide), false});
      s = def->getOperand(1 - maskSide);
      continue;
    }
    if (isOnnxOp(def, "Where")) {
      auto fill = scalarFloat(def->getOperand(2));
      if (!fill || *fill > kMaskedBelow) {
        why = "a Where over the scores whose fill is above -1e4 (not a mask)";
        return std::nullopt;
      }
      m.masks.push_back({def->getOperand(0), true});
      s = def->getOperand(1);
      continue;
    }
    why = "op '" + onnxOpType(def).str() + "' between the scores and the softmax";
    return std::nullopt;
  }

  // GQA: read the KV heads directly when k and v were both repeated alike;
  // otherwise both are read as repeated (correct, only more memory).
  bool keyAsIs = ArrayRef<int64_t>(m.keyPerm) == ArrayRef<int64_t>{0, 1, 2, 3};
  Value key = keyAsIs ? peelRepeatKv(m.key) : m.key, value = peelRepeatKv(m.value);
  auto k = rankedType(key), v = rankedType(value);
  if (keyAsIs && k && v && k.getDimSize(1) == v.getDimSize(1)) {
    m.key = key;
    m.value = value;
  }
  return m;
}

std::optional<std::vector<char>> keptKeys(ArrayRef<MaskTerm> masks, TokenBoundEvaluator &e,
                                          int64_t rows, int64_t keys, int64_t heads,
                                          StringRef expectedShape, std::string &why) {
  std::vector<char> allowed(rows * keys, 1);
  for (const MaskTerm &term : masks) {
    auto value = e.eval(term.value);
    if (!value) {
      why = "the mask cannot be evaluated at compile time: " + e.why();
      return std::nullopt;
    }
    // Broadcast to [B, N, rows, keys]: every [rows, keys] slice must be the same.
    auto shape = value->shape;
    if (shape.size() > 4 || shape.size() < 2 || shape[shape.size() - 1] != keys ||
        shape[shape.size() - 2] != rows) {
      why = "the mask is not " + expectedShape.str();
      return std::nullopt;
    }
    if (shape.size() >= 3 && shape[shape.size() - 3] != 1 && shape[shape.size() - 3] != heads) {
      why = "the mask's head dim does not broadcast";
      return std::nullopt;
    }
    int64_t slices = value->size() / (rows * keys);
    std::vector<char> first(rows * keys);
    for (int64_t sl = 0; sl < slices; ++sl)
      for (int64_t i = 0; i < rows * keys; ++i) {
        double x = value->data[sl * rows * keys + i];
        bool keep;
        if (term.boolean) {
          keep = x != 0.0;
        } else if (x == 0.0) {
          keep = true;
        } else if (x <= kMaskedBelow) {
          keep = false;
        } else {
          why = "the mask adds a bias other than 0 and <= -1e4 (" + std::to_string(x) + ")";
          return std::nullopt;
        }
        if (sl == 0) {
          first[i] = keep;
          allowed[i] = allowed[i] && keep;
        } else if ((first[i] != 0) != keep) {
          why = "the mask differs between heads or batch rows";
          return std::nullopt;
        }
      }
  }
  return allowed;
}

// Evaluates the masks at a range of token counts and requires them to keep
// exactly the causal keys (within one window, found at the largest count).
LogicalResult AttentionRaiser::checkMask(const AttentionMatch &m, int64_t &window,
                                         std::string &why) {
  // Constants in the mask computation bound the window it may apply; the
  // evaluation must reach past the largest of them to see the window.
  int64_t largest = 0;
  {
    SmallVector<Value> stack;
    DenseSet<Value> seen;
    for (const MaskTerm &t : m.masks)
      stack.push_back(t.value);
    while (!stack.empty()) {
      Value v = stack.pop_back_val();
      if (!seen.insert(v).second)
        continue;
      Operation *def = v.getDefiningOp();
      if (!def)
        continue;
      if (ElementsAttr attr = getConstantElements(v)) {
        if (attr.getNumElements() <= 16)
          for (int64_t i = 0; i < attr.getNumElements(); ++i)
            // Fill values (<= kMaskedBelow) are no positions.
            if (auto d = getElementAsDouble(attr, i);
                d && *d > kMaskedBelow && std::fabs(*d) >= 2 && std::fabs(*d) < 2147483647.0)
              largest = std::max<int64_t>(largest, static_cast<int64_t>(std::fabs(*d)));
        continue;
      }
      for (Value operand : def->getOperands())
        stack.push_back(operand);
    }
  }
  if (largest + 2 > kMaxCheckedTokens) {
    why = "the mask holds the constant " + std::to_string(largest) +
          ", too large to check the mask up to it";
    return failure();
  }
  SmallVector<int64_t> counts{1, 2, 3, 4, 5, 7, 8, 13};
  int64_t top = std::max<int64_t>(16, largest + 2);
  for (int64_t extra : {largest - 1, largest, largest + 1, top})
    if (extra > 0 && !llvm::is_contained(counts, extra))
      counts.push_back(extra);
  llvm::sort(counts);

  int64_t heads = rankedType(m.query).getDimSize(1);
  window = -1;
  // Largest first: it fixes the window the smaller counts must agree with.
  for (int64_t t : llvm::reverse(counts)) {
    TokenBoundEvaluator evaluator(t);
    auto kept = keptKeys(m.masks, evaluator, t, t, heads, "[.., T, T]", why);
    if (!kept)
      return failure();
    const std::vector<char> &allowed = *kept;
    if (window < 0) {
      int64_t last = 0;
      for (int64_t j = 0; j < t; ++j)
        last += allowed[(t - 1) * t + j];
      window = last == t ? 0 : last;
    }
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < t; ++j) {
        bool expect = j <= i && (window == 0 || i - j < window);
        if ((allowed[i * t + j] != 0) != expect) {
          why = "the mask is not causal" +
                std::string(window ? " with a window of " + std::to_string(window) : "") +
                " at T = " + std::to_string(t) + " (query " + std::to_string(i) + ", key " +
                std::to_string(j) + ")";
          return failure();
        }
      }
  }
  return success();
}

namespace {

// A MatMul(x, kᵀ) within a few ops above `v`: the scores of an attention,
// whatever lies between them and the softmax.
bool readsScores(Value v, int depth = 0) {
  Operation *def = v.getDefiningOp();
  if (!def || depth > 8)
    return false;
  if (isOnnxOp(def, "MatMul")) {
    // kᵀ: a Transpose, possibly scaled (Mul) or in SDPA's Reshape form.
    Value kt = def->getOperand(1);
    if (Operation *mul = definedByOnnx(kt, "Mul"))
      kt = mul->getOperand(0);
    if (Operation *t = definedByOnnx(kt, "Transpose")) {
      auto perm = getIntsAttr(t, "perm");
      return perm && perm->size() == 4;
    }
    if (Operation *reshape = definedByOnnx(kt, "Reshape"))
      return definedByOnnx(reshape->getOperand(0), "Transpose") != nullptr;
  }
  return llvm::any_of(def->getOperands(), [&](Value in) { return readsScores(in, depth + 1); });
}

} // namespace

LogicalResult AttentionRaiser::raise(Operation *softmax) {
  std::string why;
  // Scores [.., T, T] must be raised; the importer leaves them unranked when
  // the mask's shape was deferred. Other softmaxes (routers) are no
  // attention and are left alone silently.
  auto inType = rankedType(softmax->getOperand(0));
  bool tokenSquare = inType ? inType.getRank() == 4 && inType.isDynamicDim(2) &&
                                  inType.isDynamicDim(3)
                            : readsScores(softmax->getOperand(0));
  if (!tokenSquare)
    return success();
  auto refuse = [&]() -> LogicalResult {
    return softmax->emitError() << "attention over [T, T] scores was not raised to "
                                   "moe.self_attention: "
                                << why;
  };
  deferred = false;
  auto m = match(softmax, why);
  if (!m)
    return deferred ? success() : refuse();
  if (capacity > 0) {
    auto key = matchCacheConcat(peelCachedRepeatKv(m->key), capacity);
    auto value = matchCacheConcat(peelCachedRepeatKv(m->value), capacity);
    if (key && value)
      return raiseCached(softmax, *m, *key, *value);
    if (key || value) {
      why = std::string("the ") + (key ? "keys" : "values") + " are read from the KV cache, the " +
            (key ? "values" : "keys") + " are not";
      return refuse();
    }
  }
  auto q = rankedType(m->query), v = rankedType(m->value), k = rankedType(m->key);
  bool transposeKey = ArrayRef<int64_t>(m->keyPerm) != ArrayRef<int64_t>{0, 1, 2, 3};
  if (k && transposeKey) {
    SmallVector<int64_t> shape;
    for (int64_t d : m->keyPerm)
      shape.push_back(k.getDimSize(d));
    k = RankedTensorType::get(shape, k.getElementType());
  }
  // Unranked q, k or v: a shape deferred upstream (an MoE block not raised
  // yet). moec-raise-decoder-layers runs this pass again once it is;
  // moec-onnx-infer-shapes reports the deferral if it never is.
  if (!q || !v || !k)
    return success();
  if (q.getRank() != 4 || v.getRank() != 4 || k.getRank() != 4 || !q.isDynamicDim(2) ||
      q.isDynamicDim(1)) {
    why = "q, k and v are not ranked [B, heads, T, head size] tensors";
    return refuse();
  }
  if (m->sinks && getConstantValues(m->sinks)->size() != static_cast<size_t>(q.getDimSize(1))) {
    why = "the sink column does not hold one logit per head";
    return refuse();
  }
  int64_t window = 0;
  if (failed(checkMask(*m, window, why)))
    return refuse();

  OpBuilder b(m->root);
  Location loc = m->root->getLoc();
  if (transposeKey)
    m->key = onnx::TransposeOp::create(b, loc, k, m->key, b.getDenseI64ArrayAttr(m->keyPerm))
                 .getResult();
  Value sinks;
  if (m->sinks) {
    auto values = getConstantValues(m->sinks);
    std::vector<float> f(values->begin(), values->end());
    sinks = createBlobConstant(
        b, loc, RankedTensorType::get({static_cast<int64_t>(f.size())}, b.getF32Type()),
        ArrayRef<char>(reinterpret_cast<const char *>(f.data()), f.size() * sizeof(float)),
        "attention_sinks");
  }
  // The MatMul's result may be unranked (a deferred mask made the scores
  // unranked); the op's type comes from q and v.
  auto resultType = RankedTensorType::get(
      {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2), v.getDimSize(3)}, q.getElementType());
  auto attention = moe::SelfAttentionOp::create(
      b, loc, resultType, m->query, m->key, m->value, sinks,
      b.getF32FloatAttr(m->scale), b.getF32FloatAttr(m->softcap), b.getI64IntegerAttr(window));
  if (failed(mlir::verify(attention))) {
    attention->erase();
    for (Value built : {sinks, transposeKey ? m->key : Value()})
      if (built && built.use_empty())
        built.getDefiningOp()->erase();
    why = "the matched q, k and v do not form a valid moe.self_attention";
    return refuse();
  }
  m->root->getResult(0).replaceAllUsesWith(attention.getResult());
  eraseDeadOnnxOps(m->root);
  // A deferred mask made everything after the scores unranked; with the
  // scores gone the next layer's q, k and v get their shapes back. Invalid
  // ops are left for moec-onnx-infer-shapes to report.
  refreshShapes(func);
  return success();
}

namespace {

struct RaiseAttentionPass : moec::impl::MoecRaiseAttentionBase<RaiseAttentionPass> {
  void runOnOperation() override {
    AttentionRaiser raiser(getOperation());
    if (failed(raiseEach(getOperation(), "Softmax",
                         [&](Operation *softmax) { return raiser.raise(softmax); })))
      signalPassFailure();
  }
};

} // namespace
} // namespace moec::raise::attention
