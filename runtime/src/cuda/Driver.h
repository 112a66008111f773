//===- Driver.h - The CUDA driver API, loaded at run time ------*- C++ -*-===//
//
// libmoert never links libcuda: a host-only deployment (no NVIDIA driver)
// must load and run host artifacts. A session for a cubin artifact dlopens
// the driver (libcuda.so.1, or the path in the MOERT_LIBCUDA environment
// variable) and resolves the entry points below by their exported, versioned
// names. The types are declared here, ABI-identical to cuda.h, so that the
// runtime builds without the CUDA toolkit.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_CUDA_DRIVER_H
#define MOERT_SRC_CUDA_DRIVER_H

#include "moert/moert.h"

#include <cstddef>
#include <string>

namespace moert::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUevent = struct CUevent_st *;

// The values of cuda.h that the executor uses.
inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
inline constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
inline constexpr int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5;
inline constexpr int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
inline constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
inline constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
inline constexpr int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
inline constexpr unsigned CU_EVENT_DEFAULT = 0; // timing enabled
/// Dynamic shared memory a kernel may use without opting in.
inline constexpr unsigned kDefaultSharedBytes = 48 * 1024;

/// The driver entry points, resolved by dlsym. Names in comments are the
/// exported symbols: cuda.h maps e.g. cuMemAlloc to cuMemAlloc_v2, and the
/// unsuffixed exports keep older ABIs (32-bit sizes, capture without mode)
/// that must not be called with today's arguments.
struct DriverApi {
  CUresult (*init)(unsigned flags);                       // cuInit
  CUresult (*driverGetVersion)(int *version);             // cuDriverGetVersion
  CUresult (*getErrorName)(CUresult, const char **);      // cuGetErrorName
  CUresult (*getErrorString)(CUresult, const char **);    // cuGetErrorString
  CUresult (*deviceGetCount)(int *count);                 // cuDeviceGetCount
  CUresult (*deviceGet)(CUdevice *device, int ordinal);   // cuDeviceGet
  CUresult (*deviceGetName)(char *name, int length, CUdevice); // cuDeviceGetName
  CUresult (*deviceGetAttribute)(int *value, int attribute,
                                 CUdevice);               // cuDeviceGetAttribute
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);    // cuDevicePrimaryCtxRetain
  CUresult (*primaryCtxRelease)(CUdevice);                // cuDevicePrimaryCtxRelease_v2
  CUresult (*ctxSetCurrent)(CUcontext);                   // cuCtxSetCurrent
  CUresult (*moduleLoadData)(CUmodule *, const void *image); // cuModuleLoadData
  CUresult (*moduleUnload)(CUmodule);                     // cuModuleUnload
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule,
                                const char *name);        // cuModuleGetFunction
  CUresult (*funcSetAttribute)(CUfunction, int attribute,
                               int value);                // cuFuncSetAttribute
  CUresult (*memGetInfo)(size_t *free, size_t *total);    // cuMemGetInfo_v2
  CUresult (*memAlloc)(CUdeviceptr *, size_t bytes);      // cuMemAlloc_v2
  CUresult (*memFree)(CUdeviceptr);                       // cuMemFree_v2
  CUresult (*memcpyHtoD)(CUdeviceptr, const void *, size_t); // cuMemcpyHtoD_v2
  CUresult (*memcpyHtoDAsync)(CUdeviceptr, const void *, size_t,
                              CUstream);                  // cuMemcpyHtoDAsync_v2
  CUresult (*memcpyDtoHAsync)(void *, CUdeviceptr, size_t,
                              CUstream);                  // cuMemcpyDtoHAsync_v2
  CUresult (*memsetD32Async)(CUdeviceptr, unsigned value, size_t count,
                             CUstream);                   // cuMemsetD32Async
  CUresult (*streamCreate)(CUstream *, unsigned flags);   // cuStreamCreate
  CUresult (*streamDestroy)(CUstream);                    // cuStreamDestroy_v2
  CUresult (*streamSynchronize)(CUstream);                // cuStreamSynchronize
  CUresult (*launchKernel)(CUfunction, unsigned gridX, unsigned gridY,
                           unsigned gridZ, unsigned blockX, unsigned blockY,
                           unsigned blockZ, unsigned sharedBytes, CUstream,
                           void **params, void **extra);  // cuLaunchKernel
  CUresult (*streamBeginCapture)(CUstream, int mode);     // cuStreamBeginCapture_v2
  CUresult (*streamEndCapture)(CUstream, CUgraph *);      // cuStreamEndCapture
  CUresult (*graphInstantiate)(CUgraphExec *, CUgraph,
                               unsigned long long flags); // cuGraphInstantiateWithFlags
  CUresult (*graphLaunch)(CUgraphExec, CUstream);         // cuGraphLaunch
  CUresult (*graphExecDestroy)(CUgraphExec);              // cuGraphExecDestroy
  CUresult (*graphDestroy)(CUgraph);                      // cuGraphDestroy
  // Timing (moert_session_enable_timing).
  CUresult (*eventCreate)(CUevent *, unsigned flags);     // cuEventCreate
  CUresult (*eventRecord)(CUevent, CUstream);             // cuEventRecord
  CUresult (*eventElapsedTime)(float *ms, CUevent start,
                               CUevent end); // cuEventElapsedTime_v2, else cuEventElapsedTime
  CUresult (*eventDestroy)(CUevent);                      // cuEventDestroy_v2
};

/// A loaded driver library. dlopen'd with RTLD_NODELETE: the driver keeps
/// process-wide state (contexts, threads) that must not be unmapped, so the
/// library stays loaded after the last session is released.
class Driver {
public:
  Driver() = default;
  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

  /// Loads the driver and resolves every entry point, then calls cuInit.
  /// FAILED_PRECONDITION when there is no driver, it is too old, or cuInit
  /// fails (no device). Messages do not include the model name.
  moert_status load();

  const DriverApi &api() const { return api_; }
  /// "libcuda.so.1" or the MOERT_LIBCUDA path.
  const std::string &path() const { return path_; }
  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(CUresult result) const;
  /// "CUDA 12.4", from cuDriverGetVersion.
  std::string versionText() const;

private:
  void *library_ = nullptr;
  std::string path_;
  DriverApi api_{};
};

} // namespace moert::cuda

#endif // MOERT_SRC_CUDA_DRIVER_H
