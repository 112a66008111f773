//===- ContainerTest.cpp - The .moe container -----------------------------===//

#include "runtime/format/Container.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace {

using namespace moert::format;

std::vector<uint8_t> randomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(size);
  for (uint8_t &b : bytes)
    b = static_cast<uint8_t>(rng());
  return bytes;
}

// The checksum as docs/artifact-format.md defines it, written independently
// of Container.cpp (whole padded stripes, words assembled byte by byte, no
// streaming), so a mistake in the optimized code cannot hide in both.
uint64_t referenceChecksum(const std::vector<uint8_t> &data) {
  const uint64_t m = 0x9e3779b97f4a7c15ULL, seed = 0x243f6a8885a308d3ULL;
  auto step = [&](uint64_t lane, uint64_t word) {
    lane = (lane ^ word) * m;
    return lane ^ (lane >> 32);
  };
  std::vector<uint8_t> padded = data;
  padded.resize((data.size() + 63) / 64 * 64, 0);
  uint64_t lanes[8];
  for (int i = 0; i < 8; ++i)
    lanes[i] = seed + static_cast<uint64_t>(i) * m;
  for (size_t w = 0; w < padded.size() / 8; ++w) {
    uint64_t word = 0;
    for (int b = 0; b < 8; ++b)
      word |= static_cast<uint64_t>(padded[8 * w + b]) << (8 * b);
    lanes[w % 8] = step(lanes[w % 8], word);
  }
  uint64_t hash = step(seed, data.size());
  for (uint64_t lane : lanes)
    hash = step(hash, lane);
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  return hash ^ (hash >> 29);
}

uint64_t sumOf(const std::vector<uint8_t> &data) {
  return checksum(data.data(), data.size());
}

TEST(Container, ChecksumMatchesTheDefinition) {
  for (size_t size : {0, 1, 7, 8, 63, 64, 65, 127, 128, 200, 4097}) {
    std::vector<uint8_t> data = randomBytes(size, static_cast<unsigned>(size));
    EXPECT_EQ(sumOf(data), referenceChecksum(data)) << size;
  }
  // Pinned values: artifacts on disk depend on the algorithm never changing.
  EXPECT_EQ(checksum(nullptr, 0), referenceChecksum({}));
  EXPECT_EQ(checksum(reinterpret_cast<const uint8_t *>("foobar"), 6),
            0x81f1448732aa46dULL);
}

TEST(Container, ChecksumStreamsInAnySplit) {
  std::vector<uint8_t> data = randomBytes(5000, 7);
  uint64_t whole = sumOf(data);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    Checksum sum;
    size_t done = 0;
    while (done < data.size()) {
      size_t piece = std::min<size_t>(rng() % 200, data.size() - done);
      sum.update(data.data() + done, piece);
      done += piece;
    }
    EXPECT_EQ(sum.value(), whole) << "trial " << trial;
  }
}

// By construction (each step a bijection of the lane and of the word), any
// change within one 8-byte word is detected: check every single-bit flip.
TEST(Container, ChecksumCatchesEverySingleBitFlipAndLengthChange) {
  std::vector<uint8_t> data = randomBytes(300, 5);
  uint64_t good = sumOf(data);
  for (size_t byte = 0; byte < data.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> flipped = data;
      flipped[byte] ^= static_cast<uint8_t>(1u << bit);
      ASSERT_NE(sumOf(flipped), good) << byte << ":" << bit;
    }
  std::vector<uint8_t> longer = data;
  longer.push_back(0); // the same zero-padded stripes, one byte more
  EXPECT_NE(sumOf(longer), good);
  data.pop_back();
  EXPECT_NE(sumOf(data), good);
}

TEST(Container, HeaderLayoutIsLittleEndian) {
  std::vector<uint8_t> payload = randomBytes(100, 1);
  std::vector<uint8_t> weights = randomBytes(192, 2);
  std::vector<uint8_t> file =
      wrap(payload.data(), payload.size(), weights.data(), weights.size());
  // Header 64 + payload 100 = 164, padded to 192; then 192 bytes of weights.
  ASSERT_EQ(file.size(), 192u + 192u);
  auto word = [&](size_t at) {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i)
      value |= static_cast<uint64_t>(file[at + i]) << (8 * i);
    return value;
  };
  EXPECT_EQ(std::memcmp(file.data(), "MOECART\0", 8), 0);
  EXPECT_EQ(file[8], 2);    // container version
  EXPECT_EQ(file[12], 64);  // header size
  EXPECT_EQ(word(16), 100u); // payload size
  EXPECT_EQ(word(24), sumOf(payload));
  EXPECT_EQ(word(32), 192u); // weights offset
  EXPECT_EQ(word(40), 192u); // weights size
  EXPECT_EQ(word(48), sumOf(weights));
  EXPECT_EQ(word(56), 0u);
  EXPECT_EQ(std::memcmp(file.data() + kHeaderSize, payload.data(), 100), 0);
  for (size_t i = 164; i < 192; ++i)
    EXPECT_EQ(file[i], 0) << i;
  EXPECT_EQ(std::memcmp(file.data() + 192, weights.data(), 192), 0);
}

