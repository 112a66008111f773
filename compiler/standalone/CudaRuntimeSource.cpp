//===- CudaRuntimeSource.cpp - the CUDA backend of <name>.cpp ---------------===//
//
// For a GPU target the generated runtime loads the driver with dlopen
// (never links CUDA), checks its version and the GPU's architecture, loads
// the cubin (compiled into the library with .incbin), uploads the weights
// once and lays out the activations exactly as libmoert's CUDA executor
// (runtime/src/cuda/Executor.cpp) does: status word, one staging buffer per
// input and output for max_tokens, the arena; each 256-byte aligned. run()
// is the step list as straight-line cuLaunchKernel calls with the same
// by-value moec_cuda_args, grids and shared memory the artifact would give.
//
//===----------------------------------------------------------------------===//

#include "compiler/standalone/GeneratedText.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace moec::standalone {
namespace {

// One driver entry point: the field in `Driver`, its exported (versioned)
// symbol, and its type written with the built-in declarations; with cuda.h
// the type is decltype(&::symbol) instead, which checks the calls.
struct DriverEntry {
  const char *field, *symbol, *type;
};

constexpr DriverEntry kDriverEntries[] = {
    {"init", "cuInit", "Result (*)(unsigned)"},
    {"driverGetVersion", "cuDriverGetVersion", "Result (*)(int *)"},
    {"getErrorName", "cuGetErrorName", "Result (*)(Result, const char **)"},
    {"deviceGetCount", "cuDeviceGetCount", "Result (*)(int *)"},
    {"deviceGet", "cuDeviceGet", "Result (*)(Device *, int)"},
    {"deviceGetName", "cuDeviceGetName", "Result (*)(char *, int, Device)"},
    {"deviceGetAttribute", "cuDeviceGetAttribute", "Result (*)(int *, DeviceAttribute, Device)"},
    {"primaryCtxRetain", "cuDevicePrimaryCtxRetain", "Result (*)(Context *, Device)"},
    {"primaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", "Result (*)(Device)"},
    {"ctxSetCurrent", "cuCtxSetCurrent", "Result (*)(Context)"},
    {"moduleLoadData", "cuModuleLoadData", "Result (*)(Module *, const void *)"},
    {"moduleUnload", "cuModuleUnload", "Result (*)(Module)"},
    {"moduleGetFunction", "cuModuleGetFunction", "Result (*)(Function *, Module, const char *)"},
    {"funcSetAttribute", "cuFuncSetAttribute", "Result (*)(Function, FunctionAttribute, int)"},
    {"memGetInfo", "cuMemGetInfo_v2", "Result (*)(size_t *, size_t *)"},
    {"memAlloc", "cuMemAlloc_v2", "Result (*)(DevicePtr *, size_t)"},
    {"memFree", "cuMemFree_v2", "Result (*)(DevicePtr)"},
    {"memcpyHtoD", "cuMemcpyHtoD_v2", "Result (*)(DevicePtr, const void *, size_t)"},
    {"memcpyHtoDAsync", "cuMemcpyHtoDAsync_v2",
     "Result (*)(DevicePtr, const void *, size_t, Stream)"},
    {"memcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", "Result (*)(void *, DevicePtr, size_t, Stream)"},
    {"memsetD32Async", "cuMemsetD32Async", "Result (*)(DevicePtr, unsigned, size_t, Stream)"},
    {"streamCreate", "cuStreamCreate", "Result (*)(Stream *, unsigned)"},
    {"streamDestroy", "cuStreamDestroy_v2", "Result (*)(Stream)"},
    {"streamSynchronize", "cuStreamSynchronize", "Result (*)(Stream)"},
    {"launchKernel", "cuLaunchKernel",
     "Result (*)(Function, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, "
     "Stream, void **, void **)"},
};

constexpr const char *kDriverTypes = R"cpp(
#include <dlfcn.h>
#if defined(@NU@_USE_CUDA_H)
#include <cuda.h> // declarations only: nothing from CUDA is linked
#endif

// kernels.cubin in the library's read-only data (@NU@_CUBIN_FILE comes from
// CMakeLists.txt); cuModuleLoadData reads the ELF image in place.
#if !defined(@NU@_CUBIN_FILE)
#error "@NU@_CUBIN_FILE (the path of kernels.cubin, a string literal) must be defined: build with CMakeLists.txt"
#endif
__asm__(".section .rodata.@N@_cubin,\"a\"\n"
        ".balign 64\n"
        ".globl @N@_cubin\n"
        ".hidden @N@_cubin\n"
        "@N@_cubin:\n"
        ".incbin \"" @NU@_CUBIN_FILE "\"\n"
        ".previous\n");
extern "C" __attribute__((visibility("hidden"))) const unsigned char @N@_cubin[];

namespace {
namespace cu {
#if defined(@NU@_USE_CUDA_H)
using Result = CUresult;
using Device = CUdevice;
using DevicePtr = CUdeviceptr;
using Context = CUcontext;
using Module = CUmodule;
using Function = CUfunction;
using Stream = CUstream;
using DeviceAttribute = CUdevice_attribute;
using FunctionAttribute = CUfunction_attribute;
// The built-in values below are the ones cuda.h defines.
static_assert(CUDA_SUCCESS == 0 && CUDA_ERROR_OUT_OF_MEMORY == 2, "CUresult values");
static_assert(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X == 5 && CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y == 6 &&
                  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == 75 &&
                  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == 76 &&
                  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN == 97,
              "CUdevice_attribute values");
static_assert(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES == 8 && CU_STREAM_NON_BLOCKING == 1,
              "CUfunction_attribute and stream flag values");
static_assert(sizeof(CUdeviceptr) == 8, "64-bit device pointers");
#define @NU@_DRIVER_FN(type, symbol) decltype(&::symbol)
#else
// ABI-identical to cuda.h, so that the library builds without the toolkit.
using Result = int;
using Device = int;
using DevicePtr = unsigned long long;
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using DeviceAttribute = int;
using FunctionAttribute = int;
template <class T> using Type = T;
#define @NU@_DRIVER_FN(type, symbol) cu::Type<type>
#endif
constexpr Result kSuccess = static_cast<Result>(0);
constexpr Result kOutOfMemory = static_cast<Result>(2);
constexpr DeviceAttribute kMaxGridDimX = static_cast<DeviceAttribute>(5);
constexpr DeviceAttribute kMaxGridDimY = static_cast<DeviceAttribute>(6);
constexpr DeviceAttribute kCcMajor = static_cast<DeviceAttribute>(75);
constexpr DeviceAttribute kCcMinor = static_cast<DeviceAttribute>(76);
constexpr DeviceAttribute kMaxSharedOptin = static_cast<DeviceAttribute>(97);
constexpr FunctionAttribute kMaxDynamicShared = static_cast<FunctionAttribute>(8);
constexpr unsigned kStreamNonBlocking = 1;
} // namespace cu
} // namespace

// The kernels' by-value argument (the GPU kernel ABI of the artifact format).
struct moec_cuda_args {
  void *ptr[24];
  long long tokens;
};
)cpp";

