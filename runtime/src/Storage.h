//===- Storage.h - Owned or borrowed byte ranges (private) -----*- C++ -*-===//

#ifndef MOERT_SRC_STORAGE_H
#define MOERT_SRC_STORAGE_H

#include "moert/moert.h"

#include <cstddef>
#include <cstdint>

namespace moert {

/// A 64-byte aligned heap block, freed on destruction. Move-only.
class AlignedBlock {
public:
  AlignedBlock() = default;
  AlignedBlock(const AlignedBlock &) = delete;
  AlignedBlock &operator=(const AlignedBlock &) = delete;
  AlignedBlock(AlignedBlock &&other) noexcept;
  AlignedBlock &operator=(AlignedBlock &&other) noexcept;
  ~AlignedBlock();

  /// Allocates `size` bytes (at least one, so that data() is never NULL) at
  /// a 64-byte aligned address. Returns false when out of memory.
  bool allocate(size_t size);
  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// The bytes of a whole .moe file: a read-only mapping of a file, an owned
/// aligned copy, or a caller's buffer used in place.
class Storage {
public:
  Storage() = default;
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;
  ~Storage();

  /// Maps (or, where mapping is impossible, reads) the file at `path`.
  /// Messages do not include the path.
  moert_status openFile(const char *path);
  /// Copies `size` bytes into an aligned block.
  moert_status copyFrom(const void *data, size_t size);
  /// Uses the caller's bytes in place.
  void borrow(const void *data, size_t size);

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  void *mapping_ = nullptr; // munmap on destruction when set
  size_t mappingSize_ = 0;
  AlignedBlock owned_;
};

} // namespace moert

#endif // MOERT_SRC_STORAGE_H
