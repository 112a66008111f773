// The fp8 E4M3FN weight path of the host kernels: decoding every one of the
// 256 codes against a reference built here from the bit fields (a different
// construction than the header's: the float32 bit pattern is assembled
// directly), then the fp8 linear layer, the standalone dequantize and the
// expert kernel against float64 / float references on the decoded weights.
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <cstring>

namespace moec_test {
namespace {

constexpr double kRel = 1e-5;

// E4M3FN code -> float32 by assembling the IEEE single bit pattern: sign,
// exponent rebased from bias 7 to bias 127, mantissa shifted into the top
// bits; subnormals (exponent field 0) normalized by hand. 0x7F/0xFF are NaN.
float referenceDecode(uint8_t code) {
  const uint32_t sign = static_cast<uint32_t>(code >> 7) << 31;
  const uint32_t exponent = (code >> 3) & 0xF, mantissa = code & 0x7;
  uint32_t bits;
  if (exponent == 0xF && mantissa == 0x7)
    return std::numeric_limits<float>::quiet_NaN();
  if (exponent != 0) {
    bits = sign | ((exponent - 7 + 127) << 23) | (mantissa << 20);
  } else if (mantissa == 0) {
    bits = sign; // +-0
  } else {
    // m * 2^-9 with m in 1..7: the leading one at bit p gives 2^(p - 9) and
    // the bits below it become the float32 fraction.
    uint32_t p = mantissa >= 4 ? 2 : mantissa >= 2 ? 1 : 0;
    uint32_t fraction = (mantissa - (1u << p)) << (23 - p);
    bits = sign | ((p - 9 + 127) << 23) | fraction;
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(Fp8E4M3, EveryCodeDecodesExactly) {
  // Anchors from the format's definition, independent of both decoders.
  EXPECT_EQ(referenceDecode(0x7E), 448.f);
  EXPECT_EQ(referenceDecode(0x38), 1.f);
  EXPECT_EQ(referenceDecode(0x08), 0.015625f);     // 2^-6, smallest normal
  EXPECT_EQ(referenceDecode(0x01), 0.001953125f);  // 2^-9, smallest subnormal
  EXPECT_EQ(referenceDecode(0x07), 7 * 0.001953125f);
  EXPECT_EQ(referenceDecode(0xC4), -3.f);
  for (int c = 0; c < 256; ++c) {
    const uint8_t code = static_cast<uint8_t>(c);
    const float want = referenceDecode(code);
    const float got = static_cast<float>(moec_hk::fp8_e4m3{code});
    const float table = moec_hk::fp8_e4m3_table()[c];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got) && std::isnan(table)) << "code " << c;
      EXPECT_TRUE(c == 0x7F || c == 0xFF) << "code " << c;
      continue;
    }
    // Bit for bit: the sign of zero included.
    EXPECT_EQ(bitsOf(got), bitsOf(want)) << "code " << c << ": " << got << " vs " << want;
    EXPECT_EQ(bitsOf(table), bitsOf(want)) << "code " << c;
  }
}

// Random finite codes (never the NaN ones).
std::vector<moec_hk::fp8_e4m3> randomCodes(std::mt19937 &rng, index_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<moec_hk::fp8_e4m3> out(static_cast<size_t>(n));
  for (auto &q : out) {
    int c;
    do
      c = byte(rng);
    while ((c & 0x7F) == 0x7F);
    q.bits = static_cast<uint8_t>(c);
  }
  return out;
}

// linear_f8 and dequantize<fp8_e4m3> against float64 on the decoded weights,
// for per-row scales, blocks that divide K and blocks that do not.
TEST(LinearF8, MatchesTheDequantizedReference) {
  std::mt19937 rng(47);
  std::uniform_real_distribution<float> sd(0.0005f, 0.004f);
  const index_t shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 33, 65}, {4, 64, 32}, {0, 5, 3}};
  for (auto &shape : shapes)
    for (index_t group : {0, 1, 4, 16})
      for (bool withBias : {false, true}) {
        const index_t M = shape[0], K = shape[1], N = shape[2];
        const index_t g = group > 0 ? group : K, blocks = (K + g - 1) / g;
        auto Q = randomCodes(rng, N * K);
        std::vector<float> scales(N * blocks);
        for (auto &v : scales)
          v = sd(rng);
        auto X = randomFloats(rng, M * K), b = randomFloats(rng, N);
        std::vector<double> wantD(N * K), want(M * N);
        for (index_t j = 0; j < N; ++j)
          for (index_t k = 0; k < K; ++k)
            wantD[j * K + k] =
                double(referenceDecode(Q[j * K + k].bits)) * scales[j * blocks + k / g];
        for (index_t i = 0; i < M; ++i)
          for (index_t j = 0; j < N; ++j) {
            double acc = withBias ? b[j] : 0.0;
            for (index_t k = 0; k < K; ++k)
              acc += double(X[i * K + k]) * wantD[j * K + k];
            want[i * N + j] = acc;
          }
        std::vector<float> Y(M * N, 12345.f);
        moec_hk::linear_f8<float>(X.data(), Q.data(), scales.data(), group,
                                  withBias ? b.data() : nullptr, Y.data(), M, K, N);
        EXPECT_TRUE(closeToReference(Y, want, kRel))
            << "M=" << M << " K=" << K << " N=" << N << " group=" << group << " bias=" << withBias;

        std::vector<float> D(N * K);
        moec_hk::dequantize<moec_hk::fp8_e4m3, float, float>(Q.data(), scales.data(), D.data(), N,
                                                              K, 1, g);
        // code * scale is one float32 rounding of an exact product.
        EXPECT_TRUE(closeToReference(D, wantD, 1e-7)) << "dequantize, group=" << group;
      }
}

