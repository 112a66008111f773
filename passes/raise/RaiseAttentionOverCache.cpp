//===- RaiseAttentionOverCache.cpp - attention over a growing KV cache ------===//
//
// Part of moec-raise-attention (RaiseAttention.cpp holds the pass and the
// match). A decoder exported with a growing KV cache reads its keys from
// Concat(past_key, k) [B, KV, past + T, D]. The importer has made each past
// a fixed-capacity buffer and added seqlens_k and total_sequence_length
// (compiler/import/GrowingCache.h); here the attention over the Concat
// becomes one moe.attention, which writes k at rows [past, past + T) of the
// buffer and returns it as the present output. Its mask is evaluated for
// pairs (T, past) and must keep exactly the keys j <= past + i. While the
// graph is matched, the buffers stand for `past` rows (the evaluator is told
// so): that is the length the model's own Shape reads compute with.
//
//===----------------------------------------------------------------------===//
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/AttentionRaiser.h"
#include "passes/raise/ExpertPatterns.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

using namespace mlir;

namespace moec::raise::attention {

std::optional<CacheConcat> matchCacheConcat(Value v, int64_t capacity) {
  Operation *concat = definedByOnnx(v, "Concat");
  if (!concat || concat->getNumOperands() != 2)
    return std::nullopt;
  int64_t axis = getIntAttr(concat, "axis", 0);
  if (axis != 2 && axis != -2)
    return std::nullopt;
  Value past = concat->getOperand(0);
  // TorchScript reads the cache through a one-input Concat.
  while (Operation *view = past.getDefiningOp()) {
    if ((isOnnxOp(view, "Concat") || isOnnxOp(view, "Identity")) && view->getNumOperands() == 1)
      past = view->getOperand(0);
    else
      break;
  }
  auto pastType = rankedType(past);
  if (!isa<BlockArgument>(past) || !pastType || pastType.getRank() != 4 ||
      !pastType.hasStaticShape() || pastType.getDimSize(2) != capacity)
    return std::nullopt;
  return CacheConcat{concat, past, concat->getOperand(1)};
}

AttentionRaiser::AttentionRaiser(func::FuncOp func) : func(func) {
  // The arguments compiler/import/GrowingCache.h added for a growing cache.
  auto module = func->getParentOfType<ModuleOp>();
  auto capacityAttr =
      module ? module->getAttrOfType<IntegerAttr>("moec.kv_cache_capacity") : IntegerAttr();
  if (!capacityAttr)
    return;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, "onnx.name");
    if (name && name.getValue() == "total_sequence_length")
      totalLength = func.getArgument(i);
    if (name && name.getValue() == "seqlens_k")
      seqlens = func.getArgument(i);
  }
  if (!totalLength || !seqlens)
    return;
  capacity = capacityAttr.getInt();
  for (BlockArgument arg : func.getArguments()) {
    auto type = rankedType(arg);
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "onnx.name");
    if (type && type.getRank() == 4 && type.hasStaticShape() &&
        type.getDimSize(2) == capacity && name && name.getValue().starts_with("past"))
      caches.push_back(arg);
  }
}

TokenBoundEvaluator AttentionRaiser::evaluator(int64_t tokens, int64_t past) const {
  TokenBoundEvaluator e(tokens);
  if (totalLength) {
    EvalTensor total;
    total.kind = EvalTensor::Kind::Int;
    total.shape = {1};
    total.data = {static_cast<double>(past + tokens)};
    e.bind(totalLength, std::move(total));
    // The graph reads `past` rows from each cache (its Shape was
    // rewritten so); the buffer's capacity is no length of the model's.
    // And so do their views (TorchScript reads a cache through a
    // one-input Concat), found now: raising erases them.
    SmallVector<Value> views(caches.begin(), caches.end());
    for (size_t i = 0; i < views.size(); ++i) {
      SmallVector<int64_t> shape(rankedType(views[i]).getShape());
      shape[2] = past;
      e.bindShape(views[i], std::move(shape));
      for (Operation *user : views[i].getUsers())
        if ((isOnnxOp(user, "Concat") || isOnnxOp(user, "Identity")) &&
            user->getNumOperands() == 1 &&
            rankedType(user->getResult(0)) == rankedType(views[i]))
          views.push_back(user->getResult(0));
    }
  }
  return e;
}

