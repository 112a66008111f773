//===- FakeLibcuda.cpp - a CUDA driver over host memory, for the tests -----===//
//
// Exports the driver entry points that both a generated standalone runtime
// and libmoert resolve, backed by host memory, so that the CUDA backend of a
// generated project can be exercised without a GPU. Kernels are not run:
// every call that matters is written to a log, and a test compares the log
// of the generated runtime with libmoert's (moec-run) for the same artifact
// and token count. Configuration, read at each call from the environment:
//
//   FAKE_CUDA_VERSION      cuDriverGetVersion's answer (default 13000)
//   FAKE_CUDA_CC           compute capability, e.g. "90" (default) or "80"
//   FAKE_CUDA_LOG          file to append the log to (no log when unset)
//   FAKE_CUDA_FAIL_KERNEL  "symbol:code": launching that kernel writes `code`
//                          to the status word (ptr[23]), as a kernel that
//                          found bad data does
//
// Log lines: "alloc <bytes>", "htod <dst> <bytes>", "memset <dst> <value> <n>",
// "htod_async <dst> <bytes>", "dtoh_async <src> <bytes>", "function <name>",
// "func_attr <name> <attribute> <value>", "launch <name> grid <x>x<y> block <b>
// shared <s> tokens <T> args <p0> ... <p23>", where a device pointer is written
// "a<k>+<offset>" (allocation k, numbered from 0, the lowest number not in
// use) or "0".
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kInvalidImage = 200,
              kNotFound = 500;

struct Allocation {
  uintptr_t base;
  size_t size;
  bool live;
};
std::vector<Allocation> allocations;

struct Module {
  const unsigned char *image;
  size_t size;
};

struct Function {
  std::string name;
};

int envInt(const char *name, int fallback) {
  const char *value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

void log(const std::string &line) {
  const char *path = std::getenv("FAKE_CUDA_LOG");
  if (!path || !*path)
    return;
  if (std::FILE *f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
}

std::string pointer(uintptr_t p) {
  if (p == 0)
    return "0";
  for (size_t k = 0; k < allocations.size(); ++k)
    if (allocations[k].live && p >= allocations[k].base &&
        p <= allocations[k].base + allocations[k].size)
      return "a" + std::to_string(k) + "+" + std::to_string(p - allocations[k].base);
  return "foreign";
}

// The bytes an ELF image spans: its section header table ends it in the
// files ptxas writes.
bool elfSize(const unsigned char *image, size_t *size) {
  if (std::memcmp(image, "\x7f" "ELF", 4) != 0 || image[4] != 2)
    return false;
  uint64_t shoff;
  uint16_t shentsize, shnum;
  std::memcpy(&shoff, image + 0x28, 8);
  std::memcpy(&shentsize, image + 0x3a, 2);
  std::memcpy(&shnum, image + 0x3c, 2);
  *size = static_cast<size_t>(shoff + static_cast<uint64_t>(shentsize) * shnum);
  return true;
}

struct Args {
  void *ptr[24];
  long long tokens;
};

} // namespace

#define FAKE_API extern "C" __attribute__((visibility("default")))

FAKE_API int cuInit(unsigned flags) { return flags == 0 ? kSuccess : kInvalidValue; }

FAKE_API int cuDriverGetVersion(int *version) {
  *version = envInt("FAKE_CUDA_VERSION", 13000);
  return kSuccess;
}

FAKE_API int cuGetErrorName(int error, const char **text) {
  switch (error) {
  case kSuccess: *text = "CUDA_SUCCESS"; return kSuccess;
  case kInvalidValue: *text = "CUDA_ERROR_INVALID_VALUE"; return kSuccess;
  case kOutOfMemory: *text = "CUDA_ERROR_OUT_OF_MEMORY"; return kSuccess;
  case kInvalidImage: *text = "CUDA_ERROR_INVALID_IMAGE"; return kSuccess;
  case kNotFound: *text = "CUDA_ERROR_NOT_FOUND"; return kSuccess;
  }
  return kInvalidValue;
}

FAKE_API int cuGetErrorString(int error, const char **text) { return cuGetErrorName(error, text); }

FAKE_API int cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}

FAKE_API int cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *device = 0;
  return kSuccess;
}

FAKE_API int cuDeviceGetName(char *name, int length, int) {
  std::snprintf(name, static_cast<size_t>(length), "Fake GPU cc %d", envInt("FAKE_CUDA_CC", 90));
  return kSuccess;
}

FAKE_API int cuDeviceGetAttribute(int *value, int attribute, int) {
  int cc = envInt("FAKE_CUDA_CC", 90);
  switch (attribute) {
  case 5: *value = 2147483647; break; // max grid x
  case 6: *value = 65535; break;      // max grid y
  case 75: *value = cc / 10; break;
  case 76: *value = cc % 10; break;
  case 97: *value = 232448; break;    // shared memory per block, opt-in (H100)
  default: *value = 0;
  }
  return kSuccess;
}

FAKE_API int cuDevicePrimaryCtxRetain(void **context, int) {
  static int token;
  *context = &token;
  return kSuccess;
}
FAKE_API int cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
FAKE_API int cuCtxSetCurrent(void *) { return kSuccess; }

FAKE_API int cuModuleLoadData(void **module, const void *image) {
  size_t size = 0;
  if (!elfSize(static_cast<const unsigned char *>(image), &size))
    return kInvalidImage;
  *module = new Module{static_cast<const unsigned char *>(image), size};
  return kSuccess;
}