constexpr const char *kBackendTop = R"cpp(
// On a GPU the weights live in device memory: the host copy is freed after
// the upload.
constexpr bool kKeepHostWeights = false;
// Offsets in device allocations are 256-byte aligned, as cuMemAlloc's.
constexpr uint64_t kDeviceAlignment = 256;
constexpr unsigned kDefaultSharedBytes = 48 * 1024;

thread_local char gCudaError[128];

uint64_t alignDevice(uint64_t bytes) {
  return (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
}

void *devicePointer(cu::DevicePtr address) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(address));
}

// ceil((base + perToken * T) / divisor) blocks; false if it overflows.
bool gridBlocks(int64_t base, int64_t perToken, int64_t divisor, int64_t tokens, int64_t *out) {
  int64_t work = 0;
  if (__builtin_mul_overflow(perToken, tokens, &work) ||
      __builtin_add_overflow(work, base, &work))
    return false;
  *out = work == 0 ? 0 : (work - 1) / divisor + 1;
  return true;
}

template <class F> bool resolve(void *library, F &fn, const char *symbol) {
  fn = reinterpret_cast<F>(dlsym(library, symbol));
  return fn != nullptr;
}

// The driver's entry points, resolved by their exported (versioned) names:
// cuda.h maps e.g. cuMemAlloc to cuMemAlloc_v2; the unsuffixed exports keep
// older ABIs that must not be called with today's arguments.
struct Driver {
  void *library = nullptr;
)cpp";

