// Numerics of moec_cuda_gemm_sm90.cuh on a Hopper GPU against float64
// references on the CPU: the dense linear layer (bf16 and f16) and the
// grouped MoE GEMMs (every activation and SwiGLU packing), with rows, K and
// columns that are not tile multiples, K not a multiple of 8 (the producer's
// scalar path), an empty expert between non-empty ones, and grids of one
// block (the stage ring wraps across tiles), three blocks, and one block per
// tile: the result must not depend on the grid. libcuda is opened at run time
// (never linked): without a driver, a GPU, or an sm_90 GPU the tests skip.
#define MOEC_CK_GEMM_INDEX_ONLY
#include "compiler/cuda/kernels/moec_cuda_gemm_sm90.cuh"

#include "test/unit/cuda_gemm/GemmTestData.h"

#include <cuda.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <nvrtc.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

namespace g = moec_ck::gemm;
using namespace moec_test;
using moec_ck::sm90::pipeline_smem_bytes;

// The driver entry points the test needs, resolved with dlsym.
struct Driver {
#define MOEC_SM90_DRIVER_FNS(X)                                                                                        \
  X(cuInit, "cuInit")                                                                                                  \
  X(cuDeviceGetCount, "cuDeviceGetCount") X(cuDeviceGet, "cuDeviceGet")                                                \
      X(cuDeviceGetAttribute, "cuDeviceGetAttribute") X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")          \
          X(cuCtxSetCurrent, "cuCtxSetCurrent") X(cuModuleLoadData, "cuModuleLoadData")                                \
              X(cuModuleGetFunction, "cuModuleGetFunction") X(cuFuncSetAttribute, "cuFuncSetAttribute")                \
                  X(cuMemAlloc, "cuMemAlloc_v2") X(cuMemFree, "cuMemFree_v2") X(cuMemcpyHtoD, "cuMemcpyHtoD_v2")       \
                      X(cuMemcpyDtoH, "cuMemcpyDtoH_v2") X(cuMemsetD8, "cuMemsetD8_v2")                                \
                          X(cuLaunchKernel, "cuLaunchKernel") X(cuCtxSynchronize, "cuCtxSynchronize")
#define MOEC_SM90_DRIVER_FN(name, symbol) decltype(&name) name##_ = nullptr;
  MOEC_SM90_DRIVER_FNS(MOEC_SM90_DRIVER_FN)
#undef MOEC_SM90_DRIVER_FN
  CUdevice device = 0;
  CUcontext context = nullptr;

