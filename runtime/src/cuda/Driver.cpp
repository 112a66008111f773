//===- Driver.cpp - Load the CUDA driver API with dlopen ------------------===//

#include "runtime/src/cuda/Driver.h"

#include "runtime/src/Status.h"

#include <cstdlib>
#include <dlfcn.h>

namespace moert::cuda {
namespace {

constexpr const char *kDefaultLibrary = "libcuda.so.1";
constexpr const char *kLibraryOverride = "MOERT_LIBCUDA";

struct Entry {
  const char *symbol;
  void **slot;
};

template <typename Fn> void **slotOf(Fn *pointer) {
  return reinterpret_cast<void **>(pointer);
}

moert_status precondition(std::string message) {
  return makeStatus(MOERT_FAILED_PRECONDITION, std::move(message));
}

} // namespace

moert_status Driver::load() {
  const char *override = std::getenv(kLibraryOverride);
  bool overridden = override != nullptr && override[0] != '\0';
  path_ = overridden ? override : kDefaultLibrary;
  library_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library_ == nullptr) {
    const char *reason = dlerror();
    std::string detail = reason ? reason : "unknown dlopen error";
    if (overridden)
      return precondition("cannot load the CUDA driver '" + path_ +
                          "' named by " + kLibraryOverride + ": " + detail);
    return precondition(path_ + " not found: no NVIDIA driver on this "
                                "machine (dlopen: " +
                        detail + ")");
  }

  DriverApi &a = api_;
  const Entry entries[] = {
      {"cuInit", slotOf(&a.init)},
      {"cuDriverGetVersion", slotOf(&a.driverGetVersion)},
      {"cuGetErrorName", slotOf(&a.getErrorName)},
      {"cuGetErrorString", slotOf(&a.getErrorString)},
      {"cuDeviceGetCount", slotOf(&a.deviceGetCount)},
      {"cuDeviceGet", slotOf(&a.deviceGet)},
      {"cuDeviceGetName", slotOf(&a.deviceGetName)},
      {"cuDeviceGetAttribute", slotOf(&a.deviceGetAttribute)},
      {"cuDevicePrimaryCtxRetain", slotOf(&a.primaryCtxRetain)},
      {"cuDevicePrimaryCtxRelease_v2", slotOf(&a.primaryCtxRelease)},
      {"cuCtxSetCurrent", slotOf(&a.ctxSetCurrent)},
      {"cuModuleLoadData", slotOf(&a.moduleLoadData)},
      {"cuModuleUnload", slotOf(&a.moduleUnload)},
      {"cuModuleGetFunction", slotOf(&a.moduleGetFunction)},
      {"cuFuncSetAttribute", slotOf(&a.funcSetAttribute)},
      {"cuMemGetInfo_v2", slotOf(&a.memGetInfo)},
      {"cuMemAlloc_v2", slotOf(&a.memAlloc)},
      {"cuMemFree_v2", slotOf(&a.memFree)},
      {"cuMemcpyHtoD_v2", slotOf(&a.memcpyHtoD)},
      {"cuMemcpyHtoDAsync_v2", slotOf(&a.memcpyHtoDAsync)},
      {"cuMemcpyDtoHAsync_v2", slotOf(&a.memcpyDtoHAsync)},
      {"cuMemsetD32Async", slotOf(&a.memsetD32Async)},
      {"cuStreamCreate", slotOf(&a.streamCreate)},
      {"cuStreamDestroy_v2", slotOf(&a.streamDestroy)},
      {"cuStreamSynchronize", slotOf(&a.streamSynchronize)},
      {"cuLaunchKernel", slotOf(&a.launchKernel)},
      {"cuStreamBeginCapture_v2", slotOf(&a.streamBeginCapture)},
      {"cuStreamEndCapture", slotOf(&a.streamEndCapture)},
      // Present since CUDA 11.4; cuda.h 12+ maps cuGraphInstantiate to it.
      {"cuGraphInstantiateWithFlags", slotOf(&a.graphInstantiate)},
      {"cuGraphLaunch", slotOf(&a.graphLaunch)},
      {"cuGraphExecDestroy", slotOf(&a.graphExecDestroy)},
      {"cuGraphDestroy", slotOf(&a.graphDestroy)},
      {"cuEventCreate", slotOf(&a.eventCreate)},
      {"cuEventRecord", slotOf(&a.eventRecord)},
      {"cuEventDestroy_v2", slotOf(&a.eventDestroy)},
  };
  for (const Entry &entry : entries) {
    *entry.slot = dlsym(library_, entry.symbol);
    if (*entry.slot == nullptr)
      return precondition("the CUDA driver " + path_ + " lacks " +
                          entry.symbol +
                          " (a driver for CUDA 12 or newer is required)");
  }

  // cuda.h 12.8+ maps cuEventElapsedTime to the _v2 export (same
  // signature); older drivers have only the unsuffixed one.
  a.eventElapsedTime = reinterpret_cast<decltype(a.eventElapsedTime)>(
      dlsym(library_, "cuEventElapsedTime_v2"));
  if (a.eventElapsedTime == nullptr)
    a.eventElapsedTime = reinterpret_cast<decltype(a.eventElapsedTime)>(
        dlsym(library_, "cuEventElapsedTime"));
  if (a.eventElapsedTime == nullptr)
    return precondition("the CUDA driver " + path_ +
                        " lacks cuEventElapsedTime (a driver for CUDA 12 or "
                        "newer is required)");

  CUresult result = api_.init(0);
  if (result != CUDA_SUCCESS)
    return precondition(
        std::string(result == CUDA_ERROR_NO_DEVICE ? "no CUDA GPU: " : "") +
        "cuInit failed with " + describe(result) + " (driver " + path_ + ")");
  return nullptr;
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (api_.getErrorName == nullptr ||
      api_.getErrorName(result, &name) != CUDA_SUCCESS || name == nullptr)
    return "CUDA error " + std::to_string(result);
  std::string description = name;
  if (api_.getErrorString(result, &text) == CUDA_SUCCESS && text != nullptr)
    description += std::string(" (") + text + ")";
  return description;
}

std::string Driver::versionText() const {
  int version = 0;
  if (api_.driverGetVersion == nullptr ||
      api_.driverGetVersion(&version) != CUDA_SUCCESS)
    return "CUDA ?";
  return "CUDA " + std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

} // namespace moert::cuda