constexpr const char *kBackendMethods = R"cpp(
  const char *describe(cu::Result result) const {
    const char *name = nullptr;
    if (getErrorName && getErrorName(result, &name) == cu::kSuccess && name)
      std::snprintf(gCudaError, sizeof gCudaError, "%s", name);
    else
      std::snprintf(gCudaError, sizeof gCudaError, "CUDA error %d", static_cast<int>(result));
    return gCudaError;
  }
};

struct Backend {
  Driver driver;
  cu::Device device = 0;
  cu::Context context = nullptr;
  cu::Stream stream = nullptr;
  cu::Module module = nullptr;
  cu::Function functions[kKernelCount + 1] = {};
  cu::DevicePtr weights = 0, activations = 0, statusWord = 0, arena = 0;
  cu::DevicePtr inputBuffers[kInputCount + 1] = {}, outputBuffers[kOutputCount + 1] = {};
  int hostStatusWord = 0;
  char deviceName[256] = {};

  Backend() = default;
  Backend(const Backend &) = delete;
  Backend &operator=(const Backend &) = delete;

  ~Backend() {
    if (!context)
      return;
    // Best effort: a destructor cannot report, and a context broken by a
    // kernel fault fails these calls harmlessly.
    driver.ctxSetCurrent(context);
    if (stream) {
      driver.streamSynchronize(stream);
      driver.streamDestroy(stream);
    }
    if (activations)
      driver.memFree(activations);
    if (weights)
      driver.memFree(weights);
    if (module)
      driver.moduleUnload(module);
    driver.primaryCtxRelease(device);
  }

  int cudaFail(cu::Result result, const char *what) {
    return fail(result == cu::kOutOfMemory ? @NU@_RESOURCE_EXHAUSTED : @NU@_INTERNAL,
                "%s failed: %s", what, driver.describe(result));
  }

