//===- HostCpu.cpp - The x86-64 level a host artifact needs ---------------===//

#include "runtime/src/host/HostCpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MOERT_HOST_X86 1
#endif

namespace moert::host {
namespace {

const char *const kFeatureNames[kCpuFeatureCount] = {
    "sse3",    "ssse3",    "sse4.1",   "sse4.2",   "popcnt",   "cx16",
    "lahf_lm", "avx",      "avx2",     "bmi1",     "bmi2",     "f16c",
    "fma",     "lzcnt",    "movbe",    "osxsave",  "avx512f",  "avx512bw",
    "avx512cd", "avx512dq", "avx512vl"};

// The x86-64 psABI's levels, each adding to the one below.
constexpr uint32_t kV2 = kSse3 | kSsse3 | kSse41 | kSse42 | kPopcnt | kCx16 | kLahf;
constexpr uint32_t kV3 = kV2 | kAvx | kAvx2 | kBmi1 | kBmi2 | kF16c | kFma |
                         kLzcnt | kMovbe | kOsxsave;
constexpr uint32_t kV4 =
    kV3 | kAvx512f | kAvx512bw | kAvx512cd | kAvx512dq | kAvx512vl;

} // namespace

const char *cpuFeatureName(int index) {
  return index >= 0 && index < kCpuFeatureCount ? kFeatureNames[index] : "?";
}

const char *cpuLevelName(CpuLevel level) {
  switch (level) {
  case CpuLevel::Generic:
    return "generic";
  case CpuLevel::V2:
    return "x86-64-v2";
  case CpuLevel::V3:
    return "x86-64-v3";
  case CpuLevel::V4:
    return "x86-64-v4";
  }
  return "?";
}

bool parseCpuLevel(const std::string &text, CpuLevel *out) {
  for (CpuLevel level :
       {CpuLevel::Generic, CpuLevel::V2, CpuLevel::V3, CpuLevel::V4})
    if (text == cpuLevelName(level)) {
      *out = level;
      return true;
    }
  if (!text.empty())
    return false;
  *out = CpuLevel::Generic;
  return true;
}

uint32_t requiredFeatures(CpuLevel level) {
  switch (level) {
  case CpuLevel::Generic:
    return 0;
  case CpuLevel::V2:
    return kV2;
  case CpuLevel::V3:
    return kV3;
  case CpuLevel::V4:
    return kV4;
  }
  return ~0u;
}

std::vector<std::string> missingFeatures(CpuLevel level, uint32_t detected) {
  std::vector<std::string> missing;
  uint32_t lacking = requiredFeatures(level) & ~detected;
  for (int i = 0; i < kCpuFeatureCount; ++i)
    if (lacking & (1u << i))
      missing.push_back(kFeatureNames[i]);
  return missing;
}

CpuLevel bestCpuLevel(uint32_t detected) {
  for (CpuLevel level : {CpuLevel::V4, CpuLevel::V3, CpuLevel::V2})
    if ((requiredFeatures(level) & ~detected) == 0)
      return level;
  return CpuLevel::Generic;
}

std::string checkCpuLevel(CpuLevel level, uint32_t detected) {
  std::vector<std::string> missing = missingFeatures(level, detected);
  if (missing.empty())
    return "";
  std::string list;
  for (const std::string &name : missing)
    list += (list.empty() ? "" : ", ") + name;
  CpuLevel best = bestCpuLevel(detected);
  std::string advice =
      best == CpuLevel::Generic
          ? "recompile with --host-cpu generic"
          : std::string("recompile with --host-cpu ") + cpuLevelName(best) +
                " (the best it has) or generic";
  return std::string("the kernels were compiled for ") + cpuLevelName(level) +
         " (moec compile --host-cpu) and this CPU lacks " + list + ": " +
         advice;
}

uint32_t detectCpuFeatures() {
#ifdef MOERT_HOST_X86
  auto bit = [](unsigned reg, int index) { return ((reg >> index) & 1u) != 0; };
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
    return 0;
  uint32_t features = 0;
  auto set = [&](bool present, uint32_t feature) {
    if (present)
      features |= feature;
  };
  set(bit(ecx, 0), kSse3);
  set(bit(ecx, 9), kSsse3);
  set(bit(ecx, 12), kFma);
  set(bit(ecx, 13), kCx16);
  set(bit(ecx, 19), kSse41);
  set(bit(ecx, 20), kSse42);
  set(bit(ecx, 22), kMovbe);
  set(bit(ecx, 23), kPopcnt);
  set(bit(ecx, 29), kF16c);
  bool osxsave = bit(ecx, 27);
  set(osxsave, kOsxsave);
  bool avxCpu = bit(ecx, 28);
  // The OS must save the vector state too, or the first context switch
  // corrupts it: XCR0 bits 1-2 (XMM, YMM) for AVX, 5-7 (opmask, ZMM) for
  // AVX-512. XGETBV exists only when OSXSAVE is set.
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  bool ymmSaved = (xcr0 & 0x6) == 0x6;
  bool zmmSaved = ymmSaved && (xcr0 & 0xe0) == 0xe0;
  set(avxCpu && ymmSaved, kAvx);
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    set(bit(ebx, 3), kBmi1);
    set(bit(ebx, 5) && ymmSaved, kAvx2);
    set(bit(ebx, 8), kBmi2);
    set(bit(ebx, 16) && zmmSaved, kAvx512f);
    set(bit(ebx, 17) && zmmSaved, kAvx512dq);
    set(bit(ebx, 28) && zmmSaved, kAvx512cd);
    set(bit(ebx, 30) && zmmSaved, kAvx512bw);
    set(bit(ebx, 31) && zmmSaved, kAvx512vl);
  }
  if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx)) {
    set(bit(ecx, 0), kLahf);
    set(bit(ecx, 5), kLzcnt);
  }
  return features;
#else
  return 0;
#endif
}

} // namespace moert::host
