//===- QuantizeWeights.cpp - weight-only integer quantization ---------------===//
//
// Decode reads every expert weight it uses once per token, so bytes per
// weight set its cost. This pass stores the weights of moe.experts (fc1, fc2,
// fc3) and of moe.linear as int8 (or int4, two per byte) with float32
// scales, symmetric, one scale per block of `group-size` elements along the
// reduction axis (0: one per output row). The weight operand becomes a moe.dequantize of the two
// constants, which the lowering hands to kernels that dequantize in
// registers; nothing in the model changes meaning except the rounding.
//
// The arithmetic, exactly (the e2e tests reproduce it in numpy), with
// qmax = 127 for int8 and 7 for int4:
//   scale = float32(max |w| over the block) / qmax   (float32 division)
//   q     = clamp(rint(w / scale), -qmax, qmax)       (float32, ties to even)
//   a block of zeros gets scale 0 and q 0.
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

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOECQUANTIZEWEIGHTS
#include "passes/quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

// A weight as float32 values, row-major, or nullopt if it is not an f32
// constant.
std::optional<std::vector<float>> floatWeights(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
    return std::nullopt;
  ElementsAttr elements = moec::getConstantElements(v);
  auto bytes = elements ? moec::getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  std::vector<float> values(bytes->size() / sizeof(float));
  std::memcpy(values.data(), bytes->data(), bytes->size());
  return values;
}

struct Quantized {
  std::vector<int8_t> q;
  std::vector<float> scales;
};

// Quantizes `w` viewed as [rows, cols] in blocks of `group` along cols, to
// integers in [-qmax, qmax] (127 for int8, 7 for int4).
Quantized quantizeRows(const std::vector<float> &w, int64_t rows, int64_t cols, int64_t group,
                       float qmax) {
  int64_t blocks = (cols + group - 1) / group;
  Quantized out;
  out.q.resize(w.size());
  out.scales.resize(static_cast<size_t>(rows * blocks));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t bk = 0; bk < blocks; ++bk) {
      int64_t begin = bk * group, end = std::min(cols, begin + group);
      float amax = 0.f;
      for (int64_t c = begin; c < end; ++c)
        amax = std::max(amax, std::fabs(w[r * cols + c]));
      float scale = amax / qmax;
      out.scales[r * blocks + bk] = scale;
      for (int64_t c = begin; c < end; ++c) {
        float v = scale > 0.f ? std::nearbyint(w[r * cols + c] / scale) : 0.f;
        out.q[r * cols + c] = static_cast<int8_t>(std::clamp(v, -qmax, qmax));
      }
    }
  return out;
}

