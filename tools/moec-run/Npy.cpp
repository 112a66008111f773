//===- Npy.cpp - NumPy .npy reader and writer -----------------------------===//

#include "tools/moec-run/Npy.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace moec::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DescrEntry {
  const char *descr;
  moert_dtype_t dtype;
};

// '<' little endian, '|' not applicable (one byte). numpy also writes '<'
// for no-byte-order types on some versions, so both spellings are accepted
// for one-byte types.
constexpr DescrEntry kDescrs[] = {
    {"<f4", MOERT_DTYPE_F32}, {"<f8", MOERT_DTYPE_F64},
    {"<f2", MOERT_DTYPE_F16}, {"<i8", MOERT_DTYPE_I64},
    {"<i4", MOERT_DTYPE_I32}, {"|i1", MOERT_DTYPE_I8},
    {"|u1", MOERT_DTYPE_U8},  {"|b1", MOERT_DTYPE_BOOL},
};

bool fail(std::string *error, std::string message) {
  if (error)
    *error = std::move(message);
  return false;
}

// A minimal reader for the Python dict literal in the header, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text_(text) {}

  bool parse(std::string *descr, bool *fortran, std::vector<int64_t> *shape,
             std::string *error) {
    bool haveDescr = false, haveFortran = false, haveShape = false;
    skipSpace();
    if (!consume('{'))
      return fail(error, "header is not a dict");
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(&key))
        return fail(error, "header: expected a quoted key at byte " +
                               std::to_string(pos_));
      skipSpace();
      if (!consume(':'))
        return fail(error, "header: expected ':' after '" + key + "'");
      skipSpace();
      if (key == "descr") {
        if (!parseString(descr))
          return fail(error, "header: 'descr' is not a string (structured "
                             "dtypes are not supported)");
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (!parseBool(fortran))
          return fail(error, "header: 'fortran_order' is not True/False");
        haveFortran = true;
      } else if (key == "shape") {
        if (!parseShape(shape, error))
          return false;
        haveShape = true;
      } else {
        return fail(error, "header: unexpected key '" + key + "'");
      }
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return fail(error, "header: expected ',' or '}' at byte " +
                             std::to_string(pos_));
    }
    if (!haveDescr || !haveFortran || !haveShape)
      return fail(error, "header lacks 'descr', 'fortran_order' or 'shape'");
    return true;
  }

private:
  void skipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'))
      ++pos_;
  }
  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool parseString(std::string *out) {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      return false;
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos)
      return false;
    *out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool parseBool(bool *out) {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      *out = true;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      *out = false;
      return true;
    }
    return false;
  }
  bool parseShape(std::vector<int64_t> *shape, std::string *error) {
    if (!consume('('))
      return fail(error, "header: 'shape' is not a tuple");
    shape->clear();
    while (true) {
      skipSpace();
      if (consume(')'))
        return true;
      size_t start = pos_;
      int64_t value = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        int digit = text_[pos_++] - '0';
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, digit, &value))
          return fail(error, "header: a shape dimension overflows");
      }
      if (pos_ == start)
        return fail(error, "header: 'shape' holds a non-integer");
      shape->push_back(value);
      skipSpace();
      if (consume(','))
        continue;
      if (consume(')'))
        return true;
      return fail(error, "header: malformed 'shape'");
    }
  }

  const std::string &text_;
  size_t pos_ = 0;
};

bool readFile(const std::string &path, std::vector<uint8_t> *out,
              std::string *error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return fail(error, std::strerror(errno));
  out->clear();
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    out->insert(out->end(), chunk, chunk + got);
  bool bad = std::ferror(file);
  std::fclose(file);
  if (bad)
    return fail(error, "read error");
  return true;
}

} // namespace

void Array::FreeDeleter::operator()(uint8_t *p) const { std::free(p); }

bool Array::allocate(moert_dtype_t dtype, std::vector<int64_t> shape) {
  size_t itemSize = moert_dtype_size(dtype);
  if (itemSize == 0)
    return false;
  size_t elements = 1;
  for (int64_t dim : shape)
    if (dim < 0 ||
        __builtin_mul_overflow(elements, static_cast<size_t>(dim), &elements))
      return false;
  size_t bytes;
  if (__builtin_mul_overflow(elements, itemSize, &bytes))
    return false;
  void *memory = nullptr;
  if (posix_memalign(&memory, 64, bytes == 0 ? 1 : bytes) != 0)
    return false;
  std::memset(memory, 0, bytes == 0 ? 1 : bytes);
  data_.reset(static_cast<uint8_t *>(memory));
  dtype_ = dtype;
  shape_ = std::move(shape);
  elements_ = elements;
  bytes_ = bytes;
  return true;
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = (bits >> 15) & 1, exponent = (bits >> 10) & 0x1f,
           mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -24); // subnormal
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400),
                           static_cast<int>(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

double Array::elementAsDouble(size_t i) const {
  const uint8_t *p = data_.get() + i * moert_dtype_size(dtype_);
  switch (dtype_) {
  case MOERT_DTYPE_F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case MOERT_DTYPE_F64: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  case MOERT_DTYPE_F16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return halfToFloat(v);
  }
  case MOERT_DTYPE_I64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  case MOERT_DTYPE_I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case MOERT_DTYPE_I8:
    return static_cast<int8_t>(*p);
  case MOERT_DTYPE_U8:
  case MOERT_DTYPE_BOOL:
    return *p;
  default:
    return NAN;
  }
}

