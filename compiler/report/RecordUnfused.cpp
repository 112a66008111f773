//===- RecordUnfused.cpp - price the graph as it is before fusion ----------===//
//
// The compile report compares the planned launches with what the same graph
// would cost if nothing were fused. This pass runs right before
// moec-fuse-elementwise and prices every data op as the launch(es) the
// lowering would make of it on its own, with the report's byte rule
// (Cost.h), so the two sides differ only by the fusion decisions:
// elementwise chains merged into one loop, and on the GPU a router's linear
// layer merged into the router. It records, changes nothing.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Cost.h"
#include "compiler/report/Passes.h"
#include "compiler/utils/DataFlow.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

namespace moec {
#define GEN_PASS_DEF_MOECRECORDUNFUSED
#include "compiler/report/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;
using moec::report::Affine;

namespace {

// Ops that are no launch: weights, read by their consumers' kernels.
bool isWeightOp(Operation *op) {
  return isa<moe::DequantizeOp>(op) || op->getName().getStringRef() == "onnx.Constant" ||
         op->getName().getStringRef() == "arith.constant";
}

struct Priced {
  int64_t launches = 0;
  Affine activation, result;
  int64_t weights = 0;
};

class Pricer {
public:
  Pricer(bool cuda) : cuda(cuda) {}

  // Adds a read of `v`: a weight at its stored size, else an activation.
  // An absent optional ONNX input (a none-typed value) is no data.
  LogicalResult read(Operation *at, Value v, Priced &p) {
    if (!isa<RankedTensorType>(v.getType()))
      return success();
    if (auto dq = v.getDefiningOp<moe::DequantizeOp>()) {
      // Host kernels read the int8/int4 values and scales; the GPU lowering
      // folds them into a float constant of the result's type.
      if (cuda)
        return weight(at, dq.getOutput(), p);
      for (Value part : dq->getOperands())
        if (failed(weight(at, part, p)))
          return failure();
      return success();
    }
    if (moec::report::isWeight(v))
      return weight(at, v, p);
    return add(at, v.getType(), p.activation);
  }
  LogicalResult write(Operation *at, Type type, Priced &p) {
    if (failed(add(at, type, p.activation)))
      return failure();
    return add(at, type, p.result);
  }

  FailureOr<Priced> price(Operation *op) {
    Priced p;
    if (auto experts = dyn_cast<moe::ExpertsOp>(op); experts && cuda)
      return priceExpertsCuda(experts);
    if (auto attention = dyn_cast<moe::AttentionOp>(op))
      return priceAttention(attention);
    bool split = op->getDialect() && op->getDialect()->getNamespace() == "onnx" &&
                 moec::onnxOpType(op) == "Split";
    // A Split is one slice launch per result, each reading the input.
    unsigned launches = split ? op->getNumResults() : 1;
    for (unsigned l = 0; l < launches; ++l)
      for (unsigned i : moec::dataOperands(op))
        if (op->getOperand(i) && failed(read(op, op->getOperand(i), p)))
          return failure();
    for (Type t : op->getResultTypes())
      if (isa<RankedTensorType>(t) && failed(write(op, t, p)))
        return failure();
    p.launches = launches;
    return p;
  }

private:
  bool cuda;

  LogicalResult add(Operation *at, Type type, Affine &into) {
    auto bytes = moec::report::tensorBytes(type);
    if (failed(bytes))
      return at->emitError() << "compile report: the size of " << type
                             << " is not affine in the token count";
    into += *bytes;
    return success();
  }
  LogicalResult weight(Operation *at, Value v, Priced &p) {
    Affine bytes;
    if (failed(add(at, v.getType(), bytes)))
      return failure();
    p.weights += bytes.base;
    return success();
  }

  // As lowerExpertsCuda in LowerToKernel.cpp: permute, up GEMM (activation
  // in its epilogue), down GEMM (routing weight in its epilogue), combine.
  FailureOr<Priced> priceExpertsCuda(moe::ExpertsOp experts) {
    Priced p;
    MLIRContext *ctx = experts.getContext();
    auto x = cast<RankedTensorType>(experts.getInput().getType());
    int64_t tokens = x.getDimSize(0), k = experts.getTopK(), e = experts.getNumExperts();
    Type i32 = IntegerType::get(ctx, 32), element = x.getElementType();
    Type offsets = RankedTensorType::get({e + 1}, i32);
    Type slots = RankedTensorType::get({tokens, k}, i32);
    Type hidden = RankedTensorType::get({tokens, k, experts.getInterSize()}, element);
    Type partial = RankedTensorType::get({tokens, k, experts.getHiddenSize()}, element);
    auto reads = [&](ArrayRef<Value> values) {
      for (Value v : values)
        if (v && failed(read(experts, v, p)))
          return failure();
      return success();
    };
    auto adds = [&](ArrayRef<Type> types, Affine &into) {
      for (Type t : types)
        if (failed(add(experts, t, into)))
          return failure();
      return success();
    };
    if (failed(reads({experts.getExpertIds()})) ||
        failed(write(experts, offsets, p)) || failed(write(experts, slots, p)) ||
        failed(reads({experts.getInput(), experts.getFc1(), experts.getFc1Bias(),
                      experts.getFc3(), experts.getFc3Bias()})) ||
        failed(adds({slots, offsets}, p.activation)) || failed(write(experts, hidden, p)) ||
        failed(reads({experts.getFc2(), experts.getFc2Bias(), experts.getWeights()})) ||
        failed(adds({hidden, slots, offsets}, p.activation)) ||
        failed(write(experts, partial, p)) || failed(adds({partial}, p.activation)) ||
        failed(write(experts, experts.getOutput().getType(), p)))
      return failure();
    p.launches = 4;
    return p;
  }

