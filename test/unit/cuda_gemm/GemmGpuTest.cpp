// Numerics of moec_cuda_gemm.cuh on a GPU, against float64 references on the
// CPU: the dense linear layer and the grouped MoE GEMMs (every activation and
// SwiGLU packing), with rows, K and columns that are not tile multiples, K not
// a multiple of 8 (the scalar tail path), empty experts, and grids of one
// block and of the emitter's bound (the result must not depend on the grid).
// libcuda is opened at run time (never linked): without a driver or a GPU the
// tests skip.
#define MOEC_CK_GEMM_INDEX_ONLY
#include "compiler/cuda/kernels/moec_cuda_gemm.cuh"

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

// The driver entry points this test needs, resolved with dlsym.
struct Driver {
  void *lib = nullptr;
#define MOEC_DRIVER_FN(name, symbol) decltype(&name) name##_ = nullptr;
#define MOEC_DRIVER_FNS(X)                                                                                        \
  X(cuInit, "cuInit")                                                                                             \
  X(cuDeviceGetCount, "cuDeviceGetCount") X(cuDeviceGet, "cuDeviceGet")                                          \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute") X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")       \
  X(cuCtxSetCurrent, "cuCtxSetCurrent") X(cuModuleLoadData, "cuModuleLoadData")                                  \
  X(cuModuleGetFunction, "cuModuleGetFunction") X(cuFuncSetAttribute, "cuFuncSetAttribute")                      \
  X(cuMemAlloc, "cuMemAlloc_v2") X(cuMemFree, "cuMemFree_v2") X(cuMemcpyHtoD, "cuMemcpyHtoD_v2")                 \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2") X(cuMemsetD8, "cuMemsetD8_v2") X(cuLaunchKernel, "cuLaunchKernel")         \
  X(cuCtxSynchronize, "cuCtxSynchronize")
  MOEC_DRIVER_FNS(MOEC_DRIVER_FN)
#undef MOEC_DRIVER_FN
  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string arch;

  // Empty string on success, else why the GPU tests cannot run.
  std::string open() {
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return "libcuda.so.1 not found";
#define MOEC_DRIVER_LOAD(name, symbol)                                                                            \
  name##_ = reinterpret_cast<decltype(&name)>(dlsym(lib, symbol));                                                \
  if (!name##_)                                                                                                   \
    return std::string("libcuda lacks ") + symbol;
    MOEC_DRIVER_FNS(MOEC_DRIVER_LOAD)
#undef MOEC_DRIVER_LOAD
    int count = 0;
    if (cuInit_(0) != CUDA_SUCCESS || cuDeviceGetCount_(&count) != CUDA_SUCCESS || count == 0)
      return "no CUDA device";
    int major = 0, minor = 0;
    if (cuDeviceGet_(&device, 0) != CUDA_SUCCESS ||
        cuDeviceGetAttribute_(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device) != CUDA_SUCCESS ||
        cuDeviceGetAttribute_(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device) != CUDA_SUCCESS ||
        cuDevicePrimaryCtxRetain_(&context, device) != CUDA_SUCCESS || cuCtxSetCurrent_(context) != CUDA_SUCCESS)
      return "cannot open the CUDA device";
    if (major < 8)
      return "the GEMM templates need sm_80 or newer";
    arch = "sm_" + std::to_string(major * 10 + minor) + (major == 9 ? "a" : "");
    return "";
  }
};

// The process-wide driver; `problem` says why the GPU tests skip, if they do.
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

// Device buffer holding a host vector.
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
  template <class V> std::vector<V> read(size_t n) const {
    std::vector<V> out(n);
    driver().cuMemcpyDtoH_(out.data(), ptr, n * sizeof(V));
    return out;
  }
  void *arg() const { return reinterpret_cast<void *>(ptr); }
};

struct KernelArgs {
  void *ptr[24];
  long long tokens;
};

