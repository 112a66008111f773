//===- KernelErrors.cpp - what a kernel's error code means -----------------===//
#include "runtime/src/KernelErrors.h"

namespace moert {
namespace {

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

std::string describeKernelError(const std::string &kernel, int code) {
  // The attention kernels (kAttention* in the kernel headers) check the
  // cache lengths the caller passes before touching the cache.
  if (endsWith(kernel, "_attention_kv_append") || endsWith(kernel, "_attention")) {
    switch (code) {
    case 3:
      return ": total_sequence_length is out of range (it must be at least 1 and the "
             "run's token count, and at most the KV cache capacity)";
    case 4:
      return ": seqlens_k is out of range (each row's length, seqlens_k + 1, must be in "
             "[1, cache capacity] and, after the prompt, at least the run's token count)";
    case 5:
      return ": a position is beyond the rotary cos/sin tables";
    default:
      break;
    }
  }
  if (endsWith(kernel, "_range") && code == 3)
    return ": Range's start, limit and delta give another length than the compiled one";
  if (endsWith(kernel, "_rotary") && code == 1)
    return ": a position id is outside the rotary cos/sin tables";
  if (code == 1)
    return ": an index is out of range";
  return "";
}

} // namespace moert
