//===- CudaDevice.cpp - Peaks and L2 flushing on a GPU, via dlopen --------===//
//
// Types and constants are declared here with the ABI of cuda.h / cublas_api.h
// (as runtime/src/cuda/Driver.h does) so that the tool builds without the
// CUDA toolkit and runs without it where only the driver is installed.
//
//===----------------------------------------------------------------------===//

#include "tools/moec-bench/CudaDevice.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <vector>

namespace moec::bench {
namespace {

using CUdeviceptr = unsigned long long;
constexpr int kSuccess = 0;
constexpr int kAttrL2CacheSize = 38;     // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
constexpr unsigned kStreamNonBlocking = 1; // CU_STREAM_NON_BLOCKING
// cublas_api.h / library_types.h
constexpr int kCublasOpN = 0, kCudaR16BF = 14, kCublasCompute32F = 68,
              kCublasGemmDefault = -1;

template <typename Fn> bool resolve(void *library, const char *symbol, Fn *out) {
  *out = reinterpret_cast<Fn>(dlsym(library, symbol));
  return *out != nullptr;
}

// Uniform values in [-1, 1) as bf16 bit patterns (the top half of a
// float32): random operands, since a GEMM on zeros runs faster.
std::vector<uint16_t> randomBf16(size_t count, uint64_t seed) {
  std::vector<uint16_t> values(count);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < count; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    float value = static_cast<float>(state >> 40) / float(1 << 23) - 1.0f;
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    values[i] = static_cast<uint16_t>(bits >> 16);
  }
  return values;
}

} // namespace

struct CudaDevice::Api {
  int (*init)(unsigned);
  int (*driverGetVersion)(int *);
  int (*getErrorName)(int, const char **);
  int (*deviceGetCount)(int *);
  int (*deviceGet)(int *, int);
  int (*deviceGetName)(char *, int, int);
  int (*deviceGetAttribute)(int *, int, int);
  int (*primaryCtxRetain)(void **, int);
  int (*primaryCtxRelease)(int);
  int (*ctxSetCurrent)(void *);
  int (*memGetInfo)(size_t *, size_t *);
  int (*memAlloc)(CUdeviceptr *, size_t);
  int (*memFree)(CUdeviceptr);
  int (*memcpyHtoD)(CUdeviceptr, const void *, size_t);
  int (*memcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, void *);
  int (*memsetD32Async)(CUdeviceptr, unsigned, size_t, void *);
  int (*streamCreate)(void **, unsigned);
  int (*streamDestroy)(void *);
  int (*streamSynchronize)(void *);
  int (*eventCreate)(void **, unsigned);
  int (*eventRecord)(void *, void *);
  int (*eventSynchronize)(void *);
  int (*eventElapsedTime)(float *, void *, void *);
  int (*eventDestroy)(void *);
};

CudaDevice::~CudaDevice() {
  if (api_ == nullptr)
    return;
  if (context_ != nullptr) {
    api_->ctxSetCurrent(context_);
    if (flushBuffer_ != 0)
      api_->memFree(flushBuffer_);
    if (stream_ != nullptr)
      api_->streamDestroy(stream_);
    api_->primaryCtxRelease(device_);
  }
  delete api_;
}

bool CudaDevice::check(int result, const char *what,
                       std::string *error) const {
  if (result == kSuccess)
    return true;
  const char *text = nullptr;
  if (api_->getErrorName(result, &text) != kSuccess || text == nullptr)
    text = "unknown CUDA error";
  *error = std::string(what) + " failed: " + text + " (" +
           std::to_string(result) + ")";
  return false;
}

