//===- Container.cpp - The .moe file container ----------------------------===//

#include "runtime/format/Container.h"

#include <algorithm>
#include <cstring>

namespace moert::format {
namespace {

constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderSizeOffset = 12;
constexpr size_t kPayloadSizeOffset = 16;
constexpr size_t kPayloadChecksumOffset = 24;
constexpr size_t kWeightsOffsetOffset = 32;
constexpr size_t kWeightsSizeOffset = 40;
constexpr size_t kWeightsChecksumOffset = 48;
constexpr size_t kReservedOffset = 56;

// Checksum constants: odd multipliers (so multiplying is a bijection) with
// well-spread bits (the golden ratio's and MurmurHash3's finalizer's), and
// arbitrary lane seeds (digits of pi) so that lanes start distinct.
constexpr uint64_t kLaneMultiplier = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kFinalMultiplier = 0xff51afd7ed558ccdULL;
constexpr uint64_t kLaneSeed = 0x243f6a8885a308d3ULL;

// Explicit little-endian stores and loads: the file format does not depend on
// the byte order of the machine that writes or reads it.
void storeLE(uint8_t *dst, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    dst[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t loadLE(const uint8_t *src, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(src[i]) << (8 * i);
  return value;
}

// The checksum's hot loop: one unaligned 8-byte load per word. memcpy
// compiles to a plain load; the swap is a no-op on little-endian hosts.
inline uint64_t loadWord(const uint8_t *src) {
  uint64_t word;
  std::memcpy(&word, src, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  word = __builtin_bswap64(word);
#endif
  return word;
}

inline uint64_t mix(uint64_t lane, uint64_t word) {
  lane = (lane ^ word) * kLaneMultiplier;
  return lane ^ (lane >> 32);
}

// Runs `count` 64-byte stripes through the lanes. The lanes live in locals
// so that the compiler keeps all eight in registers: they are independent,
// which is what lets the multiplies overlap.
void stripes(uint64_t *lanes, const uint8_t *data, size_t count) {
  uint64_t l0 = lanes[0], l1 = lanes[1], l2 = lanes[2], l3 = lanes[3];
  uint64_t l4 = lanes[4], l5 = lanes[5], l6 = lanes[6], l7 = lanes[7];
  for (size_t s = 0; s < count; ++s, data += 64) {
    l0 = mix(l0, loadWord(data + 0));
    l1 = mix(l1, loadWord(data + 8));
    l2 = mix(l2, loadWord(data + 16));
    l3 = mix(l3, loadWord(data + 24));
    l4 = mix(l4, loadWord(data + 32));
    l5 = mix(l5, loadWord(data + 40));
    l6 = mix(l6, loadWord(data + 48));
    l7 = mix(l7, loadWord(data + 56));
  }
  lanes[0] = l0, lanes[1] = l1, lanes[2] = l2, lanes[3] = l3;
  lanes[4] = l4, lanes[5] = l5, lanes[6] = l6, lanes[7] = l7;
}

std::string hex64(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string text = "0x0000000000000000";
  for (int i = 0; i < 16; ++i)
    text[17 - i] = digits[(value >> (4 * i)) & 0xf];
  return text;
}

bool fail(std::string *error, std::string reason) {
  if (error)
    *error = std::move(reason);
  return false;
}

} // namespace

Checksum::Checksum() {
  for (int i = 0; i < 8; ++i)
    lanes_[i] = kLaneSeed + static_cast<uint64_t>(i) * kLaneMultiplier;
}

void Checksum::update(const uint8_t *data, size_t size) {
  total_ += size;
  if (pendingSize_ != 0) {
    size_t take = std::min(size, sizeof(pending_) - pendingSize_);
    std::memcpy(pending_ + pendingSize_, data, take);
    pendingSize_ += take;
    data += take;
    size -= take;
    if (pendingSize_ < sizeof(pending_))
      return;
    stripes(lanes_, pending_, 1);
    pendingSize_ = 0;
  }
  size_t whole = size / 64;
  stripes(lanes_, data, whole);
  data += whole * 64;
  size -= whole * 64;
  if (size != 0)
    std::memcpy(pending_, data, size);
  pendingSize_ = size;
}

uint64_t Checksum::value() const {
  uint64_t lanes[8];
  std::memcpy(lanes, lanes_, sizeof(lanes));
  if (pendingSize_ != 0) {
    uint8_t last[64] = {};
    std::memcpy(last, pending_, pendingSize_);
    stripes(lanes, last, 1);
  }
  // The byte count first, so that data and data + zero bytes (the same
  // padded stripes) differ; then every lane through the same bijective step.
  uint64_t hash = mix(kLaneSeed, total_);
  for (uint64_t lane : lanes)
    hash = mix(hash, lane);
  hash ^= hash >> 33;
  hash *= kFinalMultiplier;
  return hash ^ (hash >> 29);
}

uint64_t checksum(const uint8_t *data, size_t size) {
  Checksum sum;
  sum.update(data, size);
  return sum.value();
}

bool weightsOffsetFor(uint64_t payloadSize, uint64_t *offset) {
  uint64_t end;
  if (__builtin_add_overflow(payloadSize, kHeaderSize + kSegmentAlignment - 1,
                             &end))
    return false;
  *offset = end & ~(kSegmentAlignment - 1);
  return true;
}

std::array<uint8_t, kHeaderSize> encodeHeader(const Layout &layout) {
  std::array<uint8_t, kHeaderSize> header{};
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  storeLE(header.data() + kVersionOffset, kContainerVersion, 4);
  storeLE(header.data() + kHeaderSizeOffset, kHeaderSize, 4);
  storeLE(header.data() + kPayloadSizeOffset, layout.payloadSize, 8);
  storeLE(header.data() + kPayloadChecksumOffset, layout.payloadChecksum, 8);
  storeLE(header.data() + kWeightsOffsetOffset, layout.weightsOffset, 8);
  storeLE(header.data() + kWeightsSizeOffset, layout.weightsSize, 8);
  storeLE(header.data() + kWeightsChecksumOffset, layout.weightsChecksum, 8);
  return header;
}

bool decodeHeader(const uint8_t *file, uint64_t fileSize, Layout *layout,
                  std::string *error) {
  if (file == nullptr && fileSize != 0)
    return fail(error, "no data");
  if (fileSize < kHeaderSize) {
    if (fileSize >= sizeof(kMagic) &&
        std::memcmp(file, kMagic, sizeof(kMagic)) != 0)
      return fail(error, "not a moec artifact (bad magic)");
    return fail(error, "file is " + std::to_string(fileSize) +
                           " bytes, shorter than the " +
                           std::to_string(kHeaderSize) +
                           "-byte container header (truncated?)");
  }
  if (std::memcmp(file, kMagic, sizeof(kMagic)) != 0)
    return fail(error, "not a moec artifact (bad magic)");

  uint64_t version = loadLE(file + kVersionOffset, 4);
  if (version != kContainerVersion)
    return fail(error,
                "container version " + std::to_string(version) +
                    " is not supported (this runtime reads version " +
                    std::to_string(kContainerVersion) + ")" +
                    (version < kContainerVersion
                         ? ": the file was written by an older moec, "
                           "recompile the model"
                         : ": the file was written by a newer moec"));
  uint64_t headerSize = loadLE(file + kHeaderSizeOffset, 4);
  if (headerSize != kHeaderSize)
    return fail(error, "container header size " + std::to_string(headerSize) +
                           " is invalid (expected " +
                           std::to_string(kHeaderSize) + ")");
  for (size_t i = kReservedOffset; i < kHeaderSize; ++i)
    if (file[i] != 0)
      return fail(error, "container header byte " + std::to_string(i) +
                             " is reserved and must be zero");

  Layout out;
  out.payloadSize = loadLE(file + kPayloadSizeOffset, 8);
  out.payloadChecksum = loadLE(file + kPayloadChecksumOffset, 8);
  out.weightsOffset = loadLE(file + kWeightsOffsetOffset, 8);
  out.weightsSize = loadLE(file + kWeightsSizeOffset, 8);
  out.weightsChecksum = loadLE(file + kWeightsChecksumOffset, 8);

  // The segment's place follows from the payload size, so a header whose
  // sizes disagree is corrupt; and the file must end exactly where the
  // weights do: shorter is truncated, longer has trailing bytes.
  uint64_t expectedOffset, end;
  if (!weightsOffsetFor(out.payloadSize, &expectedOffset) ||
      expectedOffset != out.weightsOffset)
    return fail(error, "header declares a " +
                           std::to_string(out.payloadSize) +
                           "-byte payload and the weights segment at byte " +
                           std::to_string(out.weightsOffset) +
                           ", which do not agree (the segment starts at the "
                           "first 64-byte boundary after the payload)");
  if (__builtin_add_overflow(out.weightsOffset, out.weightsSize, &end))
    return fail(error, "header declares a weights segment of " +
                           std::to_string(out.weightsSize) +
                           " bytes at byte " +
                           std::to_string(out.weightsOffset) +
                           ", which overflows");
  if (end != fileSize)
    return fail(error, "header declares a " + std::to_string(end) +
                           "-byte file (a " + std::to_string(out.payloadSize) +
                           "-byte payload and " +
                           std::to_string(out.weightsSize) +
                           " bytes of weights) but the file holds " +
                           std::to_string(fileSize) + " bytes" +
                           (end > fileSize ? " (truncated?)" : ""));
  *layout = out;
  return true;
}

bool checkPayload(const uint8_t *file, const Layout &layout,
                  std::string *error) {
  for (uint64_t i = kHeaderSize + layout.payloadSize; i < layout.weightsOffset;
       ++i)
    if (file[i] != 0)
      return fail(error, "padding byte " + std::to_string(i) +
                             " between the payload and the weights is not "
                             "zero: the file is corrupt");
  uint64_t actual =
      checksum(file + kHeaderSize, static_cast<size_t>(layout.payloadSize));
  if (actual != layout.payloadChecksum)
    return fail(error, "payload checksum mismatch (header " +
                           hex64(layout.payloadChecksum) + ", computed " +
                           hex64(actual) + "): the file is corrupt");
  return true;
}

std::string weightsChecksumError(uint64_t expected, uint64_t actual) {
  return "weights checksum mismatch (header " + hex64(expected) +
         ", computed " + hex64(actual) + "): the file is corrupt";
}

bool checkWeights(const uint8_t *file, const Layout &layout,
                  std::string *error) {
  uint64_t actual = checksum(file + layout.weightsOffset,
                             static_cast<size_t>(layout.weightsSize));
  if (actual != layout.weightsChecksum)
    return fail(error, weightsChecksumError(layout.weightsChecksum, actual));
  return true;
}

std::vector<uint8_t> wrap(const uint8_t *payload, size_t payloadSize,
                          const uint8_t *weights, size_t weightsSize) {
  Layout layout;
  layout.payloadSize = payloadSize;
  layout.payloadChecksum = checksum(payload, payloadSize);
  weightsOffsetFor(payloadSize, &layout.weightsOffset);
  layout.weightsSize = weightsSize;
  layout.weightsChecksum = checksum(weights, weightsSize);
  std::vector<uint8_t> file(layout.weightsOffset + weightsSize, 0);
  auto header = encodeHeader(layout);
  std::memcpy(file.data(), header.data(), header.size());
  if (payloadSize != 0)
    std::memcpy(file.data() + kHeaderSize, payload, payloadSize);
  if (weightsSize != 0)
    std::memcpy(file.data() + layout.weightsOffset, weights, weightsSize);
  return file;
}

} // namespace moert::format