  // Empty on success, else why the GPU tests cannot run.
  std::string open() {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return "libcuda.so.1 not found";
#define MOEC_SM90_DRIVER_LOAD(name, symbol)                                                                            \
  name##_ = reinterpret_cast<decltype(&name)>(dlsym(lib, symbol));                                                     \
  if (!name##_)                                                                                                        \
    return std::string("libcuda lacks ") + symbol;
    MOEC_SM90_DRIVER_FNS(MOEC_SM90_DRIVER_LOAD)
#undef MOEC_SM90_DRIVER_LOAD
    int devices = 0, major = 0;
    if (cuInit_(0) != CUDA_SUCCESS || cuDeviceGetCount_(&devices) != CUDA_SUCCESS || devices == 0)
      return "no CUDA device";
    if (cuDeviceGet_(&device, 0) != CUDA_SUCCESS ||
        cuDeviceGetAttribute_(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device) != CUDA_SUCCESS ||
        cuDevicePrimaryCtxRetain_(&context, device) != CUDA_SUCCESS || cuCtxSetCurrent_(context) != CUDA_SUCCESS)
      return "cannot open the CUDA device";
    if (major != 9)
      return "the wgmma GEMM templates need an sm_90 (Hopper) device";
    return "";
  }
};

struct DriverState {
  Driver driver;
  std::string problem;
  DriverState() : problem(driver.open()) {}
};
DriverState &state() {
  static DriverState s;
  return s;
}
Driver &driver() { return state().driver; }

struct DeviceBuffer {
  CUdeviceptr ptr = 0;
  size_t bytes = 0;
  template <class V> explicit DeviceBuffer(const std::vector<V> &host) : bytes(host.size() * sizeof(V) + 16) {
    EXPECT_EQ(driver().cuMemAlloc_(&ptr, bytes), CUDA_SUCCESS);
    driver().cuMemsetD8_(ptr, 0, bytes);
    if (!host.empty())
      driver().cuMemcpyHtoD_(ptr, host.data(), host.size() * sizeof(V));
  }
  ~DeviceBuffer() { driver().cuMemFree_(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  std::vector<uint16_t> read(size_t n) const {
    std::vector<uint16_t> out(n);
    driver().cuMemcpyDtoH_(out.data(), ptr, n * sizeof(uint16_t));
    return out;
  }
  void clear() const { driver().cuMemsetD8_(ptr, 0, bytes); }
  void *arg() const { return reinterpret_cast<void *>(ptr); }
};

struct KernelArgs {
  void *ptr[24];
  long long tokens;
};

// The kernels under test (sizes ride in unused argument slots).
const char *kSource = R"(#include "moec_cuda_gemm_sm90.cuh"
#define BF __nv_bfloat16
#define P(i) ((const BF *)a.ptr[i])
#define SIZE(i) ((long long)a.ptr[i])
extern "C" __global__ void __launch_bounds__(160) lin_decode(moec_cuda_args a) {
  moec_ck::sm90::linear<BF, 64, 128, 64, 5, 6>(P(0), P(1), P(2), (BF *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(288) lin_prefill(moec_cuda_args a) {
  moec_ck::sm90::linear<BF, 128, 128, 64, 9, 4>(P(0), P(1), P(2), (BF *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(288) lin_prefill_f16(moec_cuda_args a) {
  moec_ck::sm90::linear<__half, 128, 128, 64, 9, 4>((const __half *)a.ptr[0], (const __half *)a.ptr[1],
      (const __half *)a.ptr[2], (__half *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(160) up_decode(moec_cuda_args a) {
  moec_ck::sm90::moe_gemm_up<BF, 64, 64, 64, 5, 6>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3), P(4),
      P(5), P(6), (BF *)a.ptr[7], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19), (int)SIZE(20),
      (int)SIZE(21), 1.702f, 1.0f, 7.0f);
}
extern "C" __global__ void __launch_bounds__(288) up_prefill(moec_cuda_args a) {
  moec_ck::sm90::moe_gemm_up<BF, 128, 64, 64, 9, 4>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3), P(4),
      P(5), P(6), (BF *)a.ptr[7], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19), (int)SIZE(20),
      (int)SIZE(21), 1.702f, 1.0f, 7.0f);
}
extern "C" __global__ void __launch_bounds__(160) down_decode(moec_cuda_args a) {
  moec_ck::sm90::moe_gemm_down<BF, 64, 128, 64, 5, 6>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3),
      P(4), P(5), (BF *)a.ptr[6], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19));
}
extern "C" __global__ void __launch_bounds__(288) down_prefill(moec_cuda_args a) {
  moec_ck::sm90::moe_gemm_down<BF, 128, 128, 64, 9, 4>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3),
      P(4), P(5), (BF *)a.ptr[6], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19));
}
)";

CUmodule module() {
  static CUmodule mod = [] {
    CUmodule m = nullptr;
    nvrtcProgram prog = nullptr;
    nvrtcCreateProgram(&prog, kSource, "gemm_sm90_gpu_test.cu", 0, nullptr, nullptr);
    const std::string inc1 = std::string("-I") + MOEC_CUDA_KERNELS_DIR,
                      inc2 = std::string("-I") + MOEC_CUDA_INCLUDE_DIR;
    const char *opts[] = {"--gpu-architecture=sm_90a", "-std=c++17", inc1.c_str(), inc2.c_str()};
    if (nvrtcCompileProgram(prog, 4, opts) != NVRTC_SUCCESS) {
      size_t n = 0;
      nvrtcGetProgramLogSize(prog, &n);
      std::string log(n, '\0');
      nvrtcGetProgramLog(prog, &log[0]);
      ADD_FAILURE() << log;
      nvrtcDestroyProgram(&prog);
      return m;
    }
    size_t n = 0;
    nvrtcGetCUBINSize(prog, &n);
    std::vector<char> cubin(n);
    nvrtcGetCUBIN(prog, cubin.data());
    nvrtcDestroyProgram(&prog);
    EXPECT_EQ(driver().cuModuleLoadData_(&m, cubin.data()), CUDA_SUCCESS);
    return m;
  }();
  return mod;
}

