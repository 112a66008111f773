//===- FakeCudaDriver.cpp - A host-memory libcuda for executor tests ------===//
//
// Implements exactly the driver entry points libmoert resolves (see
// runtime/src/cuda/Driver.cpp), with the signatures of cuda.h, over host
// memory. The test kernels mirror TestKernels.cpp (hidden width 16) but take
// the GPU ABI: one moec_cuda_args struct whose ptr[23] is the status word.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/FakeCudaDriver.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

using moert::test::FakeCudaState;
using moert::test::FakeLaunch;

namespace {

constexpr int kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
              kNotInitialized = 3, kInvalidImage = 200,
              kInvalidHandle = 400, kNotFound = 500, kLaunchFailed = 719,
              kNotSupported = 801, kCaptureUnsupported = 900;
constexpr long long kHidden = 16;

struct Args {
  void *ptr[24];
  long long tokens;
};

FakeCudaState state;
bool initialized = false;

using KernelFn = void (*)(const Args &);

void addWeight(const Args &a) {
  auto *x = static_cast<const float *>(a.ptr[0]);
  auto *w = static_cast<const float *>(a.ptr[1]);
  auto *y = static_cast<float *>(a.ptr[2]);
  for (long long t = 0; t < a.tokens; ++t)
    for (long long h = 0; h < kHidden; ++h)
      y[t * kHidden + h] = x[t * kHidden + h] + w[h];
}

void scale2(const Args &a) {
  auto *x = static_cast<const float *>(a.ptr[0]);
  auto *y = static_cast<float *>(a.ptr[1]);
  for (long long i = 0; i < a.tokens * kHidden; ++i)
    y[i] = 2.0f * x[i];
}

// Out-of-range ids set the status word to 3 and leave their row alone, as
// a moec kernel does with atomicExch(status, code).
void gather(const Args &a) {
  auto *ids = static_cast<const long long *>(a.ptr[0]);
  auto *table = static_cast<const float *>(a.ptr[1]);
  auto *y = static_cast<float *>(a.ptr[2]);
  long long vocab = *static_cast<const long long *>(a.ptr[3]);
  for (long long t = 0; t < a.tokens; ++t) {
    if (ids[t] < 0 || ids[t] >= vocab) {
      *static_cast<int *>(a.ptr[23]) = 3;
      continue;
    }
    for (long long h = 0; h < kHidden; ++h)
      y[t * kHidden + h] = table[ids[t] * kHidden + h];
  }
}

struct Function {
  const char *name;
  KernelFn run;
};
const Function kFunctions[] = {{"moec_test_add_weight", addWeight},
                               {"moec_test_scale2", scale2},
                               {"moec_test_gather", gather}};

struct Module {
  std::set<std::string> names;
};
struct Stream {
  bool capturing = false;
  std::vector<FakeLaunch> captured;
};
struct Graph {
  std::vector<FakeLaunch> launches;
};
struct Event {
  bool timing = true;
  bool recorded = false;
  double stampMs = 0;
};

std::map<const Function *, int> maxDynamicShared;
std::map<uintptr_t, size_t> allocations;

void execute(const FakeLaunch &launch, bool fromGraph) {
  Args args;
  std::memcpy(args.ptr, launch.ptr, sizeof(args.ptr));
  args.tokens = launch.tokens;
  for (const Function &fn : kFunctions)
    if (launch.kernel == fn.name)
      fn.run(args);
  state.clockMs += state.kernelMs;
  FakeLaunch record = launch;
  record.fromGraph = fromGraph;
  state.launches.push_back(record);
}

} // namespace

