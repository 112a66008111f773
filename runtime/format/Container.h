//===- Container.h - The .moe file container ------------------*- C++ -*-===//
//
// A .moe file is a fixed 64-byte header, one FlatBuffer payload (root
// moert.fb.Model: everything but the weight bytes) and, after it, the
// weights segment: all weight bytes, at a 64-byte aligned file offset, with
// 64-bit offsets and sizes. Keeping the weights out of the FlatBuffer lifts
// FlatBuffers' 2 GiB limit from the model size (only the metadata and the
// kernel binary must stay below it), lets the compiler stream weights to
// disk, and lets the runtime use them in place from a file mapping.
//
// The header lets a reader reject a file that is not an artifact, is from an
// incompatible writer, was truncated or extended, or had any byte changed,
// before it parses a single FlatBuffer offset.
//
// Header layout (all integers little endian):
//   [0, 8)   magic "MOECART\0"
//   [8, 12)  u32 container_version (kContainerVersion)
//   [12, 16) u32 header_size (kHeaderSize)
//   [16, 24) u64 payload_size       payload = bytes [64, 64 + payload_size)
//   [24, 32) u64 payload_checksum   checksum() of the payload
//   [32, 40) u64 weights_offset     = 64 + payload_size rounded up to 64
//   [40, 48) u64 weights_size       the file ends at weights_offset + size
//   [48, 56) u64 weights_checksum   checksum() of the weights segment
//   [56, 64) zero
// The bytes between the payload and the weights segment (fewer than 64) are
// zero. Both the payload (at 64) and the weights segment start 64-byte
// aligned whenever the file is loaded at a 64-byte aligned address (mmap,
// aligned buffers).
//
// This library is shared by the compiler (which writes files) and the runtime
// (which reads them); it depends on nothing but the C++ standard library.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_FORMAT_CONTAINER_H
#define MOERT_FORMAT_CONTAINER_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moert::format {

inline constexpr char kMagic[8] = {'M', 'O', 'E', 'C', 'A', 'R', 'T', '\0'};
/// Version 1 held the weights inside the FlatBuffer and used FNV-1a; it is
/// refused (there were no deployed users to keep).
inline constexpr uint32_t kContainerVersion = 2;
inline constexpr size_t kHeaderSize = 64;
/// Alignment of the weights segment in the file, and of every weight in it.
inline constexpr uint64_t kSegmentAlignment = 64;

/// The checksum of the payload and of the weights segment.
///
/// Eight independent 64-bit lanes; lane i takes the little-endian words
/// i, i+8, i+16, ... of the data, each through
///   lane = (lane ^ word) * 0x9e3779b97f4a7c15;  lane ^= lane >> 32
/// A tail shorter than 64 bytes is zero-padded into one last stripe. The
/// result mixes the byte count and the eight lanes the same way, then
/// finalizes (see Container.cpp). Each step is a bijection of the lane for a
/// fixed word and of the word for a fixed lane, so any change confined to one
/// aligned 8-byte word (every single-bit flip among them) changes the result
/// with certainty; other changes go undetected with probability about 2^-64.
///
/// Why not FNV-1a (container version 1): FNV-1a is one multiply per byte in
/// a single dependency chain, about 1 GB/s, i.e. 20 s for 20 GB of weights.
/// The eight lanes here have no dependency between them, so the loop runs at
/// several bytes per cycle, close to memory bandwidth.
///
/// Streaming: update() accepts any split of the data; value() equals
/// checksum() of everything passed so far.
class Checksum {
public:
  Checksum();
  void update(const uint8_t *data, size_t size);
  uint64_t value() const;

private:
  uint64_t lanes_[8];
  uint8_t pending_[64];
  size_t pendingSize_ = 0;
  uint64_t total_ = 0;
};

/// Checksum of `size` bytes at `data` in one call.
uint64_t checksum(const uint8_t *data, size_t size);

/// What the header says about the file.
struct Layout {
  uint64_t payloadSize = 0;
  uint64_t payloadChecksum = 0;
  uint64_t weightsOffset = 0;
  uint64_t weightsSize = 0;
  uint64_t weightsChecksum = 0;
};

/// Where the weights segment starts after a payload of `payloadSize` bytes:
/// 64 + payloadSize rounded up to 64. False on overflow.
bool weightsOffsetFor(uint64_t payloadSize, uint64_t *offset);

/// The 64 header bytes for `layout` (weightsOffset must be
/// weightsOffsetFor(payloadSize)).
std::array<uint8_t, kHeaderSize> encodeHeader(const Layout &layout);

/// Reads the header at the start of a file of `fileSize` bytes (`file` holds
/// at least min(fileSize, 64) bytes) and checks what the header and the size
/// alone can show: magic, container version, header size, reserved bytes,
/// where the weights segment starts, and that the file is exactly as long as
/// the header says. Checksums and padding are checkPayload()'s. On failure
/// returns false and sets `*error` to a one-line reason (without a file
/// name).
bool decodeHeader(const uint8_t *file, uint64_t fileSize, Layout *layout,
                  std::string *error);

/// Checks, for a file whose header decodeHeader accepted, that the padding
/// after the payload is zero and that the payload checksum matches.
bool checkPayload(const uint8_t *file, const Layout &layout,
                  std::string *error);

/// Checks the weights segment's checksum (reads all of it).
bool checkWeights(const uint8_t *file, const Layout &layout,
                  std::string *error);

/// The one-line message for a weights checksum mismatch.
std::string weightsChecksumError(uint64_t expected, uint64_t actual);

/// The complete file in memory: header, payload, padding, weights. For
/// tests and small tools; the compiler streams instead (ArtifactWriter).
std::vector<uint8_t> wrap(const uint8_t *payload, size_t payloadSize,
                          const uint8_t *weights, size_t weightsSize);

} // namespace moert::format

#endif // MOERT_FORMAT_CONTAINER_H
