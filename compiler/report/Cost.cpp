//===- Cost.cpp - FLOPs and bytes of a kernel launch, affine in T ----------===//
//
// FLOPs count what the kernel computes for the shapes it is specialized on,
// one multiply-add as 2:
//   - matrix products (linear, batch_matmul, moe_route_linear's logits,
//     the expert GEMMs, attention's q.k and p.v): 2*M*N*K; biases,
//     activations and epilogue scaling are not counted;
//   - MoE experts (moe_experts, moe_gemm_up, moe_gemm_down) count the k
//     experts each token is routed to, not all E: 2*T*k*(H*F1 [+ H*I for
//     fc3] + I*H), F1 = fc1's rows (I, or 2*I for a fused SwiGLU);
//   - attention is an upper bound: every query over the whole cache
//     capacity C (or the window when smaller), 4*C*HD per query head, since
//     the keys it actually reads depend on the cache's fill at run time;
//   - self_attention counts the causal (query, key) pairs, 2*(D + Dv)
//     each: exact for a static sequence and for S = T without a window
//     (T(T+1)/2 pairs: the only T^2 term); with S = T and a window, an
//     upper bound of `window` keys per query;
//   - elementwise bodies: arithmetic ops per element (constants and
//     conversions not counted); softmax 4, rms_norm 4, rotary 3 per rotated
//     element, reduce and moe_combine 1 per input element, dequantize 1 per
//     value; routers (moe_route, moe_route_sigmoid) 4 per logit;
//   - data movement (copy, gather, slice, transpose, concat, topk,
//     moe_permute, shape_of, scatter/gather_elements, scatter_nd, range): 0
//     (scatter_nd's reductions are not counted); cumsum 1 per element.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Cost.h"

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace moec::report {

FailureOr<Affine> elementCount(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked)
    return failure();
  int64_t product = 1;
  int dynamic = 0;
  for (int64_t d : ranked.getShape()) {
    if (ShapedType::isDynamic(d))
      ++dynamic;
    else
      product *= d;
  }
  if (dynamic > 1)
    return failure();
  return dynamic ? Affine{0, product} : Affine{product, 0};
}

FailureOr<Affine> tensorBytes(Type type) {
  auto count = elementCount(type);
  Type element = isa<ShapedType>(type) ? cast<ShapedType>(type).getElementType() : Type();
  if (failed(count) || !element || !element.isIntOrFloat())
    return failure();
  return *count * moec::storageBytes(element);
}

std::string nodeLabel(Location loc) { return llvm::join(moec::nodeNames(loc), " + "); }

std::string layerOf(ArrayRef<std::string> names) {
  // "layers" followed by '.', '/' or '_' and digits, as exporters name the
  // decoder layers' nodes and weights.
  for (const std::string &name : names) {
    StringRef rest(name);
    while (true) {
      size_t at = rest.find("layers");
      if (at == StringRef::npos)
        break;
      rest = rest.drop_front(at + 6);
      if (rest.empty() || (rest[0] != '.' && rest[0] != '/' && rest[0] != '_'))
        continue;
      StringRef digits = rest.drop_front(1).take_while(llvm::isDigit);
      if (!digits.empty())
        return ("layers." + digits).str();
    }
  }
  return "";
}

bool isWeight(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return false;
  StringRef name = def->getName().getStringRef();
  return isa<kernel::ConstantOp, arith::ConstantOp>(def) || name == "onnx.Constant";
}

int64_t inplaceInput(Operation *launch, unsigned index) {
  // kernel::kInplaceOperandsAttr; see ArtifactWriter's inplaceInputOf.
  auto operands = launch->getAttrOfType<DenseI64ArrayAttr>("inplace_operands");
  if (!operands || index >= operands.size())
    return -1;
  int64_t operand = operands[index];
  if (operand < 0 || operand >= static_cast<int64_t>(launch->getNumOperands()))
    return -1;
  Value result = launch->getResult(index);
  auto input = dyn_cast<BlockArgument>(launch->getOperand(static_cast<unsigned>(operand)));
  bool returned = llvm::any_of(result.getUsers(),
                               [](Operation *user) { return isa<func::ReturnOp>(user); });
  if (!input || !input.hasOneUse() || input.getType() != result.getType() || !returned)
    return -1;
  return operand;
}

