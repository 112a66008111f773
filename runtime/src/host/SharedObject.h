//===- SharedObject.h - Load a shared object from memory -------*- C++ -*-===//

#ifndef MOERT_SRC_HOST_SHAREDOBJECT_H
#define MOERT_SRC_HOST_SHAREDOBJECT_H

#include "moert/moert.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace moert::host {

/// A shared object loaded with dlopen(RTLD_NOW | RTLD_LOCAL) from bytes in
/// memory; dlclose'd on destruction. Move-free: owned through a pointer.
class SharedObject {
public:
  SharedObject() = default;
  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;
  ~SharedObject();

  /// Writes `size` bytes to an anonymous file (memfd_create; else a temp
  /// file that is unlinked right after dlopen) and loads it.
  moert_status load(const uint8_t *data, size_t size);

  /// Looks up `symbol`; NULL status and `*out` set on success, NOT_FOUND
  /// otherwise.
  moert_status resolve(const std::string &symbol, void **out) const;

private:
  void *handle_ = nullptr;
};

} // namespace moert::host

#endif // MOERT_SRC_HOST_SHAREDOBJECT_H
