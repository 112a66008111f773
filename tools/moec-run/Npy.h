//===- Npy.h - NumPy .npy reader and writer --------------------*- C++ -*-===//
//
// Reads format versions 1.0, 2.0 and 3.0 (which differ only in the width of
// the header length and the header's text encoding) and writes 1.0 (2.0 when
// the header would not fit). Only little-endian, C-order arrays of the
// dtypes moert has are accepted: '<f4' '<f8' '<f2' '<i8' '<i4' '|i1' '|u1'
// '|b1'. Anything else is an error with a reason, never a guess.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TOOLS_MOEC_RUN_NPY_H
#define MOEC_TOOLS_MOEC_RUN_NPY_H

#include "moert/moert.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moec::npy {

/// A dense C-order array. `data` is 64-byte aligned so it can be handed to
/// kernels directly.
class Array {
public:
  Array() = default;
  /// Allocates zeroed storage for `shape` of `dtype`; false if the size
  /// overflows or memory runs out.
  bool allocate(moert_dtype_t dtype, std::vector<int64_t> shape);

  moert_dtype_t dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  size_t elementCount() const { return elements_; }
  size_t byteSize() const { return bytes_; }
  uint8_t *data() { return data_.get(); }
  const uint8_t *data() const { return data_.get(); }

  /// Element `i` converted to double (for comparisons).
  double elementAsDouble(size_t i) const;

private:
  struct FreeDeleter {
    void operator()(uint8_t *p) const;
  };
  moert_dtype_t dtype_ = MOERT_DTYPE_F32;
  std::vector<int64_t> shape_;
  size_t elements_ = 0;
  size_t bytes_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> data_;
};

/// The .npy descr string for `dtype` ("<f4"), or "" if .npy cannot hold it.
const char *descrFor(moert_dtype_t dtype);

/// Parses a complete .npy image. On failure returns false and sets `*error`.
bool parse(const uint8_t *bytes, size_t size, Array *out, std::string *error);
/// Reads and parses the file at `path`.
bool read(const std::string &path, Array *out, std::string *error);

/// The .npy image of `array`.
bool serialize(const Array &array, std::vector<uint8_t> *out,
               std::string *error);
/// Writes `array` to `path`.
bool write(const std::string &path, const Array &array, std::string *error);

/// Converts an IEEE half-precision bit pattern to float.
float halfToFloat(uint16_t bits);

} // namespace moec::npy

#endif // MOEC_TOOLS_MOEC_RUN_NPY_H
