//===- Storage.cpp - Owned or borrowed byte ranges ------------------------===//

#include "runtime/src/Storage.h"

#include "runtime/src/Status.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace moert {

AlignedBlock::AlignedBlock(AlignedBlock &&other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

AlignedBlock &AlignedBlock::operator=(AlignedBlock &&other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

AlignedBlock::~AlignedBlock() { std::free(data_); }

bool AlignedBlock::allocate(size_t size) {
  std::free(data_);
  data_ = nullptr;
  size_ = 0;
  void *memory = nullptr;
  if (posix_memalign(&memory, 64, size == 0 ? 1 : size) != 0)
    return false;
  data_ = static_cast<uint8_t *>(memory);
  size_ = size;
  return true;
}

Storage::~Storage() {
  if (mapping_ != nullptr)
    munmap(mapping_, mappingSize_);
}

namespace {

std::string systemError(const char *what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

// Reads a whole file through `fd` into `block` when it cannot be mapped
// (e.g. a pipe or a file system without mmap).
moert_status readWhole(int fd, size_t expected, AlignedBlock *block,
                       size_t *outSize) {
  if (!block->allocate(expected))
    return outOfMemoryStatus();
  size_t done = 0;
  while (done < expected) {
    ssize_t got = read(fd, block->data() + done, expected - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return makeStatus(MOERT_INTERNAL, systemError("read failed", errno));
    if (got == 0)
      break; // The file shrank while we read it; the header check reports it.
    done += static_cast<size_t>(got);
  }
  *outSize = done;
  return nullptr;
}

} // namespace

moert_status Storage::openFile(const char *path) {
  int fd;
  do {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int error = errno;
    return makeStatus(error == ENOENT ? MOERT_NOT_FOUND : MOERT_INVALID_ARGUMENT,
                      systemError("cannot open", error));
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    close(fd);
    return makeStatus(MOERT_INTERNAL, systemError("cannot stat", error));
  }
  if (S_ISDIR(info.st_mode)) {
    close(fd);
    return makeStatus(MOERT_INVALID_ARGUMENT, "is a directory, not a file");
  }
  if (info.st_size < 0 ||
      static_cast<uint64_t>(info.st_size) > static_cast<uint64_t>(SIZE_MAX)) {
    close(fd);
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      "file does not fit the address space");
  }
  size_t size = static_cast<size_t>(info.st_size);
  if (size == 0) {
    close(fd);
    return makeStatus(MOERT_DATA_LOSS, "file is empty");
  }
  // A private read-only mapping: the page cache backs the weights, so a large
  // model is not copied, and the payload (at byte 64 of a page-aligned
  // mapping) is 64-byte aligned for the kernels.
  void *mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapping != MAP_FAILED) {
    close(fd);
    mapping_ = mapping;
    mappingSize_ = size;
    data_ = static_cast<const uint8_t *>(mapping);
    size_ = size;
    return nullptr;
  }
  size_t got = 0;
  moert_status status = readWhole(fd, size, &owned_, &got);
  close(fd);
  if (status)
    return status;
  data_ = owned_.data();
  size_ = got;
  return nullptr;
}

moert_status Storage::copyFrom(const void *data, size_t size) {
  if (!owned_.allocate(size))
    return outOfMemoryStatus();
  if (size != 0)
    std::memcpy(owned_.data(), data, size);
  data_ = owned_.data();
  size_ = size;
  return nullptr;
}

void Storage::borrow(const void *data, size_t size) {
  data_ = static_cast<const uint8_t *>(data);
  size_ = size;
}

} // namespace moert
