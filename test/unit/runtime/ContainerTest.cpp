//===- ContainerTest.cpp - The .moe container header ----------------------===//

#include "runtime/format/Container.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace {

using moert::format::checksum;
using moert::format::kHeaderSize;
using moert::format::unwrapPayload;
using moert::format::wrapPayload;

std::vector<uint8_t> randomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(size);
  for (uint8_t &b : bytes)
    b = static_cast<uint8_t>(rng());
  return bytes;
}

// Published FNV-1a 64 test vectors.
TEST(Container, ChecksumMatchesFnv1aVectors) {
  EXPECT_EQ(checksum(nullptr, 0), 0xcbf29ce484222325ULL);
  EXPECT_EQ(checksum(reinterpret_cast<const uint8_t *>("a"), 1),
            0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(checksum(reinterpret_cast<const uint8_t *>("foobar"), 6),
            0x85944171f73967e8ULL);
}

TEST(Container, HeaderLayoutIsLittleEndian) {
  std::vector<uint8_t> payload = randomBytes(100, 1);
  std::vector<uint8_t> file = wrapPayload(payload.data(), payload.size());
  ASSERT_EQ(file.size(), kHeaderSize + 100);
  EXPECT_EQ(std::memcmp(file.data(), "MOECART\0", 8), 0);
  EXPECT_EQ(file[8], 1);  // version
  EXPECT_EQ(file[12], 64); // header size
  EXPECT_EQ(file[16], 100); // payload size
  uint64_t sum = 0;
  for (int i = 0; i < 8; ++i)
    sum |= static_cast<uint64_t>(file[24 + i]) << (8 * i);
  EXPECT_EQ(sum, checksum(payload.data(), payload.size()));
  for (size_t i = 32; i < kHeaderSize; ++i)
    EXPECT_EQ(file[i], 0) << i;
  EXPECT_EQ(std::memcmp(file.data() + kHeaderSize, payload.data(), 100), 0);
}

TEST(Container, RoundTrip) {
  for (size_t size : {0, 1, 63, 64, 4097}) {
    std::vector<uint8_t> payload = randomBytes(size, static_cast<unsigned>(size));
    std::vector<uint8_t> file = wrapPayload(payload.data(), payload.size());
    const uint8_t *out = nullptr;
    size_t outSize = 0;
    std::string error;
    ASSERT_TRUE(unwrapPayload(file.data(), file.size(), &out, &outSize, &error))
        << error;
    EXPECT_EQ(out, file.data() + kHeaderSize);
    ASSERT_EQ(outSize, size);
  }
}

bool rejects(const std::vector<uint8_t> &file, const std::string &text) {
  const uint8_t *out = nullptr;
  size_t outSize = 0;
  std::string error;
  bool ok = unwrapPayload(file.data(), file.size(), &out, &outSize, &error);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find(text), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
  return !ok;
}

TEST(Container, RejectsEachHeaderField) {
  std::vector<uint8_t> payload = randomBytes(256, 2);
  const std::vector<uint8_t> good = wrapPayload(payload.data(), payload.size());

  std::vector<uint8_t> file = good;
  file[0] = 'X';
  rejects(file, "bad magic");
  file = good;
  file[8] = 2;
  rejects(file, "container version 2 is not supported");
  file = good;
  file[12] = 32;
  rejects(file, "header size 32");
  file = good;
  file[40] = 1;
  rejects(file, "reserved");
  file = good;
  file[16] = 255; // payload size larger than the file
  rejects(file, "truncated");
  file = good;
  file.push_back(0); // trailing byte
  rejects(file, "holds 257 bytes");
  file = good;
  file[kHeaderSize + 10] ^= 0x4;
  rejects(file, "checksum mismatch");
}

TEST(Container, RejectsEveryTruncation) {
  std::vector<uint8_t> payload = randomBytes(200, 3);
  const std::vector<uint8_t> good = wrapPayload(payload.data(), payload.size());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    std::vector<uint8_t> file(good.begin(), good.begin() + cut);
    const uint8_t *out = nullptr;
    size_t outSize = 0;
    std::string error;
    EXPECT_FALSE(unwrapPayload(file.data(), file.size(), &out, &outSize, &error))
        << "cut at " << cut;
    EXPECT_FALSE(error.empty());
  }
}

} // namespace
