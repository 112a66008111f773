// NVRTC compiles moec_cuda_gemm_sm90.cuh's templates for sm_90a through
// wrappers shaped like the CUDA emitter's (ABI: one moec_cuda_args by value,
// __launch_bounds__(WARPS * 32)) and checks ptxas' resource report: a cubin,
// no register spills, static + dynamic shared memory within sm_90's 227 KB
// opt-in limit, no wgmma serialisation warning; and that the PTX is built on
// wgmma.mma_async and mbarriers (a guard typo would silently compile the
// empty bodies). Also checks that the header compiles for other
// architectures. No GPU needed; numerics are GemmSm90GpuTest's job.
#define MOEC_CK_GEMM_INDEX_ONLY
#include "compiler/cuda/kernels/moec_cuda_gemm_sm90.cuh"

#include <gtest/gtest.h>
#include <nvrtc.h>

#include <cstdio>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Sm90Config {
  const char *type;   // C++ storage type
  const char *kernel; // linear | down | up_swiglu_f0 | up_swiglu_f1 | up_swiglu_f2 | up_silu | up_gelu
  const char *bucket; // decode | prefill
  int tm, tn, stages;
  int warps() const { return 4 * tm / 64 + 1; }
  bool swiglu() const { return std::string(kernel).rfind("up_swiglu", 0) == 0; }
};

// Decode: one 64-row warpgroup (wgmma's smallest M), deep pipeline (weight
// streaming bound). Prefill: two warpgroups, 128 x 128 tiles; the SwiGLU
// tile is 128 x 64 per set (2 x 64 accumulators per thread) because the
// 9-warp block is capped at 168 registers per thread and 2 x 128 spills.
std::vector<Sm90Config> configs() {
  std::vector<Sm90Config> out;
  for (const char *type : {"__nv_bfloat16", "__half"})
    for (const char *kernel :
         {"linear", "down", "up_swiglu_f0", "up_swiglu_f1", "up_swiglu_f2", "up_silu", "up_gelu"}) {
      const bool swiglu = std::string(kernel).rfind("up_swiglu", 0) == 0;
      out.push_back({type, kernel, "decode", 64, swiglu ? 64 : 128, 6});
      out.push_back({type, kernel, "prefill", 128, swiglu ? 64 : 128, 4});
    }
  return out;
}

std::string kernelName(const Sm90Config &c) {
  std::ostringstream s;
  s << "sm90_" << c.kernel << "_" << (std::string(c.type) == "__half" ? "f16" : "bf16") << "_" << c.bucket << "_"
    << c.tm << "x" << c.tn << "x64_w" << c.warps() << "_s" << c.stages;
  return s.str();
}

unsigned smemBytes(const Sm90Config &c) {
  return moec_ck::sm90::pipeline_smem_bytes(c.tm, c.tn, c.stages, c.swiglu() ? 2 : 1);
}