bool CudaDevice::open(int ordinal, std::string *error) {
  const char *override = std::getenv("MOERT_LIBCUDA");
  std::string path =
      override != nullptr && override[0] != '\0' ? override : "libcuda.so.1";
  library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library_ == nullptr) {
    const char *why = dlerror();
    *error = "cannot load the CUDA driver " + path + ": " +
             (why ? why : "unknown dlopen error");
    return false;
  }
  api_ = new Api{};
  Api &a = *api_;
  bool ok = resolve(library_, "cuInit", &a.init) &&
            resolve(library_, "cuDriverGetVersion", &a.driverGetVersion) &&
            resolve(library_, "cuGetErrorName", &a.getErrorName) &&
            resolve(library_, "cuDeviceGetCount", &a.deviceGetCount) &&
            resolve(library_, "cuDeviceGet", &a.deviceGet) &&
            resolve(library_, "cuDeviceGetName", &a.deviceGetName) &&
            resolve(library_, "cuDeviceGetAttribute", &a.deviceGetAttribute) &&
            resolve(library_, "cuDevicePrimaryCtxRetain", &a.primaryCtxRetain) &&
            resolve(library_, "cuDevicePrimaryCtxRelease_v2",
                    &a.primaryCtxRelease) &&
            resolve(library_, "cuCtxSetCurrent", &a.ctxSetCurrent) &&
            resolve(library_, "cuMemGetInfo_v2", &a.memGetInfo) &&
            resolve(library_, "cuMemAlloc_v2", &a.memAlloc) &&
            resolve(library_, "cuMemFree_v2", &a.memFree) &&
            resolve(library_, "cuMemcpyHtoD_v2", &a.memcpyHtoD) &&
            resolve(library_, "cuMemcpyDtoDAsync_v2", &a.memcpyDtoDAsync) &&
            resolve(library_, "cuMemsetD32Async", &a.memsetD32Async) &&
            resolve(library_, "cuStreamCreate", &a.streamCreate) &&
            resolve(library_, "cuStreamDestroy_v2", &a.streamDestroy) &&
            resolve(library_, "cuStreamSynchronize", &a.streamSynchronize) &&
            resolve(library_, "cuEventCreate", &a.eventCreate) &&
            resolve(library_, "cuEventRecord", &a.eventRecord) &&
            resolve(library_, "cuEventSynchronize", &a.eventSynchronize) &&
            resolve(library_, "cuEventDestroy_v2", &a.eventDestroy) &&
            (resolve(library_, "cuEventElapsedTime_v2", &a.eventElapsedTime) ||
             resolve(library_, "cuEventElapsedTime", &a.eventElapsedTime));
  if (!ok) {
    *error = "the CUDA driver " + path + " lacks an entry point moec-bench "
             "needs (a driver for CUDA 12 or newer is required)";
    return false;
  }
  if (!check(a.init(0), "cuInit", error))
    return false;
  int count = 0;
  if (!check(a.deviceGetCount(&count), "cuDeviceGetCount", error))
    return false;
  if (ordinal < 0 || ordinal >= count) {
    *error = "CUDA device " + std::to_string(ordinal) + " does not exist (" +
             std::to_string(count) + " device(s))";
    return false;
  }
  if (!check(a.deviceGet(&device_, ordinal), "cuDeviceGet", error))
    return false;
  char name[256] = {};
  if (a.deviceGetName(name, sizeof(name) - 1, device_) == kSuccess)
    name_ = name;
  int version = 0, l2 = 0;
  a.driverGetVersion(&version);
  driver_ = "CUDA " + std::to_string(version / 1000) + "." +
            std::to_string(version % 1000 / 10) + " (" + path + ")";
  if (a.deviceGetAttribute(&l2, kAttrL2CacheSize, device_) == kSuccess)
    l2Bytes_ = l2;
  if (!check(a.primaryCtxRetain(&context_, device_),
             "cuDevicePrimaryCtxRetain", error)) {
    context_ = nullptr;
    return false;
  }
  return check(a.ctxSetCurrent(context_), "cuCtxSetCurrent", error) &&
         check(a.streamCreate(&stream_, kStreamNonBlocking), "cuStreamCreate",
               error);
}

