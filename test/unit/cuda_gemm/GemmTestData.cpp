#include "test/unit/cuda_gemm/GemmTestData.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace moec_test {

uint16_t toBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f))
    return 0x7fc0;
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

double fromBf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t toHalfExact(double v) {
  if (v == 0)
    return 0;
  const uint16_t sign = v < 0 ? 0x8000 : 0;
  double a = std::fabs(v);
  int e = 0;
  while (a >= 2) {
    a /= 2;
    ++e;
  }
  while (a < 1) {
    a *= 2;
    --e;
  }
  if (e < -14) // subnormal: mantissa counts units of 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::ldexp(std::fabs(v), 24)));
  return static_cast<uint16_t>(sign | ((e + 15) << 10) | static_cast<uint16_t>((a - 1) * 1024));
}

double fromHalf(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double mag = e == 0 ? std::ldexp(m, -24) : e == 31 ? INFINITY : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -mag : mag;
}

Tensor randomTensor(std::mt19937 &rng, size_t n, float scale, bool half) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  Tensor t;
  for (size_t i = 0; i < n; ++i) {
    if (half) {
      const double v = std::round(dist(rng) * 1024.0) / 1024.0;
      t.bits.push_back(toHalfExact(v));
      t.values.push_back(v);
    } else {
      t.bits.push_back(toBf16(dist(rng)));
      t.values.push_back(fromBf16(t.bits.back()));
    }
  }
  return t;
}

Routing randomRouting(std::mt19937 &rng, long long tokens, long long k, long long experts) {
  Routing r;
  std::vector<std::vector<int>> byExpert(experts);
  for (long long t = 0; t < tokens; ++t) {
    std::vector<int> ids;
    for (long long e = 0; e < experts; ++e)
      if (e != 1)
        ids.push_back(static_cast<int>(e));
    std::shuffle(ids.begin(), ids.end(), rng);
    for (long long j = 0; j < k; ++j)
      byExpert[ids[j]].push_back(static_cast<int>(t * k + j));
  }
  r.expertOfSlot.assign(tokens * k, -1);
  r.offsets.push_back(0);
  for (long long e = 0; e < experts; ++e) {
    for (int s : byExpert[e]) {
      r.slots.push_back(s);
      r.expertOfSlot[s] = static_cast<int>(e);
    }
    r.offsets.push_back(static_cast<int>(r.slots.size()));
  }
  return r;
}

double activation(int act, double v) {
  switch (act) {
  case 0:
    return v > 0 ? v : 0;
  case 1:
    return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  case 2:
    return v / (1 + std::exp(-v));
  default:
    return v;
  }
}

} // namespace moec_test