// Wrappers as the emitter writes them: sizes are compile-time constants
// except the token count (dense 4096 x 4096; Qwen3-30B-A3B-like MoE: hidden
// 2048, inter 768, 128 experts, top-8).
std::string source(const std::vector<Sm90Config> &all) {
  std::ostringstream s;
  s << "#include \"moec_cuda_gemm_sm90.cuh\"\n";
  for (const Sm90Config &c : all) {
    const std::string T = c.type, kind = c.kernel;
    std::ostringstream tpl;
    tpl << "<" << T << ", " << c.tm << ", " << c.tn << ", 64, " << c.warps() << ", " << c.stages << ">";
    const char *smemFn = kind == "linear" ? "linear_smem_bytes"
                         : kind == "down" ? "moe_gemm_down_smem_bytes"
                                          : "moe_gemm_up_smem_bytes";
    const char *smemArg = c.swiglu() ? "3" : kind == "up_silu" ? "2" : kind == "up_gelu" ? "1" : "";
    s << "static_assert(moec_ck::sm90::" << smemFn << tpl.str() << "(" << smemArg << ") == " << smemBytes(c)
      << "u, \"smem formula\");\n";
    s << "extern \"C\" __global__ void __launch_bounds__(" << c.warps() * 32 << ") " << kernelName(c)
      << "(moec_cuda_args a) {\n";
    auto p = [&](int i, bool isConst = true) {
      return std::string("(") + (isConst ? "const " : "") + T + " *)a.ptr[" + std::to_string(i) + "]";
    };
    if (kind == "linear") {
      s << "  moec_ck::sm90::linear" << tpl.str() << "(" << p(0) << ", " << p(1) << ", " << p(2) << ", " << p(3, false)
        << ", a.tokens, 4096, 4096);\n";
    } else if (kind == "down") {
      s << "  moec_ck::sm90::moe_gemm_down" << tpl.str() << "(" << p(0)
        << ", (const int *)a.ptr[1], (const int *)a.ptr[2], " << p(3) << ", " << p(4) << ", " << p(5) << ", "
        << p(6, false) << ", a.tokens, 8, 128, 2048, 768);\n";
    } else {
      std::string tail = kind == "up_silu"   ? "2, 0, 1.0f, 0.0f, 0.0f"
                         : kind == "up_gelu" ? "1, 0, 1.0f, 0.0f, 0.0f"
                                             : "3, X, 1.702f, 1.0f, 7.0f";
      if (c.swiglu())
        tail.replace(tail.find('X'), 1, std::string(1, kind.back()));
      s << "  moec_ck::sm90::moe_gemm_up" << tpl.str() << "(" << p(0)
        << ", (const int *)a.ptr[1], (const int *)a.ptr[2], " << p(3) << ", " << p(4) << ", " << p(5) << ", " << p(6)
        << ", " << p(7, false) << ", a.tokens, 8, 128, 2048, 768, " << tail << ");\n";
    }
    s << "}\n";
  }
  return s.str();
}

struct Compiled {
  nvrtcResult result = NVRTC_ERROR_INTERNAL_ERROR;
  std::string log, ptx;
  size_t cubinBytes = 0;
};

Compiled compile(const std::string &src, const std::string &arch) {
  Compiled out;
  nvrtcProgram prog = nullptr;
  if (nvrtcCreateProgram(&prog, src.c_str(), "moec_gemm_sm90_test.cu", 0, nullptr, nullptr) != NVRTC_SUCCESS)
    return out;
  const std::string archOpt = "--gpu-architecture=" + arch;
  const std::string incKernels = std::string("-I") + MOEC_CUDA_KERNELS_DIR;
  const std::string incCuda = std::string("-I") + MOEC_CUDA_INCLUDE_DIR;
  const char *opts[] = {archOpt.c_str(), "-std=c++17", incKernels.c_str(), incCuda.c_str(), "--ptxas-options=-v"};
  out.result = nvrtcCompileProgram(prog, sizeof(opts) / sizeof(opts[0]), opts);
  size_t n = 0;
  nvrtcGetProgramLogSize(prog, &n);
  out.log.assign(n, '\0');
  if (n > 0)
    nvrtcGetProgramLog(prog, &out.log[0]);
  if (out.result == NVRTC_SUCCESS) {
    nvrtcGetCUBINSize(prog, &out.cubinBytes);
    if (nvrtcGetPTXSize(prog, &n) == NVRTC_SUCCESS && n > 0) {
      out.ptx.assign(n, '\0');
      nvrtcGetPTX(prog, &out.ptx[0]);
    }
  }
  nvrtcDestroyProgram(&prog);
  return out;
}

struct Resources {
  int registers = -1, stackBytes = 0, spillStores = 0, spillLoads = 0, staticSmem = 0;
};

std::map<std::string, Resources> parsePtxasLog(const std::string &log) {
  std::map<std::string, Resources> out;
  static const std::regex entry(R"(Compiling entry function '([^']+)')");
  static const std::regex props(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  std::istringstream lines(log);
  std::string line, current;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, entry)) {
      current = m[1];
      out[current];
    } else if (current.empty()) {
      continue;
    } else if (std::regex_search(line, m, props)) {
      out[current].stackBytes = std::stoi(m[1]);
      out[current].spillStores = std::stoi(m[2]);
      out[current].spillLoads = std::stoi(m[3]);
    } else if (std::regex_search(line, m, used)) {
      out[current].registers = std::stoi(m[1]);
      if (std::regex_search(line, m, smem))
        out[current].staticSmem = std::stoi(m[1]);
    }
  }
  return out;
}

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