// A kernel under test: its tile and launch shape.
struct Kernel {
  const char *name;
  int tm, tn, stages, b_sets;
  unsigned block() const { return static_cast<unsigned>((4 * tm / 64 + 1) * 32); }
  unsigned smem() const { return pipeline_smem_bytes(tm, tn, stages, b_sets); }
};

void launch(const Kernel &k, KernelArgs args, unsigned grid, unsigned block) {
  ASSERT_NE(module(), nullptr);
  CUfunction f = nullptr;
  ASSERT_EQ(driver().cuModuleGetFunction_(&f, module(), k.name), CUDA_SUCCESS) << k.name;
  ASSERT_EQ(driver().cuFuncSetAttribute_(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k.smem()), CUDA_SUCCESS);
  void *params[] = {&args};
  ASSERT_EQ(driver().cuLaunchKernel_(f, grid, 1, 1, block, 1, 1, k.smem(), nullptr, params, nullptr), CUDA_SUCCESS);
  ASSERT_EQ(driver().cuCtxSynchronize_(), CUDA_SUCCESS) << k.name << " (hang, fault or bad launch)";
}

// 16-bit output rounding (2^-8 relative for bf16) plus float accumulation
// over a few hundred terms.
void expectClose(const std::vector<uint16_t> &got, const std::vector<double> &want, bool half,
                 const std::string &what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < want.size() && bad < 10; ++i) {
    const double v = half ? fromHalf(got[i]) : fromBf16(got[i]);
    if (!(std::fabs(v - want[i]) <= 1e-2 + 8e-3 * std::fabs(want[i]))) {
      ADD_FAILURE() << what << " element " << i << ": got " << v << ", want " << want[i];
      ++bad;
    }
  }
}

std::vector<unsigned> grids(long long items) { return {1u, 3u, static_cast<unsigned>(std::max(1LL, items))}; }

#define REQUIRE_HOPPER()                                                                                               \
  if (!state().problem.empty())                                                                                        \
  GTEST_SKIP() << state().problem

TEST(CudaGemmSm90Gpu, LinearMatchesFloat64) {
  REQUIRE_HOPPER();
  std::mt19937 rng(21);
  const long long M = 200, N = 200;
  for (bool half : {false, true})
    for (long long K : {200LL, 131LL, 64LL}) {
      Tensor X = randomTensor(rng, M * K, 1.f, half), W = randomTensor(rng, N * K, 1.f / std::sqrt(float(K)), half);
      Tensor bias = randomTensor(rng, N, 0.5f, half);
      std::vector<double> want(M * N);
      for (long long m = 0; m < M; ++m)
        for (long long n = 0; n < N; ++n) {
          double acc = bias.values[n];
          for (long long k = 0; k < K; ++k)
            acc += X.values[m * K + k] * W.values[n * K + k];
          want[m * N + n] = acc;
        }
      DeviceBuffer dx(X.bits), dw(W.bits), db(bias.bits), dy(std::vector<uint16_t>(M * N, 0));
      std::vector<Kernel> kernels;
      if (half)
        kernels = {{"lin_prefill_f16", 128, 128, 4, 1}};
      else
        kernels = {{"lin_decode", 64, 128, 6, 1}, {"lin_prefill", 128, 128, 4, 1}};
      for (const Kernel &k : kernels)
        for (unsigned grid : grids(g::dense_work_items(M, N, k.tm, k.tn))) {
          KernelArgs a{};
          a.ptr[0] = dx.arg(), a.ptr[1] = dw.arg(), a.ptr[2] = db.arg(), a.ptr[3] = dy.arg();
          a.ptr[20] = reinterpret_cast<void *>(K), a.ptr[21] = reinterpret_cast<void *>(N);
          a.tokens = M;
          dy.clear();
          launch(k, a, grid, k.block());
          expectClose(dy.read(M * N), want, half,
                      std::string(k.name) + " K=" + std::to_string(K) + " grid " + std::to_string(grid));
        }
    }
}

