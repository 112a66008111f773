//===- Container.cpp - The .moe file container header ---------------------===//

#include "runtime/format/Container.h"

#include <cstring>

namespace moert::format {
namespace {

constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderSizeOffset = 12;
constexpr size_t kPayloadSizeOffset = 16;
constexpr size_t kChecksumOffset = 24;
constexpr size_t kReservedOffset = 32;

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

std::string hex64(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string text = "0x0000000000000000";
  for (int i = 0; i < 16; ++i)
    text[17 - i] = digits[(value >> (4 * i)) & 0xf];
  return text;
}

} // namespace

uint64_t checksum(const uint8_t *data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::vector<uint8_t> wrapPayload(const uint8_t *payload, size_t size) {
  std::vector<uint8_t> file(kHeaderSize + size, 0);
  std::memcpy(file.data(), kMagic, sizeof(kMagic));
  storeLE(file.data() + kVersionOffset, kContainerVersion, 4);
  storeLE(file.data() + kHeaderSizeOffset, kHeaderSize, 4);
  storeLE(file.data() + kPayloadSizeOffset, size, 8);
  storeLE(file.data() + kChecksumOffset, checksum(payload, size), 8);
  if (size != 0)
    std::memcpy(file.data() + kHeaderSize, payload, size);
  return file;
}

bool unwrapPayload(const uint8_t *file, size_t fileSize,
                   const uint8_t **payload, size_t *payloadSize,
                   std::string *error) {
  auto fail = [&](std::string reason) {
    if (error)
      *error = std::move(reason);
    return false;
  };
  if (file == nullptr && fileSize != 0)
    return fail("no data");
  if (fileSize < kHeaderSize) {
    if (fileSize >= sizeof(kMagic) &&
        std::memcmp(file, kMagic, sizeof(kMagic)) != 0)
      return fail("not a moec artifact (bad magic)");
    return fail("file is " + std::to_string(fileSize) +
                " bytes, shorter than the " + std::to_string(kHeaderSize) +
                "-byte container header (truncated?)");
  }
  if (std::memcmp(file, kMagic, sizeof(kMagic)) != 0)
    return fail("not a moec artifact (bad magic)");

  uint64_t version = loadLE(file + kVersionOffset, 4);
  if (version != kContainerVersion)
    return fail("container version " + std::to_string(version) +
                " is not supported (this runtime reads version " +
                std::to_string(kContainerVersion) + ")");
  uint64_t headerSize = loadLE(file + kHeaderSizeOffset, 4);
  if (headerSize != kHeaderSize)
    return fail("container header size " + std::to_string(headerSize) +
                " is invalid (expected " + std::to_string(kHeaderSize) + ")");
  for (size_t i = kReservedOffset; i < kHeaderSize; ++i)
    if (file[i] != 0)
      return fail("container header byte " + std::to_string(i) +
                  " is reserved and must be zero");

  uint64_t declared = loadLE(file + kPayloadSizeOffset, 8);
  uint64_t available = fileSize - kHeaderSize;
  if (declared != available)
    return fail("header declares a " + std::to_string(declared) +
                "-byte payload but the file holds " +
                std::to_string(available) + " bytes after the header" +
                (declared > available ? " (truncated?)" : ""));

  uint64_t expected = loadLE(file + kChecksumOffset, 8);
  uint64_t actual = checksum(file + kHeaderSize, available);
  if (expected != actual)
    return fail("payload checksum mismatch (header " + hex64(expected) +
                ", computed " + hex64(actual) + "): the file is corrupt");

  *payload = file + kHeaderSize;
  *payloadSize = static_cast<size_t>(available);
  return true;
}

} // namespace moert::format
