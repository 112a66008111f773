//===- Peak.h - Measured bandwidth and FLOP rate of a device ---*- C++ -*-===//
//
// The roofline moec-bench reports against is measured on the device the
// model runs on, by the tool itself, never taken from a datasheet:
//
//   host  bandwidth: memcpy between two buffers of --peak-bytes (default
//                    256 MiB), bytes read + written per second, best of 7;
//         FLOP rate: this tool's own blocked float32 GEMM (n = --gemm-size,
//                    default 512: operands that fit L2), one thread like moec's host kernels,
//                    built for the best vector ISA the CPU has (function
//                    multiversioning: AVX-512, AVX2+FMA or baseline), best
//                    of 5. A simple kernel, so a lower bound of the CPU's
//                    peak: roofline fractions against it are, if anything,
//                    too high, never too low.
//   CUDA  see CudaDevice.h.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TOOLS_MOEC_BENCH_PEAK_H
#define MOEC_TOOLS_MOEC_BENCH_PEAK_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace moec::bench {

struct Peak {
  /// Bytes per second; 0 when not measured.
  double bandwidth = 0;
  std::string bandwidthMethod;
  /// FLOP per second; 0 when not measured (then `flopsMethod` says why).
  double flops = 0;
  std::string flopsMethod;
};

/// Measures the host's copy bandwidth and single-thread float32 GEMM rate.
/// `copyBytes` or `gemmSize` 0 skips that measurement.
Peak measureHostPeak(size_t copyBytes, int64_t gemmSize);

/// The blocked GEMM behind the host FLOP rate, C = A·B for row-major
/// n x n float32 matrices, n a multiple of 32 (exposed for its unit test).
void hostGemm(const float *a, const float *b, float *c, int64_t n);

/// Which clone of hostGemm this CPU runs ("avx512", "avx2+fma", "baseline").
const char *hostGemmIsa();

} // namespace moec::bench

#endif // MOEC_TOOLS_MOEC_BENCH_PEAK_H