// The kernels under test, compiled once for the device.
const char *kSource = R"(#include "moec_cuda_gemm.cuh"
#define BF __nv_bfloat16
#define P(i) ((const BF *)a.ptr[i])
#define SIZE(i) ((long long)a.ptr[i])
extern "C" __global__ void __launch_bounds__(128) lin_decode(moec_cuda_args a) {
  moec_ck::linear<BF, 16, 32, 64, 4, 3>(P(0), P(1), P(2), (BF *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(256) lin_prefill(moec_cuda_args a) {
  moec_ck::linear<BF, 128, 128, 32, 8, 4>(P(0), P(1), P(2), (BF *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(128) lin_f32(moec_cuda_args a) {
  moec_ck::linear<float, 32, 64, 16, 4, 3>((const float *)a.ptr[0], (const float *)a.ptr[1],
      (const float *)a.ptr[2], (float *)a.ptr[3], a.tokens, SIZE(20), SIZE(21));
}
extern "C" __global__ void __launch_bounds__(128) up_decode(moec_cuda_args a) {
  moec_ck::moe_gemm_up<BF, 16, 32, 32, 4, 3>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3), P(4),
      P(5), P(6), (BF *)a.ptr[7], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19), (int)SIZE(20),
      (int)SIZE(21), 1.702f, 1.0f, 7.0f);
}
extern "C" __global__ void __launch_bounds__(256) up_prefill(moec_cuda_args a) {
  moec_ck::moe_gemm_up<BF, 64, 64, 32, 8, 3>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3), P(4),
      P(5), P(6), (BF *)a.ptr[7], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19), (int)SIZE(20),
      (int)SIZE(21), 1.702f, 1.0f, 7.0f);
}
extern "C" __global__ void __launch_bounds__(128) down_decode(moec_cuda_args a) {
  moec_ck::moe_gemm_down<BF, 16, 32, 32, 4, 3>(P(0), (const int *)a.ptr[1], (const int *)a.ptr[2], P(3), P(4),
      P(5), (BF *)a.ptr[6], a.tokens, SIZE(16), SIZE(17), SIZE(18), SIZE(19));
}
)";

