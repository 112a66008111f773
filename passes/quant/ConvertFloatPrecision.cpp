//===- ConvertFloatPrecision.cpp - f32 tensors to bf16/f16 ------------------===//
//
// See Passes.td for what the pass does and why. Implementation notes:
//   - "kept" ops stay in f32: the router linears and the routers.
//   - Conversions are moe.elementwise casts, so the fusion pass can merge
//     them into neighbouring elementwise work.
//   - Weight data is rounded once here; kernels never convert weights.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "dialects/moe/MoEDialect.h"
#include "passes/quant/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/APFloat.h"

#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOECCONVERTFLOATPRECISION
#include "passes/quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

Type withElementType(Type type, Type element) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return RankedTensorType::get(tensor.getShape(), element);
  return type;
}

bool isF32Tensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getElementType().isF32();
}

// A moe.elementwise converting `value` to element type `to` (extf/truncf).
Value castTensor(OpBuilder &b, Location loc, Value value, Type to) {
  auto type = cast<RankedTensorType>(value.getType());
  auto op = moe::ElementwiseOp::create(b, loc, withElementType(type, to), ValueRange{value});
  Block &block = op.getBody().front();
  OpBuilder body = OpBuilder::atBlockEnd(&block);
  Value x = block.getArgument(0);
  Value converted =
      to.getIntOrFloatBitWidth() > type.getElementType().getIntOrFloatBitWidth()
          ? Value(arith::ExtFOp::create(body, loc, to, x))
          : Value(arith::TruncFOp::create(body, loc, to, x));
  moe::YieldOp::create(body, loc, converted);
  return op.getOutput();
}