  int loadDriver(const @N@_options &options) {
    const char *path = options.libcuda_path;
    if (!path || !*path) {
      const char *env = std::getenv("MOEC_LIBCUDA");
      path = env && *env ? env : "libcuda.so.1";
    }
    // RTLD_NODELETE: the driver keeps process-wide state; never unmap it.
    driver.library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!driver.library) {
      const char *reason = dlerror();
      return fail(@NU@_FAILED_PRECONDITION,
                  "create: %s not found: no NVIDIA driver on this machine (dlopen: %s)", path,
                  reason ? reason : "unknown error");
    }
    if (const char *missing = driver.resolveAllEntries())
      return fail(@NU@_FAILED_PRECONDITION,
                  "create: %s lacks %s: a driver for CUDA %d.%d or newer is required", path,
                  missing, kMinDriverVersion / 1000, kMinDriverVersion % 1000 / 10);
    int version = 0;
    if (cu::Result result = driver.driverGetVersion(&version))
      return cudaFail(result, "create: cuDriverGetVersion");
    if (version < kMinDriverVersion)
      return fail(@NU@_FAILED_PRECONDITION,
                  "create: the NVIDIA driver (%s) supports CUDA %d.%d; these kernels were "
                  "compiled with CUDA %d.%d and need a driver for CUDA %d.%d or newer",
                  path, version / 1000, version % 1000 / 10, kMinDriverVersion / 1000,
                  kMinDriverVersion % 1000 / 10, kMinDriverVersion / 1000,
                  kMinDriverVersion % 1000 / 10);
    if (cu::Result result = driver.init(0))
      return fail(@NU@_FAILED_PRECONDITION, "create: no CUDA GPU: cuInit failed with %s",
                  driver.describe(result));
    return @NU@_OK;
  }

  int openDevice(int ordinal) {
    int count = 0;
    if (cu::Result result = driver.deviceGetCount(&count))
      return cudaFail(result, "create: cuDeviceGetCount");
    if (count == 0)
      return fail(@NU@_FAILED_PRECONDITION, "create: no CUDA GPU: the driver reports 0 devices");
    if (ordinal < 0 || ordinal >= count)
      return fail(@NU@_INVALID_ARGUMENT, "create: cuda_device %d does not exist (%d device(s))",
                  ordinal, count);
    if (cu::Result result = driver.deviceGet(&device, ordinal))
      return cudaFail(result, "create: cuDeviceGet");
    if (driver.deviceGetName(deviceName, sizeof deviceName - 1, device) != cu::kSuccess)
      std::snprintf(deviceName, sizeof deviceName, "device %d", ordinal);
    int major = 0, minor = 0;
    if (cu::Result result = driver.deviceGetAttribute(&major, cu::kCcMajor, device))
      return cudaFail(result, "create: cuDeviceGetAttribute");
    if (cu::Result result = driver.deviceGetAttribute(&minor, cu::kCcMinor, device))
      return cudaFail(result, "create: cuDeviceGetAttribute");
    // SASS runs on the same major version with an equal or higher minor one;
    // an arch-specific cubin (sm_90a) only on exactly its generation.
    bool runs = major == kArchMajor && (kArchSpecific ? minor == kArchMinor : minor >= kArchMinor);
    if (!runs)
      return fail(@NU@_FAILED_PRECONDITION,
                  "create: these kernels were compiled for %s, this GPU is sm_%d%d (%s, device "
                  "%d); %s: regenerate with --target sm_%d%d",
                  @NU@_TARGET, major, minor, deviceName, ordinal,
                  kArchSpecific ? "an arch-specific cubin runs only on that exact GPU generation"
                                : "a cubin runs only on GPUs of the same major version and an "
                                  "equal or higher minor version",
                  major, minor);
    if (cu::Result result = driver.primaryCtxRetain(&context, device)) {
      context = nullptr;
      return cudaFail(result, "create: cuDevicePrimaryCtxRetain");
    }
    if (cu::Result result = driver.ctxSetCurrent(context))
      return cudaFail(result, "create: cuCtxSetCurrent");
    if (cu::Result result = driver.streamCreate(&stream, cu::kStreamNonBlocking))
      return cudaFail(result, "create: cuStreamCreate");
    return @NU@_OK;
  }

  int loadKernels(int64_t maxTokens) {
    if (cu::Result result = driver.moduleLoadData(&module, @N@_cubin)) {
      module = nullptr;
      return fail(result == cu::kOutOfMemory ? @NU@_RESOURCE_EXHAUSTED : @NU@_DATA_LOSS,
                  "create: cannot load the kernels (cubin for %s) on %s: %s", @NU@_TARGET,
                  deviceName, driver.describe(result));
    }
    for (int k = 0; k < kKernelCount; ++k)
      if (cu::Result result = driver.moduleGetFunction(&functions[k], module, kKernelSymbols[k]))
        return fail(@NU@_NOT_FOUND, "create: kernel '%s' not found in the cubin (%s)",
                    kKernelSymbols[k], driver.describe(result));
    int maxGridX = 0, maxGridY = 0, maxShared = 0;
    if (cu::Result result = driver.deviceGetAttribute(&maxGridX, cu::kMaxGridDimX, device))
      return cudaFail(result, "create: cuDeviceGetAttribute");
    if (cu::Result result = driver.deviceGetAttribute(&maxGridY, cu::kMaxGridDimY, device))
      return cudaFail(result, "create: cuDeviceGetAttribute");
    if (cu::Result result = driver.deviceGetAttribute(&maxShared, cu::kMaxSharedOptin, device))
      return cudaFail(result, "create: cuDeviceGetAttribute");
    // Blocks only grow with T: limits checked at max_tokens hold for every run.
    unsigned sharedPerKernel[kKernelCount + 1] = {};
    for (int s = 0; s < kStepCount; ++s) {
      const StepGeometry &step = kSteps[s];
      if (step.minTokens > maxTokens)
        continue; // never runs in this model
      int64_t largest = step.maxTokens < 0 || step.maxTokens > maxTokens ? maxTokens
                                                                         : step.maxTokens;
      int64_t blocksX = 0, blocksY = 0;
      bool fits = gridBlocks(step.x[0], step.x[1], step.x[2], largest, &blocksX) &&
                  gridBlocks(step.y[0], step.y[1], step.y[2], largest, &blocksY);
      if (!fits || blocksX > maxGridX || blocksY > maxGridY)
        return fail(@NU@_INVALID_ARGUMENT,
                    "create: step %d (kernel '%s'): at max_tokens %lld the grid exceeds this "
                    "GPU's limit of %d x %d blocks; use a smaller max_tokens",
                    s, kKernelSymbols[step.kernel], static_cast<long long>(maxTokens), maxGridX,
                    maxGridY);
      if (step.sharedBytes > static_cast<unsigned>(maxShared < 0 ? 0 : maxShared))
        return fail(@NU@_FAILED_PRECONDITION,
                    "create: step %d (kernel '%s') needs %u bytes of shared memory per block; "
                    "%s allows %d",
                    s, kKernelSymbols[step.kernel], step.sharedBytes, deviceName, maxShared);
      if (step.sharedBytes > sharedPerKernel[step.kernel])
        sharedPerKernel[step.kernel] = step.sharedBytes;
    }
    // Above 48 KiB of dynamic shared memory a kernel must opt in.
    for (int k = 0; k < kKernelCount; ++k)
      if (sharedPerKernel[k] > kDefaultSharedBytes)
        if (cu::Result result = driver.funcSetAttribute(functions[k], cu::kMaxDynamicShared,
                                                        static_cast<int>(sharedPerKernel[k])))
          return cudaFail(result, "create: cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
    return @NU@_OK;
  }

  // Two allocations, as libmoert's: the weights, and the activations (status
  // word, a staging buffer per input and output for max_tokens, the arena).
  int allocate(const unsigned char *hostWeights, int64_t maxTokens) {
    uint64_t cursor = 0, bytes = 0;
    bool fits = true; // each size was checked at max_tokens, their sum is checked here
    auto place = [&](uint64_t size) {
      uint64_t offset = cursor;
      fits = fits && size <= UINT64_MAX - kDeviceAlignment &&
             !__builtin_add_overflow(cursor, alignDevice(size), &cursor);
      return offset;
    };
    uint64_t statusOffset = place(sizeof(int)), inputOffsets[kInputCount + 1] = {},
             outputOffsets[kOutputCount + 1] = {};
    for (int i = 0; i < kInputCount; ++i) {
      extentBytes(kInputExtents[i], maxTokens, &bytes);
      inputOffsets[i] = place(bytes);
    }
    for (int i = 0; i < kOutputCount; ++i) {
      extentBytes(kOutputExtents[i], maxTokens, &bytes);
      outputOffsets[i] = place(bytes);
    }
    uint64_t arenaOffset = place(static_cast<uint64_t>(kArenaBase + kArenaPerToken * maxTokens));
    uint64_t weightBytes = alignDevice(kWeightBytes);
    if (!fits || cursor > SIZE_MAX - weightBytes)
      return fail(@NU@_RESOURCE_EXHAUSTED, "create: device memory size overflows at max_tokens %lld",
                  static_cast<long long>(maxTokens));
    size_t freeBytes = 0, totalBytes = 0;
    if (cu::Result result = driver.memGetInfo(&freeBytes, &totalBytes))
      return cudaFail(result, "create: cuMemGetInfo");
    if (weightBytes + cursor > freeBytes)
      return fail(@NU@_RESOURCE_EXHAUSTED,
                  "create: not enough device memory on %s: needs %llu bytes (weights %llu, "
                  "inputs/outputs/arena for max_tokens %lld %llu), %llu of %llu bytes free",
                  deviceName, static_cast<unsigned long long>(weightBytes + cursor),
                  static_cast<unsigned long long>(weightBytes),
                  static_cast<long long>(maxTokens), static_cast<unsigned long long>(cursor),
                  static_cast<unsigned long long>(freeBytes),
                  static_cast<unsigned long long>(totalBytes));
    if (kWeightBytes != 0) {
      if (cu::Result result = driver.memAlloc(&weights, static_cast<size_t>(weightBytes))) {
        weights = 0;
        return cudaFail(result, "create: cuMemAlloc (weights)");
      }
      if (cu::Result result = driver.memcpyHtoD(weights, hostWeights, kWeightBytes))
        return cudaFail(result, "create: uploading the weights");
    }
    if (cu::Result result = driver.memAlloc(&activations, static_cast<size_t>(cursor))) {
      activations = 0;
      return cudaFail(result, "create: cuMemAlloc (activations)");
    }
    statusWord = activations + statusOffset;
    for (int i = 0; i < kInputCount; ++i)
      inputBuffers[i] = activations + inputOffsets[i];
    for (int i = 0; i < kOutputCount; ++i)
      outputBuffers[i] = activations + outputOffsets[i];
    arena = activations + arenaOffset;
    return @NU@_OK;
  }

  int create(const unsigned char *hostWeights, const @N@_options &options) {
    if (int status = loadDriver(options))
      return status;
    if (int status = openDevice(options.cuda_device))
      return status;
    if (int status = loadKernels(options.max_tokens))
      return status;
    return allocate(hostWeights, options.max_tokens);
  }

  int launch(int step, unsigned gridX, unsigned gridY, unsigned block, unsigned sharedBytes,
             moec_cuda_args *args) {
    void *params[] = {args};
    cu::Result result =
        driver.launchKernel(functions[kSteps[step].kernel], gridX, gridY, 1, block, 1, 1,
                            sharedBytes, stream, params, nullptr);
    if (result == cu::kSuccess)
      return @NU@_OK;
    char what[256];
    std::snprintf(what, sizeof what,
                  "run: launching step %d (kernel '%s') with grid %u x %u, block %u, %u bytes "
                  "of shared memory",
                  step, kKernelSymbols[kSteps[step].kernel], gridX, gridY, block, sharedBytes);
    return cudaFail(result, what);
  }

  int readStatusWord() {
    if (cu::Result result =
            driver.memcpyDtoHAsync(&hostStatusWord, statusWord, sizeof(int), stream))
      return cudaFail(result, "run: reading the status word");
    if (cu::Result result = driver.streamSynchronize(stream))
      return cudaFail(result, "run: cuStreamSynchronize");
    return @NU@_OK;
  }

  // A kernel found bad data: replay the steps one at a time (the staged
  // inputs are intact, kernels never write them) to name the step.
  int diagnose(int64_t T, int code) {
    for (int s = 0; s < kStepCount; ++s) {
      if (cu::Result result = driver.memsetD32Async(statusWord, 0, 1, stream))
        return cudaFail(result, "run: clearing the status word");
      if (int status = enqueue(T, s))
        return status;
      if (int status = readStatusWord())
        return status;
      if (hostStatusWord != 0)
        return fail(@NU@_INTERNAL, "run: step %d (kernel '%s') reported error %d (T=%lld)", s,
                    kKernelSymbols[kSteps[s].kernel], hostStatusWord, static_cast<long long>(T));
    }
    return fail(@NU@_INTERNAL,
                "run: a kernel reported error %d (T=%lld); replaying the steps one by one did "
                "not reproduce it",
                code, static_cast<long long>(T));
  }

  int run(const unsigned char *, const void *const *inputs, void *const *outputs, int64_t T) {
    // The calling thread may differ from the creating one.
    if (cu::Result result = driver.ctxSetCurrent(context))
      return cudaFail(result, "run: cuCtxSetCurrent");
    if (cu::Result result = driver.memsetD32Async(statusWord, 0, 1, stream))
      return cudaFail(result, "run: clearing the status word");
    uint64_t bytes = 0;
    for (int i = 0; i < kInputCount; ++i)
      if (extentBytes(kInputExtents[i], T, &bytes) && bytes != 0)
        if (cu::Result result = driver.memcpyHtoDAsync(inputBuffers[i], inputs[i],
                                                       static_cast<size_t>(bytes), stream))
          return cudaFail(result, "run: copying an input to the device");
    if (int status = enqueue(T, -1))
      return status;
    for (int i = 0; i < kOutputCount; ++i)
      if (extentBytes(kOutputExtents[i], T, &bytes) && bytes != 0)
        if (cu::Result result = driver.memcpyDtoHAsync(outputs[i], outputBuffers[i],
                                                       static_cast<size_t>(bytes), stream))
          return cudaFail(result, "run: copying an output from the device");
    if (int status = readStatusWord())
      return status;
    return hostStatusWord == 0 ? @NU@_OK : diagnose(T, hostStatusWord);
  }

  // The step list; `only` >= 0 launches that step alone (diagnose()).
  int enqueue(int64_t T, int only) {
    const cu::DevicePtr W = weights, A = arena;
    (void)W;
    (void)A;
)cpp";

// "Result (*)(Device *)" -> "cu::Result (*)(cu::Device *)": the struct that
// holds the pointers is outside namespace cu.
std::string qualifiedDriverType(const std::string &type) {
  static const char *const names[] = {"Result", "DevicePtr", "Device", "Context", "Module",
                                      "FunctionAttribute", "Function", "Stream",
                                      "DeviceAttribute"};
  std::string out;
  size_t i = 0;
  while (i < type.size()) {
    bool matched = false;
    bool boundary = i == 0 || !(std::isalnum(static_cast<unsigned char>(type[i - 1])) ||
                                type[i - 1] == '_');
    for (const char *name : names) {
      size_t n = std::strlen(name);
      bool endsWord = i + n == type.size() ||
                      !(std::isalnum(static_cast<unsigned char>(type[i + n])) || type[i + n] == '_');
      if (boundary && type.compare(i, n, name) == 0 && endsWord) {
        out += "cu::";
        out += name;
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched)
      out += type[i++];
  }
  return out;
}

struct SmTarget {
  int major = 0, minor = 0;
  bool archSpecific = false;
};

SmTarget parseTarget(const std::string &target) {
  // "sm_90a" -> 9, 0, true; the emitter only produces known names.
  SmTarget t;
  std::string digits;
  for (char c : target.substr(3))
    if (c >= '0' && c <= '9')
      digits += c;
  int number = digits.empty() ? 0 : std::stoi(digits);
  t.major = number / 10;
  t.minor = number % 10;
  t.archSpecific = !target.empty() && target.back() == 'a';
  return t;
}

// "(T * 8 + 63) / 64": the blocks of one axis as an expression of T.
std::string blocksExpr(const GridAxis &axis) {
  if (axis.perToken == 0)
    return std::to_string(axis.base == 0 ? 0 : (axis.base - 1) / axis.divisor + 1);
  std::string work = axis.perToken == 1 ? "T" : std::to_string(axis.perToken) + " * T";
  if (axis.divisor == 1)
    return axis.base == 0 ? work : work + " + " + std::to_string(axis.base);
  return "(" + work + " + " + std::to_string(axis.base + axis.divisor - 1) + ") / " +
         std::to_string(axis.divisor);
}

} // namespace

TargetParts cudaRuntimeParts(const ModelPlan &plan, const ProjectInfo &info) {
  TargetParts parts;
  parts.declarations = kDriverTypes;

  // Unique kernel symbols, in first-use order.
  std::vector<std::string> kernels;
  std::vector<unsigned> kernelOf;
  for (const Step &step : plan.steps) {
    auto it = std::find(kernels.begin(), kernels.end(), step.symbol);
    kernelOf.push_back(static_cast<unsigned>(it - kernels.begin()));
    if (it == kernels.end())
      kernels.push_back(step.symbol);
  }
  SmTarget arch = parseTarget(plan.target);

  llvm::raw_string_ostream os(parts.backend);
  os << "\n// The target and the driver the cubin needs.\n"
     << "constexpr int kArchMajor = " << arch.major << ", kArchMinor = " << arch.minor << ";\n"
     << "constexpr bool kArchSpecific = " << (arch.archSpecific ? "true" : "false") << ";\n"
     << "constexpr int kMinDriverVersion = " << info.minDriverVersion << ";\n\n"
     << "constexpr int kKernelCount = " << kernels.size() << ";\n"
     << "const char *const kKernelSymbols[] = {";
  for (const std::string &k : kernels)
    os << cString(k) << ", ";
  os << "nullptr};\n\n"
     << "// Launch geometry, for the checks at create: grid axes {base, per_token,\n"
     << "// divisor}, block, shared bytes, token-count bucket [minTokens, maxTokens].\n"
     << "struct StepGeometry {\n  int kernel;\n  int64_t x[3], y[3];\n  unsigned block, "
        "sharedBytes;\n  int64_t minTokens, maxTokens;\n};\n"
     << "constexpr int kStepCount = " << plan.steps.size() << ";\n"
     << "const StepGeometry kSteps[] = {\n";
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step &st = plan.steps[s];
    os << "    {" << kernelOf[s] << ", {" << st.gridX.base << ", " << st.gridX.perToken << ", "
       << st.gridX.divisor << "}, {" << st.gridY.base << ", " << st.gridY.perToken << ", "
       << st.gridY.divisor << "}, " << st.block << ", " << st.sharedBytes << ", "
       << st.minTokens << ", " << st.maxTokens << "},\n";
  }
  os << "    {0, {0, 0, 1}, {0, 0, 1}, 0, 0, 0, -1}};\n";
  os << kBackendTop;
  for (const DriverEntry &e : kDriverEntries)
    os << "  @NU@_DRIVER_FN(" << qualifiedDriverType(e.type) << ", " << e.symbol << ") "
       << e.field << " = nullptr;\n";
  os << "\n  // The first entry point the library lacks, or nullptr.\n"
     << "  const char *resolveAllEntries() {\n";
  for (const DriverEntry &e : kDriverEntries)
    os << "    if (!resolve(library, " << e.field << ", \"" << e.symbol << "\"))\n"
       << "      return \"" << e.symbol << "\";\n";
  os << "    return nullptr;\n  }\n";
  os << kBackendMethods;

  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step &st = plan.steps[s];
    std::string condition = "only < 0 || only == " + std::to_string(s);
    if (st.minTokens > 0 || st.maxTokens >= 0)
      condition = "(" + condition + ")";
    if (st.minTokens > 0)
      condition += " && T >= " + std::to_string(st.minTokens);
    if (st.maxTokens >= 0)
      condition += " && T <= " + std::to_string(st.maxTokens);
    os << "    // Step " << s << ": " << commentSafe(st.description) << "\n"
       << "    if (" << condition << ") {\n"
       << "      const unsigned gridX = static_cast<unsigned>(" << blocksExpr(st.gridX) << ");\n"
       << "      const unsigned gridY = static_cast<unsigned>(" << blocksExpr(st.gridY) << ");\n"
       << "      if (gridX != 0 && gridY != 0) {\n"
       << "        moec_cuda_args args = {};\n";
    for (size_t a = 0; a < st.args.size(); ++a) {
      const Arg &arg = st.args[a];
      os << "        args.ptr[" << a << "] = ";
      switch (arg.kind) {
      case Arg::Input: os << "devicePointer(inputBuffers[" << arg.index << "])"; break;
      case Arg::Output: os << "devicePointer(outputBuffers[" << arg.index << "])"; break;
      case Arg::Weight:
        os << "devicePointer("
           << affineAddress("W", {static_cast<int64_t>(plan.weights[arg.index].offset), 0})
           << ") /* " << commentSafe(plan.weights[arg.index].name) << " */";
        break;
      case Arg::Arena: os << "devicePointer(" << affineAddress("A", arg.offset) << ")"; break;
      }
      os << ";\n";
    }
    os << "        args.ptr[23] = devicePointer(statusWord);\n"
       << "        args.tokens = T;\n"
       << "        if (int status = launch(" << s << ", gridX, gridY, " << st.block << ", "
       << st.sharedBytes << ", &args))\n"
       << "          return status;\n"
       << "      }\n    }\n";
  }
  os << "    return @NU@_OK;\n  }\n};\n";
  return parts;
}

} // namespace moec::standalone