CUmodule module() {
  static CUmodule mod = [] {
    CUmodule m = nullptr;
    nvrtcProgram prog = nullptr;
    nvrtcCreateProgram(&prog, kSource, "gemm_gpu_test.cu", 0, nullptr, nullptr);
    const std::string archOpt = "--gpu-architecture=" + driver().arch;
    const std::string inc1 = std::string("-I") + MOEC_CUDA_KERNELS_DIR, inc2 = std::string("-I") + MOEC_CUDA_INCLUDE_DIR;
    const char *opts[] = {archOpt.c_str(), "-std=c++17", inc1.c_str(), inc2.c_str()};
    if (nvrtcCompileProgram(prog, 4, opts) != NVRTC_SUCCESS) {
      size_t n = 0;
      nvrtcGetProgramLogSize(prog, &n);
      std::string log(n, '\0');
      nvrtcGetProgramLog(prog, &log[0]);
      ADD_FAILURE() << log;
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

void launch(const char *name, KernelArgs args, unsigned grid, unsigned block, unsigned smem) {
  CUfunction f = nullptr;
  ASSERT_EQ(driver().cuModuleGetFunction_(&f, module(), name), CUDA_SUCCESS) << name;
  ASSERT_EQ(driver().cuFuncSetAttribute_(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), CUDA_SUCCESS);
  void *params[] = {&args};
  ASSERT_EQ(driver().cuLaunchKernel_(f, grid, 1, 1, block, 1, 1, smem, nullptr, params, nullptr), CUDA_SUCCESS);
  ASSERT_EQ(driver().cuCtxSynchronize_(), CUDA_SUCCESS) << name;
}

void expectClose(const std::vector<uint16_t> &got, const std::vector<double> &want, const char *what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < want.size() && bad < 10; ++i) {
    const double g = fromBf16(got[i]);
    // bf16 output rounding (2^-8 relative) plus float accumulation.
    if (!(std::fabs(g - want[i]) <= 1e-2 + 8e-3 * std::fabs(want[i]))) {
      ADD_FAILURE() << what << " element " << i << ": got " << g << ", want " << want[i];
      ++bad;
    }
  }
}

#define REQUIRE_GPU()                                                                                            \
  if (!state().problem.empty())                                                                                 \
  GTEST_SKIP() << state().problem

TEST(CudaGemmGpu, LinearMatchesFloat64) {
  REQUIRE_GPU();
  std::mt19937 rng(11);
  for (long long K : {200LL, 203LL}) {
    const long long M = 37, N = 72;
    Tensor X = randomTensor(rng, M * K, 1.f), W = randomTensor(rng, N * K, 1.f / std::sqrt(float(K)));
    Tensor bias = randomTensor(rng, N, 0.5f);
    std::vector<double> want(M * N);
    for (long long m = 0; m < M; ++m)
      for (long long n = 0; n < N; ++n) {
        double acc = bias.values[n];
        for (long long k = 0; k < K; ++k)
          acc += X.values[m * K + k] * W.values[n * K + k];
        want[m * N + n] = acc;
      }
    DeviceBuffer dx(X.bits), dw(W.bits), db(bias.bits), dy(std::vector<uint16_t>(M * N, 0));
    const struct {
      const char *name;
      int tm, tn, block;
      unsigned smem;
    } kernels[] = {{"lin_decode", 16, 32, 128, g::tile_smem_bytes(2, 16, 32, 64, 3, 1)},
                   {"lin_prefill", 128, 128, 256, g::tile_smem_bytes(2, 128, 128, 32, 4, 1)}};
    for (const auto &k : kernels)
      for (unsigned grid : {1u, static_cast<unsigned>(g::dense_work_items(M, N, k.tm, k.tn))}) {
        KernelArgs a{};
        a.ptr[0] = dx.arg(), a.ptr[1] = dw.arg(), a.ptr[2] = db.arg(), a.ptr[3] = dy.arg();
        a.ptr[20] = reinterpret_cast<void *>(K), a.ptr[21] = reinterpret_cast<void *>(N);
        a.tokens = M;
        driver().cuMemsetD8_(dy.ptr, 0, dy.bytes);
        launch(k.name, a, grid, k.block, k.smem);
        expectClose(dy.read<uint16_t>(M * N), want, (std::string(k.name) + " K=" + std::to_string(K)).c_str());
      }
  }
}

TEST(CudaGemmGpu, FloatLinearFallbackMatchesFloat64) {
  REQUIRE_GPU();
  std::mt19937 rng(14);
  const long long M = 45, K = 77, N = 100;
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> X(M * K), W(N * K), bias(N);
  for (float &v : X)
    v = dist(rng);
  for (float &v : W)
    v = dist(rng) / std::sqrt(float(K));
  for (float &v : bias)
    v = dist(rng);
  DeviceBuffer dx(X), dw(W), db(bias), dy(std::vector<float>(M * N, 0.f));
  KernelArgs a{};
  a.ptr[0] = dx.arg(), a.ptr[1] = dw.arg(), a.ptr[2] = db.arg(), a.ptr[3] = dy.arg();
  a.ptr[20] = reinterpret_cast<void *>(K), a.ptr[21] = reinterpret_cast<void *>(N);
  a.tokens = M;
  for (unsigned grid : {1u, 7u, static_cast<unsigned>(g::dense_work_items(M, N, 32, 64))}) {
    driver().cuMemsetD8_(dy.ptr, 0, dy.bytes);
    launch("lin_f32", a, grid, 128, g::tile_smem_bytes(4, 32, 64, 16, 3, 1));
    const std::vector<float> got = dy.read<float>(M * N);
    for (long long m = 0; m < M; ++m)
      for (long long n = 0; n < N; ++n) {
        double acc = bias[n];
        for (long long k = 0; k < K; ++k)
          acc += double(X[m * K + k]) * W[n * K + k];
        ASSERT_NEAR(got[m * N + n], acc, 1e-4 + 1e-5 * std::fabs(acc)) << "m " << m << " n " << n;
      }
  }
}

TEST(CudaGemmGpu, MoeUpMatchesFloat64ForEveryActivation) {
  REQUIRE_GPU();
  std::mt19937 rng(12);
  const long long tokens = 23, k = 3, E = 7, I = 40;
  const double alpha = 1.702, beta = 1.0, limit = 7.0;
  for (long long H : {136LL, 131LL})
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
        const struct {
          const char *name;
          int tm, tn, block;
          unsigned smem;
        } kernels[] = {{"up_decode", 16, 32, 128, g::tile_smem_bytes(2, 16, 32, 32, 3, 2)},
                       {"up_prefill", 64, 64, 256, g::tile_smem_bytes(2, 64, 64, 32, 3, 2)}};
        for (const auto &kn : kernels)
          for (unsigned grid : {1u, static_cast<unsigned>(g::moe_row_tiles_bound(rows, E, kn.tm) *
                                                          g::ceil_div(I, kn.tn))}) {
            KernelArgs a{};
            a.ptr[0] = dx.arg(), a.ptr[1] = ds.arg(), a.ptr[2] = doff.arg(), a.ptr[3] = d1.arg();
            a.ptr[4] = db1.arg(), a.ptr[5] = d3.arg(), a.ptr[6] = db3.arg(), a.ptr[7] = dh.arg();
            a.ptr[16] = reinterpret_cast<void *>(k), a.ptr[17] = reinterpret_cast<void *>(E);
            a.ptr[18] = reinterpret_cast<void *>(H), a.ptr[19] = reinterpret_cast<void *>(I);
            a.ptr[20] = reinterpret_cast<void *>(static_cast<long long>(act));
            a.ptr[21] = reinterpret_cast<void *>(static_cast<long long>(fusion));
            a.tokens = tokens;
            driver().cuMemsetD8_(dh.ptr, 0, dh.bytes);
            launch(kn.name, a, grid, kn.block, kn.smem);
            expectClose(dh.read<uint16_t>(rows * I), want,
                        (std::string(kn.name) + " act " + std::to_string(act) + " fusion " + std::to_string(fusion) +
                         " H " + std::to_string(H) + " grid " + std::to_string(grid))
                            .c_str());
          }
      }
}

TEST(CudaGemmGpu, MoeDownMatchesFloat64) {
  REQUIRE_GPU();
  std::mt19937 rng(13);
  const long long tokens = 29, k = 2, E = 6, H = 72;
  for (long long I : {48LL, 45LL}) {
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
    const unsigned smem = g::tile_smem_bytes(2, 16, 32, 32, 3, 1);
    for (unsigned grid : {1u, static_cast<unsigned>(g::moe_row_tiles_bound(rows, E, 16) * g::ceil_div(H, 32))}) {
      KernelArgs a{};
      a.ptr[0] = dh.arg(), a.ptr[1] = ds.arg(), a.ptr[2] = doff.arg(), a.ptr[3] = d2.arg();
      a.ptr[4] = db2.arg(), a.ptr[5] = drw.arg(), a.ptr[6] = dy.arg();
      a.ptr[16] = reinterpret_cast<void *>(k), a.ptr[17] = reinterpret_cast<void *>(E);
      a.ptr[18] = reinterpret_cast<void *>(H), a.ptr[19] = reinterpret_cast<void *>(I);
      a.tokens = tokens;
      driver().cuMemsetD8_(dy.ptr, 0, dy.bytes);
      launch("down_decode", a, grid, 128, smem);
      expectClose(dy.read<uint16_t>(rows * H), want, ("down I " + std::to_string(I)).c_str());
    }
  }
}

} // namespace