FAKE_API int cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return kSuccess;
}

// A kernel exists if its name is a string in the cubin's string tables.
FAKE_API int cuModuleGetFunction(void **function, void *module, const char *name) {
  const Module *m = static_cast<const Module *>(module);
  std::string needle = std::string(1, '\0') + name + std::string(1, '\0');
  const unsigned char *end = m->image + m->size;
  for (const unsigned char *p = m->image; p + needle.size() <= end; ++p)
    if (std::memcmp(p, needle.data(), needle.size()) == 0) {
      *function = new Function{name};
      log(std::string("function ") + name);
      return kSuccess;
    }
  return kNotFound;
}

FAKE_API int cuFuncSetAttribute(void *function, int attribute, int value) {
  log("func_attr " + static_cast<Function *>(function)->name + " " + std::to_string(attribute) +
      " " + std::to_string(value));
  return kSuccess;
}

FAKE_API int cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *freeBytes = size_t(64) << 30;
  *totalBytes = size_t(80) << 30;
  return kSuccess;
}

FAKE_API int cuMemAlloc_v2(unsigned long long *address, size_t bytes) {
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  if (!p)
    return kOutOfMemory;
  std::memset(p, 0, bytes);
  // The lowest free number: a process that creates, destroys and creates
  // again logs the same names as one that creates once.
  size_t k = 0;
  while (k < allocations.size() && allocations[k].live)
    ++k;
  if (k == allocations.size())
    allocations.push_back({});
  allocations[k] = {reinterpret_cast<uintptr_t>(p), bytes, true};
  *address = reinterpret_cast<uintptr_t>(p);
  log("alloc " + std::to_string(bytes));
  return kSuccess;
}

FAKE_API int cuMemFree_v2(unsigned long long address) {
  for (Allocation &a : allocations)
    if (a.live && a.base == address) {
      a.live = false;
      std::free(reinterpret_cast<void *>(a.base));
      return kSuccess;
    }
  return kInvalidValue;
}

FAKE_API int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t bytes) {
  log("htod " + pointer(dst) + " " + std::to_string(bytes));
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}

FAKE_API int cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src, size_t bytes, void *) {
  log("htod_async " + pointer(dst) + " " + std::to_string(bytes));
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}

FAKE_API int cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t bytes, void *) {
  log("dtoh_async " + pointer(src) + " " + std::to_string(bytes));
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return kSuccess;
}

FAKE_API int cuMemsetD32Async(unsigned long long dst, unsigned value, size_t count, void *) {
  log("memset " + pointer(dst) + " " + std::to_string(value) + " " + std::to_string(count));
  auto *words = reinterpret_cast<unsigned *>(dst);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
  return kSuccess;
}

FAKE_API int cuStreamCreate(void **stream, unsigned) {
  static int token;
  *stream = &token;
  return kSuccess;
}
FAKE_API int cuStreamDestroy_v2(void *) { return kSuccess; }
FAKE_API int cuStreamSynchronize(void *) { return kSuccess; }

FAKE_API int cuLaunchKernel(void *function, unsigned gridX, unsigned gridY, unsigned gridZ,
                            unsigned blockX, unsigned blockY, unsigned blockZ, unsigned shared,
                            void *, void **params, void **extra) {
  const std::string &name = static_cast<Function *>(function)->name;
  if (gridZ != 1 || blockY != 1 || blockZ != 1 || extra != nullptr || params == nullptr)
    return kInvalidValue;
  Args args;
  std::memcpy(&args, params[0], sizeof args);
  std::string line = "launch " + name + " grid " + std::to_string(gridX) + "x" +
                     std::to_string(gridY) + " block " + std::to_string(blockX) + " shared " +
                     std::to_string(shared) + " tokens " + std::to_string(args.tokens) + " args";
  for (void *p : args.ptr)
    line += " " + pointer(reinterpret_cast<uintptr_t>(p));
  log(line);
  if (const char *fail = std::getenv("FAKE_CUDA_FAIL_KERNEL")) {
    std::string spec = fail;
    size_t colon = spec.rfind(':');
    if (colon != std::string::npos && spec.substr(0, colon) == name && args.ptr[23])
      *static_cast<int *>(args.ptr[23]) = std::atoi(spec.c_str() + colon + 1);
  }
  return kSuccess;
}

// libmoert resolves these too (CUDA graphs, timing); the tests run it with
// --no-cuda-graphs, so they are never called.
FAKE_API int cuStreamBeginCapture_v2(void *, int) { return kInvalidValue; }
FAKE_API int cuStreamEndCapture(void *, void **) { return kInvalidValue; }
FAKE_API int cuGraphInstantiateWithFlags(void **, void *, unsigned long long) {
  return kInvalidValue;
}
FAKE_API int cuGraphLaunch(void *, void *) { return kInvalidValue; }
FAKE_API int cuGraphExecDestroy(void *) { return kSuccess; }
FAKE_API int cuGraphDestroy(void *) { return kSuccess; }
FAKE_API int cuEventCreate(void **, unsigned) { return kInvalidValue; }
FAKE_API int cuEventRecord(void *, void *) { return kInvalidValue; }
FAKE_API int cuEventDestroy_v2(void *) { return kSuccess; }
FAKE_API int cuEventElapsedTime_v2(float *, void *, void *) { return kInvalidValue; }