bool CudaDevice::copyPeak(size_t bytes, Peak *peak, std::string *error) {
  Api &a = *api_;
  CUdeviceptr src = 0, dst = 0;
  void *start = nullptr, *end = nullptr;
  bool ok = check(a.memAlloc(&src, bytes), "cuMemAlloc (copy source)", error) &&
            check(a.memAlloc(&dst, bytes), "cuMemAlloc (copy target)", error) &&
            check(a.memsetD32Async(src, 0x3f800000u, bytes / 4, stream_),
                  "cuMemsetD32Async", error) &&
            check(a.eventCreate(&start, 0), "cuEventCreate", error) &&
            check(a.eventCreate(&end, 0), "cuEventCreate", error);
  float best = 1e30f;
  for (int rep = 0; ok && rep < 12; ++rep) {
    float ms = 0;
    ok = check(a.eventRecord(start, stream_), "cuEventRecord", error) &&
         check(a.memcpyDtoDAsync(dst, src, bytes, stream_),
               "cuMemcpyDtoDAsync", error) &&
         check(a.eventRecord(end, stream_), "cuEventRecord", error) &&
         check(a.eventSynchronize(end), "cuEventSynchronize", error) &&
         check(a.eventElapsedTime(&ms, start, end), "cuEventElapsedTime",
               error);
    if (ok && rep >= 2) // two warm-ups
      best = std::min(best, ms);
  }
  if (ok && best > 0) {
    peak->bandwidth = 2.0 * double(bytes) / (double(best) * 1e-3);
    peak->bandwidthMethod = "cuMemcpyDtoDAsync of " +
                            std::to_string(bytes >> 20) +
                            " MiB, bytes read + written, CUDA events, best "
                            "of 10";
  }
  if (start)
    a.eventDestroy(start);
  if (end)
    a.eventDestroy(end);
  if (src)
    a.memFree(src);
  if (dst)
    a.memFree(dst);
  return ok;
}

