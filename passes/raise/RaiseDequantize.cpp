//===- RaiseDequantize.cpp - quantized weights to moe.dequantize -----------===//
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
// Float8 E4M3FN weights (opset 19+) take the same path with q kept as
// f8E4M3FN: its values and scales are exactly what the kernels read, so no
// requantization either.
// A DequantizeLinear with a nonzero zero point, or of a type other than
// int8 and float8 E4M3FN (uint8, int16, float8 E4M3FNUZ / E5M2 / E5M2FNUZ,
// ...), is folded to its exact float values instead (the kernels read
// symmetric int8 and E4M3FN only). One of run-time values is refused at the
// node: moec quantizes weights, not activations. com.microsoft.MatMulNBits
// becomes a moe.linear of such a weight (see raiseMatMulNBits),
// com.microsoft.QMoE a com.microsoft.MoE over such weights (see raiseQMoE).
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

std::string keyOf(Operation *op) {
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    return loc.getName().str();
  return "dequantize";
}

// The constant behind `v` as doubles, also for the float8 types (decoded
// exactly: every float8 value is a double; NaN stays NaN).
std::optional<std::vector<double>> constantValues(Value v) {
  auto type = dyn_cast<ShapedType>(v.getType());
  auto f8 = type ? dyn_cast<FloatType>(type.getElementType()) : FloatType();
  if (!f8 || f8.getWidth() != 8)
    return moec::getConstantValues(v);
  ElementsAttr elements = moec::getConstantElements(v);
  auto bytes = elements ? moec::getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  std::vector<double> out(bytes->size());
  for (size_t i = 0; i < bytes->size(); ++i)
    out[i] = APFloat(f8.getFloatSemantics(), APInt(8, static_cast<uint8_t>((*bytes)[i])))
                 .convertToDouble();
  return out;
}

LogicalResult raise(Operation *op) {
  Value x = op->getOperand(0), scale = op->getOperand(1);
  Value zeroPoint = moec::getOnnxInput(op, 2);
  auto xType = cast<RankedTensorType>(x.getType());
  auto sType = cast<RankedTensorType>(scale.getType());
  auto yType = cast<RankedTensorType>(op->getResult(0).getType());
  auto q = constantValues(x), s = moec::getConstantValues(scale);
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
  Type qElement = xType.getElementType();
  bool fp8 = isa<Float8E4M3FNType>(qElement);
  if (!((qElement.isInteger(8) && !qElement.isUnsignedInteger()) || fp8) || !symmetric ||
      rank == 0 || !sType.getElementType().isF32()) {
    // Exact float values: (q - zp) * scale, in float32 as onnxruntime does.
    std::vector<float> values(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t si = scaleIndex(i);
      values[i] = static_cast<float>((*q)[i] - (zp ? (*zp)[si] : 0.0)) *
                  static_cast<float>((*s)[si]);
    }
    if (!yType.getElementType().isF32())
      return op->emitError("op 'DequantizeLinear': only float32 scales are supported");
    Value folded = moec::createBlobConstant(
        b, loc, yType,
        ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4),
        keyOf(op) + ".dequantized");
    op->getResult(0).replaceAllUsesWith(folded);
    op->erase();
    return success();
  }

  // Symmetric int8 or E4M3FN: moe.dequantize in blocked form along
  // `blockAxis`, q as it is.
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
  Value newScale = moec::createBlobConstant(
      b, loc, newScaleType,
      ArrayRef<char>(reinterpret_cast<const char *>(scales.data()), scales.size() * 4),
      keyOf(op) + ".scale");
  Value dq = moe::DequantizeOp::create(b, loc, yType, x, newScale, Value(),
                                       b.getI64IntegerAttr(blockAxis),
                                       b.getI64IntegerAttr(blockSize), b.getI64IntegerAttr(8));
  op->getResult(0).replaceAllUsesWith(dq);
  op->erase();
  return success();
}

