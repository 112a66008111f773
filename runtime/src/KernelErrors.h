//===- KernelErrors.h - what a kernel's error code means ---------*- C++ -*-===//
//
// Kernels report bad run-time data with a small integer (the host kernel's
// return value, the GPU status word). The codes are defined beside the
// kernels (moec_host_kernels.h, moec_cuda_*.cuh); this is their meaning in
// words, for the one-line error a run returns.
//
//===----------------------------------------------------------------------===//
#ifndef MOERT_SRC_KERNELERRORS_H
#define MOERT_SRC_KERNELERRORS_H

#include <string>

namespace moert {

// ": <meaning>" for a known (kernel, code) pair, "" otherwise. `kernel` is
// the step's symbol (e.g. "moec_k3_attention_kv_append").
std::string describeKernelError(const std::string &kernel, int code);

} // namespace moert

#endif // MOERT_SRC_KERNELERRORS_H
