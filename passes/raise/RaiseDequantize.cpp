//===- RaiseDequantize.cpp - QDQ weights to moe.dequantize -----------------===//
//
// Pre-quantized models (QDQ form) carry their weights as
// DequantizeLinear(int8 initializer, scale[, zero point]) feeding MatMul or
// Gemm. This pass keeps those weights in int8 — no requantization — by
// rewriting each such DequantizeLinear into moe.dequantize, whose blocked
// form the kernels read directly:
//   - blocked (opset 21, block_size > 0): as it is;
//   - per axis a (1-D scale): blocked along another axis with one block
//     spanning it (for a [K, N] weight with a = 1: blocks along K, one scale
//     per output column), the scale copied to that shape;
//   - per tensor (scalar scale): one block per row of the last axis.
// A DequantizeLinear with a nonzero zero point, or of a type other than
// int8, is folded to its exact float values instead (the kernels read
// symmetric int8 only). One of run-time values is refused at the node: moec
// quantizes weights, not activations.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOECRAISEDEQUANTIZE
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

// A constant's elements as doubles (read once: weights are large), or
// nullopt if `v` is not a constant of a type handled here.
std::optional<std::vector<double>> constantValues(Value v) {
  ElementsAttr elements = moec::getConstantElements(v);
  auto bytes = elements ? moec::getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  Type t = cast<ShapedType>(elements.getType()).getElementType();
  int64_t n = elements.getNumElements();
  std::vector<double> out(n);
  const char *p = bytes->data();
  auto read = [&](auto tag) {
    using E = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      E value;
      std::memcpy(&value, p + i * sizeof(E), sizeof(E));
      out[i] = static_cast<double>(value);
    }
  };
  if (t.isF32())
    read(float());
  else if (t.isUnsignedInteger(8))
    read(uint8_t());
  else if (t.isInteger(8))
    read(int8_t());
  else if (t.isUnsignedInteger(16))
    read(uint16_t());
  else if (t.isInteger(16))
    read(int16_t());
  else if (t.isInteger(32))
    read(int32_t());
  else
    return std::nullopt;
  return out;
}

Value blobConstant(OpBuilder &b, Location loc, RankedTensorType type, ArrayRef<char> bytes,
                   const std::string &key) {
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(bytes);
  return moec::onnx::ConstantOp::create(b, loc, type,
                                        DenseResourceElementsAttr::get(type, key, std::move(blob)))
      .getOutput();
}

std::string keyOf(Operation *op) {
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    return loc.getName().str();
  return "dequantize";
}

LogicalResult raise(Operation *op) {
  Value x = op->getOperand(0), scale = op->getOperand(1);
  Value zeroPoint = moec::getOnnxInput(op, 2);
  auto xType = cast<RankedTensorType>(x.getType());
  auto sType = cast<RankedTensorType>(scale.getType());
  auto yType = cast<RankedTensorType>(op->getResult(0).getType());
  auto q = constantValues(x), s = constantValues(scale);
  std::optional<std::vector<double>> zp;
  if (zeroPoint)
    zp = constantValues(zeroPoint);
  if (!q || !s || (zeroPoint && !zp) || !xType.hasStaticShape())
    return op->emitError("op 'DequantizeLinear': only weights (initializers) can be "
                         "dequantized; moec does not quantize activations");
  int64_t rank = xType.getRank();
  int64_t count = xType.getNumElements();
  int64_t block = moec::getIntAttr(op, "block_size", 0);
  int64_t axis = rank == 0 ? 0 : moec::getIntAttr(op, "axis", 1);
  if (axis < 0)
    axis += rank;
  ArrayRef<int64_t> shape = xType.getShape();

  // The scale index of every element of x (the three ONNX forms).
  std::vector<int64_t> strides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  SmallVector<int64_t> blockedScaleShape(shape);
  if (block > 0)
    blockedScaleShape[axis] = (shape[axis] + block - 1) / block;
  auto scaleIndex = [&](int64_t flat) -> int64_t {
    if (sType.getRank() == 0)
      return 0;
    if (block == 0) // per axis
      return (flat / strides[axis]) % shape[axis];
    int64_t index = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t c = (flat / strides[d]) % shape[d];
      index = index * blockedScaleShape[d] + (d == axis ? c / block : c);
    }
    return index;
  };

  OpBuilder b(op);
  Location loc = op->getLoc();
  bool symmetric = !zp || llvm::all_of(*zp, [](double v) { return v == 0.0; });
  if (!xType.getElementType().isInteger(8) || xType.getElementType().isUnsignedInteger() ||
      !symmetric || rank == 0 || !sType.getElementType().isF32()) {
    // Exact float values: (q - zp) * scale, in float32 as onnxruntime does.
    std::vector<float> values(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t si = scaleIndex(i);
      values[i] = static_cast<float>((*q)[i] - (zp ? (*zp)[si] : 0.0)) *
                  static_cast<float>((*s)[si]);
    }
    if (!yType.getElementType().isF32())
      return op->emitError("op 'DequantizeLinear': only float32 scales are supported");
    Value folded = blobConstant(
        b, loc, yType,
        ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4),
        keyOf(op) + ".dequantized");
    op->getResult(0).replaceAllUsesWith(folded);
    op->erase();
    return success();
  }

  // Symmetric int8: moe.dequantize in blocked form along `blockAxis`.
  int64_t blockAxis = axis, blockSize = block;
  if (block == 0) {
    // Per axis (or per tensor): block a different axis, whole.
    if (sType.getRank() == 0)
      blockAxis = rank - 1;
    else
      blockAxis = rank == 1 ? axis : (axis == rank - 1 ? rank - 2 : rank - 1);
    blockSize = rank == 1 && sType.getRank() == 1 ? 1 : shape[blockAxis];
  }
  SmallVector<int64_t> newScaleShape(shape);
  newScaleShape[blockAxis] = (shape[blockAxis] + blockSize - 1) / blockSize;
  int64_t scaleCount = 1;
  for (int64_t d : newScaleShape)
    scaleCount *= d;
  std::vector<float> scales(scaleCount);
  // Every element of x writes its scale to its block's slot (all agree).
  for (int64_t i = 0; i < count; ++i) {
    int64_t slot = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t c = (i / strides[d]) % shape[d];
      slot = slot * newScaleShape[d] + (d == blockAxis ? c / blockSize : c);
    }
    scales[slot] = static_cast<float>((*s)[scaleIndex(i)]);
  }
  auto newScaleType = RankedTensorType::get(newScaleShape, sType.getElementType());
  Value newScale = blobConstant(
      b, loc, newScaleType,
      ArrayRef<char>(reinterpret_cast<const char *>(scales.data()), scales.size() * 4),
      keyOf(op) + ".scale");
  Value dq = moe::DequantizeOp::create(b, loc, yType, x, newScale, Value(),
                                       b.getI64IntegerAttr(blockAxis),
                                       b.getI64IntegerAttr(blockSize));
  op->getResult(0).replaceAllUsesWith(dq);
  op->erase();
  return success();
}

struct RaiseDequantizePass : moec::impl::MoecRaiseDequantizeBase<RaiseDequantizePass> {
  using MoecRaiseDequantizeBase::MoecRaiseDequantizeBase;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (op->getName().getStringRef() == "onnx.DequantizeLinear")
        ops.push_back(op);
    });
    for (Operation *op : ops)
      if (failed(raise(op)))
        return signalPassFailure();
  }
};

} // namespace
