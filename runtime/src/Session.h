//===- Session.h - Sessions for host and CUDA artifacts --------*- C++ -*-===//

#ifndef MOERT_SRC_SESSION_H
#define MOERT_SRC_SESSION_H

#include "moert/moert.h"
#include "runtime/src/Model.h"
#include "runtime/src/Storage.h"
#include "runtime/src/cuda/Executor.h"
#include "runtime/src/host/SharedObject.h"

#include <memory>
#include <vector>

/// The host kernel ABI: returns 0 on success, nonzero on a data error.
using moert_host_kernel_fn = int32_t (*)(void *const *args, int64_t tokens);

struct moert_session_impl {
  std::shared_ptr<moert::Model> model;
  int64_t maxTokens = 0;
  /// Set for a CUDA artifact; the host members below are then unused.
  std::unique_ptr<moert::cuda::Executor> cuda;
  // --- host executor ---
  moert::host::SharedObject code;
  /// The entry point of each step (indexed by step, not by kernel).
  std::vector<moert_host_kernel_fn> stepFunctions;
  /// The pointer arguments of all steps back to back; step s uses
  /// argTable[argStart[s], argStart[s+1]). Weight pointers are filled at
  /// creation, the rest at each run, so a run allocates nothing.
  std::vector<void *> argTable;
  std::vector<size_t> argStart;
  moert::AlignedBlock arena;
  // --- timing (moert_session_enable_timing), both executors ---
  bool timing = false;
  /// Set by a successful run while timing is on; cleared when a run starts.
  bool haveTiming = false;
  moert_run_timing_t lastTiming{};
};

namespace moert {

struct SessionOptions {
  int64_t maxTokens = 4096;
  int cudaDevice = 0;
  bool cudaGraphs = true;
};

moert_status createSession(std::shared_ptr<Model> model,
                           const SessionOptions &options,
                           moert_session_impl **out);

moert_status outputDims(const moert_session_impl &session, size_t index,
                        int64_t tokens, int64_t *dims, int32_t capacity,
                        int32_t *outRank);

moert_status outputByteSize(const moert_session_impl &session, size_t index,
                            int64_t tokens, size_t *outBytes);

/// Turns recording of run times on or off (moert_session_enable_timing).
moert_status enableTiming(moert_session_impl &session, bool enable);

moert_status lastRunTiming(const moert_session_impl &session,
                           moert_run_timing_t *out);

moert_status runSession(moert_session_impl &session,
                        const moert_tensor_t *inputs, size_t inputCount,
                        moert_tensor_t *outputs, size_t outputCount);

} // namespace moert

#endif // MOERT_SRC_SESSION_H