// repeat_kv of a cache Concat, whose types are deferred (past + T rows):
// Reshape(Expand(Unsqueeze(x, [2]), [B, KV, rep, L, D]), [B, KV * rep, L, D])
// checked on the targets' values at one (T, past). Returns x, or `v`.
Value AttentionRaiser::peelCachedRepeatKv(Value v) {
  Operation *reshape = definedByOnnx(v, "Reshape");
  Operation *expand = reshape ? definedByOnnx(reshape->getOperand(0), "Expand") : nullptr;
  Operation *unsqueeze = expand ? definedByOnnx(expand->getOperand(0), "Unsqueeze") : nullptr;
  if (!unsqueeze || !reshape->getOperand(0).hasOneUse() || !expand->getOperand(0).hasOneUse())
    return v;
  Value base = unsqueeze->getOperand(0);
  std::optional<std::vector<int64_t>> axes;
  if (Value axesValue = getOnnxInput(unsqueeze, 1))
    axes = getKnownInts(axesValue);
  else if (auto attr = getIntsAttr(unsqueeze, "axes"))
    axes = std::vector<int64_t>(attr->begin(), attr->end());
  auto baseType = rankedType(matchCacheConcat(base, capacity) ? base.getDefiningOp()->getOperand(1)
                                                              : Value());
  if (!axes || *axes != std::vector<int64_t>{2} || !baseType)
    return v;
  const int64_t tokens = 3, past = 2, length = past + tokens;
  TokenBoundEvaluator e = evaluator(tokens, past);
  auto target5 = e.eval(getOnnxInput(expand, 1)), target4 = e.eval(getOnnxInput(reshape, 1));
  if (!target5 || !target4 || target5->data.size() != 5 || target4->data.size() != 4)
    return v;
  auto &t5 = target5->data, &t4 = target4->data;
  double b = baseType.getDimSize(0), kv = baseType.getDimSize(1), d = baseType.getDimSize(3);
  bool repeat = t5[0] == b && t5[1] == kv && t5[2] >= 1 && t5[3] == length && t5[4] == d &&
                t4[0] == b && t4[1] == kv * t5[2] && (t4[2] == length || t4[2] == -1) &&
                t4[3] == d;
  return repeat ? base : v;
}

// The masks at pairs (T, past) must keep exactly the keys j <= past + i of
// the [T, past + T] scores (within one window, found at the largest pair).
LogicalResult AttentionRaiser::checkCachedMask(const AttentionMatch &m, int64_t &window,
                                               std::string &why) {
  int64_t heads = rankedType(m.query).getDimSize(1);
  // Largest first: it fixes the window the others must agree with.
  const std::pair<int64_t, int64_t> pairs[] = {{16, 40}, {7, 9}, {5, 0}, {3, 4}, {1, 0},
                                               {1, 1},   {1, 6}, {2, 13}, {4, 1}};
  window = -1;
  for (auto [t, past] : pairs) {
    TokenBoundEvaluator e = evaluator(t, past);
    int64_t keys = past + t;
    auto kept = keptKeys(m.masks, e, t, keys, heads, "[.., T, past + T]", why);
    if (!kept)
      return failure();
    const std::vector<char> &allowed = *kept;
    if (window < 0) {
      int64_t last = 0;
      for (int64_t j = 0; j < keys; ++j)
        last += allowed[(t - 1) * keys + j];
      window = last == keys ? 0 : last;
    }
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < keys; ++j) {
        bool expect = j <= past + i && (window == 0 || past + i - j < window);
        if ((allowed[i * keys + j] != 0) != expect) {
          why = "the mask is not causal over the cache" +
                std::string(window ? " with a window of " + std::to_string(window) : "") +
                " at T = " + std::to_string(t) + ", past = " + std::to_string(past) +
                " (query " + std::to_string(i) + ", key " + std::to_string(j) + ")";
          return failure();
        }
      }
  }
  return success();
}

