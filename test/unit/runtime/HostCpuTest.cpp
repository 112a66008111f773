//===- HostCpuTest.cpp - The x86-64 level check ---------------------------===//
//
// checkCpuLevel is a pure function of (required level, detected features),
// tested here on CPUs this machine is not; detection is compared with the
// compiler's own __builtin_cpu_supports where GCC 12+ offers every name.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/host/HostCpu.h"

#include "test/unit/runtime/ArtifactBuilder.h"
#include "test/unit/runtime/CudaTestModels.h"
#include "test/unit/runtime/TestUtil.h"

#include <gtest/gtest.h>

namespace moert::test {
namespace {

using namespace moert::host;

// Feature sets of real CPU generations (what CPUID reports with an OS that
// saves the vector state).
constexpr uint32_t kCore2 = kSse3 | kSsse3 | kCx16 | kLahf;
constexpr uint32_t kNehalem = kCore2 | kSse41 | kSse42 | kPopcnt;
constexpr uint32_t kSandyBridge = kNehalem | kAvx | kOsxsave;
constexpr uint32_t kHaswell = kSandyBridge | kAvx2 | kBmi1 | kBmi2 | kF16c |
                              kFma | kLzcnt | kMovbe;
constexpr uint32_t kSkylakeX =
    kHaswell | kAvx512f | kAvx512bw | kAvx512cd | kAvx512dq | kAvx512vl;

TEST(HostCpu, LevelsNestAndParse) {
  EXPECT_EQ(requiredFeatures(CpuLevel::Generic), 0u);
  EXPECT_EQ(requiredFeatures(CpuLevel::V2), kNehalem);
  EXPECT_EQ(requiredFeatures(CpuLevel::V3), kHaswell);
  EXPECT_EQ(requiredFeatures(CpuLevel::V4), kSkylakeX);
  for (CpuLevel level : {CpuLevel::Generic, CpuLevel::V2, CpuLevel::V3, CpuLevel::V4}) {
    CpuLevel parsed = CpuLevel::V4;
    ASSERT_TRUE(parseCpuLevel(cpuLevelName(level), &parsed));
    EXPECT_EQ(parsed, level);
  }
  CpuLevel parsed = CpuLevel::V4;
  EXPECT_TRUE(parseCpuLevel("", &parsed));
  EXPECT_EQ(parsed, CpuLevel::Generic);
  for (const char *bad : {"native", "x86-64-v5", "X86-64-V3", "x86-64", "haswell"})
    EXPECT_FALSE(parseCpuLevel(bad, &parsed)) << bad;
}

TEST(HostCpu, BestLevelOfEachGeneration) {
  EXPECT_EQ(bestCpuLevel(0), CpuLevel::Generic);
  EXPECT_EQ(bestCpuLevel(kCore2), CpuLevel::Generic);
  EXPECT_EQ(bestCpuLevel(kNehalem), CpuLevel::V2);
  EXPECT_EQ(bestCpuLevel(kSandyBridge), CpuLevel::V2);
  EXPECT_EQ(bestCpuLevel(kHaswell), CpuLevel::V3);
  EXPECT_EQ(bestCpuLevel(kSkylakeX), CpuLevel::V4);
  // A VM that hides one feature drops a level.
  EXPECT_EQ(bestCpuLevel(kSkylakeX & ~kAvx512vl), CpuLevel::V3);
  EXPECT_EQ(bestCpuLevel(kHaswell & ~kMovbe), CpuLevel::V2);
}

TEST(HostCpu, CheckNamesEveryMissingFeature) {
  EXPECT_EQ(checkCpuLevel(CpuLevel::Generic, 0), "");
  EXPECT_EQ(checkCpuLevel(CpuLevel::V3, kHaswell), "");
  EXPECT_EQ(checkCpuLevel(CpuLevel::V3, kSkylakeX), "");
  EXPECT_EQ(checkCpuLevel(CpuLevel::V3, kSandyBridge),
            "the kernels were compiled for x86-64-v3 (moec compile --host-cpu) "
            "and this CPU lacks avx2, bmi1, bmi2, f16c, fma, lzcnt, movbe: "
            "recompile with --host-cpu x86-64-v2 (the best it has) or generic");
  EXPECT_EQ(checkCpuLevel(CpuLevel::V4, kHaswell),
            "the kernels were compiled for x86-64-v4 (moec compile --host-cpu) "
            "and this CPU lacks avx512f, avx512bw, avx512cd, avx512dq, "
            "avx512vl: recompile with --host-cpu x86-64-v3 (the best it has) "
            "or generic");
  EXPECT_EQ(checkCpuLevel(CpuLevel::V2, kCore2),
            "the kernels were compiled for x86-64-v2 (moec compile --host-cpu) "
            "and this CPU lacks sse4.1, sse4.2, popcnt: recompile with "
            "--host-cpu generic");
  EXPECT_EQ(missingFeatures(CpuLevel::V3, kHaswell & ~kFma),
            std::vector<std::string>{"fma"});
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// GCC's runtime (libgcc's cpu model) is an independent reading of CPUID.
TEST(HostCpu, DetectionAgreesWithTheCompiler) {
  uint32_t detected = detectCpuFeatures();
  struct {
    uint32_t feature;
    bool gcc;
  } const table[] = {
      {kSse3, __builtin_cpu_supports("sse3") != 0},
      {kSsse3, __builtin_cpu_supports("ssse3") != 0},
      {kSse41, __builtin_cpu_supports("sse4.1") != 0},
      {kSse42, __builtin_cpu_supports("sse4.2") != 0},
      {kPopcnt, __builtin_cpu_supports("popcnt") != 0},
      {kCx16, __builtin_cpu_supports("cmpxchg16b") != 0},
      {kLahf, __builtin_cpu_supports("lahf_lm") != 0},
      {kAvx, __builtin_cpu_supports("avx") != 0},
      {kAvx2, __builtin_cpu_supports("avx2") != 0},
      {kBmi1, __builtin_cpu_supports("bmi") != 0},
      {kBmi2, __builtin_cpu_supports("bmi2") != 0},
      {kF16c, __builtin_cpu_supports("f16c") != 0},
      {kFma, __builtin_cpu_supports("fma") != 0},
      {kLzcnt, __builtin_cpu_supports("lzcnt") != 0},
      {kMovbe, __builtin_cpu_supports("movbe") != 0},
      {kOsxsave, __builtin_cpu_supports("osxsave") != 0},
      {kAvx512f, __builtin_cpu_supports("avx512f") != 0},
      {kAvx512bw, __builtin_cpu_supports("avx512bw") != 0},
      {kAvx512cd, __builtin_cpu_supports("avx512cd") != 0},
      {kAvx512dq, __builtin_cpu_supports("avx512dq") != 0},
      {kAvx512vl, __builtin_cpu_supports("avx512vl") != 0},
  };
  for (const auto &row : table) {
    int index = __builtin_ctz(row.feature);
    EXPECT_EQ((detected & row.feature) != 0, row.gcc) << cpuFeatureName(index);
  }
  CpuLevel expected = __builtin_cpu_supports("x86-64-v4")   ? CpuLevel::V4
                      : __builtin_cpu_supports("x86-64-v3") ? CpuLevel::V3
                      : __builtin_cpu_supports("x86-64-v2") ? CpuLevel::V2
                                                            : CpuLevel::Generic;
  EXPECT_EQ(bestCpuLevel(detected), expected);
}
#endif

// The artifact field: known levels load; anything else is refused at load,
// and a CUDA artifact must not carry it.
TEST(HostCpu, ArtifactFieldIsChecked) {
  std::vector<float> w(kHidden, 0.5f);
  ModelSpec spec = addWeightModel(w);
  spec.hostCpu = "x86-64-v9";
  std::unique_ptr<Status> status;
  EXPECT_EQ(loadBuffer(buildFile(spec), &status), nullptr);
  EXPECT_STATUS(*status, MOERT_UNIMPLEMENTED,
                "model.moe: host_cpu 'x86-64-v9' is not a level this runtime "
                "knows (generic, x86-64-v2, x86-64-v3, x86-64-v4)");
  spec.hostCpu = "generic";
  EXPECT_NE(loadBuffer(buildFile(spec), &status), nullptr) << status->message();
  ModelSpec cuda = cudaAddWeightModel(w);
  cuda.hostCpu = "x86-64-v3";
  EXPECT_EQ(loadBuffer(buildFile(cuda), &status), nullptr);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS,
                "model.moe: host_cpu 'x86-64-v3' is set on a sm_80 artifact "
                "(host targets only)");
}

// Session creation applies the check to this machine: the best level it has
// runs; a level above it (on a CPU without AVX-512) is refused, not run.
TEST(HostCpu, SessionCreationChecksThisCpu) {
  std::vector<float> w(kHidden, 0.5f);
  ModelSpec spec = addWeightModel(w);
  CpuLevel best = bestCpuLevel(detectCpuFeatures());
  spec.hostCpu = cpuLevelName(best);
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  ASSERT_NE(model, nullptr) << status->message();
  moert_session_t *session = nullptr;
  Status created(moert_session_create(model.get(), nullptr, &session));
  EXPECT_TRUE(created.ok()) << created.message();
  moert_session_release(session);
  if (best == CpuLevel::V4)
    GTEST_SKIP() << "this CPU has every level: no refusal to observe";
  spec.hostCpu = cpuLevelName(static_cast<CpuLevel>(static_cast<int>(best) + 1));
  model = loadBuffer(buildFile(spec), &status);
  ASSERT_NE(model, nullptr) << status->message();
  Status refused(moert_session_create(model.get(), nullptr, &session));
  EXPECT_STATUS(refused, MOERT_FAILED_PRECONDITION,
                "model.moe: the kernels were compiled for " + spec.hostCpu);
}

} // namespace
} // namespace moert::test
