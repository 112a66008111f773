// The ptxas report parser on captured logs (NVRTC 13 / ptxas -v formats, and
// the older and warning forms), so the spill check cannot pass by parsing nothing.
#include "test/unit/cuda_kernels/PtxasLog.h"

#include <gtest/gtest.h>

namespace moec_test {
namespace {

const FunctionResources *find(const std::vector<FunctionResources> &fs, const std::string &name) {
  for (const FunctionResources &f : fs)
    if (f.name == name)
      return &f;
  return nullptr;
}

// Captured from NVRTC 13.0 (--ptxas-options=-v, sm_80), one clean kernel and
// one with a non-inlined device function, then a spilling kernel.
const char *kCapturedLog =
    "ptxas info    : 0 bytes gmem\n"
    "ptxas info    : Compiling entry function 'softmax_f32' for 'sm_80'\n"
    "ptxas info    : Function properties for softmax_f32\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 24 registers, used 0 barriers, 552 bytes cmem[0]\n"
    "ptxas info    : Compile time = 24.093 ms\n"
    "ptxas info    : Function properties for _ZN7moec_ck6detail6helperEv\n"
    "ptxas         .     8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Compiling entry function 'moe_permute_b1024' for 'sm_80'\n"
    "ptxas info    : Function properties for moe_permute_b1024\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 40 registers, used 1 barriers, 33028 bytes smem, 552 bytes cmem[0]\n"
    "ptxas info    : Compiling entry function 'spiller' for 'sm_90a'\n"
    "ptxas info    : Function properties for spiller\n"
    "    1024 bytes stack frame, 96 bytes spill stores, 128 bytes spill loads\n"
    "ptxas info    : Used 16 registers, used 0 barriers, 360 bytes cmem[0]\n";

TEST(PtxasLog, ParsesRegistersStackAndSpillsPerFunction) {
  const std::vector<FunctionResources> fs = parsePtxasLog(kCapturedLog);
  ASSERT_EQ(fs.size(), 4u);
  const FunctionResources *softmax = find(fs, "softmax_f32");
  ASSERT_NE(softmax, nullptr);
  EXPECT_TRUE(softmax->is_entry);
  EXPECT_EQ(softmax->arch, "sm_80");
  EXPECT_EQ(softmax->registers, 24);
  EXPECT_TRUE(softmax->has_properties);
  EXPECT_EQ(softmax->spill_store_bytes, 0);

  const FunctionResources *helper = find(fs, "_ZN7moec_ck6detail6helperEv");
  ASSERT_NE(helper, nullptr);
  EXPECT_FALSE(helper->is_entry);
  EXPECT_EQ(helper->stack_bytes, 8);
  EXPECT_EQ(helper->registers, -1);

  const FunctionResources *permute = find(fs, "moe_permute_b1024");
  ASSERT_NE(permute, nullptr);
  EXPECT_EQ(permute->registers, 40);

  const FunctionResources *spiller = find(fs, "spiller");
  ASSERT_NE(spiller, nullptr);
  EXPECT_EQ(spiller->arch, "sm_90a");
  EXPECT_EQ(spiller->registers, 16);
  EXPECT_EQ(spiller->stack_bytes, 1024);
  EXPECT_EQ(spiller->spill_store_bytes, 96);
  EXPECT_EQ(spiller->spill_load_bytes, 128);

  const std::vector<FunctionResources> spills = functionsWithSpills(fs);
  ASSERT_EQ(spills.size(), 1u);
  EXPECT_EQ(spills[0].name, "spiller");
}

TEST(PtxasLog, OlderFormatAndSpillWarnings) {
  // Pre-12 ptxas: no barrier count; -warn-spills names the function inline.
  const char *log = "ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_80'\n"
                    "ptxas info    : Function properties for _Z3fooPf\n"
                    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                    "ptxas info    : Used 255 registers, 352 bytes cmem[0]\n"
                    "ptxas warning : Registers are spilled to local memory in function '_Z3barv', "
                    "12 bytes spill stores, 4 bytes spill loads\r\n";
  const std::vector<FunctionResources> fs = parsePtxasLog(log);
  const FunctionResources *foo = find(fs, "_Z3fooPf");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->registers, 255);
  const FunctionResources *bar = find(fs, "_Z3barv");
  ASSERT_NE(bar, nullptr);
  EXPECT_EQ(bar->spill_store_bytes, 12);
  EXPECT_EQ(bar->spill_load_bytes, 4);
  EXPECT_EQ(functionsWithSpills(fs).size(), 1u);
}

TEST(PtxasLog, IgnoresUnrelatedText) {
  EXPECT_TRUE(parsePtxasLog("").empty());
  EXPECT_TRUE(parsePtxasLog("warning: something else\nUsed the registers\n\n").empty());
}

} // namespace
} // namespace moec_test