// Shapes read from the grown cache or its repeat_kv copies (TorchScript
// reads the batch, head and head-size dims of the grown cache or of the
// repeated values for Reshapes after the attention) are computed anew: the
// dims that stay fixed as constants, the length (past + T) from
// total_sequence_length. Then they no longer keep the Concat alive.
void AttentionRaiser::replaceGrownShapes(Value grown) {
  SmallVector<Value> values{grown};
  SmallVector<Operation *> shapes;
  DenseSet<Value> seen;
  while (!values.empty()) {
    Value v = values.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (Operation *user : v.getUsers()) {
      if (isOnnxOp(user, "Shape"))
        shapes.push_back(user);
      else if (isOnnxOp(user, "Unsqueeze") || isOnnxOp(user, "Expand") ||
               isOnnxOp(user, "Reshape") || isOnnxOp(user, "Transpose"))
        if (user->getOperand(0) == v)
          values.push_back(user->getResult(0));
    }
  }
  for (Operation *shape : shapes) {
    // Two (T, past) points tell the length dims from the fixed ones.
    TokenBoundEvaluator at1 = evaluator(3, 2), at2 = evaluator(4, 7);
    auto s1 = at1.eval(shape->getResult(0)), s2 = at2.eval(shape->getResult(0));
    if (!s1 || !s2 || s1->data.size() != s2->data.size())
      continue;
    OpBuilder b(shape);
    Location loc = shape->getLoc();
    auto i64 = b.getI64Type();
    auto one = RankedTensorType::get({1}, i64);
    // A dim read by Gather(shape, constant) becomes that dim alone: one
    // run-time element in a shape vector would hide the static ones from
    // the Reshapes that read them.
    SmallVector<Operation *> gathers;
    for (Operation *user : shape->getResult(0).getUsers())
      if (isOnnxOp(user, "Gather") && user->getOperand(0) == shape->getResult(0) &&
          getIntAttr(user, "axis", 0) == 0)
        gathers.push_back(user);
    for (Operation *gather : gathers) {
      auto index = getKnownInts(gather->getOperand(1));
      // Gather from a 1-D shape: the result has the index's shape (the
      // types may still be the deferred ones).
      auto indexType = rankedType(gather->getOperand(1));
      if (!index || index->size() != 1 || !indexType)
        continue;
      auto type = RankedTensorType::get(indexType.getShape(), i64);
      int64_t d = (*index)[0] < 0 ? (*index)[0] + s1->data.size() : (*index)[0];
      if (d < 0 || d >= static_cast<int64_t>(s1->data.size()))
        continue;
      OpBuilder gb(gather);
      Value dim;
      if (s1->data[d] == s2->data[d]) {
        dim = onnx::ConstantOp::create(
            gb, loc, type,
            DenseIntElementsAttr::get(type, ArrayRef<int64_t>{static_cast<int64_t>(s1->data[d])}));
      } else if (s1->data[d] == 5 && s2->data[d] == 11) {
        dim = onnx::CastOp::create(gb, loc, one, totalLength, TypeAttr::get(i64)).getResult();
        if (type != one) {
          auto shapeType = RankedTensorType::get({type.getRank()}, i64);
          Value target = onnx::ConstantOp::create(
              gb, loc, shapeType,
              DenseIntElementsAttr::get(shapeType, SmallVector<int64_t>(type.getRank(), 1)));
          dim = onnx::ReshapeOp::create(gb, loc, type, dim, target).getReshaped();
        }
      } else {
        continue;
      }
      gather->getResult(0).replaceAllUsesWith(dim);
      gather->erase();
    }
    if (shape->use_empty()) {
      shape->erase();
      continue;
    }
    SmallVector<Value> pieces;
    for (size_t d = 0; d < s1->data.size(); ++d) {
      if (s1->data[d] == s2->data[d])
        pieces.push_back(onnx::ConstantOp::create(
            b, loc, one,
            DenseIntElementsAttr::get(one, ArrayRef<int64_t>{static_cast<int64_t>(s1->data[d])})));
      else if (s1->data[d] == 5 && s2->data[d] == 11)
        pieces.push_back(
            onnx::CastOp::create(b, loc, one, totalLength, TypeAttr::get(i64)).getResult());
      else
        break;
    }
    if (pieces.size() != s1->data.size()) {
      for (Value piece : pieces)
        piece.getDefiningOp()->erase();
      continue;
    }
    auto resultType = RankedTensorType::get({static_cast<int64_t>(pieces.size())}, i64);
    Value replacement =
        onnx::ConcatOp::create(b, loc, resultType, pieces, b.getI64IntegerAttr(0)).getResult();
    shape->getResult(0).replaceAllUsesWith(replacement);
    shape->erase();
  }
}

