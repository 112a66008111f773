//===- HostCpu.h - The x86-64 level a host artifact needs ------*- C++ -*-===//
//
// A host artifact's kernels are compiled for one x86-64 micro-architecture
// level (moec compile --host-cpu; Model.host_cpu in the artifact). Running
// them on a CPU without that level's instructions would die of SIGILL in
// the middle of a run, so session creation checks first and refuses with
// the missing features named.
//
// The rule is a pure function of (required level, detected features), so
// it is unit tested on tables for CPUs this machine is not; detection is
// CPUID/XGETBV read once.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_HOST_HOSTCPU_H
#define MOERT_SRC_HOST_HOSTCPU_H

#include <cstdint>
#include <string>
#include <vector>

namespace moert::host {

/// The x86-64 psABI micro-architecture levels. Generic is the x86-64
/// baseline (SSE2), which every x86-64 CPU has.
enum class CpuLevel : uint8_t { Generic, V2, V3, V4 };

/// One bit per feature a level requires.
enum CpuFeature : uint32_t {
  kSse3 = 1u << 0,
  kSsse3 = 1u << 1,
  kSse41 = 1u << 2,
  kSse42 = 1u << 3,
  kPopcnt = 1u << 4,
  kCx16 = 1u << 5,
  kLahf = 1u << 6,
  kAvx = 1u << 7, // with the OS saving YMM state (OSXSAVE, XCR0)
  kAvx2 = 1u << 8,
  kBmi1 = 1u << 9,
  kBmi2 = 1u << 10,
  kF16c = 1u << 11,
  kFma = 1u << 12,
  kLzcnt = 1u << 13,
  kMovbe = 1u << 14,
  kOsxsave = 1u << 15,
  kAvx512f = 1u << 16, // with the OS saving ZMM and mask state
  kAvx512bw = 1u << 17,
  kAvx512cd = 1u << 18,
  kAvx512dq = 1u << 19,
  kAvx512vl = 1u << 20,
};
inline constexpr int kCpuFeatureCount = 21;

/// The name of feature bit `index` as /proc/cpuinfo and compilers spell it
/// ("sse4.1", "avx2", "avx512f", ...).
const char *cpuFeatureName(int index);

/// "generic", "x86-64-v2", "x86-64-v3", "x86-64-v4".
const char *cpuLevelName(CpuLevel level);

/// Parses what an artifact records: "" and "generic" are Generic; false for
/// anything else.
bool parseCpuLevel(const std::string &text, CpuLevel *out);

/// Every feature `level` requires (levels include the ones below them).
uint32_t requiredFeatures(CpuLevel level);

/// The names of the features `level` requires that `detected` lacks, in a
/// fixed order; empty when the CPU can run the level.
std::vector<std::string> missingFeatures(CpuLevel level, uint32_t detected);

/// The highest level whose features are all in `detected`.
CpuLevel bestCpuLevel(uint32_t detected);

/// This CPU's features (CPUID and XGETBV); 0 on a CPU that is not x86-64.
uint32_t detectCpuFeatures();

/// "" when a CPU with `detected` features runs kernels compiled for
/// `level`; otherwise the one-line refusal, e.g. "the kernels were compiled
/// for x86-64-v3 (moec compile --host-cpu) and this CPU lacks avx2, bmi2,
/// fma: recompile with --host-cpu x86-64-v2 (the best it has) or generic".
std::string checkCpuLevel(CpuLevel level, uint32_t detected);

} // namespace moert::host

#endif // MOERT_SRC_HOST_HOSTCPU_H
