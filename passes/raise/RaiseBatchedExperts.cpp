//===- RaiseBatchedExperts.cpp - gathered-weight MoE experts to moe.experts -===//
//
// transformers 5 keeps an MoE block's experts stacked (gate_up_proj
// [E, 2I, H], down_proj [E, H, I]); with experts_implementation="batched_mm"
// the block gathers, for each of the T*k (token, choice) pairs, the chosen
// expert's weights and runs one batched matrix-vector product per layer:
//
//   x_rep = Reshape(Expand(Unsqueeze(x, 1), [.., k, ..]), [-1, H])       (dynamo)
//         | Flatten(Tile(Unsqueeze(x, 1), [1, k, 1]), axis 2)            (torchscript)
//   W1    = Gather(gate_up, Reshape(ids, [-1]), axis 0)                  (torchscript)
//         | GatherND(gate_up, Unsqueeze(Reshape(ids, [-1]), -1))         (dynamo)
//   h     = Squeeze(MatMul(W1, Unsqueeze(x_rep, -1)), -1) [+ b1[ids]]    [T*k, 2I]
//   gate, up = the halves of h (Split, or two Slices whose bound is
//              computed from Shape(h): (2I + 1) / 2)
//   a     = silu(gate) * up                 (silu written Mul(g, Sigmoid(g)))
//   y     = Squeeze(MatMul(W2, Unsqueeze(a, -1)), -1) [+ b2[ids]]        [T*k, H]
//
// gpt-oss stores its experts [E, in, out] (gate_up_proj [E, H, 2I]), so
// each product is Squeeze(MatMul(Unsqueeze(v, 1), W[ids]), 1) + b[ids];
// gate and up are h's even and odd columns (Slices with step 2) and the
// activation is clamped: g = Clip(gate, max = l), u = Clip(up, -l, l),
// a = (u + 1) * (g * Sigmoid(g * 1.702)). moe.experts says exactly that
// with swiglu_fusion 1, alpha, beta (the + 1) and limit; the weights are
// transposed into its [E, out, in] layout at compile time.
//   out   = ReduceSum(Reshape(y * Unsqueeze(Reshape(w, [-1]), -1), [T, k, H]),
//                     axis 1, keepdims 0)                                [T, H]
//
// with (w, ids) the top k of a router that scored the rows of x. Older
// layouts keep gate and up as two stacked weights [E, I, H]: then gate and
// up are two such products of x_rep.
//
// That copies k weight matrices per token and computes T*k products; the
// pass replaces `out` by moe.router + moe.experts reading the stacked
// weights as they are (gate_up_proj is fc1 with swiglu_fusion = 2, gate rows
// then up rows; down_proj is fc2), and erases the gathered form.
//
// Inside the block the importer left most values unranked (T*k rows is a
// shape moec cannot write), so the pass matches structure and takes every
// size from x, the router and the constant weights; the strict shape pass
// after it re-infers the users of `out`.
//
// Anything else is left alone, without a diagnostic: whole-matrix repeats
// (Tile(x, [k, 1])), weights and ids from different TopKs, weights that are
// not constants, a sum over another axis, the activation on the second half
// (or on the odd columns), an intermediate value with a use outside the
// block, activations other than (clamped) SwiGLU (moe.experts has no gated
// GELU), a non-constant alpha or beta, clamps moe.experts cannot express
// (gate and up at different limits, one side only), routers matchRouter does
// not accept.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/ExpertActivation.h"
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <algorithm>