bool CudaDevice::gemmPeak(int64_t n, const std::string &cublasPath, Peak *peak,
                          std::string *error) {
  std::vector<std::string> candidates;
  if (!cublasPath.empty())
    candidates.push_back(cublasPath);
  else
    candidates = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  void *cublas = nullptr;
  std::string tried;
  for (const std::string &candidate : candidates) {
    cublas = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (cublas != nullptr)
      break;
    const char *why = dlerror();
    tried += (tried.empty() ? "" : "; ") + std::string(why ? why : candidate);
  }
  if (cublas == nullptr) {
    peak->flopsMethod = "not measured: cuBLAS not found (" + tried +
                        "); pass --cublas PATH";
    return true; // not an error: the bandwidth term still stands
  }
  int (*create)(void **) = nullptr;
  int (*destroy)(void *) = nullptr;
  int (*setStream)(void *, void *) = nullptr;
  int (*gemmEx)(void *, int, int, int, int, int, const void *, const void *,
                int, int, const void *, int, int, const void *, void *, int,
                int, int, int) = nullptr;
  if (!resolve(cublas, "cublasCreate_v2", &create) ||
      !resolve(cublas, "cublasDestroy_v2", &destroy) ||
      !resolve(cublas, "cublasSetStream_v2", &setStream) ||
      !resolve(cublas, "cublasGemmEx", &gemmEx)) {
    peak->flopsMethod = "not measured: the cuBLAS library lacks cublasGemmEx";
    return true;
  }
  Api &a = *api_;
  const size_t elements = size_t(n) * size_t(n), bytes = elements * 2;
  CUdeviceptr buffers[3] = {0, 0, 0};
  void *handle = nullptr, *start = nullptr, *end = nullptr;
  bool ok = true;
  for (int i = 0; ok && i < 3; ++i)
    ok = check(a.memAlloc(&buffers[i], bytes), "cuMemAlloc (GEMM operand)",
               error);
  for (int i = 0; ok && i < 2; ++i) {
    std::vector<uint16_t> values = randomBf16(elements, 7 + i);
    ok = check(a.memcpyHtoD(buffers[i], values.data(), bytes),
               "cuMemcpyHtoD (GEMM operand)", error);
  }
  if (ok && (create(&handle) != 0 || setStream(handle, stream_) != 0)) {
    *error = "cublasCreate/cublasSetStream failed";
    ok = false;
  }
  ok = ok && check(a.eventCreate(&start, 0), "cuEventCreate", error) &&
       check(a.eventCreate(&end, 0), "cuEventCreate", error);
  const float alpha = 1.0f, beta = 0.0f;
  const int dim = static_cast<int>(n);
  float best = 1e30f;
  for (int rep = 0; ok && rep < 13; ++rep) {
    float ms = 0;
    ok = check(a.eventRecord(start, stream_), "cuEventRecord", error);
    if (ok) {
      int status = gemmEx(handle, kCublasOpN, kCublasOpN, dim, dim, dim,
                          &alpha, reinterpret_cast<void *>(buffers[0]),
                          kCudaR16BF, dim, reinterpret_cast<void *>(buffers[1]),
                          kCudaR16BF, dim, &beta,
                          reinterpret_cast<void *>(buffers[2]), kCudaR16BF,
                          dim, kCublasCompute32F, kCublasGemmDefault);
      if (status != 0) {
        *error = "cublasGemmEx failed with status " + std::to_string(status);
        ok = false;
      }
    }
    ok = ok && check(a.eventRecord(end, stream_), "cuEventRecord", error) &&
         check(a.eventSynchronize(end), "cuEventSynchronize", error) &&
         check(a.eventElapsedTime(&ms, start, end), "cuEventElapsedTime",
               error);
    if (ok && rep >= 3) // three warm-ups
      best = std::min(best, ms);
  }
  if (ok && best > 0) {
    double nn = double(n);
    peak->flops = 2.0 * nn * nn * nn / (double(best) * 1e-3);
    peak->flopsMethod = "cublasGemmEx bf16 in/out, f32 accumulate, n=" +
                        std::to_string(n) +
                        ", random operands, CUDA events, best of 10";
  }
  if (handle)
    destroy(handle);
  if (start)
    a.eventDestroy(start);
  if (end)
    a.eventDestroy(end);
  for (CUdeviceptr buffer : buffers)
    if (buffer)
      a.memFree(buffer);
  return ok;
}

Peak CudaDevice::measurePeak(size_t copyBytes, int64_t gemmSize,
                             const std::string &cublasPath) {
  Peak peak;
  std::string error;
  api_->ctxSetCurrent(context_);
  if (copyBytes == 0)
    peak.bandwidthMethod = "not measured (--peak-bytes 0)";
  else if (!copyPeak(copyBytes, &peak, &error))
    peak.bandwidthMethod = "not measured: " + error;
  if (gemmSize == 0)
    peak.flopsMethod = "not measured (--gemm-size 0)";
  else if (!gemmPeak(gemmSize, cublasPath, &peak, &error))
    peak.flopsMethod = "not measured: " + error;
  return peak;
}

bool CudaDevice::prepareFlush(size_t bytes, std::string *error) {
  flushBytes_ = (bytes + 3) / 4 * 4;
  if (flushBytes_ == 0)
    return true;
  return check(api_->ctxSetCurrent(context_), "cuCtxSetCurrent", error) &&
         check(api_->memAlloc(&flushBuffer_, flushBytes_),
               "cuMemAlloc (L2 flush buffer)", error);
}

bool CudaDevice::flush(std::string *error) {
  if (flushBuffer_ == 0)
    return true;
  static unsigned counter = 0;
  // A new value each time, so no cache could skip the writes.
  return check(api_->memsetD32Async(flushBuffer_, ++counter, flushBytes_ / 4,
                                    stream_),
               "cuMemsetD32Async (L2 flush)", error) &&
         check(api_->streamSynchronize(stream_), "cuStreamSynchronize", error);
}

} // namespace moec::bench
