//===- NpyTest.cpp - The .npy reader/writer of moec-run -------------------===//
//
// The byte images below are what numpy.save writes (header text, padding to
// a multiple of 64, '\n' terminator); MoecRunTest and moec_run_numpy_test.py
// check interoperability with numpy itself.
//
//===----------------------------------------------------------------------===//

#include "tools/moec-run/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace {

using moec::npy::Array;

// A .npy image with format version `major` and header dict `dict`, padded as
// numpy pads it, followed by `data`.
std::vector<uint8_t> image(int major, const std::string &dict,
                           const std::vector<uint8_t> &data) {
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t prefix = 8 + lengthBytes;
  std::string header = dict;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y',
                              static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < lengthBytes; ++i)
    out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(Npy, ReadsVersions1To3) {
  std::vector<float> values = {1.5f, -2.25f, 3.0f, 4.5f, -5.0f, 6.125f};
  for (int major : {1, 2, 3}) {
    Array array;
    std::string error;
    std::vector<uint8_t> file = image(
        major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        bytesOf(values));
    ASSERT_TRUE(moec::npy::parse(file.data(), file.size(), &array, &error))
        << error;
    EXPECT_EQ(array.dtype(), MOERT_DTYPE_F32);
    EXPECT_EQ(array.shape(), (std::vector<int64_t>{2, 3}));
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(array.elementAsDouble(i), values[i]);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(array.data()) % 64, 0u);
  }
}

TEST(Npy, ReadsEveryDtypeAndShapeForm) {
  struct Case {
    const char *descr;
    moert_dtype_t dtype;
    std::vector<uint8_t> data;
    double first;
  };
  std::vector<Case> cases = {
      {"<f8", MOERT_DTYPE_F64, bytesOf(std::vector<double>{-0.1, 2}), -0.1},
      {"<i8", MOERT_DTYPE_I64, bytesOf(std::vector<int64_t>{-7, 9}), -7},
      {"<i4", MOERT_DTYPE_I32, bytesOf(std::vector<int32_t>{-3, 9}), -3},
      {"|b1", MOERT_DTYPE_BOOL, {1, 0}, 1},
      {"|u1", MOERT_DTYPE_U8, {200, 3}, 200},
      {"|i1", MOERT_DTYPE_I8, {0xfe, 3}, -2},
      {"<f2", MOERT_DTYPE_F16, {0x00, 0xbe, 0x00, 0x3c}, -1.5}, // -1.5, 1.0
  };
  for (const Case &c : cases) {
    Array array;
    std::string error;
    std::vector<uint8_t> file =
        image(1,
              std::string("{'descr': '") + c.descr +
                  "', 'fortran_order': False, 'shape': (2,), }",
              c.data);
    ASSERT_TRUE(moec::npy::parse(file.data(), file.size(), &array, &error))
        << c.descr << ": " << error;
    EXPECT_EQ(array.dtype(), c.dtype) << c.descr;
    EXPECT_EQ(array.shape(), (std::vector<int64_t>{2}));
    EXPECT_EQ(array.elementAsDouble(0), c.first) << c.descr;
  }
  // A scalar and an empty array.
  Array array;
  std::string error;
  std::vector<uint8_t> file =
      image(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
            bytesOf(std::vector<int64_t>{42}));
  ASSERT_TRUE(moec::npy::parse(file.data(), file.size(), &array, &error));
  EXPECT_TRUE(array.shape().empty());
  EXPECT_EQ(array.elementAsDouble(0), 42);
  file = image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 16), }",
               {});
  ASSERT_TRUE(moec::npy::parse(file.data(), file.size(), &array, &error))
      << error;
  EXPECT_EQ(array.elementCount(), 0u);
}

TEST(Npy, HalfConversion) {
  EXPECT_EQ(moec::npy::halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(moec::npy::halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(moec::npy::halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(moec::npy::halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(moec::npy::halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(moec::npy::halfToFloat(0x7e00)));
}

void expectRejected(const std::vector<uint8_t> &file, const std::string &text) {
  Array array;
  std::string error;
  EXPECT_FALSE(moec::npy::parse(file.data(), file.size(), &array, &error));
  EXPECT_NE(error.find(text), std::string::npos) << error;
}

TEST(Npy, RejectsWhatItCannotRepresent) {
  std::vector<uint8_t> four(16, 0);
  expectRejected(
      image(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            four),
      "Fortran order");
  expectRejected(
      image(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }",
            four),
      "big-endian");
  expectRejected(
      image(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
            four),
      "dtype '<c8' is not supported");
  expectRejected(
      image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
            four),
      "truncated data: shape needs 20 bytes, file has 16");
  expectRejected(
      image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            four),
      "4 unexpected bytes");
  expectRejected(image(4, "{}", {}), "format version 4.0 is not supported");
  expectRejected({'n', 'o', 'p', 'e', 0, 0, 0, 0, 0, 0}, "bad magic");
  std::vector<uint8_t> file = image(
      1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four);
  for (size_t cut = 0; cut < file.size(); ++cut) {
    Array array;
    std::string error;
    EXPECT_FALSE(moec::npy::parse(file.data(), cut, &array, &error)) << cut;
  }
  expectRejected(image(1, "{'descr': '<f4', 'shape': (4,), }", four),
                 "lacks");
  expectRejected(
      image(1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': "
            "(99999999999999999999,), }",
            four),
      "overflows");
}

TEST(Npy, WriteThenReadRoundTrips) {
  for (moert_dtype_t dtype :
       {MOERT_DTYPE_F32, MOERT_DTYPE_F64, MOERT_DTYPE_I64, MOERT_DTYPE_I32,
        MOERT_DTYPE_BOOL, MOERT_DTYPE_U8, MOERT_DTYPE_F16}) {
    Array array;
    ASSERT_TRUE(array.allocate(dtype, {3, 5}));
    for (size_t i = 0; i < array.byteSize(); ++i)
      array.data()[i] = static_cast<uint8_t>(i * 7 + 1) & 0x3f;
    std::vector<uint8_t> bytes;
    std::string error;
    ASSERT_TRUE(moec::npy::serialize(array, &bytes, &error)) << error;
    size_t headerEnd = bytes.size() - array.byteSize();
    EXPECT_EQ(headerEnd % 64, 0u);
    EXPECT_EQ(bytes[headerEnd - 1], '\n');
    Array back;
    ASSERT_TRUE(moec::npy::parse(bytes.data(), bytes.size(), &back, &error))
        << error;
    EXPECT_EQ(back.dtype(), dtype);
    EXPECT_EQ(back.shape(), array.shape());
    EXPECT_EQ(std::memcmp(back.data(), array.data(), array.byteSize()), 0);
  }
  Array bf16;
  EXPECT_FALSE(bf16.allocate(static_cast<moert_dtype_t>(99), {1}));
  ASSERT_TRUE(bf16.allocate(MOERT_DTYPE_BF16, {1}));
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(moec::npy::serialize(bf16, &bytes, &error));
  EXPECT_NE(error.find("bfloat16 cannot be stored"), std::string::npos);
}

} // namespace