extern "C" {

__attribute__((visibility("default"))) FakeCudaState *fake_cuda_state() {
  return &state;
}

#define FAKE_API __attribute__((visibility("default")))

FAKE_API int cuInit(unsigned flags) {
  if (flags != 0)
    return kInvalidValue;
  initialized = state.initResult == kSuccess;
  return state.initResult;
}

FAKE_API int cuDriverGetVersion(int *version) {
  *version = 13000;
  return kSuccess;
}

FAKE_API int cuGetErrorName(int error, const char **text) {
  switch (error) {
  case kSuccess: *text = "CUDA_SUCCESS"; return kSuccess;
  case kInvalidValue: *text = "CUDA_ERROR_INVALID_VALUE"; return kSuccess;
  case kOutOfMemory: *text = "CUDA_ERROR_OUT_OF_MEMORY"; return kSuccess;
  case 100: *text = "CUDA_ERROR_NO_DEVICE"; return kSuccess;
  case kInvalidImage: *text = "CUDA_ERROR_INVALID_IMAGE"; return kSuccess;
  case kInvalidHandle: *text = "CUDA_ERROR_INVALID_HANDLE"; return kSuccess;
  case kNotSupported: *text = "CUDA_ERROR_NOT_SUPPORTED"; return kSuccess;
  case kNotFound: *text = "CUDA_ERROR_NOT_FOUND"; return kSuccess;
  case kLaunchFailed: *text = "CUDA_ERROR_LAUNCH_FAILED"; return kSuccess;
  default: *text = nullptr; return kInvalidValue;
  }
}

FAKE_API int cuGetErrorString(int error, const char **text) {
  *text = error == 100 ? "no CUDA-capable device is detected" : "fake error";
  return kSuccess;
}

FAKE_API int cuDeviceGetCount(int *count) {
  *count = state.deviceCount;
  return initialized ? kSuccess : kNotInitialized;
}

FAKE_API int cuDeviceGet(int *device, int ordinal) {
  if (ordinal < 0 || ordinal >= state.deviceCount)
    return 101;
  *device = ordinal;
  return kSuccess;
}

FAKE_API int cuDeviceGetName(char *name, int length, int) {
  std::strncpy(name, state.deviceName.c_str(), length);
  return kSuccess;
}

FAKE_API int cuDeviceGetAttribute(int *value, int attribute, int) {
  switch (attribute) {
  case 5: *value = state.maxGridX; return kSuccess;
  case 6: *value = state.maxGridY; return kSuccess;
  case 75: *value = state.ccMajor; return kSuccess;
  case 76: *value = state.ccMinor; return kSuccess;
  case 97: *value = state.maxSharedOptin; return kSuccess;
  default: return kInvalidValue;
  }
}

FAKE_API int cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &state; // any non-null handle
  ++state.liveContexts;
  return kSuccess;
}

FAKE_API int cuDevicePrimaryCtxRelease_v2(int) {
  --state.liveContexts;
  return kSuccess;
}

FAKE_API int cuCtxSetCurrent(void *context) {
  return context == &state ? kSuccess : kInvalidValue;
}

FAKE_API int cuModuleLoadData(void **module, const void *image) {
  const auto *bytes = static_cast<const unsigned char *>(image);
  const char *tag = "FAKECUBIN:";
  if (std::memcmp(bytes, "\x7f" "ELF", 4) != 0 ||
      std::strncmp(reinterpret_cast<const char *>(bytes) + 64, tag,
                   std::strlen(tag)) != 0)
    return kInvalidImage;
  maxDynamicShared.clear(); // opt-ins belong to the functions of a module
  auto *loaded = new Module;
  std::string list(reinterpret_cast<const char *>(bytes) + 64 +
                   std::strlen(tag));
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos)
      comma = list.size();
    loaded->names.insert(list.substr(start, comma - start));
    start = comma + 1;
  }
  *module = loaded;
  ++state.liveModules;
  return kSuccess;
}

FAKE_API int cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  --state.liveModules;
  return kSuccess;
}

FAKE_API int cuModuleGetFunction(const void **function, void *module,
                                 const char *name) {
  if (!static_cast<Module *>(module)->names.count(name))
    return kNotFound;
  for (const Function &fn : kFunctions)
    if (std::strcmp(fn.name, name) == 0) {
      *function = &fn;
      return kSuccess;
    }
  return kNotFound;
}

FAKE_API int cuFuncSetAttribute(const void *function, int attribute,
                                int value) {
  if (attribute != 8 || value > state.maxSharedOptin)
    return kInvalidValue;
  const auto *fn = static_cast<const Function *>(function);
  maxDynamicShared[fn] = value;
  state.sharedOptIns.emplace_back(fn->name, value);
  return kSuccess;
}

