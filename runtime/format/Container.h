//===- Container.h - The .moe file container header ------------*- C++ -*-===//
//
// A .moe file is a fixed 64-byte header followed by one FlatBuffer payload
// (root moert.fb.Model). The header lets a reader reject a file that is not an
// artifact, is from an incompatible writer, was truncated, or had any byte of
// its payload changed, before it parses a single FlatBuffer offset.
//
// Header layout (all integers little endian):
//   [0, 8)   magic "MOECART\0"
//   [8, 12)  u32 container_version (kContainerVersion)
//   [12, 16) u32 header_size (kHeaderSize)
//   [16, 24) u64 payload_size
//   [24, 32) u64 payload_checksum: FNV-1a 64 over the payload bytes
//   [32, 64) zero
// The payload starts at byte 64, so it is 64-byte aligned whenever the file
// itself is loaded at a 64-byte aligned address (mmap, aligned buffers).
//
// This library is shared by the compiler (which writes files) and the runtime
// (which reads them); it depends on nothing but the C++ standard library.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_FORMAT_CONTAINER_H
#define MOERT_FORMAT_CONTAINER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moert::format {

inline constexpr char kMagic[8] = {'M', 'O', 'E', 'C', 'A', 'R', 'T', '\0'};
inline constexpr uint32_t kContainerVersion = 1;
inline constexpr size_t kHeaderSize = 64;

/// FNV-1a 64-bit hash of `size` bytes at `data` (offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3).
uint64_t checksum(const uint8_t *data, size_t size);

/// Returns the complete file contents: the header for `payload` followed by
/// the payload bytes.
std::vector<uint8_t> wrapPayload(const uint8_t *payload, size_t size);

/// Parses and checks the header of `file` (magic, container version, header
/// size, payload size against the file size, checksum). On success points
/// `*payload` at the payload inside `file` and returns true. On failure
/// returns false and sets `*error` to a one-line reason (without a file name).
bool unwrapPayload(const uint8_t *file, size_t fileSize,
                   const uint8_t **payload, size_t *payloadSize,
                   std::string *error);

} // namespace moert::format

#endif // MOERT_FORMAT_CONTAINER_H