namespace moec {
#define GEN_PASS_DEF_MOECRAISEBATCHEDEXPERTS
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec::raise;
using moec::definedByOnnx;
using moec::isOnnxOp;
namespace moe = moec::moe;

namespace {

using Ints = std::vector<int64_t>;
constexpr int64_t kDyn = ShapedType::kDynamic;

std::optional<Ints> knownInts(Value v) {
  if (!v)
    return std::nullopt;
  return moec::getKnownInts(v);
}

// The axes of a Squeeze, Unsqueeze or ReduceSum: input 1 (opset 13 on) or
// the attribute of older opsets.
std::optional<Ints> axesOf(Operation *op) {
  if (Value axes = moec::getOnnxInput(op, 1))
    return knownInts(axes);
  return moec::getIntsAttr(op, "axes");
}

// `op`'s axes are exactly `axis` of a rank-`rank` tensor (written either
// way: 2 or -1 of rank 3).
bool hasSingleAxis(Operation *op, int64_t axis, int64_t rank) {
  auto axes = axesOf(op);
  return axes && axes->size() == 1 && ((*axes)[0] == axis || (*axes)[0] + rank == axis);
}

// Whether a Reshape from `in` to `out` keeps the rows: out is [R, H] with a
// static H, and in is [1, ..., 1, R, H] (the batch of one that exporters
// flatten away, or nothing at all).
bool keepsRows(RankedTensorType in, RankedTensorType out) {
  if (!in || !out || out.getRank() != 2 || in.getRank() < 2 || out.isDynamicDim(1) ||
      in.getElementType() != out.getElementType())
    return false;
  int64_t rank = in.getRank();
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (in.getDimSize(i) != 1)
      return false;
  return in.getDimSize(rank - 1) == out.getDimSize(1) &&
         in.getDimSize(rank - 2) == out.getDimSize(0);
}

// `v` through ops that keep a [T, H] matrix's rows as they are: Identity,
// no-op Casts, and Reshapes that only drop leading unit dims. Two
// reshapes of one [1, T, H] input (torchscript writes one for the router
// and one for the experts) so lead to the same value.
Value sameRows(Value v) {
  while (Operation *def = v ? v.getDefiningOp() : nullptr) {
    Value in = def->getNumOperands() ? def->getOperand(0) : Value();
    if (isNoopCast(def) || isOnnxOp(def, "Identity")) {
      v = in;
    } else if (isOnnxOp(def, "Reshape") && keepsRows(rankedType(in), rankedType(v))) {
      v = in;
    } else {
      break;
    }
  }
  return v;
}

// The router's logits are a linear layer of x's rows: MatMul(x, Wg) (+ b)
// or Gemm(x, Wg, ...), maybe cast, with x seen through row-preserving views.
bool scoresRowsOf(Value logits, Value x) {
  Value scores = skipNoopCasts(logits);
  if (Operation *add = definedByOnnx(scores, "Add")) {
    // gpt-oss's router has a bias: MatMul + Add when it is not a Gemm.
    bool constantRight = static_cast<bool>(moec::getConstantElements(add->getOperand(1)));
    scores = add->getOperand(constantRight ? 0 : 1);
    if (!moec::getConstantElements(add->getOperand(constantRight ? 1 : 0)))
      return false;
  }
  Operation *matmul = definedByOnnx(scores, "MatMul");
  Operation *gemm = definedByOnnx(scores, "Gemm");
  if (gemm && moec::getIntAttr(gemm, "transA", 0) != 0)
    return false;
  Operation *linear = matmul ? matmul : gemm;
  return linear && sameRows(linear->getOperand(0)) == sameRows(x);
}

// A stacked constant indexed by the flattened top-k ids.
struct Selection {
  Value data; // the constant, [E, ...]
  Value ids;  // the router's [T, k] ids
};

// One batched product: row s of the result is W[ids[s]] · input[s] (+ b[ids[s]]),
// or input[s] · W[ids[s]] with W stacked [E, in, out] (`transposed`).
struct MatVec {
  Selection weight;
  std::optional<Selection> bias;
  Value input;
  bool transposed = false;
  int64_t rows() const { return dim(transposed ? 2 : 1); } // out
  int64_t cols() const { return dim(transposed ? 1 : 2); } // in
  int64_t dim(unsigned i) const {
    return cast<RankedTensorType>(weight.data.getType()).getDimSize(i);
  }
};

struct BatchedBlock {
  Value x;               // [T, H]
  Value weights, ids;    // the router's top k, [T, k]
  int64_t k = 0, hidden = 0, inter = 0, experts = 0;
  Value fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias;
  bool fc1T = false, fc2T = false, fc3T = false; // stored [E, in, out]
  GatedActivation glu;
};

// Matches one candidate block. Every op found inside the block is recorded
// in `ops`; on a failed alternative the record is rolled back to a mark.
class Matcher {
public:
  SmallVector<Operation *, 64> ops;