FAKE_API int cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *totalBytes = state.totalBytes;
  *freeBytes = state.totalBytes > state.allocatedBytes
                   ? state.totalBytes - state.allocatedBytes
                   : 0;
  return kSuccess;
}

FAKE_API int cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
  if (bytes == 0)
    return kInvalidValue;
  if (state.allocatedBytes + bytes > state.totalBytes)
    return kOutOfMemory;
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return kOutOfMemory;
  // Poison, so that a kernel reading memory nobody wrote is visible.
  std::memset(memory, 0xA5, bytes);
  *pointer = reinterpret_cast<uintptr_t>(memory);
  allocations[*pointer] = bytes;
  state.allocatedBytes += bytes;
  ++state.liveAllocations;
  return kSuccess;
}

FAKE_API int cuMemFree_v2(unsigned long long pointer) {
  auto found = allocations.find(pointer);
  if (found == allocations.end())
    return kInvalidValue;
  state.allocatedBytes -= found->second;
  allocations.erase(found);
  std::free(reinterpret_cast<void *>(pointer));
  --state.liveAllocations;
  return kSuccess;
}

FAKE_API int cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                             size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  ++state.hostToDeviceCopies;
  state.clockMs += double(bytes) / state.hostCopyBytesPerMs;
  return kSuccess;
}

