//===- CudaDevice.h - moec-bench's own view of the GPU ---------*- C++ -*-===//
//
// libmoert times the model's runs (moert_session_enable_timing); what the
// runtime has no business doing lives here: measuring the device's peak
// bandwidth and GEMM rate, and flushing the L2 cache between runs. Like
// libmoert, the tool never links CUDA: it dlopens the driver (libcuda.so.1,
// or MOERT_LIBCUDA, so the tests' fake driver serves here too) and, for the
// GEMM, cuBLAS. It works in the device's primary context, the one libmoert
// sessions use.
//
//   bandwidth  cuMemcpyDtoDAsync between two buffers of --peak-bytes
//              (default 1 GiB), timed with CUDA events, bytes read + written
//              per second, best of 10 after 2 warm-ups;
//   FLOP rate  cublasGemmEx, bf16 inputs and output, f32 accumulation
//              (CUBLAS_COMPUTE_32F), n x n x n with n = --gemm-size
//              (default 8192), uniform random operands, events, best of 10
//              after 3 warm-ups. Without cuBLAS the rate is not measured
//              and the roofline uses the bandwidth term only (said so).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TOOLS_MOEC_BENCH_CUDADEVICE_H
#define MOEC_TOOLS_MOEC_BENCH_CUDADEVICE_H

#include "tools/moec-bench/Peak.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace moec::bench {

class CudaDevice {
public:
  CudaDevice() = default;
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;
  ~CudaDevice();

  /// Loads the driver and retains device `ordinal`'s primary context.
  bool open(int ordinal, std::string *error);

  const std::string &name() const { return name_; }
  /// "CUDA 13.0 (libcuda.so.1)".
  const std::string &driver() const { return driver_; }
  /// L2 size in bytes, 0 if the driver does not say.
  int64_t l2Bytes() const { return l2Bytes_; }

  /// Measures bandwidth and (with cuBLAS from `cublasPath`, or the usual
  /// sonames when empty) the bf16 GEMM rate. 0 sizes skip a measurement.
  Peak measurePeak(size_t copyBytes, int64_t gemmSize,
                   const std::string &cublasPath);

  /// Allocates the L2 flush buffer; flush() then overwrites it (memset on
  /// the tool's stream, synchronized) so that the next run finds none of
  /// the model's weights in L2, as a layer in a real model would.
  bool prepareFlush(size_t bytes, std::string *error);
  bool flush(std::string *error);

private:
  struct Api;
  bool check(int result, const char *what, std::string *error) const;
  bool copyPeak(size_t bytes, Peak *peak, std::string *error);
  bool gemmPeak(int64_t n, const std::string &cublasPath, Peak *peak,
                std::string *error);

  Api *api_ = nullptr;
  void *library_ = nullptr;
  int device_ = -1;
  void *context_ = nullptr;
  void *stream_ = nullptr;
  unsigned long long flushBuffer_ = 0;
  size_t flushBytes_ = 0;
  std::string name_, driver_;
  int64_t l2Bytes_ = 0;
};

} // namespace moec::bench

#endif // MOEC_TOOLS_MOEC_BENCH_CUDADEVICE_H
