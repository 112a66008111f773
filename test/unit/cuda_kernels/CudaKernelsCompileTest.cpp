// Compiles every template of compiler/cuda/kernels/moec_cuda_kernels.cuh
// (instantiated by instantiate_all.cu) with NVRTC for each moec target
// architecture, and checks the result the way moec's CUDA back end will use
// it: a cubin comes out, every expected kernel is in it, and ptxas reports
// no register spills for any of them.
#include "test/unit/cuda_kernels/NvrtcCompile.h"
#include "test/unit/cuda_kernels/PtxasLog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

namespace moec_test {
namespace {

// The kernel names instantiate_all.cu defines: a kernel that silently drops
// out of the file (a macro edit) fails the test.
std::set<std::string> expectedKernels() {
  std::set<std::string> names{"copy_bytes_b256", "moe_permute_b1024", "moe_permute_b256"};
  for (const char *t : {"f32", "f16", "bf16"})
    for (const char *k : {"rms_norm", "rms_norm_residual", "softmax", "softmax_inner", "topk", "batch_matmul", "moe_route_softmax_topk",
                          "moe_route_sigmoid", "moe_route_linear", "moe_combine"})
      names.insert(std::string(k) + "_" + t);
  for (const char *t : {"f32", "f16", "bf16", "i64", "i32"})
    for (const char *k : {"reduce", "scatter_elements_reduce"})
      names.insert(std::string(k) + "_" + t);
  for (const char *t : {"f32", "f16", "bf16", "i64", "i32", "bool"}) {
    for (const char *k : {"transpose", "concat", "slice"})
      names.insert(std::string(k) + "_" + t);
    for (const char *k : {"gather", "gather_elements", "scatter_elements"})
      for (const char *i : {"i64", "i32"})
        names.insert(std::string(k) + "_" + t + "_" + i);
  }
  for (const char *t : {"f32", "f64", "i64", "i32"})
    names.insert(std::string("range_") + t);
  for (const char *t : {"f32", "f16", "bf16", "f64", "i64", "i32"})
    names.insert(std::string("cumsum_") + t);
  for (const char *t : {"f32", "f16", "bf16", "i64", "i32", "bool"})
    for (const char *i : {"i64", "i32"})
      names.insert(std::string("scatter_nd_") + t + "_" + i);
  for (const char *tc : {"f32_f32", "f16_f32", "f16_f16", "bf16_f32", "bf16_bf16"}) {
    names.insert(std::string("attention_kv_append_") + tc);
    names.insert(std::string("rotary_") + tc);
    for (const char *hd : {"_hd64", "_hd128"})
      names.insert(std::string("attention_") + tc + hd);
  }
  names.insert("attention_f16_f32_hd80");
  names.insert("attention_f32_f32_hd8");
  return names;
}

std::vector<std::string> nvrtcOptions() {
  return {"-std=c++17", "--ptxas-options=-v", "-I" MOEC_CUDA_INCLUDE_DIR};
}

// Each test compiles its own architecture: ctest runs every test in its own
// process, so a shared set-up would compile all four architectures four times.
class CudaKernelsCompile : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaKernelsCompile, EmitsCubinWithEveryKernelAndNoSpills) {
  const std::string header = readTextFile(MOEC_CUDA_KERNELS_HEADER);
  const std::string source = readTextFile(MOEC_CUDA_INSTANTIATIONS);
  const std::string normHeader = readTextFile(MOEC_CUDA_NORM_HEADER);
  const std::string attentionHeader = readTextFile(MOEC_CUDA_ATTENTION_HEADER);
  ASSERT_FALSE(header.empty()) << "cannot read " << MOEC_CUDA_KERNELS_HEADER;
  ASSERT_FALSE(normHeader.empty()) << "cannot read " << MOEC_CUDA_NORM_HEADER;
  ASSERT_FALSE(attentionHeader.empty()) << "cannot read " << MOEC_CUDA_ATTENTION_HEADER;
  ASSERT_FALSE(source.empty()) << "cannot read " << MOEC_CUDA_INSTANTIATIONS;
  const std::string arch = GetParam();
  const NvrtcResult r = compileWithNvrtc(source, "instantiate_all.cu", arch,
                                         {{"moec_cuda_kernels.cuh", header},
                                          {"moec_cuda_norm.cuh", normHeader},
                                          {"moec_cuda_attention.cuh", attentionHeader}},
                                         nvrtcOptions());
  ASSERT_TRUE(r.ok) << r.error << "\n" << r.log;
  // A cubin is an ELF image.
  ASSERT_GE(r.cubin.size(), 4u);
  EXPECT_EQ(std::string(r.cubin.data(), 4), "\x7f" "ELF");