// com.microsoft.MatMulNBits -> moe.linear of a moe.dequantize. The values
// q - zero_point (4 bits: -15..15; 8 bits with the default zero point 128:
// -128..127) fit int8 exactly, so the weight is kept as int8 [N, K] with the
// op's own block scales: nothing is requantized. 4-bit weights whose values
// fit [-8, 7] (the default zero point) stay packed int4.
LogicalResult raiseMatMulNBits(Operation *op) {
  auto fail = [&](const Twine &what) {
    return op->emitError() << "op 'MatMulNBits': " << what;
  };
  Value a = op->getOperand(0);
  Value bValue = moec::getOnnxInput(op, 1), scalesValue = moec::getOnnxInput(op, 2);
  Value zpValue = moec::getOnnxInput(op, 3), gIdx = moec::getOnnxInput(op, 4);
  Value bias = moec::getOnnxInput(op, 5);
  int64_t k = moec::getIntAttr(op, "K", 0), n = moec::getIntAttr(op, "N", 0);
  int64_t bits = moec::getIntAttr(op, "bits", 4), block = moec::getIntAttr(op, "block_size", 0);
  int64_t blocks = (k + block - 1) / block;
  auto q = moec::getConstantValues(bValue), scales = moec::getConstantValues(scalesValue);
  std::optional<std::vector<double>> zps;
  if (zpValue)
    zps = moec::getConstantValues(zpValue);
  if (!q || !scales || (zpValue && !zps))
    return fail("B, scales and zero_points must be initializers");
  if (gIdx) {
    auto g = moec::getConstantValues(gIdx);
    if (!g)
      return fail("g_idx must be an initializer");
    for (int64_t i = 0; i < static_cast<int64_t>(g->size()); ++i)
      if ((*g)[i] != static_cast<double>(i / block))
        return fail("a g_idx that reorders the blocks (act-order) is not supported");
  }
  if (!cast<ShapedType>(scalesValue.getType()).getElementType().isF32() &&
      !cast<ShapedType>(scalesValue.getType()).getElementType().isF16())
    return fail("scales must be float32 or float16");
  bool zpPacked = zpValue && cast<ShapedType>(zpValue.getType()).getElementType().isUnsignedInteger(8);
  if (zpValue && !zpPacked)
    return fail("float zero points are not supported");
  int64_t blob = block * bits / 8;
  // Zero point of (row, block).
  auto zeroPoint = [&](int64_t row, int64_t b) -> int64_t {
    if (!zpValue)
      return int64_t(1) << (bits - 1);
    if (bits == 8)
      return static_cast<int64_t>((*zps)[row * blocks + b]);
    int64_t perRow = (blocks + 1) / 2;
    int64_t byte = static_cast<int64_t>((*zps)[row * perRow + b / 2]);
    return b % 2 == 0 ? (byte & 0xF) : (byte >> 4);
  };
  std::vector<int8_t> values(static_cast<size_t>(n * k));
  for (int64_t row = 0; row < n; ++row)
    for (int64_t c = 0; c < k; ++c) {
      int64_t b = c / block, within = c % block, stored;
      double byte = (*q)[(row * blocks + b) * blob + (bits == 4 ? within / 2 : within)];
      int64_t byteValue = static_cast<int64_t>(byte);
      stored = bits == 4 ? (within % 2 == 0 ? (byteValue & 0xF) : (byteValue >> 4)) : byteValue;
      int64_t v = stored - zeroPoint(row, b);
      if (v < -128 || v > 127)
        return fail("an 8-bit weight with a zero point other than 128 does not fit int8 (" +
                    Twine(v) + "); not supported yet");
      values[row * k + c] = static_cast<int8_t>(v);
    }
  std::vector<float> scale32(scales->begin(), scales->end());
  // 4-bit weights whose q - zero_point stays in [-8, 7] (always so with the
  // default zero point 8) keep their 4 bits: packed two per byte.
  bool packed = bits == 4 && llvm::all_of(values, [](int8_t v) { return v >= -8 && v <= 7; });
  int64_t storedCols = packed ? (k + 1) / 2 : k;
  std::vector<int8_t> stored = values;
  if (packed) {
    stored.assign(static_cast<size_t>(n * storedCols), 0);
    for (int64_t row = 0; row < n; ++row)
      for (int64_t c = 0; c < k; ++c) {
        uint8_t nibble = static_cast<uint8_t>(values[row * k + c]) & 0xF;
        int8_t &byte = stored[row * storedCols + c / 2];
        byte = static_cast<int8_t>(static_cast<uint8_t>(byte) | (c % 2 ? nibble << 4 : nibble));
      }
  }
  OpBuilder b(op);
  Location loc = op->getLoc();
  MLIRContext *ctx = op->getContext();
  auto qType = RankedTensorType::get({n, storedCols}, IntegerType::get(ctx, 8));
  auto sType = RankedTensorType::get({n, blocks}, Float32Type::get(ctx));
  Value qConst = moec::createBlobConstant(
      b, loc, qType, ArrayRef<char>(reinterpret_cast<const char *>(stored.data()), stored.size()),
      keyOf(op) + (packed ? ".int4" : ".int8"));
  Value sConst = moec::createBlobConstant(
      b, loc, sType,
      ArrayRef<char>(reinterpret_cast<const char *>(scale32.data()), scale32.size() * 4),
      keyOf(op) + ".scale");
  Type floatType = cast<ShapedType>(a.getType()).getElementType();
  Value dq = moe::DequantizeOp::create(b, loc, RankedTensorType::get({n, k}, floatType), qConst,
                                       sConst, Value(), b.getI64IntegerAttr(1),
                                       b.getI64IntegerAttr(block),
                                       b.getI64IntegerAttr(packed ? 4 : 8));
  Value y = moe::LinearOp::create(b, loc, op->getResult(0).getType(), a, dq, bias,
                                  /*transpose_weight=*/true);
  op->getResult(0).replaceAllUsesWith(y);
  op->erase();
  return success();
}

