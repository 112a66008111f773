// Compiles moec_ck::self_attention (instantiated by
// instantiate_self_attention.cu for f32/f16/bf16 and five head-size pairs)
// with NVRTC for sm_80, sm_89 and sm_90a, and checks what the CUDA back end
// needs: a cubin, every expected kernel in it, no register spills, and the
// static shared memory of the K/V stage within 32 KB (of the 48 KB every target allows
// without opting in). Nothing runs (no GPU here); the numerics are the host
// kernel's, tested in test/unit/host_kernels/SelfAttentionKernelsTest.cpp.
#include "test/unit/cuda_kernels/NvrtcCompile.h"
#include "test/unit/cuda_kernels/PtxasLog.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace moec_test {
namespace {

std::set<std::string> expectedKernels() {
  std::set<std::string> names;
  for (const char *t : {"f32", "f16", "bf16"})
    for (const char *dims : {"_d16_dv8", "_d64_dv64", "_d128_dv128", "_d192_dv128", "_d256_dv256"})
      names.insert(std::string("self_attention_") + t + dims);
  return names;
}

class SelfAttentionCompile : public ::testing::TestWithParam<std::string> {};

TEST_P(SelfAttentionCompile, EmitsCubinWithNoSpillsAndStageWithin32K) {
  const std::string kernels = readTextFile(MOEC_CUDA_KERNELS_HEADER);
  const std::string attention = readTextFile(MOEC_CUDA_ATTENTION_HEADER);
  const std::string source = readTextFile(MOEC_CUDA_SELF_ATTENTION_INSTANTIATIONS);
  ASSERT_FALSE(kernels.empty() || attention.empty() || source.empty());
  const std::string arch = GetParam();
  const NvrtcResult r = compileWithNvrtc(
      source, "instantiate_self_attention.cu", arch,
      {{"moec_cuda_kernels.cuh", kernels}, {"moec_cuda_attention.cuh", attention}},
      {"-std=c++17", "--ptxas-options=-v", "-I" MOEC_CUDA_INCLUDE_DIR});
  ASSERT_TRUE(r.ok) << r.error << "\n" << r.log;
  ASSERT_GE(r.cubin.size(), 4u);
  EXPECT_EQ(std::string(r.cubin.data(), 4), "\x7f" "ELF");
  const std::vector<std::string> entries = ptxEntries(r.ptx);
  EXPECT_EQ(std::set<std::string>(entries.begin(), entries.end()), expectedKernels());
  for (const FunctionResources &f : functionsWithSpills(parsePtxasLog(r.log)))
    ADD_FAILURE() << arch << ": " << f.name << " spills: " << f.spill_store_bytes
                  << " bytes stored, " << f.spill_load_bytes << " bytes loaded";
  // ptxas: "Used N registers, ... M bytes smem": the stage is f32 K and V rows
  // sized to 32 KB at most (SelfAttentionStage).
  const std::regex smem("([0-9]+) bytes smem");
  int seen = 0;
  for (auto it = std::sregex_iterator(r.log.begin(), r.log.end(), smem);
       it != std::sregex_iterator(); ++it, ++seen)
    EXPECT_LE(std::stol((*it)[1]), 32768) << arch << ": " << it->str();
  EXPECT_EQ(seen, static_cast<int>(expectedKernels().size())) << r.log;
}

INSTANTIATE_TEST_SUITE_P(Targets, SelfAttentionCompile,
                         ::testing::Values("sm_80", "sm_89", "sm_90a"),
                         [](const ::testing::TestParamInfo<std::string> &info) { return info.param; });

} // namespace
} // namespace moec_test
