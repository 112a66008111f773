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
#include "passes/raise/ExpertPatterns.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

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

// The gated activation (moe.experts' SwiGLU): G·sigmoid(alpha·G)·(L + beta)
// with G = min(gate, limit), L = clamp(up, -limit, limit).
struct Glu {
  Value gate, up; // before the clamps
  double alpha = 1.0, beta = 0.0, limit = std::numeric_limits<double>::infinity();
};

struct BatchedBlock {
  Value x;               // [T, H]
  Value weights, ids;    // the router's top k, [T, k]
  int64_t k = 0, hidden = 0, inter = 0, experts = 0;
  Value fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias;
  bool fc1T = false, fc2T = false, fc3T = false; // stored [E, in, out]
  int64_t fusion = 2;
  Glu glu;
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
  std::optional<Glu> gatedActivation(Value v);
  Value clamped(Value v, double &lo, double &hi);
  Value halves(Value gate, Value up, int64_t inter, int64_t &fusion);
  std::optional<Ints> evalShapeOf(Value v, Value h, int64_t width, bool &readsH, int depth);
  bool sliceIs(Operation *slice, Value h, int64_t width, int64_t begin, int64_t end,
               int64_t step = 1);
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

// A one-element float constant's value.
std::optional<double> scalarFloat(Value v) {
  ElementsAttr c = moec::getConstantElements(v);
  if (!c || c.getNumElements() != 1 || !isa<FloatType>(c.getElementType()))
    return std::nullopt;
  return moec::getElementAsDouble(c, 0);
}

// `v` under Clip, Min and Max by constants: returns the clamped value and
// narrows [lo, hi] to the bounds met (both start unbounded).
Value Matcher::clamped(Value v, double &lo, double &hi) {
  for (int depth = 0; depth < 2; ++depth) {
    Operation *def = inner(v).getDefiningOp();
    std::optional<double> min, max;
    if (isOnnxOp(def, "Clip") && def->getNumOperands() >= 1) {
      // Opset 11 on: bounds are optional inputs; before: attributes.
      Value minInput = moec::getOnnxInput(def, 1), maxInput = moec::getOnnxInput(def, 2);
      min = minInput ? scalarFloat(minInput) : moec::getFloatAttr(def, "min", -INFINITY);
      max = maxInput ? scalarFloat(maxInput) : moec::getFloatAttr(def, "max", INFINITY);
    } else if ((isOnnxOp(def, "Min") || isOnnxOp(def, "Max")) && def->getNumOperands() == 2) {
      std::optional<double> bound = scalarFloat(def->getOperand(1));
      if (!bound)
        return v;
      (isOnnxOp(def, "Min") ? max : min) = bound;
      min = min.value_or(-INFINITY);
      max = max.value_or(INFINITY);
    }
    if (!min || !max)
      return v;
    ops.push_back(def);
    lo = std::max(lo, *min);
    hi = std::min(hi, *max);
    v = def->getOperand(0);
  }
  return v;
}

// a = G·sigmoid(alpha·G)·(L + beta), the products either way round:
// silu(gate) * up (alpha 1, beta 0, no clamps) or gpt-oss's
// (clamp(up, -l, l) + 1) * (g * sigmoid(g * 1.702)) with g = min(gate, l).
// Left alone: a non-constant alpha or beta, clamps that moe.experts cannot
// express (only one side clamped, other limits on gate and up).
std::optional<Glu> Matcher::gatedActivation(Value v) {
  Operation *mul = take(v, "Mul");
  for (unsigned i = 0; mul && i < 2; ++i) {
    size_t m = mark();
    Glu glu;
    // The glu side: Mul(g, Sigmoid(g)) or Mul(g, Sigmoid(Mul(g, alpha))).
    Operation *gated = take(mul->getOperand(i), "Mul");
    for (unsigned j = 0; gated && j < 2 && !glu.gate; ++j) {
      Value g = inner(gated->getOperand(j));
      size_t beforeSigmoid = mark();
      Operation *sigmoid = take(gated->getOperand(1 - j), "Sigmoid");
      Value arg = sigmoid ? inner(sigmoid->getOperand(0)) : Value();
      if (arg && arg == g) {
        glu.gate = g;
      } else if (Operation *scale = arg ? take(arg, "Mul") : nullptr) {
        for (unsigned s = 0; s < 2 && !glu.gate; ++s) {
          auto alpha = scalarFloat(scale->getOperand(1 - s));
          if (alpha && inner(scale->getOperand(s)) == g) {
            glu.gate = g;
            glu.alpha = *alpha;
          }
        }
      }
      if (!glu.gate)
        rollback(beforeSigmoid);
    }
    // The linear side: up, or Add(up, beta).
    Value up = inner(mul->getOperand(1 - i));
    if (Operation *add = definedByOnnx(up, "Add")) {
      for (unsigned s = 0; s < 2; ++s) {
        if (auto beta = scalarFloat(add->getOperand(1 - s))) {
          ops.push_back(add);
          up = add->getOperand(s);
          glu.beta = *beta;
          break;
        }
      }
    }
    double gateLo = -INFINITY, gateHi = INFINITY, upLo = -INFINITY, upHi = INFINITY;
    if (glu.gate) {
      glu.gate = inner(clamped(glu.gate, gateLo, gateHi));
      glu.up = inner(clamped(up, upLo, upHi));
    }
    // moe.experts clamps the gate from above and up on both sides at one
    // limit, or neither.
    bool sameLimit = gateLo == -INFINITY && upLo == -upHi && gateHi == upHi && upHi > 0;
    if (glu.gate && sameLimit) {
      glu.limit = upHi;
      return glu;
    }
    rollback(m);
  }
  return std::nullopt;
}

// Evaluates a small integer shape computation in which Shape(h) is
// [?, width]: torchscript computes chunk(2)'s bound from the run-time shape
// of the [T*k, 2I] value, which is unranked here. Ops that read h are
// recorded (they die with the block); the rest is left to getKnownInts.
std::optional<Ints> Matcher::evalShapeOf(Value v, Value h, int64_t width, bool &readsH,
                                         int depth) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  if (!def || depth > 16)
    return knownInts(v);
  auto record = [&](bool operandsReadH) {
    if (operandsReadH) {
      ops.push_back(def);
      readsH = true;
    }
  };
  if (isOnnxOp(def, "Shape") && def->getOperand(0) == h) {
    int64_t rank = 2;
    int64_t start = moec::getIntAttr(def, "start", 0);
    int64_t end = moec::getIntAttr(def, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    Ints dims{kDyn, width};
    record(true);
    return Ints(dims.begin() + start, dims.begin() + std::max(start, end));
  }
  bool operandsReadH = false;
  auto operand = [&](unsigned i) {
    return evalShapeOf(def->getOperand(i), h, width, operandsReadH, depth + 1);
  };
  std::optional<Ints> result;
  if (isOnnxOp(def, "Gather") && moec::getIntAttr(def, "axis", 0) == 0) {
    auto data = operand(0), indices = operand(1);
    if (data && indices) {
      int64_t n = static_cast<int64_t>(data->size());
      result = Ints();
      for (int64_t i : *indices) {
        if (i < 0)
          i += n;
        if (i < 0 || i >= n) {
          result.reset();
          break;
        }
        result->push_back((*data)[i]);
      }
    }
  } else if (isOnnxOp(def, "Add") || isOnnxOp(def, "Sub") || isOnnxOp(def, "Mul") ||
             isOnnxOp(def, "Div")) {
    auto a = operand(0), b = operand(1);
    if (a && b && !a->empty() && !b->empty() &&
        (a->size() == b->size() || a->size() == 1 || b->size() == 1)) {
      StringRef type = moec::onnxOpType(def);
      size_t n = std::max(a->size(), b->size());
      result = Ints();
      for (size_t i = 0; i < n && result; ++i) {
        int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
        if (x == kDyn || y == kDyn)
          result->push_back(kDyn);
        else if (type == "Add")
          result->push_back(x + y);
        else if (type == "Sub")
          result->push_back(x - y);
        else if (type == "Mul")
          result->push_back(x * y);
        else if (y != 0)
          result->push_back(x / y); // ONNX integer Div truncates, as C++ does
        else
          result.reset();
      }
    }
  } else if (isOnnxOp(def, "Unsqueeze") || isOnnxOp(def, "Squeeze") ||
             isOnnxOp(def, "Reshape") || isOnnxOp(def, "Identity") ||
             (isOnnxOp(def, "Cast") && elementTypeOf(v) && isa<IntegerType>(elementTypeOf(v)))) {
    // Shape-like values are at most 1-D: these keep the values as they are.
    result = operand(0);
  } else if (isOnnxOp(def, "Concat")) {
    result = Ints();
    for (unsigned i = 0; i < def->getNumOperands() && result; ++i) {
      auto part = operand(i);
      if (part)
        result->insert(result->end(), part->begin(), part->end());
      else
        result.reset();
    }
  } else {
    return knownInts(v);
  }
  if (result)
    record(operandsReadH);
  return result;
}

// `slice` takes [begin, end) of h's last axis (width wide) with this step.
bool Matcher::sliceIs(Operation *slice, Value h, int64_t width, int64_t begin, int64_t end,
                      int64_t step) {
  if (inner(slice->getOperand(0)) != h)
    return false;
  auto axes = knownInts(moec::getOnnxInput(slice, 3));
  Value stepsValue = moec::getOnnxInput(slice, 4);
  auto steps = stepsValue ? knownInts(stepsValue) : Ints{1};
  if (!axes || axes->size() != 1 || !((*axes)[0] == 1 || (*axes)[0] == -1) || !steps ||
      *steps != Ints{step})
    return false;
  bool readsH = false;
  auto starts = evalShapeOf(moec::getOnnxInput(slice, 1), h, width, readsH, 0);
  auto ends = evalShapeOf(moec::getOnnxInput(slice, 2), h, width, readsH, 0);
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1 || (*starts)[0] == kDyn ||
      (*ends)[0] == kDyn)
    return false;
  // ONNX clamps the bounds into [0, width] after adding width to negatives.
  auto clampBound = [&](int64_t bound) {
    if (bound < 0)
      bound += width;
    return std::clamp<int64_t>(bound, 0, width);
  };
  return clampBound((*starts)[0]) == begin && clampBound((*ends)[0]) == end;
}