// Two signed 4-bit values per byte along the last axis: element 2j in the
// low nibble of byte j, 2j + 1 in the high one (an odd last one pads with 0).
std::vector<int8_t> packInt4(const std::vector<int8_t> &q, int64_t rows, int64_t cols) {
  int64_t packedCols = (cols + 1) / 2;
  std::vector<int8_t> out(static_cast<size_t>(rows * packedCols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < packedCols; ++j) {
      uint8_t lo = static_cast<uint8_t>(q[r * cols + 2 * j]) & 0xF;
      uint8_t hi = 2 * j + 1 < cols ? static_cast<uint8_t>(q[r * cols + 2 * j + 1]) & 0xF : 0;
      out[r * packedCols + j] = static_cast<int8_t>(lo | (hi << 4));
    }
  return out;
}

class Quantizer {
public:
  Quantizer(int64_t groupSize, int64_t bits) : groupSize(groupSize), bits(bits) {}

  // moe.dequantize of int8 `values` ([..., cols], row-major) quantized along
  // the last axis; `name` keys the new resources.
  Value quantize(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                 const std::vector<float> &values, const std::string &name) {
    int64_t cols = shape.back();
    int64_t rows = static_cast<int64_t>(values.size()) / std::max<int64_t>(cols, 1);
    int64_t group = groupSize > 0 ? std::min(groupSize, cols) : cols;
    Quantized qz = quantizeRows(values, rows, cols, group, bits == 4 ? 7.f : 127.f);
    MLIRContext *ctx = b.getContext();
    SmallVector<int64_t> storedShape(shape);
    if (bits == 4) {
      qz.q = packInt4(qz.q, rows, cols);
      storedShape.back() = (cols + 1) / 2;
    }
    auto qType = RankedTensorType::get(storedShape, IntegerType::get(ctx, 8));
    SmallVector<int64_t> scaleShape(shape);
    scaleShape.back() = (cols + group - 1) / group;
    auto sType = RankedTensorType::get(scaleShape, Float32Type::get(ctx));
    Value q = moec::createBlobConstant(b, loc, qType,
                           ArrayRef<char>(reinterpret_cast<const char *>(qz.q.data()), qz.q.size()),
                           name + (bits == 4 ? ".int4" : ".int8"));
    Value s = moec::createBlobConstant(b, loc, sType,
                           ArrayRef<char>(reinterpret_cast<const char *>(qz.scales.data()),
                                          qz.scales.size() * sizeof(float)),
                           name + (bits == 4 ? ".int4_scale" : ".int8_scale"));
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

  // Every use of `v` selects experts: a router, Softmax/TopK on the logits,
  // or a reshape of them on the way there (decoders reshape [1, T, E] to
  // [T, E] before the MoE node).
  static bool onlyRoutes(Value v) {
    return !v.use_empty() && llvm::all_of(v.getUsers(), [](Operation *u) {
      StringRef name = u->getName().getStringRef();
      if (name == "onnx.Reshape" || name == "onnx.Flatten" || name == "onnx.Squeeze" ||
          name == "onnx.Unsqueeze")
        return onlyRoutes(u->getResult(0));
      return isa<moe::RouterOp>(u) || name == "onnx.Softmax" || name == "onnx.TopK";
    });
  }

  void linear(moe::LinearOp op) {
    // Routers keep their logits exact.
    if (onlyRoutes(op.getOutput()))
      return;
    auto w = floatWeights(op.getWeight());
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
      auto w = floatWeights(operand.get());
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
  int64_t bits;
};

// One override of the config file.
struct Rule {
  std::string match, format;
  int64_t groupSize;
};

// Reads the rules; a one-line error naming the file otherwise.
FailureOr<std::vector<Rule>> readRules(Operation *anchor, StringRef path, int64_t defaultGroup) {
  auto fail = [&](const Twine &what) -> FailureOr<std::vector<Rule>> {
    return anchor->emitError() << "quantization config " << path << ": " << what;
  };
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail("cannot read it (" + buffer.getError().message() + ")");
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    std::string message = llvm::toString(json.takeError());
    return fail("not valid JSON: " + message);
  }
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Array *rules = root ? root->getArray("rules") : nullptr;
  if (!rules)
    return fail("expected an object with a \"rules\" array");
  std::vector<Rule> out;
  for (auto [i, value] : llvm::enumerate(*rules)) {
    const llvm::json::Object *rule = value.getAsObject();
    auto match = rule ? rule->getString("match") : std::nullopt;
    auto format = rule ? rule->getString("format") : std::nullopt;
    if (!match || !format)
      return fail("rule " + Twine(i) + " needs string \"match\" and \"format\"");
    if (*format != "none" && *format != "int8" && *format != "int4")
      return fail("rule " + Twine(i) + ": format must be none, int8 or int4, got '" + *format +
                  "'");
    int64_t group = defaultGroup;
    if (const llvm::json::Value *g = rule->get("group_size")) {
      auto n = g->getAsInteger();
      if (!n || *n < 0)
        return fail("rule " + Twine(i) + ": group_size must be an integer >= 0");
      group = *n;
    }
    for (const auto &entry : *rule)
      if (entry.first != "match" && entry.first != "format" && entry.first != "group_size")
        return fail("rule " + Twine(i) + ": unknown key '" + entry.first.str() + "'");
    out.push_back({match->str(), format->str(), group});
  }
  return out;
}

struct QuantizeWeightsPass : moec::impl::MoecQuantizeWeightsBase<QuantizeWeightsPass> {
  using MoecQuantizeWeightsBase::MoecQuantizeWeightsBase;
  void runOnOperation() override {
    // "none" as the default format quantizes only what the config's rules say.
    if (format != "int8" && format != "int4" && !(format == "none" && !config.empty())) {
      getOperation().emitError() << "moec-quantize-weights: format must be int8 or int4, got '"
                                 << format << "' (fp8 is not implemented yet)";
      return signalPassFailure();
    }
    if (groupSize < 0) {
      getOperation().emitError() << "moec-quantize-weights: group-size must be >= 0 (0: one "
                                    "scale per output row), got "
                                 << groupSize;
      return signalPassFailure();
    }
    std::vector<Rule> rules;
    if (!config.empty()) {
      auto read = readRules(getOperation(), config, groupSize);
      if (failed(read))
        return signalPassFailure();
      rules = std::move(*read);
    }
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<moe::LinearOp, moe::ExpertsOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      std::string opFormat = format;
      int64_t opGroup = groupSize;
      std::vector<std::string> names = moec::nodeNames(op->getLoc());
      std::string name = names.empty() ? "" : names.front();
      for (const Rule &rule : rules)
        if (name.find(rule.match) != std::string::npos) {
          opFormat = rule.format;
          opGroup = rule.groupSize;
          break;
        }
      if (opFormat == "none")
        continue;
      Quantizer quantizer(opGroup, opFormat == "int4" ? 4 : 8);
      if (auto l = dyn_cast<moe::LinearOp>(op))
        quantizer.linear(l);
      else
        quantizer.experts(cast<moe::ExpertsOp>(op));
    }
  }
};

} // namespace