// f32 bytes -> 16-bit float bytes, rounding to nearest even.
std::vector<char> roundWeights(ArrayRef<char> f32, FloatType to) {
  size_t count = f32.size() / 4;
  std::vector<char> out(count * 2);
  for (size_t i = 0; i < count; ++i) {
    float value;
    std::memcpy(&value, f32.data() + 4 * i, 4);
    uint16_t bits;
    if (to.isBF16()) {
      uint32_t word;
      std::memcpy(&word, &value, 4);
      if ((word & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a quiet NaN
        bits = static_cast<uint16_t>((word >> 16) | 0x40);
      else
        bits = static_cast<uint16_t>((word + 0x7fffu + ((word >> 16) & 1)) >> 16);
    } else {
      APFloat f(value);
      bool losesInfo;
      f.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &losesInfo);
      bits = static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
    }
    std::memcpy(out.data() + 2 * i, &bits, 2);
  }
  return out;
}

struct ConvertFloatPrecisionPass
    : moec::impl::MoecConvertFloatPrecisionBase<ConvertFloatPrecisionPass> {
  using MoecConvertFloatPrecisionBase::MoecConvertFloatPrecisionBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    FloatType low;
    if (to == "bf16")
      low = BFloat16Type::get(ctx);
    else if (to == "f16")
      low = Float16Type::get(ctx);
    else {
      func.emitError() << "moec-convert-float-precision: to must be bf16 or f16, got '" << to
                       << "'";
      return signalPassFailure();
    }
    Type f32 = Float32Type::get(ctx);
    Block &entry = func.getBody().front();

    // Expert selection stays f32: the routers, TopK ops, and every op whose
    // results are used only by kept ops (the logits GEMM, a softmax before a
    // TopK). Walking backwards makes "all users kept" final when it is asked.
    kept.clear();
    SmallVector<Operation *> reversed;
    for (Operation &op : entry.without_terminator())
      reversed.push_back(&op);
    for (Operation *op : llvm::reverse(reversed)) {
      StringRef name = op->getName().getStringRef();
      if (isa<moe::RouterOp>(op) || name == "onnx.TopK") {
        kept.insert(op);
        continue;
      }
      if (name == "onnx.Constant" || name == "arith.constant" || op->use_empty())
        continue;
      if (llvm::all_of(op->getUsers(), [&](Operation *u) { return kept.contains(u); }))
        kept.insert(op);
    }

    // Model inputs: converted once on entry; kept ops read the f32 original.
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    llvm::DenseSet<Operation *> boundary;
    for (BlockArgument arg : entry.getArguments()) {
      if (!isF32Tensor(arg.getType()))
        continue;
      Value low16 = castTensor(b, func.getLoc(), arg, low);
      boundary.insert(low16.getDefiningOp());
      arg.replaceUsesWithIf(low16, [&](OpOperand &use) {
        return !kept.contains(use.getOwner()) && use.getOwner() != low16.getDefiningOp();
      });
    }

    SmallVector<Operation *> ops;
    for (Operation &op : entry.without_terminator())
      if (!boundary.contains(&op))
        ops.push_back(&op);
    for (Operation *op : ops) {
      if (kept.contains(op)) {
        keepF32(op, low, f32);
        continue;
      }
      if (failed(convert(op, low, f32)))
        return signalPassFailure();
    }

    // Outputs leave as f32, as the model declared them.
    Operation *ret = entry.getTerminator();
    OpBuilder rb(ret);
    for (OpOperand &operand : ret->getOpOperands()) {
      auto type = dyn_cast<RankedTensorType>(operand.get().getType());
      if (type && type.getElementType() == low &&
          isF32Tensor(func.getResultTypes()[operand.getOperandNumber()]))
        operand.set(castTensor(rb, ret->getLoc(), operand.get(), f32));
    }
  }

  llvm::DenseSet<Operation *> kept;

  // A kept op: its f32 operands must really be f32, and its f32 results are
  // converted for the converted world that uses them.
  void keepF32(Operation *op, FloatType low, Type f32) {
    OpBuilder b(op);
    for (OpOperand &operand : op->getOpOperands()) {
      auto type = dyn_cast<RankedTensorType>(operand.get().getType());
      if (type && type.getElementType() == low)
        operand.set(castTensor(b, op->getLoc(), operand.get(), f32));
    }
    b.setInsertionPointAfter(op);
    for (Value result : op->getResults()) {
      if (!isF32Tensor(result.getType()))
        continue;
      Value converted;
      for (OpOperand &use : llvm::make_early_inc_range(result.getUses())) {
        if (kept.contains(use.getOwner()))
          continue; // kept users read the f32 result directly
        if (!converted)
          converted = castTensor(b, op->getLoc(), result, low);
        use.set(converted);
      }
    }
  }

  LogicalResult convert(Operation *op, FloatType low, Type f32) {
    // Weights: round the data once. Kept (router) users keep the f32 data.
    StringRef name = op->getName().getStringRef();
    if ((name == "onnx.Constant" || name == "arith.constant") &&
        isF32Tensor(op->getResult(0).getType())) {
      auto isKept = [&](OpOperand &use) {
        // Quantization scales stay f32: they are part of the weight's encoding.
        // Attention sinks are f32 logits by moe.self_attention's contract.
        auto attention = dyn_cast<moe::SelfAttentionOp>(use.getOwner());
        return kept.contains(use.getOwner()) || isa<moe::DequantizeOp>(use.getOwner()) ||
               (attention && attention.getSinks() == use.get());
      };
      if (llvm::all_of(op->getResult(0).getUses(), isKept))
        return success();
      if (llvm::any_of(op->getResult(0).getUses(), isKept)) {
        OpBuilder b(op);
        Operation *original = b.clone(*op);
        op->getResult(0).replaceUsesWithIf(original->getResult(0), isKept);
      }
      auto value = op->getAttrOfType<ElementsAttr>("value");
      auto bytes = moec::getConstantBytes(value);
      if (!bytes)
        return op->emitError("cannot read this constant's data");
      auto type = cast<RankedTensorType>(withElementType(value.getType(), low));
      std::vector<char> rounded = roundWeights(*bytes, low);
      // Initializers stay blobs (no copy into the context's uniquer); small
      // constants stay printable dense attributes.
      if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
        std::string key = resource.getRawHandle().getKey().str() + "." + to;
        auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(rounded));
        op->setAttr("value", DenseResourceElementsAttr::get(type, key, std::move(blob)));
      } else {
        op->setAttr("value", DenseElementsAttr::getFromRawBuffer(type, rounded));
      }
      op->getResult(0).setType(type);
      return success();
    }
    if (auto ew = dyn_cast<moe::ElementwiseOp>(op)) {
      convertElementwise(ew, low, f32);
      return success();
    }
    for (Value result : op->getResults())
      if (isF32Tensor(result.getType()))
        result.setType(withElementType(result.getType(), low));
    return success();
  }

  // Bodies keep computing in f32: extend 16-bit inputs on load, round the
  // result on store.
  void convertElementwise(moe::ElementwiseOp op, FloatType low, Type f32) {
    Block &block = op.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&block);
    for (auto [input, arg] : llvm::zip(op.getInputs(), block.getArguments())) {
      auto type = cast<RankedTensorType>(input.getType());
      if (type.getElementType() != low || !arg.getType().isF32())
        continue;
      arg.setType(low);
      Value extended = arith::ExtFOp::create(b, op.getLoc(), f32, arg);
      arg.replaceAllUsesExcept(extended, extended.getDefiningOp());
    }
    if (isF32Tensor(op.getOutput().getType())) {
      op.getOutput().setType(cast<RankedTensorType>(withElementType(op.getOutput().getType(), low)));
      auto yield = cast<moe::YieldOp>(block.getTerminator());
      OpBuilder yb(yield);
      yield.getValueMutable().assign(
          arith::TruncFOp::create(yb, op.getLoc(), low, yield.getValue()));
    }
  }

};

} // namespace
