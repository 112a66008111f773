//===- QuantizeWeights.cpp - weight-only integer and fp8 quantization -------===//
//
// Decode reads every expert weight it uses once per token, so bytes per
// weight set its cost. This pass stores the weights of moe.experts (fc1, fc2,
// fc3) and of moe.linear as int8 (or int4, two per byte, or fp8 E4M3FN, one
// byte) with float32 scales, symmetric, one scale per block of `group-size`
// elements along the reduction axis (0: one per output row). The weight
// operand becomes a moe.dequantize of the two constants, which the lowering
// hands to kernels that dequantize in registers; nothing in the model
// changes meaning except the rounding.
//
// The rounding is in WeightQuant.cpp (shared with the calibration passes):
//   int8/int4: scale = float32(max |w| of the block) / qmax (127 or 7),
//              q = clamp(rint(w / scale), -qmax, qmax);
//   fp8:       scale = float32(max |w| of the block) / 448,
//              q = E4M3FN(w / scale), nearest, ties to even, saturating to
//              +-448 (never NaN); q is stored as f8E4M3FN, bits = 8.
//   A block of zeros gets scale 0 and q 0.
//
// Left in float: linears whose only users select experts (moe.router, or
// onnx Softmax/TopK on the logits) — routing decisions are discrete and
// int8 logits could flip them — and weights that are not f32 constants.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/quant/Passes.h"
#include "passes/quant/WeightQuant.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <algorithm>
#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOECQUANTIZEWEIGHTS
#include "passes/quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

class Quantizer {
public:
  Quantizer(int64_t groupSize, moec::quant::WeightFormat format)
      : groupSize(groupSize), format(format),
        bits(format == moec::quant::WeightFormat::Int4 ? 4 : 8) {}

  // moe.dequantize of `values` ([..., cols], row-major) quantized along the
  // last axis (q: i8, or f8E4M3FN for fp8); `name` keys the new resources.
  Value quantize(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                 const std::vector<float> &values, const std::string &name) {
    int64_t cols = shape.back();
    int64_t rows = static_cast<int64_t>(values.size()) / std::max<int64_t>(cols, 1);
    int64_t group = groupSize > 0 ? std::min(groupSize, cols) : cols;
    moec::quant::QuantizedRows qz = moec::quant::quantizeRows(values, rows, cols, group, format);
    MLIRContext *ctx = b.getContext();
    SmallVector<int64_t> storedShape(shape);
    if (bits == 4) {
      qz.codes = moec::quant::packInt4(qz.codes, rows, cols);
      storedShape.back() = (cols + 1) / 2;
    }
    bool fp8 = format == moec::quant::WeightFormat::Fp8E4M3;
    Type qElement = fp8 ? Type(Float8E4M3FNType::get(ctx)) : Type(IntegerType::get(ctx, 8));
    auto qType = RankedTensorType::get(storedShape, qElement);
    SmallVector<int64_t> scaleShape(shape);
    scaleShape.back() = (cols + group - 1) / group;
    auto sType = RankedTensorType::get(scaleShape, Float32Type::get(ctx));
    std::string suffix = "." + moec::quant::formatName(format).str();
    Value q = moec::createBlobConstant(b, loc, qType,
                           ArrayRef<char>(reinterpret_cast<const char *>(qz.codes.data()), qz.codes.size()),
                           name + suffix);
    Value s = moec::createBlobConstant(b, loc, sType,
                           ArrayRef<char>(reinterpret_cast<const char *>(qz.scales.data()),
                                          qz.scales.size() * sizeof(float)),
                           name + suffix + "_scale");
    auto fType = RankedTensorType::get(shape, Float32Type::get(ctx));
    return moe::DequantizeOp::create(b, loc, fType, q, s, Value(),
                                     b.getI64IntegerAttr(static_cast<int64_t>(shape.size()) - 1),
                                     b.getI64IntegerAttr(group), b.getI64IntegerAttr(bits));
  }

  static std::string nameOf(Value v, StringRef fallback) {
    if (auto loc = dyn_cast<NameLoc>(v.getLoc()))
      return loc.getName().str();
    if (auto c = v.getDefiningOp<moec::onnx::ConstantOp>())
      if (auto r = dyn_cast<DenseResourceElementsAttr>(c.getValue()))
        return r.getRawHandle().getKey().str();
    return fallback.str();
  }

  void linear(moe::LinearOp op) {
    // Routers keep their logits exact.
    if (moec::quant::onlyRoutes(op.getOutput()))
      return;
    auto w = moec::getConstantFloats(op.getWeight());
    if (!w)
      return;
    auto type = cast<RankedTensorType>(op.getWeight().getType());
    int64_t d0 = type.getDimSize(0), d1 = type.getDimSize(1);
    // Kernels reduce along contiguous rows: store [N, K].
    std::vector<float> nk = *w;
    if (!op.getTransposeWeight()) {
      for (int64_t k = 0; k < d0; ++k)
        for (int64_t n = 0; n < d1; ++n)
          nk[n * d0 + k] = (*w)[k * d1 + n];
      std::swap(d0, d1);
    }
    OpBuilder b(op);
    Value dq = quantize(b, op.getWeight().getLoc(), {d0, d1}, nk,
                        nameOf(op.getWeight(), "linear.weight"));
    op.getWeightMutable().assign(dq);
    op.setTransposeWeight(true);
  }

  void experts(moe::ExpertsOp op) {
    OpBuilder b(op);
    auto one = [&](OpOperand &operand, StringRef fallback) {
      auto w = moec::getConstantFloats(operand.get());
      if (!w)
        return;
      auto type = cast<RankedTensorType>(operand.get().getType());
      operand.set(quantize(b, operand.get().getLoc(), type.getShape(), *w,
                           nameOf(operand.get(), fallback)));
    };
    one(op.getFc1Mutable(), "fc1");
    one(op.getFc2Mutable(), "fc2");
    if (op.getFc3())
      one(op.getFc3Mutable()[0], "fc3");
  }

private:
  int64_t groupSize;
  moec::quant::WeightFormat format;
  int64_t bits;
};

struct QuantizeWeightsPass : moec::impl::MoecQuantizeWeightsBase<QuantizeWeightsPass> {
  using MoecQuantizeWeightsBase::MoecQuantizeWeightsBase;
  void runOnOperation() override {
    namespace quant = moec::quant;
    // "none" as the default format quantizes only what the config's rules say.
    auto options = quant::readQuantOptions(getOperation(), "moec-quantize-weights", format,
                                           groupSize, config);
    if (failed(options))
      return signalPassFailure();
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<moe::LinearOp, moe::ExpertsOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      quant::QuantChoice choice =
          quant::chooseQuantization(op, options->format, groupSize, options->rules);
      if (choice.format == quant::WeightFormat::None)
        continue;
      Quantizer quantizer(choice.group, choice.format);
      if (auto l = dyn_cast<moe::LinearOp>(op))
        quantizer.linear(l);
      else
        quantizer.experts(cast<moe::ExpertsOp>(op));
    }
  }
};

} // namespace
