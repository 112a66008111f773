//===- FuseElementwise.cpp - merge chains of moe.elementwise ---------------===//
//
// Each ONNX elementwise op arrives here as its own moe.elementwise. Left
// alone, a SiLU-times-up chain (Sigmoid, Mul, Mul) is three kernels and two
// round trips of a [T, I] tensor through memory; fused, it is one loop. The
// pass inlines a producer region into its consumer when that loses nothing:
//   - every user of the producer is a moe.elementwise (so the producer's
//     tensor is no longer needed once inlined everywhere; with several users
//     its scalar work is repeated in each, which costs less than a round trip
//     through memory), and
//   - each such consumer has the producer's result shape (a consumer that
//     broadcasts the producer would recompute it per broadcast element).
// Single-element constants are folded into the body as arith.constant so
// they cost neither a buffer nor a load.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "dialects/moe/MoEDialect.h"
#include "passes/fusion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace moec {
#define GEN_PASS_DEF_MOECFUSEELEMENTWISE
#include "passes/fusion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using moec::moe::ElementwiseOp;
using moec::moe::YieldOp;

namespace {

// Builds a replacement for `consumer` whose inputs are `newInputs`. The body
// is produced by `fillBody`, given a builder inside the new block and the
// mapping from each old consumer block argument to its new scalar value.
ElementwiseOp rebuild(
    ElementwiseOp consumer, ArrayRef<Value> newInputs,
    llvm::function_ref<void(OpBuilder &, Block &, IRMapping &)> fillBody) {
  OpBuilder builder(consumer);
  auto fused = ElementwiseOp::create(builder, 
      consumer.getLoc(), consumer.getOutput().getType(), ValueRange(newInputs));
  Block &block = fused.getBody().front();
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(&block);
  IRMapping mapping;
  fillBody(bodyBuilder, block, mapping);
  for (Operation &op : consumer.getBody().front())
    bodyBuilder.clone(op, mapping);
  fused->setAttrs(consumer->getDiscardableAttrDictionary());
  return fused;
}

// Folds single-element constant inputs into the body.
bool foldScalarConstants(ElementwiseOp op) {
  SmallVector<Value> newInputs;
  SmallVector<std::optional<TypedAttr>> folded;
  bool any = false;
  for (Value input : op.getInputs()) {
    ElementsAttr elements = moec::getConstantElements(input);
    auto type = cast<ShapedType>(input.getType());
    std::optional<TypedAttr> scalar;
    if (elements && type.getNumElements() == 1) {
      Type elementType = type.getElementType();
      if (auto value = moec::getElementAsDouble(elements, 0)) {
        if (isa<FloatType>(elementType))
          scalar = FloatAttr::get(elementType, *value);
        else if (elementType.isSignlessInteger() || elementType.isInteger(1))
          scalar = IntegerAttr::get(elementType, static_cast<int64_t>(*value));
      }
    }
    folded.push_back(scalar);
    if (scalar)
      any = true;
    else
      newInputs.push_back(input);
  }
  if (!any)
    return false;
  auto fused = rebuild(op, newInputs, [&](OpBuilder &b, Block &block,
                                          IRMapping &mapping) {
    unsigned next = 0;
    for (auto [i, arg] : llvm::enumerate(op.getBody().front().getArguments())) {
      if (folded[i])
        mapping.map(arg, arith::ConstantOp::create(b, op.getLoc(), *folded[i]));
      else
        mapping.map(arg, block.getArgument(next++));
    }
  });
  op.getOutput().replaceAllUsesWith(fused.getOutput());
  op.erase();
  return true;
}

// True if `producer` may be inlined into all of its users.
bool isFusibleProducer(ElementwiseOp producer) {
  auto shape = cast<ShapedType>(producer.getOutput().getType()).getShape();
  if (producer.getOutput().use_empty())
    return false;
  for (Operation *user : producer.getOutput().getUsers()) {
    auto consumer = dyn_cast<ElementwiseOp>(user);
    if (!consumer ||
        cast<ShapedType>(consumer.getOutput().getType()).getShape() != shape)
      return false;
  }
  return true;
}

// Inlines `producer` into `consumer` (which uses it at one or more inputs).
void inlineInto(ElementwiseOp producer, ElementwiseOp consumer) {
  Value produced = producer.getOutput();
  SmallVector<Value> newInputs;
  // Producer inputs first (deduplicated against each other and the consumer's).
  auto indexOf = [&](Value v) -> int {
    auto it = llvm::find(newInputs, v);
    return it == newInputs.end() ? -1 : int(it - newInputs.begin());
  };
  for (Value v : producer.getInputs())
    if (indexOf(v) < 0)
      newInputs.push_back(v);
  for (Value v : consumer.getInputs())
    if (v != produced && indexOf(v) < 0)
      newInputs.push_back(v);

  auto fused = rebuild(consumer, newInputs, [&](OpBuilder &b, Block &block,
                                                IRMapping &mapping) {
    IRMapping producerMapping;
    Block &producerBody = producer.getBody().front();
    for (auto [v, arg] : llvm::zip(producer.getInputs(), producerBody.getArguments()))
      producerMapping.map(arg, block.getArgument(indexOf(v)));
    Value producedScalar;
    for (Operation &op : producerBody) {
      if (auto yield = dyn_cast<YieldOp>(op)) {
        producedScalar = producerMapping.lookup(yield.getValue());
        break;
      }
      b.clone(op, producerMapping);
    }
    for (auto [v, arg] : llvm::zip(consumer.getInputs(),
                                   consumer.getBody().front().getArguments()))
      mapping.map(arg, v == produced ? producedScalar
                                     : Value(block.getArgument(indexOf(v))));
  });
  consumer.getOutput().replaceAllUsesWith(fused.getOutput());
  consumer.erase();
}

struct FuseElementwisePass
    : moec::impl::MoecFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Constants first, so the chains below see only tensor inputs.
    SmallVector<ElementwiseOp> ops;
    func.walk([&](ElementwiseOp op) { ops.push_back(op); });
    for (ElementwiseOp op : ops)
      foldScalarConstants(op);

    // Fuse until nothing changes. Each step removes one producer, so this
    // terminates after at most (number of elementwise ops) steps.
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<ElementwiseOp> producers;
      func.walk([&](ElementwiseOp op) {
        if (isFusibleProducer(op))
          producers.push_back(op);
      });
      for (ElementwiseOp producer : producers) {
        if (!isFusibleProducer(producer))
          continue;
        SmallVector<ElementwiseOp> consumers;
        for (Operation *user : producer.getOutput().getUsers())
          if (!llvm::is_contained(consumers, cast<ElementwiseOp>(user)))
            consumers.push_back(cast<ElementwiseOp>(user));
        for (ElementwiseOp consumer : consumers)
          inlineInto(producer, consumer);
        producer.erase();
        changed = true;
        break; // the op list is stale now
      }
    }
  }
};

} // namespace