  // As lowerAttention: the cache append, then attention over the present
  // cache. The append updates past in place under the artifact writer's
  // rule (Cost.h, inplaceInput), and then moves only the new rows.
  FailureOr<Priced> priceAttention(moe::AttentionOp attention) {
    Priced p;
    bool packed = !attention.getKey();
    SmallVector<Value> appendIn;
    if (packed)
      appendIn = {attention.getQuery()};
    else
      appendIn = {attention.getKey(), attention.getValue()};
    SmallVector<Value> shared{attention.getSeqlensK(), attention.getTotalSequenceLength()};
    if (attention.getCosCache())
      shared.append({attention.getCosCache(), attention.getSinCache()});
    for (Value v : llvm::concat<Value>(appendIn, shared))
      if (failed(read(attention, v, p)))
        return failure();
    Value pasts[] = {attention.getPastKey(), attention.getPastValue()};
    Value presents[] = {attention.getPresentKey(), attention.getPresentValue()};
    for (int c = 0; c < 2; ++c) {
      auto arg = dyn_cast<BlockArgument>(pasts[c]);
      bool returned = llvm::any_of(presents[c].getUsers(),
                                   [](Operation *u) { return isa<func::ReturnOp>(u); });
      if (arg && arg.hasOneUse() && arg.getType() == presents[c].getType() && returned) {
        // In place: the new keys or values only.
        Value fresh = packed ? attention.getQuery() : appendIn[c];
        Affine bytes;
        if (failed(add(attention, fresh.getType(), bytes)))
          return failure();
        if (packed)
          bytes = bytes.divExact(attention.getNumHeads() + 2 * attention.getKvHeads()) *
                  attention.getKvHeads();
        p.activation += bytes;
        p.result += bytes;
      } else if (failed(read(attention, pasts[c], p)) ||
                 failed(write(attention, presents[c].getType(), p))) {
        return failure();
      }
    }
    SmallVector<Value> attendIn{attention.getQuery(), presents[0], presents[1]};
    attendIn.append(shared);
    for (Value v : attendIn)
      if (failed(read(attention, v, p)))
        return failure();
    if (failed(write(attention, attention.getOutput().getType(), p)))
      return failure();
    p.launches = 2;
    return p;
  }
};

struct RecordUnfusedPass : moec::impl::MoecRecordUnfusedBase<RecordUnfusedPass> {
  using MoecRecordUnfusedBase::MoecRecordUnfusedBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (target != "host" && target != "cuda") {
      func.emitError() << "moec-record-unfused: unknown target '" << target << "'";
      return signalPassFailure();
    }
    if (func.isExternal())
      return;
    Builder b(func.getContext());
    Pricer pricer(target == "cuda");
    Priced total;
    SmallVector<Attribute> entries;
    llvm::DenseSet<Operation *> launched;
    auto record = [&](StringRef node, StringRef opName, const Priced &p) {
      total.launches += p.launches;
      total.activation += p.activation;
      total.result += p.result;
      total.weights += p.weights;
      entries.push_back(b.getDictionaryAttr({
          b.getNamedAttr("node", b.getStringAttr(node)),
          b.getNamedAttr("op", b.getStringAttr(opName)),
          b.getNamedAttr("launches", b.getI64IntegerAttr(p.launches)),
          b.getNamedAttr("activation_bytes",
                         b.getDenseI64ArrayAttr({p.activation.base, p.activation.perToken})),
          b.getNamedAttr("weight_bytes", b.getI64IntegerAttr(p.weights))}));
    };
    for (Operation *op : moec::dataOps(func)) {
      // Weights are read by their consumers' kernels; an op producing no
      // tensor (a none value for an absent input) is no launch.
      bool producesTensors = llvm::any_of(op->getResultTypes(), [](Type t) {
        return isa<RankedTensorType>(t);
      });
      if (isWeightOp(op) || !producesTensors)
        continue;
      auto priced = pricer.price(op);
      if (failed(priced))
        return signalPassFailure();
      launched.insert(op);
      record(moec::report::nodeLabel(op->getLoc()), op->getName().getStringRef(), *priced);
    }
    // A graph output that no launch of its own produces (an input, a
    // weight, a value returned twice) is copied into its buffer.
    llvm::DenseSet<Value> seen;
    Operation *ret = func.getBody().front().getTerminator();
    for (Value v : ret->getOperands()) {
      Operation *def = v.getDefiningOp();
      if (def && launched.contains(def) && seen.insert(v).second)
        continue;
      Priced copy;
      copy.launches = 1;
      if (failed(pricer.read(ret, v, copy)) || failed(pricer.write(ret, v.getType(), copy)))
        return signalPassFailure();
      record("", "copy", copy);
    }
    auto pair = [&](const Affine &a) { return b.getDenseI64ArrayAttr({a.base, a.perToken}); };
    func->setAttr("moec.unfused",
                  b.getDictionaryAttr({
                      b.getNamedAttr("launches", b.getI64IntegerAttr(total.launches)),
                      b.getNamedAttr("activation_bytes", pair(total.activation)),
                      b.getNamedAttr("result_bytes", pair(total.result)),
                      b.getNamedAttr("weight_bytes", b.getI64IntegerAttr(total.weights)),
                      b.getNamedAttr("ops", b.getArrayAttr(entries))}));
  }
};

} // namespace