// moe_experts with fp8 weights against the same kernel on the decoded float
// weights (itself checked against float64 in MoEKernelsTest): the only
// difference is the order of float additions (per block, then scaled).
TEST(MoEExperts, Fp8WeightsMatchTheDequantizedFloatKernel) {
  std::mt19937 rng(511);
  std::uniform_real_distribution<float> sd(0.0005f, 0.003f);
  for (index_t group : {0, 4, 5}) {
    moec_hk::MoEParams p{};
    p.hidden = 12;
    p.inter = 10;
    p.experts = 3;
    p.k = 2;
    p.act = moec_hk::Activation::SwiGLU;
    p.swiglu_fusion = 0;
    p.alpha = 1.702f;
    p.beta = 1.f;
    p.limit = 7.f;
    p.normalize = false;
    const index_t H = 12, I = 10, E = 3, tokens = 37;
    struct Weight {
      std::vector<moec_hk::fp8_e4m3> q;
      std::vector<float> scales, decoded;
      index_t group;
    };
    auto make = [&](index_t rows, index_t cols) {
      Weight w;
      w.group = group > 0 ? group : cols;
      const index_t blocks = (cols + w.group - 1) / w.group;
      w.q = randomCodes(rng, E * rows * cols);
      w.scales.resize(E * rows * blocks);
      for (auto &v : w.scales)
        v = sd(rng);
      w.decoded.resize(w.q.size());
      for (index_t r = 0; r < E * rows; ++r)
        for (index_t c = 0; c < cols; ++c)
          w.decoded[r * cols + c] =
              referenceDecode(w.q[r * cols + c].bits) * w.scales[r * blocks + c / w.group];
      return w;
    };
    Weight fc1 = make(I, H), fc2 = make(H, I), fc3 = make(I, H);
    auto X = randomFloats(rng, tokens * H);
    auto weights = randomFloats(rng, tokens * 2);
    std::vector<int64_t> ids(tokens * 2);
    std::uniform_int_distribution<int64_t> e(0, E - 1);
    for (auto &i : ids)
      i = e(rng);
    std::vector<unsigned char> scratch(moec_hk::moe_experts_scratch_bytes<float>(tokens, p));
    std::vector<float> want(tokens * H), got(tokens * H);
    ASSERT_EQ(moec_hk::moe_experts<float>(X.data(), weights.data(), ids.data(), fc1.decoded.data(),
                                          nullptr, fc2.decoded.data(), nullptr, fc3.decoded.data(),
                                          nullptr, want.data(), scratch.data(), tokens, p),
              0);
    ASSERT_EQ((moec_hk::moe_experts<float, moec_hk::fp8_e4m3>(
                  X.data(), weights.data(), ids.data(), fc1.q.data(), nullptr, fc2.q.data(),
                  nullptr, fc3.q.data(), nullptr, got.data(), scratch.data(), tokens, p,
                  fc1.scales.data(), fc2.scales.data(), fc3.scales.data(), fc1.group, fc2.group,
                  fc3.group)),
              0);
    EXPECT_TRUE(closeToReference(got, toDouble(want), kRel)) << "group " << group;
  }
}

} // namespace
} // namespace moec_test