TEST(CudaGemmSm90Nvrtc, CompilesForSm90aWithoutSpillsWithinSharedMemory) {
  const std::vector<Sm90Config> all = configs();
  const Compiled c = compile(source(all), "sm_90a");
  ASSERT_EQ(c.result, NVRTC_SUCCESS) << nvrtcGetErrorString(c.result) << "\n" << c.log;
  EXPECT_GT(c.cubinBytes, 0u);
  // ptxas warns when it must serialise wgmma (accumulators touched while in
  // flight, or a non-wgmma use of them): a silent 2-3x slowdown.
  EXPECT_EQ(c.log.find("serialized"), std::string::npos) << c.log;
  // Every entry issues wgmma and synchronises through mbarriers.
  EXPECT_GE(count(c.ptx, "wgmma.mma_async.sync.aligned"), all.size());
  EXPECT_GE(count(c.ptx, "cp.async.mbarrier.arrive.noinc"), all.size());
  EXPECT_GE(count(c.ptx, "mbarrier.try_wait.parity"), all.size());

  const std::map<std::string, Resources> resources = parsePtxasLog(c.log);
  constexpr unsigned kSm90MaxSmem = 227 * 1024;
  std::printf("%-52s %5s %7s %7s %6s\n", "sm_90a", "regs", "smem", "stack", "spill");
  for (const Sm90Config &cfg : all) {
    const std::string name = kernelName(cfg);
    auto it = resources.find(name);
    ASSERT_NE(it, resources.end()) << "ptxas reported nothing for " << name << "\n" << c.log;
    const Resources &r = it->second;
    const unsigned smem = smemBytes(cfg) + static_cast<unsigned>(r.staticSmem);
    std::printf("%-52s %5d %7u %7d %6d\n", name.c_str(), r.registers, smem, r.stackBytes, r.spillStores + r.spillLoads);
    EXPECT_GT(r.registers, 0) << name;
    EXPECT_EQ(r.spillStores, 0) << name << " spills registers";
    EXPECT_EQ(r.spillLoads, 0) << name << " spills registers";
    EXPECT_EQ(r.stackBytes, 0) << name << " uses a stack frame (local memory)";
    EXPECT_LE(smem, kSm90MaxSmem) << name << " needs more shared memory than sm_90 has";
  }
}

// Including the header for an architecture without wgmma compiles (the
// 16-bit bodies are empty there), so one kernel source can carry both.
TEST(CudaGemmSm90Nvrtc, CompilesToEmptyBodiesForOtherArchitectures) {
  std::vector<Sm90Config> some;
  for (const Sm90Config &c : configs())
    if (std::string(c.bucket) == "prefill" && std::string(c.type) == "__nv_bfloat16")
      some.push_back(c);
  for (const char *arch : {"sm_80", "sm_90"}) {
    const Compiled c = compile(source(some), arch);
    ASSERT_EQ(c.result, NVRTC_SUCCESS) << arch << ": " << nvrtcGetErrorString(c.result) << "\n" << c.log;
    EXPECT_EQ(c.ptx.find("wgmma"), std::string::npos) << arch;
  }
}

// The host formula the emitter will use for the launch's dynamic shared memory.
TEST(CudaGemmSm90Nvrtc, SharedMemoryFormula) {
  // 1 KB alignment slack + stages x rows x 128 B + 2 x 8 B barriers per stage + TM row pointers.
  EXPECT_EQ(moec_ck::sm90::pipeline_smem_bytes(128, 128, 4, 1), 1024u + 4u * 256u * 128u + 64u + 1024u);
  EXPECT_EQ(moec_ck::sm90::pipeline_smem_bytes(64, 64, 6, 2), 1024u + 6u * 192u * 128u + 96u + 512u);
}

} // namespace
