//===- SharedObject.cpp - Load a shared object from memory ----------------===//
//
// dlopen only takes a path, so the kernel binary carried in the artifact is
// first written to a file. An anonymous memory file (memfd) leaves nothing
// on disk; where memfd_create is unavailable (old kernels, seccomp), a file
// in $TMPDIR (or /tmp) is used and unlinked as soon as dlopen has mapped it.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/host/SharedObject.h"

#include "runtime/src/Status.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace moert::host {
namespace {

std::string systemError(const std::string &what, int error) {
  return what + ": " + std::strerror(error);
}

bool writeAll(int fd, const uint8_t *data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t wrote = write(fd, data + done, size - done);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote <= 0)
      return false;
    done += static_cast<size_t>(wrote);
  }
  return true;
}

// dlerror() returns a message owned by libdl; copy it before anything else
// calls into libdl. It may be NULL if another thread consumed it.
std::string lastDlError() {
  const char *message = dlerror();
  return message ? message : "unknown dynamic loader error";
}

} // namespace

SharedObject::~SharedObject() {
  if (handle_ != nullptr)
    dlclose(handle_);
}

moert_status SharedObject::load(const uint8_t *data, size_t size) {
  if (handle_ != nullptr)
    return makeStatus(MOERT_INTERNAL, "shared object already loaded");

  int fd = -1;
  std::string path;
  bool unlinkAfter = false;
#ifdef MFD_CLOEXEC
  fd = memfd_create("moert-kernels", MFD_CLOEXEC);
  if (fd >= 0)
    path = "/proc/self/fd/" + std::to_string(fd);
#endif
  if (fd < 0) {
    const char *dir = std::getenv("TMPDIR");
    std::string pattern =
        std::string(dir && *dir ? dir : "/tmp") + "/moert-kernels-XXXXXX";
    fd = mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0)
      return makeStatus(MOERT_INTERNAL,
                        systemError("cannot create a file for the kernel "
                                    "binary in " + pattern,
                                    errno));
    path = pattern;
    unlinkAfter = true;
  }

  moert_status status = nullptr;
  if (!writeAll(fd, data, size)) {
    status = makeStatus(MOERT_INTERNAL,
                        systemError("cannot write the kernel binary", errno));
  } else {
    dlerror(); // Clear any stale error.
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr)
      status = makeStatus(MOERT_DATA_LOSS, "cannot load the kernel binary: " +
                                               lastDlError());
  }
  if (unlinkAfter)
    unlink(path.c_str());
  // The loader has mapped what it needs; the descriptor is no longer used.
  close(fd);
  return status;
}

moert_status SharedObject::resolve(const std::string &symbol,
                                   void **out) const {
  dlerror();
  void *address = dlsym(handle_, symbol.c_str());
  if (address == nullptr)
    return makeStatus(MOERT_NOT_FOUND, "kernel symbol '" + symbol +
                                           "' not found in the kernel binary");
  *out = address;
  return nullptr;
}

} // namespace moert::host