LogicalResult AttentionRaiser::raiseCached(Operation *softmax, AttentionMatch &m,
                                           const CacheConcat &key, const CacheConcat &value) {
  std::string why;
  auto refuse = [&]() -> LogicalResult {
    return softmax->emitError() << "attention over the KV cache was not raised to "
                                   "moe.attention: "
                                << why;
  };
  auto q = rankedType(m.query), k = rankedType(key.fresh), v = rankedType(value.fresh);
  // Deferred upstream (an MoE block not raised yet): the next round.
  if (!q || !k || !v)
    return success();
  auto pastType = rankedType(key.past);
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4 || q.isDynamicDim(1) ||
      q.isDynamicDim(3) || !q.isDynamicDim(2) || !k.isDynamicDim(2) || !v.isDynamicDim(2)) {
    why = "q, k and v are not [B, heads, T, head size]";
    return refuse();
  }
  int64_t batch = pastType.getDimSize(0), kvHeads = pastType.getDimSize(1),
          headSize = pastType.getDimSize(3), heads = q.getDimSize(1);
  if (ArrayRef<int64_t>(m.keyPerm) != ArrayRef<int64_t>{0, 1, 2, 3}) {
    why = "the keys are transposed before the cache";
    return refuse();
  }
  if (m.sinks) {
    why = "attention sinks with a KV cache (moe.attention has none)";
    return refuse();
  }
  if (rankedType(value.past) != pastType || v.getDimSize(3) != headSize ||
      q.getDimSize(3) != headSize) {
    why = "the value head size differs from the key's (moe.attention caches both alike)";
    return refuse();
  }
  if (k.getDimSize(0) != batch || k.getDimSize(1) != kvHeads || k.getDimSize(3) != headSize ||
      rankedType(value.fresh).getShape() != k.getShape() || q.getDimSize(0) != batch) {
    why = "the new keys and values do not match the cache's [B, KV, -, D]";
    return refuse();
  }
  if (heads % kvHeads != 0) {
    why = "the query heads are not a multiple of the KV heads";
    return refuse();
  }
  int64_t window = 0;
  if (failed(checkCachedMask(m, window, why)))
    return refuse();

  OpBuilder b(m.root);
  Location loc = m.root->getLoc();
  Type element = q.getElementType();
  int64_t dyn = ShapedType::kDynamic;
  // [B, H, T, D] <-> [B, T, H * D]: moe.attention reads tokens first.
  auto tokensFirst = [&](Value x, int64_t h) -> Value {
    auto swapped = RankedTensorType::get({batch, dyn, h, headSize}, element);
    Value t = onnx::TransposeOp::create(b, loc, swapped, x, b.getDenseI64ArrayAttr({0, 2, 1, 3}))
                  .getResult();
    auto flatType = RankedTensorType::get({batch, dyn, h * headSize}, element);
    auto shapeType = RankedTensorType::get({3}, b.getI64Type());
    Value shape = onnx::ConstantOp::create(
        b, loc, shapeType, DenseIntElementsAttr::get(shapeType, ArrayRef<int64_t>{batch, -1, h * headSize}));
    return onnx::ReshapeOp::create(b, loc, flatType, t, shape).getReshaped();
  };
  Value query = tokensFirst(m.query, heads), newKey = tokensFirst(key.fresh, kvHeads),
        newValue = tokensFirst(value.fresh, kvHeads);
  auto outputType = RankedTensorType::get({batch, dyn, heads * headSize}, element);
  auto attention = moe::AttentionOp::create(
      b, loc, outputType, pastType, pastType, query, newKey, newValue, key.past, value.past,
      seqlens, totalLength, Value(), Value(), b.getI64IntegerAttr(heads),
      b.getI64IntegerAttr(kvHeads), b.getF32FloatAttr(static_cast<float>(m.scale)),
      b.getF32FloatAttr(static_cast<float>(m.softcap)), b.getI64IntegerAttr(window),
      b.getBoolAttr(false));
  if (failed(mlir::verify(attention))) {
    attention->erase();
    why = "the matched q, k and v do not form a valid moe.attention";
    return refuse();
  }
  auto splitType = RankedTensorType::get({batch, dyn, heads, headSize}, element);
  auto shapeType = RankedTensorType::get({4}, b.getI64Type());
  Value splitShape = onnx::ConstantOp::create(
      b, loc, shapeType, DenseIntElementsAttr::get(shapeType, ArrayRef<int64_t>{batch, -1, heads, headSize}));
  Value split =
      onnx::ReshapeOp::create(b, loc, splitType, attention.getOutput(), splitShape).getReshaped();
  Value headsFirst =
      onnx::TransposeOp::create(b, loc, RankedTensorType::get({batch, heads, dyn, headSize}, element),
                                split, b.getDenseI64ArrayAttr({0, 2, 1, 3}))
          .getResult();
  for (Operation *concat : {key.concat, value.concat})
    replaceGrownShapes(concat->getResult(0));
  m.root->getResult(0).replaceAllUsesWith(headsFirst);
  eraseDeadOnnxOps(m.root);
  // The graph's present outputs are the buffer moe.attention wrote; any
  // other reader of the grown Concat keeps it (and its deferred shape, which
  // moec-onnx-infer-shapes reports).
  for (auto [concat, present] : {std::pair{key.concat, attention.getPresentKey()},
                                 std::pair{value.concat, attention.getPresentValue()}}) {
    concat->getResult(0).replaceUsesWithIf(
        present, [](OpOperand &use) { return isa<func::ReturnOp>(use.getOwner()); });
    if (concat->use_empty())
      eraseDeadOnnxOps(concat);
  }
  refreshShapes(func);
  return success();
}


} // namespace moec::raise::attention