// One QMoE expert weight [E, rows, cols * bits / 8] with scales [E, rows] or
// [E, rows, cols / block] as a moe.dequantize of q - zero_point, exactly:
// packed int4 when every value stays in [-8, 7] (always so with the default
// zero point 2^(bits - 1)), else int8 (4-bit values with explicit zero points
// span [-15, 15]; an 8-bit one must fit int8). Zero points, when given, are
// uint8 [E, rows, blocks] (8 bits) or 4-bit packed two per byte, low nibble
// first, along the blocks ([E, rows, ceil(blocks / 2)]), or along the rows
// when there is one scale per row ([E, ceil(rows / 2)]).
FailureOr<Value> qmoeWeight(Operation *op, OpBuilder &b, Value weights, Value scales,
                            Value zeroPoints, int64_t bits, int64_t block, StringRef name) {
  auto fail = [&](const Twine &what) -> FailureOr<Value> {
    return op->emitError() << "op 'QMoE': " << what;
  };
  auto wType = cast<RankedTensorType>(weights.getType());
  auto q = moec::getConstantValues(weights);
  auto s = scales ? moec::getConstantValues(scales) : std::nullopt;
  if (!q || !s || wType.getRank() != 3 || !wType.getElementType().isUnsignedInteger(8))
    return fail(Twine(name) + " must be a uint8 [experts, rows, packed columns] initializer "
                              "with its scales");
  int64_t e = wType.getDimSize(0), rows = wType.getDimSize(1);
  int64_t cols = wType.getDimSize(2) * 8 / bits;
  int64_t g = block > 0 ? block : cols, blocks = (cols + g - 1) / g;
  if (static_cast<int64_t>(s->size()) != e * rows * blocks)
    return fail(Twine(name) + " scales must hold " + Twine(e * rows * blocks) + " values");
  MLIRContext *ctx = op->getContext();
  std::vector<int8_t> stored;
  int64_t storedBits = bits;
  if (!zeroPoints && bits == 4) {
    // q - 8 is the same nibble with its top bit flipped.
    stored.resize(q->size());
    for (size_t i = 0; i < q->size(); ++i)
      stored[i] = static_cast<int8_t>(static_cast<uint8_t>((*q)[i]) ^ 0x88);
  } else if (!zeroPoints) {
    stored.resize(q->size());
    for (size_t i = 0; i < q->size(); ++i)
      stored[i] = static_cast<int8_t>(static_cast<int64_t>((*q)[i]) - 128);
  } else {
    auto zp = moec::getConstantValues(zeroPoints);
    auto zpType = cast<RankedTensorType>(zeroPoints.getType());
    if (!zp || !zpType.getElementType().isUnsignedInteger(8))
      return fail(Twine(name) + " zero points must be a uint8 initializer");
    bool perRow = block <= 0;
    int64_t packedBlocks = (blocks + 1) / 2, packedRows = (rows + 1) / 2;
    int64_t expected = bits == 8 ? e * rows * blocks
                       : perRow  ? e * packedRows
                                 : e * rows * packedBlocks;
    if (static_cast<int64_t>(zp->size()) != expected)
      return fail(Twine(name) + " zero points must hold " + Twine(expected) + " values, got " +
                  Twine(zp->size()));
    auto zeroPoint = [&](int64_t ex, int64_t r, int64_t blk) -> int64_t {
      if (bits == 8)
        return static_cast<int64_t>((*zp)[(ex * rows + r) * blocks + blk]);
      int64_t index = perRow ? ex * packedRows + r / 2 : (ex * rows + r) * packedBlocks + blk / 2;
      int64_t nibble = perRow ? r % 2 : blk % 2;
      return (static_cast<int64_t>((*zp)[index]) >> (4 * nibble)) & 0xF;
    };
    // Unpacked q - zero_point, one value per weight.
    std::vector<int64_t> values(static_cast<size_t>(e * rows * cols));
    int64_t perByte = 8 / bits, packedCols = wType.getDimSize(2);
    bool fitsInt4 = bits == 4, fitsInt8 = true;
    for (int64_t ex = 0; ex < e; ++ex)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          int64_t byte = static_cast<int64_t>((*q)[(ex * rows + r) * packedCols + c / perByte]);
          int64_t raw = bits == 4 ? (byte >> (4 * (c % 2))) & 0xF : byte;
          int64_t v = raw - zeroPoint(ex, r, c / g);
          fitsInt8 &= v >= -128 && v <= 127;
          fitsInt4 &= v >= -8 && v <= 7;
          values[static_cast<size_t>((ex * rows + r) * cols + c)] = v;
        }
    if (!fitsInt8) {
      // 8-bit weights around a zero point far from 128 span [-255, 255]:
      // their exact float values instead ((q - zp) * scale in float32, as
      // onnxruntime computes them), at 4 bytes a weight.
      std::vector<float> floats(values.size());
      for (int64_t ex = 0; ex < e; ++ex)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            size_t i = static_cast<size_t>((ex * rows + r) * cols + c);
            floats[i] = static_cast<float>(values[i]) *
                        static_cast<float>((*s)[static_cast<size_t>((ex * rows + r) * blocks + c / g)]);
          }
      auto fType = RankedTensorType::get({e, rows, cols}, Float32Type::get(ctx));
      return moec::createBlobConstant(
          b, op->getLoc(), fType,
          ArrayRef<char>(reinterpret_cast<const char *>(floats.data()), floats.size() * 4),
          keyOf(op) + "." + name.str() + ".f32");
    }
    if (fitsInt4) {
      stored.resize(q->size());
      for (size_t i = 0; i < stored.size(); ++i)
        stored[i] = static_cast<int8_t>((values[2 * i] & 0xF) | ((values[2 * i + 1] & 0xF) << 4));
    } else {
      storedBits = 8;
      stored.assign(values.begin(), values.end());
    }
  }
  std::vector<float> scale32(s->begin(), s->end());
  Location loc = op->getLoc();
  SmallVector<int64_t> qShape(wType.getShape());
  if (storedBits == 8)
    qShape.back() = cols; // one int8 per weight
  auto qType = RankedTensorType::get(qShape, IntegerType::get(ctx, 8));
  auto sType = RankedTensorType::get({e, rows, blocks}, Float32Type::get(ctx));
  std::string key = keyOf(op) + "." + name.str();
  Value qConst = moec::createBlobConstant(
      b, loc, qType, ArrayRef<char>(reinterpret_cast<const char *>(stored.data()), stored.size()),
      key + (storedBits == 4 ? ".int4" : ".int8"));
  Value sConst = moec::createBlobConstant(
      b, loc, sType,
      ArrayRef<char>(reinterpret_cast<const char *>(scale32.data()), scale32.size() * 4),
      key + ".scale");
  auto yType = RankedTensorType::get({e, rows, cols},
                                     cast<ShapedType>(op->getOperand(0).getType()).getElementType());
  return Value(moe::DequantizeOp::create(b, loc, yType, qConst, sConst, Value(),
                                         b.getI64IntegerAttr(2), b.getI64IntegerAttr(g),
                                         b.getI64IntegerAttr(storedBits)));
}