namespace {

int64_t dim(Value v, int64_t i) {
  auto shape = cast<ShapedType>(v.getType()).getShape();
  return shape[i < 0 ? shape.size() + i : i];
}

int64_t specInt(kernel::LaunchOp op, StringRef name, int64_t dflt = 0) {
  auto attr = op.getSpec().getAs<IntegerAttr>(name);
  return attr ? attr.getInt() : dflt;
}
bool specBool(kernel::LaunchOp op, StringRef name) {
  auto attr = op.getSpec().getAs<BoolAttr>(name);
  return attr && attr.getValue();
}

// Arithmetic ops per element of an elementwise body.
int64_t bodyOps(kernel::LaunchOp op) {
  int64_t n = 0;
  op.getBody().walk([&](Operation *inner) {
    if (isa<arith::ConstantOp, kernel::YieldOp>(inner) || isa<CastOpInterface>(inner))
      return;
    StringRef dialect = inner->getName().getDialectNamespace();
    if (dialect == "arith" || dialect == "math")
      ++n;
  });
  return n;
}

// The expert FFN's multiply-adds per routed (token, slot): H*F1 [+ H*I] + I*H.
int64_t expertMacs(int64_t hidden, int64_t fc1Rows, int64_t inter, bool fc3) {
  return hidden * fc1Rows + (fc3 ? hidden * inter : 0) + inter * hidden;
}

FailureOr<Affine> flopsOf(kernel::LaunchOp op, bool &modelled) {
  StringRef kind = op.getKernel();
  ValueRange in = op.getInputs(), out = op.getOutputs();
  auto count = [&](Value v) { return elementCount(v.getType()); };
  FailureOr<Affine> result = Affine{};
  if (kind == "linear" || kind == "batch_matmul") {
    // [.., K] x [K, N] -> [.., N]: 2*K per output element.
    result = count(out[0]);
    if (succeeded(result))
      result = *result * (2 * dim(in[0], -1));
  } else if (kind == "moe_experts") {
    // x [T, H], routing weights [T, k], ids [T, k], fc1 [E, F1, H(/2)],
    // fc2 [E, H, I(/2)] (packed int4 halves the last dim: `inter` holds I).
    auto routed = count(in[2]);
    int64_t hidden = dim(in[0], -1), inter = specInt(op, "inter", 0);
    unsigned fc2 = 4 + (specBool(op, "has_fc1_bias") ? 1 : 0);
    if (!inter)
      inter = dim(in[fc2], 2);
    result = routed;
    if (succeeded(result))
      result = *result * (2 * expertMacs(hidden, dim(in[3], 1), inter,
                                         specBool(op, "has_fc3")));
  } else if (kind == "moe_gemm_up") {
    // x [T, H], slots [T, k], offsets, fc1 [E, F1, H] -> hidden [T, k, I].
    auto routed = count(in[1]);
    int64_t hidden = dim(in[0], -1), inter = dim(out[0], -1);
    int64_t macs = hidden * dim(in[3], 1) + (specBool(op, "has_fc3") ? hidden * inter : 0);
    result = routed;
    if (succeeded(result))
      result = *result * (2 * macs);
  } else if (kind == "moe_gemm_down") {
    // hidden [T, k, I] -> partial [T, k, H]: 2*I per output element.
    result = count(out[0]);
    if (succeeded(result))
      result = *result * (2 * dim(in[0], -1));
  } else if (kind == "moe_route_linear") {
    // logits = x [.., H] . W [E, H]^T, then the softmax over E.
    int64_t experts = dim(in[1], 0), hidden = dim(in[0], -1);
    result = count(in[0]);
    if (succeeded(result))
      result = *result * (2 * experts) + result->divExact(hidden) * (4 * experts);
  } else if (kind == "moe_route" || kind == "moe_route_sigmoid" || kind == "softmax" ||
             kind == "rms_norm") {
    result = count(in[0]);
    // A fused residual add (moec-fuse-residual-norm) is one more per element.
    if (succeeded(result))
      result = *result * (kind == "rms_norm" && specBool(op, "has_residual") ? 5 : 4);
  } else if (kind == "attention") {
    // out [B, S, N*HD]: per query head, q.k and p.v over L keys.
    int64_t capacity = dim(in[1], 2), window = specInt(op, "window", 0);
    int64_t keys = window > 0 ? std::min(window, capacity) : capacity;
    result = count(out[0]);
    if (succeeded(result))
      result = *result * (4 * keys);
  } else if (kind == "self_attention") {
    // q [B, N, S, D], v [B, KV, S, Dv]: q.k and p.v, 2*(D + Dv) per
    // (query, allowed key) pair. Query i sees min(i + 1, W) keys (W = window,
    // or S): S(S+1)/2 pairs per head without a window. Exact when S is static
    // and for S = T without a window (the T^2 term); with S = T and a window,
    // the upper bound W per query.
    auto query = cast<ShapedType>(in[0].getType()).getShape();
    int64_t window = specInt(op, "window", 0);
    int64_t perPair = 2 * (query[3] + dim(in[2], 3));
    int64_t heads = query[1];
    bool dynamicBatch = ShapedType::isDynamic(query[0]);
    int64_t batch = dynamicBatch ? 1 : query[0];
    if (!ShapedType::isDynamic(query[2])) {
      int64_t seq = query[2], w = window > 0 ? std::min(window, seq) : seq;
      // sum_i min(i + 1, w) = w(w+1)/2 + (S - w) w
      int64_t pairs = w * (w + 1) / 2 + (seq - w) * w;
      int64_t total = heads * pairs * perPair;
      result = dynamicBatch ? Affine{0, total} : Affine{batch * total, 0};
    } else if (window > 0) {
      result = Affine{0, batch * heads * window * perPair};
    } else {
      // T(T+1)/2 pairs per head; perPair = 2(D + Dv) is even.
      int64_t half = batch * heads * perPair / 2;
      result = Affine{0, half, half};
    }
  } else if (kind == "attention_kv_append" || kind == "rotary") {
    // 3 flops per rotated element (a pair costs 4 mul + 2 add) of the new
    // keys (append) or of the input (rotary).
    int64_t rotaryDim = specInt(op, "rotary_dim", 0);
    int64_t headSize = kind == "rotary" ? specInt(op, "head_size", 1) : dim(out[0], 3);
    result = count(in[0]);
    if (succeeded(result) && kind == "attention_kv_append") {
      if (specBool(op, "packed")) {
        int64_t heads = specInt(op, "num_heads"), kvHeads = specInt(op, "kv_heads");
        result = result->divExact(heads + 2 * kvHeads) * kvHeads;
      }
    }
    if (succeeded(result))
      result = (*result * (3 * rotaryDim)).divExact(headSize ? headSize : 1);
  } else if (kind == "elementwise") {
    result = count(out[0]);
    if (succeeded(result))
      result = *result * bodyOps(op);
  } else if (kind == "reduce" || kind == "moe_combine") {
    result = count(in[0]);
  } else if (kind == "dequantize") {
    result = count(out[0]);
  } else if (kind == "copy" || kind == "gather" || kind == "gather_elements" ||
             kind == "scatter_elements" || kind == "transpose" || kind == "concat" ||
             kind == "slice" || kind == "topk" || kind == "moe_permute" ||
             kind == "shape_of" || kind == "range" || kind == "scatter_nd") {
    result = Affine{};
  } else if (kind == "cumsum") {
    result = count(in[0]);
    result = Affine{};
  } else {
    modelled = false;
  }
  return result;
}

} // namespace

