//===- Executor.h - Run a cubin artifact on one GPU ------------*- C++ -*-===//
//
// Everything a run needs is made at creation: the driver, the primary
// context of the chosen device, the module and its functions, one device
// allocation for the weights (uploaded once) and one for the activations
// (the 4-byte status word, a staging buffer per input and output sized for
// max_tokens, and the arena), a stream, and an LRU cache of CUDA graphs keyed
// by the token count. A run copies the inputs in, launches the steps (the
// graph for this T, captured on the first run at T), copies the outputs out,
// synchronizes and checks the status word.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_CUDA_EXECUTOR_H
#define MOERT_SRC_CUDA_EXECUTOR_H

#include "moert/moert.h"
#include "runtime/src/Model.h"
#include "runtime/src/cuda/Arch.h"
#include "runtime/src/cuda/Driver.h"

#include <array>
#include <memory>
#include <vector>

namespace moert::cuda {

struct ExecutorOptions {
  int64_t maxTokens = 0;
  int device = 0;
  bool graphs = true;
};

/// The kernel parameter of every moec GPU kernel, passed by value.
struct LaunchArgs {
  void *ptr[kArgSlots];
  long long tokens;
};
static_assert(sizeof(LaunchArgs) == 200, "must match moec_cuda_args");

class Executor {
public:
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;
  ~Executor();

  /// Messages are not prefixed with the model name.
  static moert_status create(std::shared_ptr<const Model> model,
                             const ExecutorOptions &options,
                             std::unique_ptr<Executor> *out);

  /// `inputs`/`outputs` are already checked against the signature for
  /// `tokens` (0 <= tokens <= max_tokens). Messages are not prefixed.
  moert_status run(const moert_tensor_t *inputs, moert_tensor_t *outputs,
                   int64_t tokens);

  /// Creates the timing events (once); runs record them only while
  /// setTiming(true). Messages are not prefixed.
  moert_status enableTiming();
  void setTiming(bool on) { timing_ = on && events_[0] != nullptr; }
  /// The times of the last successful run while timing was on.
  void lastTiming(double *stepsMs, double *totalMs) const {
    *stepsMs = lastStepsMs_;
    *totalMs = lastTotalMs_;
  }

  /// The number of graphs kept, at most kGraphCacheSize.
  static constexpr size_t kGraphCacheSize = 16;

private:
  Executor() = default;

  struct GraphEntry {
    int64_t tokens = -1;
    CUgraphExec exec = nullptr;
    uint64_t lastUse = 0;
  };

  moert_status openDevice(int ordinal);
  moert_status loadModule();
  moert_status allocateMemory();
  moert_status cudaError(const std::string &what, CUresult result) const;

  /// Fills launchArgs_ for T and launches (or, while capturing, records)
  /// steps [first, last).
  moert_status launchSteps(int64_t tokens, size_t first, size_t last);
  moert_status launchWithGraph(int64_t tokens);
  moert_status captureGraph(int64_t tokens, CUgraphExec *out);
  /// After a run left a nonzero status word: re-runs the steps one by one,
  /// checking the word after each, to name the step that set it.
  moert_status diagnoseKernelError(int64_t tokens, int code);
  moert_status readStatusWord(int *out);
  /// Records timing event `index` on the stream when timing is on.
  moert_status recordEvent(int index);
  /// Reads the times of the events of a finished run.
  moert_status readTimes();

  std::shared_ptr<const Model> model_;
  ExecutorOptions options_;
  Driver driver_;
  CUdevice device_ = 0;
  std::string deviceName_;
  CUcontext context_ = nullptr;
  CUmodule module_ = nullptr;
  CUstream stream_ = nullptr;
  std::vector<CUfunction> stepFunctions_;
  CUdeviceptr weights_ = 0;
  CUdeviceptr activations_ = 0;
  CUdeviceptr statusWord_ = 0;
  std::vector<CUdeviceptr> inputBuffers_, outputBuffers_;
  CUdeviceptr arena_ = 0;
  /// One argument struct per step; weight slots are filled at creation.
  std::vector<LaunchArgs> launchArgs_;
  std::array<GraphEntry, kGraphCacheSize> graphs_{};
  uint64_t useCounter_ = 0;
  int hostStatusWord_ = 0;
  /// Timing: [0] before the input copies, [1] before the steps (after a
  /// graph's capture, which is host work), [2] after the steps, [3] after
  /// the output copies. All outside any graph.
  enum { kEventRunStart, kEventStepsStart, kEventStepsEnd, kEventRunEnd,
         kEventCount };
  std::array<CUevent, kEventCount> events_{};
  bool timing_ = false;
  double lastStepsMs_ = 0, lastTotalMs_ = 0;
};

} // namespace moert::cuda

#endif // MOERT_SRC_CUDA_EXECUTOR_H