// com.microsoft.QMoE -> com.microsoft.MoE over moe.dequantize weights (which
// moec-convert-onnx-to-moe then raises like any MoE node). Integer weights
// with the default or explicit zero points, unpacked layout, router_probs
// only.
LogicalResult raiseQMoE(Operation *op) {
  auto fail = [&](const Twine &what) { return op->emitError() << "op 'QMoE': " << what; };
  if (moec::getStringAttr(op, "quant_type", "int") != "int")
    return fail("quant_type '" + moec::getStringAttr(op, "quant_type", "int") +
                "' is not supported (only int)");
  if (moec::getIntAttr(op, "weights_prepacked", 0) != 0)
    return fail("prepacked weights (weights_prepacked != 0) are not supported");
  if (moec::getOnnxInput(op, 14))
    return fail("router_weights (separate mixing weights) are not supported yet");
  int64_t bits = moec::getIntAttr(op, "expert_weight_bits", 4);
  int64_t block = moec::getIntAttr(op, "block_size", 0);
  OpBuilder b(op);
  SmallVector<Value> fcs;
  const char *names[] = {"fc1", "fc2", "fc3"};
  const unsigned weightSlot[] = {2, 5, 8};
  for (int i = 0; i < 3; ++i) {
    Value w = moec::getOnnxInput(op, weightSlot[i]);
    if (!w) {
      fcs.push_back(Value());
      continue;
    }
    int64_t fcBits = moec::getIntAttr(op, (Twine(names[i]) + "_expert_weight_bits").str(), bits);
    if (fcBits != 4 && fcBits != 8)
      return fail(Twine(fcBits) + "-bit weights are not supported (4 or 8)");
    auto v = qmoeWeight(op, b, w, moec::getOnnxInput(op, weightSlot[i] + 1),
                        moec::getOnnxInput(op, 11 + i), fcBits, block, names[i]);
    if (failed(v))
      return failure();
    fcs.push_back(*v);
  }
  // The MoE node: input, router_probs, fc1, fc1_bias, fc2, fc2_bias, fc3, fc3_bias.
  Value slots[8] = {op->getOperand(0), moec::getOnnxInput(op, 1), fcs[0],
                    moec::getOnnxInput(op, 4), fcs[1], moec::getOnnxInput(op, 7), fcs[2],
                    moec::getOnnxInput(op, 10)};
  OperationState state(op->getLoc(), "onnx.ms.MoE");
  SmallVector<int32_t> segments;
  for (Value v : slots) {
    segments.push_back(v ? 1 : 0);
    if (v)
      state.addOperands(v);
  }
  state.addTypes(op->getResultTypes());
  for (StringRef attr : {"activation_type", "k", "normalize_routing_weights", "use_sparse_mixer",
                         "swiglu_fusion", "swiglu_limit", "swiglu_limit_after_activation",
                         "activation_alpha", "activation_beta"})
    if (std::optional<Attribute> value = op->getInherentAttr(attr); value && *value)
      state.addAttribute(attr, *value);
  state.addAttribute("operandSegmentSizes", b.getDenseI32ArrayAttr(segments));
  Operation *moe = b.create(state);
  op->getResult(0).replaceAllUsesWith(moe->getResult(0));
  op->erase();
  return success();
}

struct RaiseDequantizePass : moec::impl::MoecRaiseDequantizeBase<RaiseDequantizePass> {
  using MoecRaiseDequantizeBase::MoecRaiseDequantizeBase;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      StringRef name = op->getName().getStringRef();
      if (name == "onnx.DequantizeLinear" || name == "onnx.ms.MatMulNBits" ||
          name == "onnx.ms.QMoE")
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (llvm::any_of(op->getOperandTypes(), llvm::IsaPred<UnrankedTensorType>) ||
          llvm::any_of(op->getResultTypes(), llvm::IsaPred<UnrankedTensorType>))
        continue; // a deferred shape: moec-onnx-infer-shapes reports where it was lost
      StringRef name = op->getName().getStringRef();
      LogicalResult result = name == "onnx.ms.MatMulNBits" ? raiseMatMulNBits(op)
                             : name == "onnx.ms.QMoE"      ? raiseQMoE(op)
                                                           : raise(op);
      if (failed(result))
        return signalPassFailure();
    }
  }
};

} // namespace