FailureOr<LaunchCost> costOf(kernel::LaunchOp op) {
  LaunchCost cost;
  auto fail = [&](Value v) {
    op.emitError() << "compile report: the size of " << v.getType()
                   << " is not affine in the token count";
    return failure();
  };
  llvm::SmallDenseSet<unsigned> aliased;
  for (unsigned i = 0; i < op->getNumResults(); ++i)
    if (int64_t input = inplaceInput(op, i); input >= 0)
      aliased.insert(static_cast<unsigned>(input));
  for (auto [i, v] : llvm::enumerate(op.getInputs())) {
    if (auto c = v.getDefiningOp<kernel::ConstantOp>()) {
      auto bytes = tensorBytes(c.getType());
      if (failed(bytes))
        return fail(v);
      cost.weightBytes += bytes->base;
      continue;
    }
    if (aliased.contains(i))
      continue; // updated in place: only what changes moves (below)
    auto bytes = tensorBytes(v.getType());
    if (failed(bytes))
      return fail(v);
    cost.activationBytes += *bytes;
  }
  for (auto [i, v] : llvm::enumerate(op.getOutputs())) {
    auto bytes = tensorBytes(v.getType());
    if (failed(bytes))
      return fail(v);
    if (inplaceInput(op, i) >= 0 && op.getKernel() == "attention_kv_append") {
      // Only the new keys (result 0) or values (result 1) are written: the
      // key/value inputs, or their share of the packed qkv.
      Value fresh = op.getInputs()[specBool(op, "packed") ? 0 : i];
      auto written = tensorBytes(fresh.getType());
      if (failed(written))
        return fail(fresh);
      if (specBool(op, "packed")) {
        int64_t heads = specInt(op, "num_heads"), kvHeads = specInt(op, "kv_heads");
        *bytes = written->divExact(heads + 2 * kvHeads) * kvHeads;
      } else {
        *bytes = *written;
      }
    }
    cost.activationBytes += *bytes;
    cost.resultBytes += *bytes;
  }
  bool modelled = true;
  auto flops = flopsOf(op, modelled);
  if (failed(flops))
    return op.emitError("compile report: a tensor size is not affine in the token count"),
           failure();
  cost.flops = *flops;
  cost.flopsModelled = modelled;
  return cost;
}

} // namespace moec::report
