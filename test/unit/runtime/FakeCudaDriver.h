//===- FakeCudaDriver.h - Control a fake libcuda in tests ------*- C++ -*-===//
//
// FakeCudaDriver.cpp builds a shared object that exports the CUDA driver
// entry points libmoert resolves, backed by host memory: cuMemAlloc is an
// aligned malloc, a "cubin" is an ELF header followed by
// "FAKECUBIN:name,name,...", and cuLaunchKernel runs a host emulation of
// the named test kernel (or records it while the stream is capturing, to
// be run by cuGraphLaunch); CUDA events read a virtual clock that kernels
// and copies advance by configured amounts. Tests point MOERT_LIBCUDA at it, dlopen the same
// path to reach this state (the loader returns the same instance), and so
// check the executor's launch sequence, arguments, grid math, graph cache,
// and error paths without a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TEST_UNIT_RUNTIME_FAKECUDADRIVER_H
#define MOEC_TEST_UNIT_RUNTIME_FAKECUDADRIVER_H

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace moert::test {

struct FakeLaunch {
  std::string kernel;
  unsigned gridX = 0, gridY = 0, blockX = 0, sharedBytes = 0;
  void *ptr[24] = {};
  long long tokens = 0;
  bool fromGraph = false; // run by cuGraphLaunch rather than directly
};

struct FakeCudaState {
  // --- configuration (reset() restores these defaults) ---
  int initResult = 0; // what cuInit returns
  int deviceCount = 1;
  int ccMajor = 8, ccMinor = 0;
  std::string deviceName = "Fake A100";
  size_t totalBytes = size_t(1) << 30;
  int maxSharedOptin = 163 * 1024; // as an A100
  int maxGridX = 2147483647, maxGridY = 65535;
  int failLaunchCall = -1; // cuLaunchKernel call number (0-based) to fail
  // A virtual device clock for CUDA events, so tests know the exact times a
  // correct use of events reports: every executed kernel advances it by
  // kernelMs, a host<->device copy by bytes / hostCopyBytesPerMs, a
  // device-to-device copy by 2 * bytes / deviceBytesPerMs (bytes read and
  // written, as a bandwidth test counts them), a memset by bytes /
  // deviceBytesPerMs.
  double kernelMs = 0.25;
  double hostCopyBytesPerMs = 1e6; // 1 GB/s
  double deviceBytesPerMs = 1e9;   // 1 TB/s

  // --- observations ---
  std::vector<FakeLaunch> launches; // in execution order
  int launchCalls = 0;              // cuLaunchKernel calls, captured or not
  int captures = 0, instantiations = 0, graphLaunches = 0;
  int graphExecDestroys = 0, graphDestroys = 0;
  std::vector<std::pair<std::string, int>> sharedOptIns; // cuFuncSetAttribute
  size_t allocatedBytes = 0;
  int liveAllocations = 0, liveModules = 0, liveStreams = 0, liveContexts = 0;
  int hostToDeviceCopies = 0, deviceToHostCopies = 0, deviceToDeviceCopies = 0;
  double clockMs = 0; // the virtual device clock
  int liveEvents = 0, eventRecords = 0;

  void reset() { *this = FakeCudaState(); }
};

} // namespace moert::test

/// Exported by the fake driver.
extern "C" moert::test::FakeCudaState *fake_cuda_state();

#endif // MOEC_TEST_UNIT_RUNTIME_FAKECUDADRIVER_H
