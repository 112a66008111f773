//===- HostPeak.cpp - Copy bandwidth and GEMM rate of the host CPU --------===//
//
// The GEMM is the classic blocked scheme: B is packed into column panels of
// one micro-tile's width, and a micro-kernel keeps an R x (C·lanes) block of
// C in vector registers while it streams a row block of A and a panel of B
// from L1/L2. The micro-kernel is a template over the vector width, built
// once per ISA (target attributes) and chosen at run time, so a binary built
// for baseline x86-64 still measures what an AVX-512 or AVX2 CPU can do.
//
//===----------------------------------------------------------------------===//

#include "tools/moec-bench/Peak.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace moec::bench {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

Buffer allocateFloats(size_t count) {
  size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  return Buffer(static_cast<float *>(std::aligned_alloc(64, bytes)));
}

constexpr int64_t kBlockK = 256; // rows of a packed B panel (fits L1/L2)

// Plain typedefs: GCC drops vector_size on a dependent alias template, which
// would silently turn the kernel scalar.
typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

// C[R x C·Lanes] += A[R x kc] · Bpanel[kc x C·Lanes]. Loads and stores go
// through memcpy so that no alignment is assumed.
template <typename V, int R, int C>
__attribute__((always_inline)) inline void
microKernel(const float *a, int64_t lda, const float *panel, int64_t kc,
            float *c, int64_t ldc) {
  constexpr int Lanes = sizeof(V) / sizeof(float);
  V acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < C; ++j)
      std::memcpy(&acc[r][j], c + r * ldc + j * Lanes, sizeof(V));
  for (int64_t p = 0; p < kc; ++p) {
    V b[C];
    for (int j = 0; j < C; ++j)
      std::memcpy(&b[j], panel + p * C * Lanes + j * Lanes, sizeof(V));
    for (int r = 0; r < R; ++r) {
      const float s = a[r * lda + p];
      for (int j = 0; j < C; ++j)
        acc[r][j] += s * b[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < C; ++j)
      std::memcpy(c + r * ldc + j * Lanes, &acc[r][j], sizeof(V));
}

// n must be a multiple of the panel width W = C·Lanes; rows that do not fill
// an R-row tile go through a one-row tile.
template <typename V, int R, int C>
__attribute__((always_inline)) inline void gemmImpl(const float *a,
                                                    const float *b, float *c,
                                                    int64_t n) {
  static_assert(sizeof(V) % sizeof(float) == 0, "V must be a float vector");
  constexpr int64_t W = int64_t(C) * int64_t(sizeof(V) / sizeof(float));
  std::memset(c, 0, sizeof(float) * size_t(n) * size_t(n));
  std::vector<float> panel(size_t(kBlockK) * size_t(W));
  for (int64_t j0 = 0; j0 < n; j0 += W) {
    for (int64_t k0 = 0; k0 < n; k0 += kBlockK) {
      const int64_t kc = std::min(kBlockK, n - k0);
      for (int64_t p = 0; p < kc; ++p)
        std::memcpy(&panel[size_t(p * W)], b + (k0 + p) * n + j0,
                    sizeof(float) * W);
      int64_t i = 0;
      for (; i + R <= n; i += R)
        microKernel<V, R, C>(a + i * n + k0, n, panel.data(), kc,
                                 c + i * n + j0, n);
      for (; i < n; ++i)
        microKernel<V, 1, C>(a + i * n + k0, n, panel.data(), kc,
                                 c + i * n + j0, n);
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MOEC_BENCH_X86 1
// 16 zmm accumulators (8 rows x 2 vectors): enough independent FMA chains
// to cover two FMA ports' latency.
__attribute__((target("avx512f,fma"))) void gemmAvx512(const float *a,
                                                       const float *b,
                                                       float *c, int64_t n) {
  gemmImpl<V16, 8, 2>(a, b, c, n);
}
// 12 ymm accumulators (6 rows x 2 vectors) leave room for B and A.
__attribute__((target("avx2,fma"))) void gemmAvx2(const float *a,
                                                  const float *b, float *c,
                                                  int64_t n) {
  gemmImpl<V8, 6, 2>(a, b, c, n);
}
#endif

void gemmBaseline(const float *a, const float *b, float *c, int64_t n) {
  gemmImpl<V4, 4, 4>(a, b, c, n);
}

enum class Isa { Avx512, Avx2, Baseline };

// The best ISA the CPU has, capped by MOEC_BENCH_ISA ("avx2", "baseline"),
// which the unit test uses to check every variant this CPU can run.
Isa detectIsa() {
  const char *cap = std::getenv("MOEC_BENCH_ISA");
  std::string limit = cap ? cap : "";
#ifdef MOEC_BENCH_X86
  __builtin_cpu_init();
  bool fma = __builtin_cpu_supports("fma");
  if (limit.empty() && __builtin_cpu_supports("avx512f") && fma)
    return Isa::Avx512;
  if (limit != "baseline" && __builtin_cpu_supports("avx2") && fma)
    return Isa::Avx2;
#endif
  return Isa::Baseline;
}

} // namespace

void hostGemm(const float *a, const float *b, float *c, int64_t n) {
  switch (detectIsa()) {
#ifdef MOEC_BENCH_X86
  case Isa::Avx512:
    return gemmAvx512(a, b, c, n);
  case Isa::Avx2:
    return gemmAvx2(a, b, c, n);
#endif
  default:
    return gemmBaseline(a, b, c, n);
  }
}

const char *hostGemmIsa() {
  switch (detectIsa()) {
  case Isa::Avx512: return "avx512";
  case Isa::Avx2: return "avx2+fma";
  default: return "baseline";
  }
}

Peak measureHostPeak(size_t copyBytes, int64_t gemmSize) {
  Peak peak;
  if (copyBytes > 0) {
    size_t count = copyBytes / sizeof(float);
    Buffer src = allocateFloats(count), dst = allocateFloats(count);
    if (!src || !dst) {
      peak.bandwidthMethod = "not measured: cannot allocate 2 x " +
                             std::to_string(copyBytes) + " bytes";
    } else {
      // Touch every page first so that page faults are not timed.
      std::memset(src.get(), 1, count * sizeof(float));
      std::memset(dst.get(), 0, count * sizeof(float));
      double best = 1e30;
      for (int rep = 0; rep < 7; ++rep) {
        auto start = Clock::now();
        std::memcpy(dst.get(), src.get(), count * sizeof(float));
        best = std::min(best, secondsSince(start));
      }
      // Keeps the copies from being optimized away.
      volatile float sink = dst.get()[count / 2];
      (void)sink;
      peak.bandwidth = 2.0 * double(count * sizeof(float)) / best;
      peak.bandwidthMethod =
          "host memcpy of " + std::to_string(copyBytes >> 20) +
          " MiB, bytes read + written, best of 7";
    }
  } else {
    peak.bandwidthMethod = "not measured (--peak-bytes 0)";
  }
  if (gemmSize > 0) {
    size_t elements = size_t(gemmSize) * size_t(gemmSize);
    Buffer a = allocateFloats(elements), b = allocateFloats(elements),
           c = allocateFloats(elements);
    if (!a || !b || !c) {
      peak.flopsMethod = "not measured: cannot allocate the GEMM operands";
      return peak;
    }
    // Random operands: a zero-heavy input could run faster than real data.
    std::mt19937 rng(12345);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (size_t i = 0; i < elements; ++i) {
      a.get()[i] = dist(rng);
      b.get()[i] = dist(rng);
    }
    hostGemm(a.get(), b.get(), c.get(), gemmSize); // warm-up
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      auto start = Clock::now();
      hostGemm(a.get(), b.get(), c.get(), gemmSize);
      best = std::min(best, secondsSince(start));
    }
    const double n = double(gemmSize);
    peak.flops = 2.0 * n * n * n / best;
    peak.flopsMethod = "moec-bench's blocked float32 GEMM n=" +
                       std::to_string(gemmSize) + ", 1 thread, " +
                       hostGemmIsa() + ", best of 5";
  } else {
    peak.flopsMethod = "not measured (--gemm-size 0)";
  }
  return peak;
}

} // namespace moec::bench