  std::optional<BatchedBlock> match(Operation *root);

private:
  size_t mark() const { return ops.size(); }
  void rollback(size_t m) { ops.truncate(m); }

  // `v` under interior no-op Casts and Squeeze(Unsqueeze(v, a), a) round
  // trips (dynamo writes one after each in-place bias add); recorded: they
  // die with the block.
  Value inner(Value v) {
    while (true) {
      v = skipNoopCasts(v, &ops);
      Operation *squeeze = definedByOnnx(v, "Squeeze");
      Operation *unsqueeze =
          squeeze ? definedByOnnx(squeeze->getOperand(0), "Unsqueeze") : nullptr;
      auto outer = squeeze ? axesOf(squeeze) : std::nullopt;
      auto innerAxes = unsqueeze ? axesOf(unsqueeze) : std::nullopt;
      // The same single axis value names the same position on both sides.
      if (!outer || !innerAxes || outer->size() != 1 || *outer != *innerAxes)
        return v;
      ops.push_back(squeeze);
      ops.push_back(unsqueeze);
      v = unsqueeze->getOperand(0);
    }
  }

  Operation *take(Value v, StringRef type) {
    Operation *op = definedByOnnx(inner(v), type);
    if (op)
      ops.push_back(op);
    return op;
  }

  Value flatIds(Value flat);
  std::optional<Selection> select(Value v, int64_t rank);
  std::optional<MatVec> matVec(Value out);
  std::optional<MatVec> matVecWithBias(Value out);
  Value weightColumn(Value v);
  Value repeatedRows(Value v, int64_t k, int64_t hidden);
  ActivationMatcher activation() {
    return ActivationMatcher(ops, [this](Value v) { return inner(v); });
  }
};

// Reshape(ids, [n]): the [T, k] ids as T*k entries, token-major. Any 1-D
// target is that flattening (the element count fixes it).
Value Matcher::flatIds(Value flat) {
  Operation *reshape = take(flat, "Reshape");
  if (!reshape)
    return {};
  auto shape = knownInts(reshape->getOperand(1));
  Value ids = reshape->getOperand(0);
  auto idsType = rankedType(ids);
  if (!shape || shape->size() != 1 || !idsType || idsType.getRank() != 2 ||
      !isa<IntegerType>(idsType.getElementType()))
    return {};
  return ids;
}

// data[ids]: Gather(data, flat, axis 0) or GatherND(data, Unsqueeze(flat, -1))
// of a constant float tensor of rank `rank`.
std::optional<Selection> Matcher::select(Value v, int64_t rank) {
  size_t m = mark();
  Value data, flat;
  if (Operation *gather = take(v, "Gather")) {
    if (moec::getIntAttr(gather, "axis", 0) == 0) {
      data = gather->getOperand(0);
      flat = gather->getOperand(1);
    }
  } else if (Operation *gatherNd = take(v, "GatherND")) {
    Operation *column = take(gatherNd->getOperand(1), "Unsqueeze");
    if (moec::getIntAttr(gatherNd, "batch_dims", 0) == 0 && column &&
        hasSingleAxis(column, 1, 2)) {
      data = gatherNd->getOperand(0);
      flat = column->getOperand(0);
    }
  }
  Value ids = data ? flatIds(flat) : Value();
  ElementsAttr constant = data ? moec::getConstantElements(data) : ElementsAttr();
  auto type = constant ? dyn_cast<RankedTensorType>(constant.getType()) : nullptr;
  if (!ids || !type || type.getRank() != rank || !type.hasStaticShape() ||
      !isa<FloatType>(type.getElementType())) {
    rollback(m);
    return std::nullopt;
  }
  return Selection{data, ids};
}

// Squeeze(MatMul(W[ids], Unsqueeze(input, -1)), -1), or with W stored
// [E, in, out] (gpt-oss): Squeeze(MatMul(Unsqueeze(input, 1), W[ids]), 1).
std::optional<MatVec> Matcher::matVec(Value out) {
  size_t m = mark();
  Operation *squeeze = take(out, "Squeeze");
  bool transposed = squeeze && hasSingleAxis(squeeze, 1, 3);
  Operation *matmul = squeeze && (transposed || hasSingleAxis(squeeze, 2, 3))
                          ? take(squeeze->getOperand(0), "MatMul")
                          : nullptr;
  unsigned vectorSide = transposed ? 0 : 1;
  Operation *column = matmul ? take(matmul->getOperand(vectorSide), "Unsqueeze") : nullptr;
  std::optional<Selection> weight;
  if (column && hasSingleAxis(column, transposed ? 1 : 2, 3))
    weight = select(matmul->getOperand(1 - vectorSide), 3);
  if (!weight) {
    rollback(m);
    return std::nullopt;
  }
  return MatVec{*weight, std::nullopt, inner(column->getOperand(0)), transposed};
}

// matVec, or matVec + b[ids] with a stacked constant bias [E, n].
std::optional<MatVec> Matcher::matVecWithBias(Value out) {
  size_t m = mark();
  if (Operation *add = take(out, "Add")) {
    for (unsigned i = 0; i < 2; ++i) {
      size_t beforeTry = mark();
      auto product = matVec(add->getOperand(i));
      auto bias = product ? select(add->getOperand(1 - i), 2) : std::nullopt;
      if (bias) {
        product->bias = bias;
        return product;
      }
      rollback(beforeTry);
    }
    rollback(m);
    return std::nullopt;
  }
  return matVec(out);
}

// Unsqueeze(Reshape(w, [n]), -1): the [T, k] routing weights as one per
// (token, choice) row. Returns w (under no-op Casts, which stay outside).
Value Matcher::weightColumn(Value v) {
  size_t m = mark();
  Operation *column = take(v, "Unsqueeze");
  Operation *flat =
      column && hasSingleAxis(column, 1, 2) ? take(column->getOperand(0), "Reshape") : nullptr;
  auto shape = flat ? knownInts(flat->getOperand(1)) : std::nullopt;
  Value w = flat ? skipNoopCasts(flat->getOperand(0)) : Value();
  auto wType = rankedType(w);
  if (!shape || shape->size() != 1 || !wType || wType.getRank() != 2) {
    rollback(m);
    return {};
  }
  return w;
}

// Each row of x repeated k times in a row ([T*k, H]; torch's
// repeat_interleave): Reshape or Flatten of Expand or Tile of Unsqueeze(x, 1).
// Tile(x, [k, 1]) repeats the whole matrix instead and does not match.
// Returns x.
Value Matcher::repeatedRows(Value v, int64_t k, int64_t hidden) {
  size_t m = mark();
  auto fail = [&] {
    rollback(m);
    return Value();
  };
  std::optional<Ints> rowsShape;
  Value repeated;
  if (Operation *reshape = take(v, "Reshape")) {
    rowsShape = knownInts(reshape->getOperand(1));
    if (!rowsShape || rowsShape->size() != 2 || (*rowsShape)[1] != hidden)
      return fail();
    repeated = reshape->getOperand(0);
  } else if (Operation *flatten = take(v, "Flatten")) {
    int64_t axis = moec::getIntAttr(flatten, "axis", 1);
    if (axis != 2 && axis != -1)
      return fail();
    repeated = flatten->getOperand(0);
  } else {
    return fail();
  }
  Operation *expand = take(repeated, "Expand");
  Operation *tile = expand ? nullptr : take(repeated, "Tile");
  if (!expand && !tile)
    return fail();
  auto counts = knownInts((expand ? expand : tile)->getOperand(1));
  Operation *unsqueeze = take((expand ? expand : tile)->getOperand(0), "Unsqueeze");
  if (!counts || !unsqueeze || !hasSingleAxis(unsqueeze, 1, 3))
    return fail();
  Value x = unsqueeze->getOperand(0);
  auto xType = rankedType(x);
  if (!xType || xType.getRank() != 2 || xType.getDimSize(1) != hidden)
    return fail();
  int64_t tokens = xType.getDimSize(0);
  if (tile) {
    if (*counts != Ints{1, k, 1})
      return fail();
  } else {
    // Expand broadcasts [T, 1, H] against the shape, aligned on the right:
    // the result must be [T, k, H].
    if (counts->size() > 3)
      return fail();
    Ints shape(3 - counts->size(), 1);
    shape.insert(shape.end(), counts->begin(), counts->end());
    bool tokensKept = shape[0] == 1 || shape[0] == kDyn || shape[0] == tokens;
    if (!tokensKept || shape[1] != k || (shape[2] != 1 && shape[2] != hidden))
      return fail();
  }
  if (rowsShape) {
    int64_t rows = (*rowsShape)[0];
    bool allRows = rows == -1 || rows == kDyn || (tokens != kDyn && rows == tokens * k);
    if (!allRows)
      return fail();
  }
  return x;
}

std::optional<BatchedBlock> Matcher::match(Operation *root) {
  // out = ReduceSum(Reshape(y * w_col, [T, k, H]), axis 1, keepdims 0)
  if (moec::getIntAttr(root, "keepdims", 1) != 0 || !hasSingleAxis(root, 1, 3))
    return std::nullopt;
  Operation *perToken = take(root->getOperand(0), "Reshape");
  auto split = perToken ? knownInts(perToken->getOperand(1)) : std::nullopt;
  if (!split || split->size() != 3 || (*split)[1] <= 0 || (*split)[2] <= 0)
    return std::nullopt;
  BatchedBlock block;
  block.k = (*split)[1];
  block.hidden = (*split)[2];
  Operation *scale = take(perToken->getOperand(0), "Mul");
  if (!scale)
    return std::nullopt;

  std::optional<MatVec> down;
  for (unsigned i = 0; i < 2 && !down; ++i) {
    size_t m = mark();
    block.weights = weightColumn(scale->getOperand(1 - i));
    if (block.weights)
      down = matVecWithBias(scale->getOperand(i));
    if (!down)
      rollback(m);
  }
  if (!down)
    return std::nullopt;
  // down_proj [E, H, I] (or [E, I, H] transposed)
  block.experts = down->dim(0);
  block.inter = down->cols();
  if (down->rows() != block.hidden)
    return std::nullopt;
  block.fc2 = down->weight.data;
  block.fc2T = down->transposed;
  block.ids = down->weight.ids;
  if (down->bias)
    block.fc2Bias = down->bias->data;
  SmallVector<Selection> selections{down->weight};
  if (down->bias)
    selections.push_back(*down->bias);
  auto keep = [&](const MatVec &product) {
    selections.push_back(product.weight);
    if (product.bias)
      selections.push_back(*product.bias);
  };

  std::optional<GatedActivation> glu = activation().match(down->input);
  if (!glu)
    return std::nullopt;
  block.glu = *glu;
  Value xRep;
  // gate_up_proj [E, 2I, H]: the halves (or even and odd columns) of one
  // product ...
  size_t beforeFused = mark();
  if (activation().halves(block.glu, block.inter)) {
    auto fc1 = matVecWithBias(block.glu.fused);
    if (fc1 && fc1->rows() == 2 * block.inter) {
      block.fc1 = fc1->weight.data;
      block.fc1T = fc1->transposed;
      block.fc1Bias = fc1->bias ? fc1->bias->data : Value();
      keep(*fc1);
      xRep = fc1->input;
    }
  }
  if (!xRep) {
    rollback(beforeFused);
    // ... or separate gate and up weights [E, I, H] (fc1 and fc3).
    auto gateProduct = matVecWithBias(glu->gate);
    auto upProduct = gateProduct ? matVecWithBias(glu->up) : std::nullopt;
    if (!upProduct || gateProduct->input != upProduct->input ||
        gateProduct->rows() != block.inter || upProduct->rows() != block.inter ||
        gateProduct->bias.has_value() != upProduct->bias.has_value())
      return std::nullopt;
    block.fc1 = gateProduct->weight.data;
    block.fc3 = upProduct->weight.data;
    block.fc1T = gateProduct->transposed;
    block.fc3T = upProduct->transposed;
    block.fc1Bias = gateProduct->bias ? gateProduct->bias->data : Value();
    block.fc3Bias = upProduct->bias ? upProduct->bias->data : Value();
    block.glu.fused = {};
    block.glu.fusion = 0;
    keep(*gateProduct);
    keep(*upProduct);
    xRep = gateProduct->input;
  }
  block.x = repeatedRows(xRep, block.k, block.hidden);
  if (!block.x)
    return std::nullopt;

  // Every gather reads the same ids, and every weight has the experts'
  // shapes: fc1 [E, F1, H], fc3 [E, I, H], biases [E, rows].
  Type element = elementTypeOf(block.x);
  for (const Selection &s : selections) {
    auto type = cast<RankedTensorType>(s.data.getType());
    if (s.ids != block.ids || type.getDimSize(0) != block.experts ||
        type.getElementType() != element)
      return std::nullopt;
  }
  auto dim = [](Value w, bool transposed, bool in) {
    return cast<RankedTensorType>(w.getType()).getDimSize(transposed == in ? 1 : 2);
  };
  if (dim(block.fc1, block.fc1T, true) != block.hidden ||
      (block.fc3 && dim(block.fc3, block.fc3T, true) != block.hidden))
    return std::nullopt;
  int64_t fc1Rows = dim(block.fc1, block.fc1T, false);
  auto biasFits = [](Value bias, int64_t rows) {
    return !bias || cast<RankedTensorType>(bias.getType()).getDimSize(1) == rows;
  };
  if (!biasFits(block.fc1Bias, fc1Rows) || !biasFits(block.fc3Bias, block.inter) ||
      !biasFits(block.fc2Bias, block.hidden))
    return std::nullopt;

  // Nothing inside the block is read from outside it: the block is erased.
  llvm::SmallPtrSet<Operation *, 32> inside(ops.begin(), ops.end());
  inside.insert(root);
  for (Operation *op : inside) {
    if (op == root)
      continue;
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers())
        if (!inside.contains(user))
          return std::nullopt;
  }
  return block;
}

LogicalResult raiseAt(Operation *root) {
  Matcher matcher;
  std::optional<BatchedBlock> block = matcher.match(root);
  if (!block)
    return success();

  // The routing weights and ids come from one router with this k that
  // scored the rows of x (moe.experts gives row t the choices of row t).
  std::optional<SoftmaxRouter> router =
      matchRouter(block->weights, block->ids, block->experts);
  auto xType = rankedType(block->x);
  auto logitsType = router ? rankedType(router->logits) : nullptr;
  if (!router || router->k != block->k || !logitsType ||
      logitsType.getDimSize(0) != xType.getDimSize(0) ||
      logitsType.getElementType() != xType.getElementType() ||
      elementTypeOf(block->weights) != xType.getElementType() ||
      !scoresRowsOf(router->logits, block->x))
    return success();
  // The result is x's type; onnx users accept it in place of the unranked
  // value, anything else would need the old type.
  Value out = root->getResult(0);
  for (Operation *user : out.getUsers())
    if (out.getType() != xType &&
        !(user->getDialect() && user->getDialect()->getNamespace() == "onnx"))
      return success();

  const GatedActivation &glu = block->glu;
  ExpertWeights weights{block->fc1, block->fc1Bias, block->fc2, block->fc2Bias,
                        block->fc3, block->fc3Bias, block->fc1T, block->fc2T,
                        block->fc3T};
  return replaceByExperts(root, *router, block->x, weights,
                          {glu.fusion, glu.alpha, glu.beta, glu.limit});
}

struct RaiseBatchedExpertsPass
    : moec::impl::MoecRaiseBatchedExpertsBase<RaiseBatchedExpertsPass> {
  using MoecRaiseBatchedExpertsBase::MoecRaiseBatchedExpertsBase;
  void runOnOperation() override {
    if (failed(raiseEach(getOperation(), "ReduceSum", raiseAt)))
      signalPassFailure();
  }
};

} // namespace
