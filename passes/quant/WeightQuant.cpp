//===- WeightQuant.cpp - weight quantization arithmetic and format choice ---===//
//
// The rounding, exactly (the e2e tests reproduce it in numpy), with
// qmax = 127 for int8 and 7 for int4:
//   scale = float32(max |w| over the block) / qmax   (float32 division)
//   q     = clamp(rint(w / scale), -qmax, qmax)       (float32, ties to even)
//   a block of zeros gets scale 0 and q 0.
// fp8 (E4M3FN) has the same form with qmax = 448, its largest finite value:
//   scale = float32(max |w| over the block) / 448
//   q     = E4M3FN(w / scale): the float32 quotient rounded once to the
//           nearest E4M3FN value, ties to the even code (even mantissa),
//           saturating to +-448 (a quotient just above 448 from the float32
//           division must not become NaN); a block of zeros: scale 0, q 0.
// That is numpy's (w / scale).clip(-448, 448).astype(ml_dtypes.float8_e4m3fn).
//
//===----------------------------------------------------------------------===//

#include "passes/quant/WeightQuant.h"

#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

using namespace mlir;

namespace moec::quant {

std::optional<WeightFormat> parseWeightFormat(StringRef name) {
  if (name == "none")
    return WeightFormat::None;
  if (name == "int8")
    return WeightFormat::Int8;
  if (name == "int4")
    return WeightFormat::Int4;
  if (name == "fp8")
    return WeightFormat::Fp8E4M3;
  return std::nullopt;
}

StringRef formatName(WeightFormat format) {
  switch (format) {
  case WeightFormat::None:
    return "none";
  case WeightFormat::Int8:
    return "int8";
  case WeightFormat::Int4:
    return "int4";
  case WeightFormat::Fp8E4M3:
    return "fp8";
  }
  return "?";
}

StringRef formatList() { return "none, int8, int4 or fp8"; }

namespace {
float qmaxOf(WeightFormat format) {
  switch (format) {
  case WeightFormat::Int4:
    return 7.f;
  case WeightFormat::Fp8E4M3:
    return 448.f;
  default:
    return 127.f;
  }
}

// The E4M3FN value of every code from 0x00 to 0x7E (increasing: the
// non-negative finite values), for the nearest-value search in encodeE4M3.
const std::array<float, 127> &positiveE4M3() {
  static const std::array<float, 127> table = [] {
    std::array<float, 127> t{};
    for (int c = 0; c < 127; ++c)
      t[c] = decodeE4M3(static_cast<uint8_t>(c));
    return t;
  }();
  return table;
}
} // namespace

float decodeE4M3(uint8_t code) {
  int exponent = (code >> 3) & 0xF, mantissa = code & 7;
  if (exponent == 15 && mantissa == 7)
    return std::numeric_limits<float>::quiet_NaN();
  // Subnormal: m * 2^-9; normal: (1 + m/8) * 2^(e-7) = (8 + m) * 2^(e-10).
  float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                                  : std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);
  return (code & 0x80) ? -magnitude : magnitude;
}

uint8_t encodeE4M3(float x) {
  if (std::isnan(x))
    return 0x7F;
  uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::fabs(x);
  if (a >= 448.f)
    return sign | 0x7E;
  // Codes below 0x7F are ordered like their values: find lo with
  // value(lo) <= a < value(lo + 1), then round to the nearer of the two.
  // The midpoint of two neighbours has at most 5 significant bits, so it
  // and the comparisons are exact in float32.
  const std::array<float, 127> &v = positiveE4M3();
  int lo = 0, hi = 126;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    (v[mid] <= a ? lo : hi) = mid;
  }
  float half = (v[lo] + v[hi]) * 0.5f;
  int code = a < half ? lo : a > half ? hi : (lo % 2 == 0 ? lo : hi);
  return static_cast<uint8_t>(sign | code);
}

QuantizedRows quantizeRows(ArrayRef<float> w, int64_t rows, int64_t cols, int64_t group,
                           WeightFormat format) {
  float qmax = qmaxOf(format);
  int64_t blocks = (cols + group - 1) / group;
  QuantizedRows out;
  out.codes.resize(w.size());
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
        if (format == WeightFormat::Fp8E4M3) {
          uint8_t code = scale > 0.f ? encodeE4M3(w[r * cols + c] / scale) : 0;
          out.codes[r * cols + c] = static_cast<int8_t>(code);
          continue;
        }
        float v = scale > 0.f ? std::nearbyint(w[r * cols + c] / scale) : 0.f;
        out.codes[r * cols + c] = static_cast<int8_t>(std::clamp(v, -qmax, qmax));
      }
    }
  return out;
}

