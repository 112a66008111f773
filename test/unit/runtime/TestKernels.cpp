//===- TestKernels.cpp - Host kernels for the runtime unit tests ----------===//
//
// Built as a shared object (MODULE) whose bytes the tests embed in artifacts,
// exactly as moec embeds its generated host code. Every kernel follows the
// host ABI: int32_t fn(void* const* args, int64_t tokens), 0 on success.
// The hidden width H of the test models is 16.
//
//===----------------------------------------------------------------------===//

#include <cstdint>

namespace {
constexpr int64_t kHidden = 16;
}

extern "C" {

// y[t, h] = x[t, h] + w[h]. args: x (input), w (weight), y (output).
int32_t moert_test_add_weight(void *const *args, int64_t tokens) {
  const float *x = static_cast<const float *>(args[0]);
  const float *w = static_cast<const float *>(args[1]);
  float *y = static_cast<float *>(args[2]);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < kHidden; ++h)
      y[t * kHidden + h] = x[t * kHidden + h] + w[h];
  return 0;
}

// y[i] = 2 * x[i] over tokens*H elements. args: x, y.
int32_t moert_test_scale2(void *const *args, int64_t tokens) {
  const float *x = static_cast<const float *>(args[0]);
  float *y = static_cast<float *>(args[1]);
  for (int64_t i = 0; i < tokens * kHidden; ++i)
    y[i] = 2.0f * x[i];
  return 0;
}

// y[t, :] = table[ids[t], :], table (V, H) with V in args[3] as an int64
// weight holding V. Returns 1 when an id is out of range: a data error.
// args: ids (int64 input), table (weight), y (output), vocab (weight).
int32_t moert_test_gather(void *const *args, int64_t tokens) {
  const int64_t *ids = static_cast<const int64_t *>(args[0]);
  const float *table = static_cast<const float *>(args[1]);
  float *y = static_cast<float *>(args[2]);
  int64_t vocab = *static_cast<const int64_t *>(args[3]);
  for (int64_t t = 0; t < tokens; ++t) {
    if (ids[t] < 0 || ids[t] >= vocab)
      return 1;
    for (int64_t h = 0; h < kHidden; ++h)
      y[t * kHidden + h] = table[ids[t] * kHidden + h];
  }
  return 0;
}

// Always fails with code 7.
int32_t moert_test_fail(void *const *, int64_t) { return 7; }

} // extern "C"
