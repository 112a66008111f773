//===- CudaArchTest.cpp - CUDA target rules and GPU artifact checks -------===//
//
// The compatibility rule and the grid math are pure functions, checked on
// tables written from NVIDIA's documented rules (not from the code); the
// loader tests build cubin artifacts with the FlatBuffers builder and check
// each verifier rule for GPU steps on its own.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cuda/Arch.h"
#include "test/unit/runtime/ArtifactBuilder.h"
#include "test/unit/runtime/CudaTestModels.h"
#include "test/unit/runtime/TestUtil.h"

#include <fstream>
#include <iterator>

namespace moert::test {
namespace {

using cuda::SmTarget;

TEST(CudaArch, ParsesRealArchitecturesOnly) {
  struct Case {
    const char *text;
    bool ok;
    int major, minor;
    char suffix;
  } cases[] = {
      {"sm_80", true, 8, 0, 0},   {"sm_86", true, 8, 6, 0},
      {"sm_89", true, 8, 9, 0},   {"sm_90a", true, 9, 0, 'a'},
      {"sm_90", true, 9, 0, 0},   {"sm_100f", true, 10, 0, 'f'},
      {"sm_120", true, 12, 0, 0}, {"sm_75", true, 7, 5, 0},
      {"host", false, 0, 0, 0},   {"sm_8", false, 0, 0, 0},
      {"sm_", false, 0, 0, 0},    {"sm_a", false, 0, 0, 0},
      {"compute_80", false, 0, 0, 0}, {"sm_80x", false, 0, 0, 0},
      {"sm_080", false, 0, 0, 0}, {"sm_1000", false, 0, 0, 0},
      {"SM_80", false, 0, 0, 0},  {"sm_8a0", false, 0, 0, 0},
  };
  for (const Case &c : cases) {
    SmTarget target;
    ASSERT_EQ(cuda::parseSmTarget(c.text, &target), c.ok) << c.text;
    if (!c.ok)
      continue;
    EXPECT_EQ(target.major, c.major) << c.text;
    EXPECT_EQ(target.minor, c.minor) << c.text;
    EXPECT_EQ(target.suffix, c.suffix) << c.text;
    EXPECT_EQ(cuda::smName(target), c.text);
  }
}

TEST(CudaArch, CubinCompatibilityTable) {
  // target, device major.minor, runs?
  struct Case {
    const char *target;
    int major, minor;
    bool runs;
  } cases[] = {
      {"sm_80", 8, 0, true},   {"sm_80", 8, 6, true},  {"sm_80", 8, 7, true},
      {"sm_80", 8, 9, true},   {"sm_80", 9, 0, false}, {"sm_80", 7, 5, false},
      {"sm_86", 8, 0, false},  {"sm_86", 8, 6, true},  {"sm_86", 8, 9, true},
      {"sm_89", 8, 6, false},  {"sm_89", 8, 9, true},  {"sm_89", 9, 0, false},
      {"sm_90", 9, 0, true},   {"sm_90", 10, 0, false},
      {"sm_90a", 9, 0, true},  {"sm_90a", 8, 0, false},
      {"sm_90a", 10, 0, false}, {"sm_90a", 9, 1, false},
      {"sm_100f", 10, 0, true}, {"sm_100f", 10, 3, true},
      {"sm_100f", 12, 0, false}, {"sm_100a", 10, 3, false},
  };
  for (const Case &c : cases) {
    SmTarget target;
    ASSERT_TRUE(cuda::parseSmTarget(c.target, &target)) << c.target;
    EXPECT_EQ(cuda::cubinRunsOn(target, c.major, c.minor), c.runs)
        << c.target << " on " << c.major << "." << c.minor;
  }
}

TEST(CudaArch, GridBlocksIsCeilDivOfAffineWork) {
  struct Case {
    GridDim dim;
    int64_t tokens;
    bool ok;
    int64_t blocks;
  } cases[] = {
      {{1, 0, 1}, 0, true, 1},           {{1, 0, 1}, 4096, true, 1},
      {{0, 16, 128}, 0, true, 0},        {{0, 16, 128}, 1, true, 1},
      {{0, 16, 128}, 8, true, 1},        {{0, 16, 128}, 9, true, 2},
      {{0, 16, 128}, 4096, true, 512},   {{5, 3, 4}, 1, true, 2},
      {{5, 3, 4}, 2, true, 3},           {{0, 1, 1}, 7, true, 7},
      {{64, 0, 64}, 100, true, 1},       {{65, 0, 64}, 100, true, 2},
      {{INT64_MAX, 0, 2}, 0, true, INT64_MAX / 2 + 1},
      {{INT64_MAX, 0, 1}, 0, true, INT64_MAX},
      {{1, INT64_MAX, 1}, 2, false, 0},  {{-1, 0, 1}, 0, false, 0},
      {{0, -1, 1}, 1, false, 0},         {{0, 1, 0}, 1, false, 0},
      {{0, 1, 1}, -1, false, 0},
  };
  for (const Case &c : cases) {
    int64_t blocks = -1;
    ASSERT_EQ(cuda::gridBlocks(c.dim, c.tokens, &blocks), c.ok)
        << c.dim.base << "+" << c.dim.perToken << "*" << c.tokens << " / "
        << c.dim.divisor;
    if (c.ok) {
      EXPECT_EQ(blocks, c.blocks)
          << c.dim.base << "+" << c.dim.perToken << "*" << c.tokens << " / "
          << c.dim.divisor;
      // Independent check: the smallest b with b*divisor >= work.
      __int128 work = c.dim.base + static_cast<__int128>(c.dim.perToken) * c.tokens;
      EXPECT_GE(static_cast<__int128>(blocks) * c.dim.divisor, work);
      EXPECT_LT(static_cast<__int128>(blocks - 1) * c.dim.divisor, work);
    }
  }
}

void expectLoadError(const ModelSpec &spec, moert_status_code_t code,
                     const std::string &text) {
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  EXPECT_FALSE(model);
  EXPECT_STATUS(*status, code, text);
}

TEST(CudaLoader, CubinArtifactLoadsAndIntrospects) {
  ModelSpec spec = cudaArenaModel(std::vector<float>(kHidden, 0.5f), "sm_90a");
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  EXPECT_STREQ(moert_model_target(model.get()), "sm_90a");
  EXPECT_EQ(moert_model_kernel_count(model.get()), 2u);
  EXPECT_EQ(moert_model_step_count(model.get()), 3u);
  // The 3-float pad weight and w.
  EXPECT_EQ(moert_model_weight_bytes(model.get()), (3 + kHidden) * sizeof(float));
  for (const char *target : {"sm_80", "sm_86", "sm_89"}) {
    spec.target = target;
    loadBuffer(buildFile(spec), &status);
    EXPECT_TRUE(status->ok()) << target << ": " << status->message();
  }
}

TEST(CudaLoader, AcceptsARealCubinAndRejectsItTruncated) {
#ifndef MOERT_REAL_CUBIN_PATH
  GTEST_SKIP() << "no nvcc at configure time";
#else
  std::ifstream file(MOERT_REAL_CUBIN_PATH, std::ios::binary);
  std::vector<uint8_t> cubin((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  ASSERT_GT(cubin.size(), 64u);
  ModelSpec spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binary = cubin;
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  EXPECT_TRUE(status->ok()) << status->message();
  spec.binary.resize(cubin.size() - 1);
  expectLoadError(spec, MOERT_DATA_LOSS, "lies outside the binary");
#endif
}

TEST(CudaLoader, TargetAndFormatMustAgree) {
  ModelSpec spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binaryFormat = "host-elf-so";
  expectLoadError(spec, MOERT_UNIMPLEMENTED,
                  "binary format 'host-elf-so' is not known for target "
                  "'sm_80' (expected 'cubin')");
  spec = addWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binaryFormat = "cubin";
  expectLoadError(spec, MOERT_UNIMPLEMENTED,
                  "binary format 'cubin' is not known for target 'host' "
                  "(expected 'host-elf-so')");
  spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.target = "compute_80";
  expectLoadError(spec, MOERT_UNIMPLEMENTED,
                  "target 'compute_80' is not supported by this runtime");
}

TEST(CudaLoader, CubinHeaderChecks) {
  ModelSpec spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binary.resize(40);
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "cubin is not a 64-bit little-endian ELF image");
  spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binary[18] = 62; // EM_X86_64
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "cubin is an ELF image for machine 62, not CUDA (190)");
  spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.binary[40] = 0x80; // e_shoff = 128 ...
  spec.binary[58] = 64;   // ... e_shentsize = 64
  spec.binary[60] = 4;    // ... e_shnum = 4: ends at 384
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "cubin section header table lies outside the binary");
}

TEST(CudaLoader, RejectsBadGpuGeometry) {
  auto base = [] { return cudaAddWeightModel(std::vector<float>(kHidden, 1.0f)); };
  ModelSpec spec = base();
  spec.steps[0].blockX = 0;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: block_x 0 is outside [1, 1024]");
  spec = base();
  spec.steps[0].blockX = 1025;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: block_x 1025 is outside");
  spec = base();
  spec.steps[0].gridX.divisor = 0;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0: grid_x (0 + 16*T) / 0 is invalid");
  spec = base();
  spec.steps[0].hasGridY = true;
  spec.steps[0].gridY = {-1, 0, 1};
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: grid_y (-1 + 0*T) / 1");
  spec = base();
  spec.steps[0].gridX.perToken = -16;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: grid_x (0 + -16*T)");
  spec = base();
  spec.steps[0].sharedBytes = 227 * 1024 + 1;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: shared_bytes 232449 exceeds 232448");
  spec = base();
  spec.steps[0].minTokens = 9;
  spec.steps[0].maxTokens = 8;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: token range [9, 8] is empty or negative");
  spec = base();
  spec.steps[0].minTokens = -1;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: token range [-1, -1] is empty or negative");
  spec = base();
  spec.steps[0].gpu = false; // no geometry at all
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0: a GPU step has no grid_x");
  spec = base();
  spec.steps[0].args.resize(24, {kInput, 0});
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0: 24 args, but a GPU kernel takes at most 23");
  spec = base();
  spec.steps[0].sharedBytes = 227 * 1024; // the limit itself is fine
  spec.steps[0].args.resize(23, {kInput, 0});
  std::unique_ptr<Status> status;
  loadBuffer(buildFile(spec), &status);
  EXPECT_TRUE(status->ok()) << status->message();
}

TEST(CudaLoader, HostStepsMustNotCarryGpuGeometry) {
  ModelSpec spec = addWeightModel(std::vector<float>(kHidden, 1.0f));
  spec.steps[0].gpu = true;
  spec.steps[0].blockX = 128;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0: a host step carries GPU launch geometry");
}

} // namespace
} // namespace moert::test
