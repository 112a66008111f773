// Helpers shared by the host kernel tests: seeded random tensors and
// comparisons against float64 references.
#ifndef MOEC_TEST_UNIT_HOST_KERNELS_KERNELTESTUTIL_H
#define MOEC_TEST_UNIT_HOST_KERNELS_KERNELTESTUTIL_H

#include "compiler/host/kernels/moec_host_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace moec_test {

using moec_hk::index_t;

inline index_t numel(const std::vector<index_t> &shape) {
  index_t n = 1;
  for (index_t d : shape)
    n *= d;
  return n;
}

inline std::vector<index_t> stridesOf(const std::vector<index_t> &shape) {
  std::vector<index_t> s(shape.size());
  index_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

// Multi-index of linear position `flat` in `shape` (row-major).
inline std::vector<index_t> unravel(index_t flat, const std::vector<index_t> &shape) {
  std::vector<index_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Non-zero values in [-scale, -0.1*scale] U [0.1*scale, scale]: a kernel that
// ignores an input cannot pass by accident.
inline std::vector<float> randomFloats(std::mt19937 &rng, index_t n, float scale = 1.f) {
  std::uniform_real_distribution<float> mag(0.1f * scale, scale);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = sign(rng) ? mag(rng) : -mag(rng);
  return v;
}

inline std::vector<double> toDouble(const std::vector<float> &v) {
  return std::vector<double>(v.begin(), v.end());
}

// max |got - want| <= rel * max(1, max |want|): relative to the output scale.
inline ::testing::AssertionResult closeToReference(const std::vector<float> &got,
                                                   const std::vector<double> &want, double rel) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double scale = 1.0;
  for (double w : want)
    scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= rel * scale))
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << ", want " << want[i] << " (error " << err
             << " > " << rel << " * scale " << scale << ")";
  }
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult sameElements(const std::vector<T> &got, const std::vector<T> &want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i]))
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << ", want " << want[i];
  return ::testing::AssertionSuccess();
}

inline std::string shapeString(const std::vector<index_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace moec_test

#endif // MOEC_TEST_UNIT_HOST_KERNELS_KERNELTESTUTIL_H
