//===- Arch.h - CUDA target names, compatibility, launch math --*- C++ -*-===//
//
// Pure functions (no driver needed) so that the rules that decide whether an
// artifact may run on a GPU, and how many blocks a step launches, are unit
// tested on tables on any machine.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_CUDA_ARCH_H
#define MOERT_SRC_CUDA_ARCH_H

#include "runtime/src/Model.h"

#include <cstdint>
#include <string>

namespace moert::cuda {

/// An NVCC/NVRTC real architecture: sm_<major><minor>[a|f].
struct SmTarget {
  int major = 0;
  int minor = 0;
  /// 0 for a plain target, 'a' for arch-specific (sm_90a: only CC 9.0),
  /// 'f' for family-specific (sm_100f: CC 10.x with x >= 0).
  char suffix = 0;
};

/// Parses "sm_80", "sm_90a", "sm_100f", "sm_120"; false for anything else
/// ("host", "sm_8", "compute_80", "sm_80x").
bool parseSmTarget(const std::string &text, SmTarget *out);

/// Whether a cubin built for `target` runs on a device of compute capability
/// major.minor. SASS is binary compatible forward within one major version
/// (a cubin for sm_80 runs on 8.0, 8.6, 8.7 and 8.9; never on 9.0), and
/// family-specific cubins follow the same rule; an arch-specific cubin
/// (sm_90a) uses instructions (wgmma, setmaxnreg) that only that exact
/// compute capability has, so it runs only there.
bool cubinRunsOn(const SmTarget &target, int major, int minor);

/// "sm_80", "sm_90a" for messages.
std::string smName(const SmTarget &target);
/// "sm_86" for a device of compute capability 8.6.
std::string smName(int major, int minor);

/// Blocks along one grid axis for `tokens` tokens:
/// ceil((base + perToken * tokens) / divisor). False on overflow or on an
/// invalid dim (negative parts, divisor < 1; the verifier rejects those).
bool gridBlocks(const GridDim &dim, int64_t tokens, int64_t *out);

/// Limits the verifier enforces on GPU steps.
inline constexpr uint32_t kMaxBlockThreads = 1024;
/// 227 KiB: the largest opt-in dynamic shared memory of any supported GPU
/// (sm_90); smaller GPUs are checked against their own limit at session
/// creation.
inline constexpr uint32_t kMaxSharedBytes = 227 * 1024;
/// Slots of the kernel argument struct; the last is the status word.
inline constexpr size_t kArgSlots = 24;
inline constexpr size_t kStatusSlot = kArgSlots - 1;

} // namespace moert::cuda

#endif // MOERT_SRC_CUDA_ARCH_H
