//===- WeightQuant.h - weight quantization arithmetic and format choice -*- C++ -*-===//
//
// What moec-quantize-weights computes and which format each op gets, in one
// place: the calibration passes (AWQ scale search) must predict exactly the
// rounding the quantize pass will apply, and decide per op as it decides.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_PASSES_QUANT_WEIGHTQUANT_H
#define MOEC_PASSES_QUANT_WEIGHTQUANT_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moec::quant {

// Fp8E4M3: one byte per weight, the OCP E4M3 "FN" float (MLIR f8E4M3FN,
// ONNX FLOAT8E4M3FN): 1 sign, 4 exponent (bias 7), 3 mantissa bits, no
// infinities, 0x7F/0xFF NaN, largest finite 448.
enum class WeightFormat { None, Int8, Int4, Fp8E4M3 };

// "none", "int8", "int4", "fp8"; nullopt for anything else.
std::optional<WeightFormat> parseWeightFormat(llvm::StringRef name);
llvm::StringRef formatName(WeightFormat format);
// The formats parseWeightFormat accepts, for messages: "none, int8, int4 or fp8".
llvm::StringRef formatList();

// w viewed as [rows, cols] quantized in blocks of `group` (1 <= group <=
// cols) along cols. `codes` holds one code per element, unpacked, row-major;
// `scales` is [rows, ceil(cols / group)]. For Fp8E4M3 a code is the E4M3FN
// byte pattern (stored as int8; bit-cast it back to uint8).
struct QuantizedRows {
  std::vector<int8_t> codes;
  std::vector<float> scales;
};
QuantizedRows quantizeRows(llvm::ArrayRef<float> w, int64_t rows, int64_t cols, int64_t group,
                           WeightFormat format);
// The float32 values the codes stand for (code * scale, fp8 codes decoded
// first), row-major [rows, cols].
std::vector<float> dequantizeRows(const QuantizedRows &q, int64_t rows, int64_t cols,
                                  int64_t group, WeightFormat format);

// E4M3FN: the value of a byte (exact in float32; NaN for 0x7F and 0xFF), and
// the byte nearest to a float32 (ties to the even code, saturating to +-448,
// NaN to 0x7F).
float decodeE4M3(uint8_t code);
uint8_t encodeE4M3(float x);

// Two signed 4-bit codes per byte along the last axis: element 2j in the
// low nibble of byte j, 2j + 1 in the high one (an odd last one pads with 0).
std::vector<int8_t> packInt4(llvm::ArrayRef<int8_t> codes, int64_t rows, int64_t cols);

// True when every use of `v` selects experts (a router, Softmax/TopK on the
// logits, or a reshape on the way there): such weights stay float.
bool onlyRoutes(mlir::Value v);

// One override of a --quantize-config file.
struct QuantRule {
  std::string match;
  WeightFormat format;
  int64_t groupSize;
};
// Reads a config file's rules; a one-line error on `anchor` naming the file
// otherwise. Rules without group_size take `defaultGroup`.
mlir::FailureOr<std::vector<QuantRule>> readQuantRules(mlir::Operation *anchor,
                                                       llvm::StringRef path,
                                                       int64_t defaultGroup);

// The options moec-quantize-weights takes (and passes that must predict it):
// the default format, group size and the config's rules. A one-line error on
// `anchor`, prefixed with `pass`, for a bad format, a negative group size
// ("none" is allowed only with a config) or a bad config file.
struct QuantOptions {
  WeightFormat format;
  int64_t groupSize;
  std::vector<QuantRule> rules;
};
mlir::FailureOr<QuantOptions> readQuantOptions(mlir::Operation *anchor, llvm::StringRef pass,
                                               llvm::StringRef format, int64_t groupSize,
                                               llvm::StringRef config);

// The format and group size for one moe.linear / moe.experts op: the first
// rule whose match is a substring of the op's ONNX node name, else the
// defaults. `group` 0 means one scale per output row.
struct QuantChoice {
  WeightFormat format;
  int64_t group;
};
QuantChoice chooseQuantization(mlir::Operation *op, WeightFormat defaultFormat,
                               int64_t defaultGroup, llvm::ArrayRef<QuantRule> rules);

} // namespace moec::quant

#endif // MOEC_PASSES_QUANT_WEIGHTQUANT_H