std::vector<float> dequantizeRows(const QuantizedRows &q, int64_t rows, int64_t cols,
                                  int64_t group, WeightFormat format) {
  int64_t blocks = (cols + group - 1) / group;
  bool fp8 = format == WeightFormat::Fp8E4M3;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int8_t code = q.codes[r * cols + c];
      float value = fp8 ? decodeE4M3(static_cast<uint8_t>(code)) : static_cast<float>(code);
      out[r * cols + c] = value * q.scales[r * blocks + c / group];
    }
  return out;
}

std::vector<int8_t> packInt4(ArrayRef<int8_t> codes, int64_t rows, int64_t cols) {
  int64_t packedCols = (cols + 1) / 2;
  std::vector<int8_t> out(static_cast<size_t>(rows * packedCols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < packedCols; ++j) {
      uint8_t lo = static_cast<uint8_t>(codes[r * cols + 2 * j]) & 0xF;
      uint8_t hi = 2 * j + 1 < cols ? static_cast<uint8_t>(codes[r * cols + 2 * j + 1]) & 0xF : 0;
      out[r * packedCols + j] = static_cast<int8_t>(lo | (hi << 4));
    }
  return out;
}

bool onlyRoutes(Value v) {
  return !v.use_empty() && llvm::all_of(v.getUsers(), [](Operation *u) {
    StringRef name = u->getName().getStringRef();
    if (name == "onnx.Reshape" || name == "onnx.Flatten" || name == "onnx.Squeeze" ||
        name == "onnx.Unsqueeze")
      return onlyRoutes(u->getResult(0));
    return isa<moe::RouterOp>(u) || name == "onnx.Softmax" || name == "onnx.TopK";
  });
}

FailureOr<std::vector<QuantRule>> readQuantRules(Operation *anchor, StringRef path,
                                                 int64_t defaultGroup) {
  auto fail = [&](const Twine &what) -> FailureOr<std::vector<QuantRule>> {
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
  std::vector<QuantRule> out;
  for (auto [i, value] : llvm::enumerate(*rules)) {
    const llvm::json::Object *rule = value.getAsObject();
    auto match = rule ? rule->getString("match") : std::nullopt;
    auto format = rule ? rule->getString("format") : std::nullopt;
    if (!match || !format)
      return fail("rule " + Twine(i) + " needs string \"match\" and \"format\"");
    std::optional<WeightFormat> parsed = parseWeightFormat(*format);
    if (!parsed)
      return fail("rule " + Twine(i) + ": format must be " + formatList() + ", got '" +
                  *format + "'");
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
    out.push_back({match->str(), *parsed, group});
  }
  return out;
}

FailureOr<QuantOptions> readQuantOptions(Operation *anchor, StringRef pass, StringRef format,
                                         int64_t groupSize, StringRef config) {
  std::optional<WeightFormat> parsed = parseWeightFormat(format);
  if (!parsed || (*parsed == WeightFormat::None && config.empty()))
    return anchor->emitError() << pass << ": format must be " << formatList()
                               << " (none only with a config), got '" << format << "'";
  if (groupSize < 0)
    return anchor->emitError() << pass << ": group-size must be >= 0 (0: one scale per output "
                                          "row), got "
                               << groupSize;
  QuantOptions out{*parsed, groupSize, {}};
  if (!config.empty()) {
    auto rules = readQuantRules(anchor, config, groupSize);
    if (failed(rules))
      return failure();
    out.rules = std::move(*rules);
  }
  return out;
}

QuantChoice chooseQuantization(Operation *op, WeightFormat defaultFormat, int64_t defaultGroup,
                               ArrayRef<QuantRule> rules) {
  std::vector<std::string> names = moec::nodeNames(op->getLoc());
  std::string name = names.empty() ? "" : names.front();
  for (const QuantRule &rule : rules)
    if (name.find(rule.match) != std::string::npos)
      return {rule.format, rule.groupSize};
  return {defaultFormat, defaultGroup};
}

} // namespace moec::quant