FAKE_API int cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src,
                                  size_t bytes, void *stream) {
  if (static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported; // pageable copies must stay out of graphs
  return cuMemcpyHtoD_v2(dst, src, bytes);
}

FAKE_API int cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src,
                                  size_t bytes, void *stream) {
  if (static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported;
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  ++state.deviceToHostCopies;
  state.clockMs += double(bytes) / state.hostCopyBytesPerMs;
  return kSuccess;
}

FAKE_API int cuMemcpyDtoDAsync_v2(unsigned long long dst,
                                  unsigned long long src, size_t bytes,
                                  void *stream) {
  if (static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported;
  std::memmove(reinterpret_cast<void *>(dst),
               reinterpret_cast<const void *>(src), bytes);
  ++state.deviceToDeviceCopies;
  state.clockMs += 2.0 * double(bytes) / state.deviceBytesPerMs;
  return kSuccess;
}

FAKE_API int cuMemsetD32Async(unsigned long long dst, unsigned value,
                              size_t count, void *stream) {
  if (static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported;
  auto *words = reinterpret_cast<uint32_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
  state.clockMs += 4.0 * double(count) / state.deviceBytesPerMs;
  return kSuccess;
}

FAKE_API int cuStreamCreate(void **stream, unsigned flags) {
  if (flags != 1) // the executor must not sync with the legacy stream
    return kInvalidValue;
  *stream = new Stream;
  ++state.liveStreams;
  return kSuccess;
}

FAKE_API int cuStreamDestroy_v2(void *stream) {
  delete static_cast<Stream *>(stream);
  --state.liveStreams;
  return kSuccess;
}

FAKE_API int cuStreamSynchronize(void *stream) {
  return static_cast<Stream *>(stream)->capturing ? kCaptureUnsupported
                                                  : kSuccess;
}

FAKE_API int cuLaunchKernel(const void *function, unsigned gridX,
                            unsigned gridY, unsigned gridZ, unsigned blockX,
                            unsigned blockY, unsigned blockZ,
                            unsigned sharedBytes, void *stream,
                            void **params, void **extra) {
  int call = state.launchCalls++;
  if (call == state.failLaunchCall)
    return kLaunchFailed;
  const auto *fn = static_cast<const Function *>(function);
  unsigned sharedLimit = 48 * 1024;
  if (maxDynamicShared.count(fn))
    sharedLimit = static_cast<unsigned>(maxDynamicShared[fn]);
  if (gridX == 0 || gridY == 0 || gridZ != 1 || blockX == 0 ||
      blockX > 1024 || blockY != 1 || blockZ != 1 ||
      sharedBytes > sharedLimit || params == nullptr || extra != nullptr)
    return kInvalidValue;
  const Args *args = static_cast<const Args *>(params[0]);
  if (args->ptr[23] == nullptr)
    return kInvalidValue; // the status word must always be set
  FakeLaunch launch;
  launch.kernel = fn->name;
  launch.gridX = gridX;
  launch.gridY = gridY;
  launch.blockX = blockX;
  launch.sharedBytes = sharedBytes;
  std::memcpy(launch.ptr, args->ptr, sizeof(launch.ptr));
  launch.tokens = args->tokens;
  auto *s = static_cast<Stream *>(stream);
  if (s->capturing)
    s->captured.push_back(launch); // parameters are copied at capture
  else
    execute(launch, false);
  return kSuccess;
}

FAKE_API int cuStreamBeginCapture_v2(void *stream, int mode) {
  auto *s = static_cast<Stream *>(stream);
  if (s->capturing || mode < 0 || mode > 2)
    return kInvalidValue;
  s->capturing = true;
  s->captured.clear();
  ++state.captures;
  return kSuccess;
}

FAKE_API int cuStreamEndCapture(void *stream, void **graph) {
  auto *s = static_cast<Stream *>(stream);
  if (!s->capturing)
    return kInvalidValue;
  s->capturing = false;
  *graph = new Graph{s->captured};
  return kSuccess;
}

FAKE_API int cuGraphInstantiateWithFlags(void **exec, void *graph,
                                         unsigned long long) {
  *exec = new Graph(*static_cast<Graph *>(graph));
  ++state.instantiations;
  return kSuccess;
}

FAKE_API int cuGraphLaunch(void *exec, void *stream) {
  if (static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported;
  for (const FakeLaunch &launch : static_cast<Graph *>(exec)->launches)
    execute(launch, true);
  ++state.graphLaunches;
  return kSuccess;
}

FAKE_API int cuGraphExecDestroy(void *exec) {
  delete static_cast<Graph *>(exec);
  ++state.graphExecDestroys;
  return kSuccess;
}

FAKE_API int cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  ++state.graphDestroys;
  return kSuccess;
}

// --- events: stamps of the virtual clock ---

FAKE_API int cuEventCreate(void **event, unsigned flags) {
  if (flags & ~3u) // CU_EVENT_BLOCKING_SYNC = 1, CU_EVENT_DISABLE_TIMING = 2
    return kInvalidValue;
  auto *created = new Event;
  created->timing = (flags & 2u) == 0;
  *event = created;
  ++state.liveEvents;
  return kSuccess;
}

FAKE_API int cuEventDestroy_v2(void *event) {
  delete static_cast<Event *>(event);
  --state.liveEvents;
  return kSuccess;
}

// Stricter than a real driver, which would add an event node to the graph:
// libmoert keeps its timing events out of captures, and this makes a test
// fail if one slips in.
FAKE_API int cuEventRecord(void *event, void *stream) {
  if (stream != nullptr && static_cast<Stream *>(stream)->capturing)
    return kCaptureUnsupported;
  auto *e = static_cast<Event *>(event);
  e->recorded = true;
  e->stampMs = state.clockMs;
  ++state.eventRecords;
  return kSuccess;
}

FAKE_API int cuEventSynchronize(void *event) {
  return static_cast<Event *>(event)->recorded ? kSuccess : kInvalidHandle;
}

FAKE_API int cuEventElapsedTime_v2(float *ms, void *start, void *end) {
  auto *a = static_cast<Event *>(start), *b = static_cast<Event *>(end);
  if (!a->timing || !b->timing || !a->recorded || !b->recorded)
    return kInvalidHandle;
  *ms = static_cast<float>(b->stampMs - a->stampMs);
  return kSuccess;
}

// Exported only so that a test fails if libmoert picks the unsuffixed
// symbol when the driver has the _v2 one (cuda.h 12.8+ maps to _v2).
FAKE_API int cuEventElapsedTime(float *, void *, void *) {
  return kNotSupported;
}

} // extern "C"