// A launch that does not match the template (block size) writes nothing and
// does not hang.
TEST(CudaGemmSm90Gpu, WrongBlockSizeWritesNothing) {
  REQUIRE_HOPPER();
  std::mt19937 rng(22);
  const long long M = 64, K = 64, N = 64;
  Tensor X = randomTensor(rng, M * K, 1.f), W = randomTensor(rng, N * K, 1.f);
  DeviceBuffer dx(X.bits), dw(W.bits), dy(std::vector<uint16_t>(M * N, 0));
  KernelArgs a{};
  a.ptr[0] = dx.arg(), a.ptr[1] = dw.arg(), a.ptr[3] = dy.arg();
  a.ptr[20] = reinterpret_cast<void *>(K), a.ptr[21] = reinterpret_cast<void *>(N);
  a.tokens = M;
  const Kernel k{"lin_prefill", 128, 128, 4, 1};
  launch(k, a, 2, 256);
  for (uint16_t v : dy.read(M * N))
    ASSERT_EQ(v, 0u);
}

// A random top-k routing: slots t*k+j grouped by expert (stable), offsets.
// Expert 1 is never chosen: an empty group between non-empty ones.
TEST(CudaGemmSm90Gpu, MoeUpMatchesFloat64ForEveryActivation) {
  REQUIRE_HOPPER();
  std::mt19937 rng(23);
  // ~67 rows per non-empty expert: two 64-row tiles (decode), one partial
  // 128-row tile (prefill); I = 136 leaves a partial column tile.
  const long long tokens = 90, k = 3, E = 5, I = 136;
  const double alpha = 1.702, beta = 1.0, limit = 7.0;
  for (long long H : {200LL, 131LL})
    for (int act : {0, 1, 2, 3, 4})
      for (int fusion : (act == 3 ? std::vector<int>{0, 1, 2} : std::vector<int>{0})) {
        const long long F1 = (act == 3 && fusion != 0) ? 2 * I : I;
        Routing route = randomRouting(rng, tokens, k, E);
        Tensor X = randomTensor(rng, tokens * H, 1.f);
        Tensor fc1 = randomTensor(rng, E * F1 * H, 2.f / std::sqrt(float(H)));
        Tensor b1 = randomTensor(rng, E * F1, 0.5f);
        Tensor fc3 = randomTensor(rng, E * I * H, 2.f / std::sqrt(float(H)));
        Tensor b3 = randomTensor(rng, E * I, 0.5f);
        const long long rows = tokens * k;
        std::vector<double> want(rows * I);
        auto dot = [&](const Tensor &w, long long wrow, long long t) {
          double acc = 0;
          for (long long h = 0; h < H; ++h)
            acc += X.values[t * H + h] * w.values[wrow * H + h];
          return acc;
        };
        for (long long r = 0; r < rows; ++r) {
          const long long slot = route.slots[r], t = slot / k, e = route.expertOfSlot[slot];
          for (long long c = 0; c < I; ++c) {
            if (act != 3) {
              want[r * I + c] = activation(act, dot(fc1, e * F1 + c, t) + b1.values[e * F1 + c]);
              continue;
            }
            double gate, lin;
            if (fusion == 0) {
              gate = dot(fc1, e * I + c, t) + b1.values[e * I + c];
              lin = dot(fc3, e * I + c, t) + b3.values[e * I + c];
            } else {
              const long long gr = fusion == 1 ? 2 * c : c, lr = fusion == 1 ? 2 * c + 1 : I + c;
              gate = dot(fc1, e * F1 + gr, t) + b1.values[e * F1 + gr];
              lin = dot(fc1, e * F1 + lr, t) + b1.values[e * F1 + lr];
            }
            gate = std::min(gate, limit);
            lin = std::max(std::min(lin, limit), -limit);
            want[r * I + c] = gate / (1 + std::exp(-alpha * gate)) * (lin + beta);
          }
        }
        DeviceBuffer dx(X.bits), ds(route.slots), doff(route.offsets), d1(fc1.bits), db1(b1.bits), d3(fc3.bits),
            db3(b3.bits), dh(std::vector<uint16_t>(rows * I, 0));
        const int sets = act == 3 ? 2 : 1;
        const Kernel kernels[] = {{"up_decode", 64, 64, 6, sets}, {"up_prefill", 128, 64, 4, sets}};
        for (const Kernel &kn : kernels)
          for (unsigned grid : grids(g::moe_row_tiles_bound(rows, E, kn.tm) * g::ceil_div(I, kn.tn))) {
            KernelArgs a{};
            a.ptr[0] = dx.arg(), a.ptr[1] = ds.arg(), a.ptr[2] = doff.arg(), a.ptr[3] = d1.arg();
            a.ptr[4] = db1.arg(), a.ptr[5] = d3.arg(), a.ptr[6] = db3.arg(), a.ptr[7] = dh.arg();
            a.ptr[16] = reinterpret_cast<void *>(k), a.ptr[17] = reinterpret_cast<void *>(E);
            a.ptr[18] = reinterpret_cast<void *>(H), a.ptr[19] = reinterpret_cast<void *>(I);
            a.ptr[20] = reinterpret_cast<void *>(static_cast<long long>(act));
            a.ptr[21] = reinterpret_cast<void *>(static_cast<long long>(fusion));
            a.tokens = tokens;
            dh.clear();
            launch(kn, a, grid, kn.block());
            expectClose(dh.read(rows * I), want, false,
                        std::string(kn.name) + " act " + std::to_string(act) + " fusion " + std::to_string(fusion) +
                            " H " + std::to_string(H) + " grid " + std::to_string(grid));
          }
      }
}