const char *descrFor(moert_dtype_t dtype) {
  for (const DescrEntry &entry : kDescrs)
    if (entry.dtype == dtype)
      return entry.descr;
  return "";
}

bool parse(const uint8_t *bytes, size_t size, Array *out, std::string *error) {
  if (size < kMagicSize + 2 || std::memcmp(bytes, kMagic, kMagicSize) != 0)
    return fail(error, "not a .npy file (bad magic)");
  uint8_t major = bytes[6], minor = bytes[7];
  size_t lengthBytes;
  if (major == 1)
    lengthBytes = 2;
  else if (major == 2 || major == 3)
    lengthBytes = 4;
  else
    return fail(error, ".npy format version " + std::to_string(major) + "." +
                           std::to_string(minor) + " is not supported");
  size_t prefix = kMagicSize + 2 + lengthBytes;
  if (size < prefix)
    return fail(error, "truncated .npy header");
  size_t headerLength = 0;
  for (size_t i = 0; i < lengthBytes; ++i)
    headerLength |= static_cast<size_t>(bytes[8 + i]) << (8 * i);
  if (headerLength > size - prefix)
    return fail(error, "truncated .npy header");
  // Version 1/2 headers are latin-1, version 3 UTF-8; the fields we read
  // are ASCII either way.
  std::string header(reinterpret_cast<const char *>(bytes + prefix),
                     headerLength);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  if (!HeaderParser(header).parse(&descr, &fortran, &shape, error))
    return false;
  if (fortran)
    return fail(error, "array is in Fortran order; save it in C order "
                       "(numpy.ascontiguousarray)");
  // One-byte types have no byte order; accept any of numpy's spellings.
  if (descr.size() == 3 && descr[2] == '1' &&
      (descr[0] == '<' || descr[0] == '>' || descr[0] == '='))
    descr[0] = '|';
  const DescrEntry *entry = nullptr;
  for (const DescrEntry &candidate : kDescrs)
    if (descr == candidate.descr)
      entry = &candidate;
  if (!entry) {
    if (!descr.empty() && descr[0] == '>')
      return fail(error, "dtype '" + descr +
                             "' is big-endian; only little-endian is supported");
    return fail(error, "dtype '" + descr + "' is not supported");
  }
  if (!out->allocate(entry->dtype, shape))
    return fail(error, "array shape is too large");
  size_t available = size - prefix - headerLength;
  if (available < out->byteSize())
    return fail(error, "truncated data: shape needs " +
                           std::to_string(out->byteSize()) + " bytes, file has " +
                           std::to_string(available));
  if (available > out->byteSize())
    return fail(error, std::to_string(available - out->byteSize()) +
                           " unexpected bytes after the array data");
  if (out->byteSize())
    std::memcpy(out->data(), bytes + prefix + headerLength, out->byteSize());
  return true;
}

bool read(const std::string &path, Array *out, std::string *error) {
  std::vector<uint8_t> bytes;
  if (!readFile(path, &bytes, error))
    return false;
  return parse(bytes.data(), bytes.size(), out, error);
}

bool serialize(const Array &array, std::vector<uint8_t> *out,
               std::string *error) {
  std::string descr = descrFor(array.dtype());
  if (descr.empty())
    return fail(error, std::string("dtype ") + moert_dtype_name(array.dtype()) +
                           " cannot be stored in .npy");
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape().size(); ++i)
    header += (i ? ", " : "") + std::to_string(array.shape()[i]);
  if (array.shape().size() == 1)
    header += ","; // Python's one-element tuple.
  header += "), }";
  // The data starts at a multiple of 64 bytes; the header ends in '\n'.
  size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  bool v2 = false;
  size_t total = (unpadded + 63) / 64 * 64;
  if (total - kMagicSize - 4 > 0xffff) {
    v2 = true;
    unpadded += 2;
    total = (unpadded + 63) / 64 * 64;
  }
  header.append(total - unpadded, ' ');
  header += '\n';
  size_t lengthBytes = v2 ? 4 : 2;
  size_t length = header.size();
  out->assign(kMagicSize + 2 + lengthBytes + length + array.byteSize(), 0);
  uint8_t *cursor = out->data();
  std::memcpy(cursor, kMagic, kMagicSize);
  cursor += kMagicSize;
  *cursor++ = v2 ? 2 : 1; // major version
  *cursor++ = 0;          // minor version
  for (size_t i = 0; i < lengthBytes; ++i)
    *cursor++ = static_cast<uint8_t>(length >> (8 * i));
  std::memcpy(cursor, header.data(), length);
  cursor += length;
  if (array.byteSize())
    std::memcpy(cursor, array.data(), array.byteSize());
  return true;
}

bool write(const std::string &path, const Array &array, std::string *error) {
  std::vector<uint8_t> bytes;
  if (!serialize(array, &bytes, error))
    return false;
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    return fail(error, std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok = (std::fclose(file) == 0) && ok;
  if (!ok)
    return fail(error, "write error");
  return true;
}

} // namespace moec::npy