// gate and up are the first and second halves of one [S, 2I] value's last
// axis: Split's two results, or two Slices (fusion 2); or its even and odd
// columns: Slices with step 2 from 0 and from 1 (fusion 1, gpt-oss). Returns
// that value.
Value Matcher::halves(Value gate, Value up, int64_t inter, int64_t &fusion) {
  size_t m = mark();
  gate = inner(gate);
  up = inner(up);
  Operation *first = gate.getDefiningOp(), *second = up.getDefiningOp();
  if (first && first == second && isOnnxOp(first, "Split")) {
    int64_t axis = moec::getIntAttr(first, "axis", 0);
    Value sizesValue = moec::getOnnxInput(first, 1);
    auto sizes = sizesValue ? knownInts(sizesValue) : std::nullopt;
    int64_t outputs = moec::getIntAttr(first, "num_outputs", 2);
    bool even = sizesValue ? sizes && *sizes == Ints{inter, inter} : outputs == 2;
    if ((axis == 1 || axis == -1) && first->getNumResults() == 2 && even &&
        first->getResult(0) == gate && first->getResult(1) == up) {
      ops.push_back(first);
      fusion = 2;
      return inner(first->getOperand(0));
    }
  } else if (isOnnxOp(first, "Slice") && isOnnxOp(second, "Slice")) {
    ops.push_back(first);
    ops.push_back(second);
    Value h = inner(first->getOperand(0));
    int64_t width = 2 * inter;
    size_t beforeBounds = mark();
    fusion = 2;
    if (sliceIs(first, h, width, 0, inter) && sliceIs(second, h, width, inter, width))
      return h;
    rollback(beforeBounds);
    // Step 2 from 0 and 1 to the end: ends clamp to the width.
    fusion = 1;
    if (sliceIs(first, h, width, 0, width, 2) && sliceIs(second, h, width, 1, width, 2))
      return h;
  }
  rollback(m);
  return {};
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

  std::optional<Glu> glu = gatedActivation(down->input);
  if (!glu)
    return std::nullopt;
  block.glu = *glu;
  Value xRep;
  // gate_up_proj [E, 2I, H]: the halves (or even and odd columns) of one
  // product ...
  size_t beforeFused = mark();
  if (Value h = halves(glu->gate, glu->up, block.inter, block.fusion)) {
    auto fc1 = matVecWithBias(h);
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
    block.fusion = 0;
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

// The bytes of a constant [E, R, C] weight as [E, C, R].
std::optional<std::vector<char>> transposedBytes(Value w) {
  ElementsAttr attr = moec::getConstantElements(w);
  auto bytes = attr ? moec::getConstantBytes(attr) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  auto type = cast<RankedTensorType>(w.getType());
  int64_t experts = type.getDimSize(0), rows = type.getDimSize(1), cols = type.getDimSize(2);
  size_t width = moec::storageBytes(type.getElementType());
  std::vector<char> out(bytes->size());
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        std::memcpy(&out[((e * cols + c) * rows + r) * width],
                    &(*bytes)[((e * rows + r) * cols + c) * width], width);
  return out;
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

  // Weights stored [E, in, out] become moe.experts' [E, out, in] at compile
  // time; read them all before anything is built.
  std::optional<std::vector<char>> t1, t2, t3;
  if ((block->fc1T && !(t1 = transposedBytes(block->fc1))) ||
      (block->fc2T && !(t2 = transposedBytes(block->fc2))) ||
      (block->fc3 && block->fc3T && !(t3 = transposedBytes(block->fc3))))
    return success();

  OpBuilder b(root);
  Location loc = root->getLoc();
  auto weight = [&](Value w, const std::optional<std::vector<char>> &bytes) -> Value {
    if (!bytes)
      return w;
    auto type = cast<RankedTensorType>(w.getType());
    auto shape = type.getShape();
    auto flipped = RankedTensorType::get({shape[0], shape[2], shape[1]}, type.getElementType());
    // A splat stays a splat (no blob): its transpose is itself, reshaped.
    auto dense = dyn_cast<DenseElementsAttr>(moec::getConstantElements(w));
    if (dense && dense.isSplat())
      return moec::onnx::ConstantOp::create(b, w.getLoc(), flipped, dense.reshape(flipped))
          .getOutput();
    return moec::createBlobConstant(b, w.getLoc(), flipped, *bytes, "experts_transposed");
  };
  Value fc1 = weight(block->fc1, t1), fc2 = weight(block->fc2, t2);
  Value fc3 = block->fc3 ? weight(block->fc3, t3) : Value();
  moe::RouterOp route = getOrCreateRouter(b, loc, *router);
  const Glu &glu = block->glu;
  auto experts = moe::ExpertsOp::create(
      b, loc, xType, block->x, route.getWeights(), route.getExpertIds(), fc1, block->fc1Bias,
      fc2, block->fc2Bias, fc3, block->fc3Bias, b.getStringAttr("swiglu"),
      b.getI64IntegerAttr(block->fusion), b.getF32FloatAttr(static_cast<float>(glu.alpha)),
      b.getF32FloatAttr(static_cast<float>(glu.beta)),
      b.getF32FloatAttr(static_cast<float>(glu.limit)));
  if (failed(mlir::verify(experts)) || failed(mlir::verify(route)))
    return failure();
  out.replaceAllUsesWith(experts.getOutput());
  // Every op this erases precedes the root, so the forward walk over the
  // candidates never meets an erased one.
  eraseDeadOnnxOps(root);
  return success();
}

struct RaiseBatchedExpertsPass
    : moec::impl::MoecRaiseBatchedExpertsBase<RaiseBatchedExpertsPass> {
  using MoecRaiseBatchedExpertsBase::MoecRaiseBatchedExpertsBase;
  void runOnOperation() override {
    SmallVector<Operation *> sums;
    getOperation().walk([&](Operation *op) {
      if (isOnnxOp(op, "ReduceSum"))
        sums.push_back(op);
    });
    for (Operation *sum : sums)
      if (failed(raiseAt(sum)))
        return signalPassFailure();
  }
};

} // namespace