  const std::vector<std::string> entries = ptxEntries(r.ptx);
  const std::set<std::string> expected = expectedKernels();
  EXPECT_EQ(std::set<std::string>(entries.begin(), entries.end()), expected);

  const std::vector<FunctionResources> report = parsePtxasLog(r.log);
  std::string table;
  int shown = 0;
  for (const std::string &name : entries) {
    const auto it = std::find_if(report.begin(), report.end(),
                                 [&](const FunctionResources &f) { return f.name == name; });
    ASSERT_NE(it, report.end()) << "no ptxas report for kernel " << name << "\n" << r.log;
    EXPECT_TRUE(it->is_entry) << name;
    EXPECT_EQ(it->arch, arch) << name;
    EXPECT_GT(it->registers, 0) << name;
    EXPECT_TRUE(it->has_properties) << name;
    // A stack frame is allowed: the wrapper's shape arrays live in local memory
    // when a loop over them is not unrolled. Only spills fail.
    table += (shown++ % 6 == 0 ? "\n  " : ", ") + name + " " + std::to_string(it->registers);
    if (it->stack_bytes != 0)
      table += " (stack " + std::to_string(it->stack_bytes) + ")";
  }
  std::printf("[%s] registers per kernel:%s\n", arch.c_str(), table.c_str());
  for (const FunctionResources &f : functionsWithSpills(report))
    ADD_FAILURE() << arch << ": " << f.name << " spills: " << f.spill_store_bytes << " bytes stored, "
                  << f.spill_load_bytes << " bytes loaded";
}

INSTANTIATE_TEST_SUITE_P(Targets, CudaKernelsCompile,
                         ::testing::Values("sm_80", "sm_86", "sm_89", "sm_90a"),
                         [](const ::testing::TestParamInfo<std::string> &info) { return info.param; });

// The spill check end to end: a kernel forced into 16 registers with a large
// live array must be reported as spilling by the real NVRTC log format.
TEST(CudaKernelsCompileSelfCheck, DetectsRealSpills) {
  const char *source = R"(
extern "C" __global__ void spiller(const float *x, float *y, int n) {
  float acc[48];
#pragma unroll
  for (int i = 0; i < 48; ++i)
    acc[i] = x[threadIdx.x + i * n];
#pragma unroll
  for (int r = 0; r < 8; ++r)
#pragma unroll
    for (int i = 0; i < 48; ++i)
      acc[i] = acc[i] * acc[(i + r + 1) % 48] + x[i * r];
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 48; ++i)
    s += acc[i];
  y[threadIdx.x] = s;
}
)";
  std::vector<std::string> options = nvrtcOptions();
  options.push_back("--maxrregcount=16");
  const NvrtcResult r = compileWithNvrtc(source, "spiller.cu", "sm_80", {}, options);
  ASSERT_TRUE(r.ok) << r.error << "\n" << r.log;
  const std::vector<FunctionResources> spills = functionsWithSpills(parsePtxasLog(r.log));
  ASSERT_EQ(spills.size(), 1u) << r.log;
  EXPECT_EQ(spills[0].name, "spiller");
  EXPECT_GT(spills[0].spill_store_bytes, 0);
}

// The header needs nothing but the CUDA include directory: NVRTC 13 does not
// carry cuda_fp16.h built in, so without -I the include fails (the emitter
// must pass it).
TEST(CudaKernelsCompileSelfCheck, HeaderNeedsOnlyTheCudaIncludeDir) {
  const std::string header = readTextFile(MOEC_CUDA_KERNELS_HEADER);
  ASSERT_FALSE(header.empty());
  const std::string source = "#include \"moec_cuda_kernels.cuh\"\n"
                             "extern \"C\" __global__ void k(moec_cuda_args a) {\n"
                             "  moec_ck::moe_combine<__half, 256>((const __half *)a.ptr[0], (__half *)a.ptr[1],\n"
                             "                                    a.tokens, 2, 64);\n}\n";
  const NvrtcResult with = compileWithNvrtc(source, "k.cu", "sm_90a", {{"moec_cuda_kernels.cuh", header}},
                                            {"-std=c++17", "-I" MOEC_CUDA_INCLUDE_DIR});
  EXPECT_TRUE(with.ok) << with.error << "\n" << with.log;
  const NvrtcResult without =
      compileWithNvrtc(source, "k.cu", "sm_90a", {{"moec_cuda_kernels.cuh", header}}, {"-std=c++17"});
  EXPECT_FALSE(without.ok) << "NVRTC now finds cuda_fp16.h by itself: the -I is no longer needed";
}

} // namespace
} // namespace moec_test