bool accepts(const std::vector<uint8_t> &file, Layout *layout,
             std::string *error) {
  return decodeHeader(file.data(), file.size(), layout, error) &&
         checkPayload(file.data(), *layout, error) &&
         checkWeights(file.data(), *layout, error);
}

TEST(Container, RoundTrip) {
  for (size_t payloadSize : {0, 1, 63, 64, 4097})
    for (size_t weightsSize : {0, 64, 640}) {
      std::vector<uint8_t> payload = randomBytes(payloadSize, 3);
      std::vector<uint8_t> weights = randomBytes(weightsSize, 4);
      std::vector<uint8_t> file = wrap(payload.data(), payload.size(),
                                       weights.data(), weights.size());
      Layout layout;
      std::string error;
      ASSERT_TRUE(accepts(file, &layout, &error)) << error;
      EXPECT_EQ(layout.payloadSize, payloadSize);
      EXPECT_EQ(layout.weightsSize, weightsSize);
      EXPECT_EQ(layout.weightsOffset % 64, 0u);
      EXPECT_EQ(layout.weightsOffset + weightsSize, file.size());
    }
}

// The header's sizes are 64-bit: a segment beyond 4 GiB decodes (only the
// header is read, so no such file is needed), and sums that overflow are
// errors rather than wrap-arounds.
TEST(Container, SizesAreSixtyFourBit) {
  Layout big;
  big.payloadSize = 1000;
  ASSERT_TRUE(weightsOffsetFor(big.payloadSize, &big.weightsOffset));
  EXPECT_EQ(big.weightsOffset, 1088u);
  big.weightsSize = (uint64_t(6) << 30) + 64;
  auto header = encodeHeader(big);
  Layout out;
  std::string error;
  ASSERT_TRUE(decodeHeader(header.data(), big.weightsOffset + big.weightsSize,
                           &out, &error))
      << error;
  EXPECT_EQ(out.weightsSize, big.weightsSize);

  big.weightsSize = UINT64_MAX - 100;
  header = encodeHeader(big);
  EXPECT_FALSE(decodeHeader(header.data(), UINT64_MAX, &out, &error));
  EXPECT_NE(error.find("overflows"), std::string::npos) << error;
  uint64_t offset = 0;
  EXPECT_FALSE(weightsOffsetFor(UINT64_MAX - 64, &offset));
}

bool rejects(const std::vector<uint8_t> &file, const std::string &text) {
  Layout layout;
  std::string error;
  bool ok = accepts(file, &layout, &error);
  EXPECT_FALSE(ok) << "expected: " << text;
  EXPECT_NE(error.find(text), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
  return !ok;
}

TEST(Container, RejectsEachHeaderField) {
  std::vector<uint8_t> payload = randomBytes(250, 2);
  std::vector<uint8_t> weights = randomBytes(256, 6);
  const std::vector<uint8_t> good =
      wrap(payload.data(), payload.size(), weights.data(), weights.size());
  ASSERT_EQ(good.size(), 320u + 256u);

  std::vector<uint8_t> file = good;
  file[0] = 'X';
  rejects(file, "bad magic");
  file = good;
  file[8] = 1;
  rejects(file, "container version 1 is not supported (this runtime reads "
                "version 2): the file was written by an older moec, "
                "recompile the model");
  file = good;
  file[8] = 3;
  rejects(file, "written by a newer moec");
  file = good;
  file[12] = 32;
  rejects(file, "header size 32");
  file = good;
  file[60] = 1;
  rejects(file, "container header byte 60 is reserved");
  file = good;
  file[16] = 255; // payload size: 250 -> 255 still ends before byte 320
  rejects(file, "payload checksum mismatch");
  file = good;
  file[17] = 1; // payload size 506: the segment would start at 576
  rejects(file, "do not agree");
  file = good;
  file[32] = 0; // weights offset 320 -> 256
  rejects(file, "do not agree");
  file = good;
  file[41] = 2; // weights size 256 -> 512
  rejects(file, "-byte file (a 250-byte payload and 512 bytes of weights) but "
                "the file holds 576 bytes (truncated?)");
  file = good;
  file.push_back(0);
  rejects(file, "but the file holds 577 bytes");
  file = good;
  file[kHeaderSize + 10] ^= 0x4;
  rejects(file, "payload checksum mismatch");
  file = good;
  file[kHeaderSize + 250] = 1;
  rejects(file, "padding byte 314 between the payload and the weights");
  file = good;
  file[320 + 100] ^= 0x10;
  rejects(file, "weights checksum mismatch");
  file = good;
  file[48] ^= 0x1;
  rejects(file, "weights checksum mismatch");
}

TEST(Container, RejectsEveryTruncation) {
  std::vector<uint8_t> payload = randomBytes(200, 3);
  std::vector<uint8_t> weights = randomBytes(128, 8);
  const std::vector<uint8_t> good =
      wrap(payload.data(), payload.size(), weights.data(), weights.size());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    std::vector<uint8_t> file(good.begin(), good.begin() + cut);
    Layout layout;
    std::string error;
    EXPECT_FALSE(decodeHeader(file.data(), file.size(), &layout, &error))
        << "cut at " << cut;
    EXPECT_FALSE(error.empty());
  }
}

} // namespace