TEST(CudaGemmSm90Gpu, MoeDownMatchesFloat64) {
  REQUIRE_HOPPER();
  std::mt19937 rng(24);
  const long long tokens = 90, k = 3, E = 5, H = 200;
  for (long long I : {136LL, 131LL}) {
    Routing route = randomRouting(rng, tokens, k, E);
    const long long rows = tokens * k;
    Tensor hin = randomTensor(rng, rows * I, 1.f), fc2 = randomTensor(rng, E * H * I, 1.f / std::sqrt(float(I)));
    Tensor b2 = randomTensor(rng, E * H, 0.5f), rw = randomTensor(rng, rows, 1.f);
    std::vector<double> want(rows * H);
    for (long long r = 0; r < rows; ++r) {
      const long long slot = route.slots[r], e = route.expertOfSlot[slot];
      for (long long c = 0; c < H; ++c) {
        double acc = b2.values[e * H + c];
        for (long long i = 0; i < I; ++i)
          acc += hin.values[r * I + i] * fc2.values[(e * H + c) * I + i];
        want[slot * H + c] = rw.values[slot] * acc;
      }
    }
    DeviceBuffer dh(hin.bits), ds(route.slots), doff(route.offsets), d2(fc2.bits), db2(b2.bits), drw(rw.bits),
        dy(std::vector<uint16_t>(rows * H, 0));
    const Kernel kernels[] = {{"down_decode", 64, 128, 6, 1}, {"down_prefill", 128, 128, 4, 1}};
    for (const Kernel &kn : kernels)
      for (unsigned grid : grids(g::moe_row_tiles_bound(rows, E, kn.tm) * g::ceil_div(H, kn.tn))) {
        KernelArgs a{};
        a.ptr[0] = dh.arg(), a.ptr[1] = ds.arg(), a.ptr[2] = doff.arg(), a.ptr[3] = d2.arg();
        a.ptr[4] = db2.arg(), a.ptr[5] = drw.arg(), a.ptr[6] = dy.arg();
        a.ptr[16] = reinterpret_cast<void *>(k), a.ptr[17] = reinterpret_cast<void *>(E);
        a.ptr[18] = reinterpret_cast<void *>(H), a.ptr[19] = reinterpret_cast<void *>(I);
        a.tokens = tokens;
        dy.clear();
        launch(kn, a, grid, kn.block());
        expectClose(dy.read(rows * H), want, false,
                    std::string(kn.name) + " I " + std::to_string(I) + " grid " + std::to_string(grid));
      }
  }
}

} // namespace
