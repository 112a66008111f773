// moe_route_softmax_topk and moe_experts against a straightforward per-token
// float64 reference of com.microsoft.MoE (softmax, top-k, per-expert FFN).
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace moec_test {
namespace {

using moec_hk::Activation;
using moec_hk::MoEParams;

constexpr index_t kExperts = 5, kHidden = 24, kInter = 40;
constexpr double kRel = 1e-5; // float32 vs float64 over sums of <= 40 products

// Top-k by probability in float64, ties to the lower expert index.
void referenceRoute(const std::vector<float> &logits, index_t tokens, index_t E, index_t k, bool normalize,
                    std::vector<double> &weights, std::vector<int64_t> &ids) {
  weights.assign(tokens * k, 0);
  ids.assign(tokens * k, -1);
  for (index_t t = 0; t < tokens; ++t) {
    std::vector<double> prob(E);
    double mx = -INFINITY, sum = 0;
    for (index_t e = 0; e < E; ++e)
      mx = std::max(mx, double(logits[t * E + e]));
    for (index_t e = 0; e < E; ++e)
      sum += prob[e] = std::exp(double(logits[t * E + e]) - mx);
    for (double &p : prob)
      p /= sum;
    std::vector<index_t> order(E);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) { return prob[a] > prob[b]; });
    double selected = 0;
    for (index_t j = 0; j < k; ++j)
      selected += prob[order[j]];
    for (index_t j = 0; j < k; ++j) {
      ids[t * k + j] = order[j];
      weights[t * k + j] = normalize ? prob[order[j]] / selected : prob[order[j]];
    }
  }
}

TEST(MoERoute, SoftmaxTopKMatchesReference) {
  std::mt19937 rng(201);
  for (index_t tokens : {0, 1, 7, 33})
    for (index_t k = 1; k <= 3; ++k)
      for (bool normalize : {false, true}) {
        auto logits = randomFloats(rng, tokens * kExperts, 3.f);
        std::vector<double> wantW;
        std::vector<int64_t> wantIds;
        referenceRoute(logits, tokens, kExperts, k, normalize, wantW, wantIds);
        std::vector<float> w(tokens * k, -1.f);
        std::vector<int64_t> ids(tokens * k, -1);
        moec_hk::moe_route_softmax_topk<float>(logits.data(), w.data(), ids.data(), tokens, kExperts, k, normalize);
        EXPECT_TRUE(sameElements(ids, wantIds)) << "tokens " << tokens << " k " << k;
        EXPECT_TRUE(closeToReference(w, wantW, kRel)) << "tokens " << tokens << " k " << k;
      }
}

TEST(MoERoute, TiesPickTheLowerExpert) {
  std::vector<float> logits = {0.5f, 2.f, 2.f, -1.f, 2.f};
  std::vector<float> w(2);
  std::vector<int64_t> ids(2);
  moec_hk::moe_route_softmax_topk<float>(logits.data(), w.data(), ids.data(), 1, 5, 2, true);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2}));
  EXPECT_FLOAT_EQ(w[0], 0.5f);
  EXPECT_FLOAT_EQ(w[1], 0.5f);
}

struct ExpertWeights {
  std::vector<float> fc1, fc1b, fc2, fc2b, fc3, fc3b;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// FFN of one token through expert e, written from the operator definition.
std::vector<double> referenceFFN(const float *x, index_t e, const ExpertWeights &w, const MoEParams &p,
                                 bool bias) {
  const index_t H = p.hidden, I = p.inter;
  const bool fused = p.act == Activation::SwiGLU && p.swiglu_fusion != 0;
  const index_t F1 = fused ? 2 * I : I;
  auto row = [&](const std::vector<float> &W, const std::vector<float> &B, index_t rows, index_t r) {
    double acc = bias ? B[e * rows + r] : 0.0;
    for (index_t h = 0; h < H; ++h)
      acc += double(W[(e * rows + r) * H + h]) * x[h];
    return acc;
  };
  std::vector<double> a(I);
  for (index_t j = 0; j < I; ++j) {
    if (p.act == Activation::SwiGLU) {
      double gate, lin;
      if (p.swiglu_fusion == 0) {
        gate = row(w.fc1, w.fc1b, F1, j);
        lin = row(w.fc3, w.fc3b, I, j);
      } else if (p.swiglu_fusion == 1) {
        gate = row(w.fc1, w.fc1b, F1, 2 * j);
        lin = row(w.fc1, w.fc1b, F1, 2 * j + 1);
      } else {
        gate = row(w.fc1, w.fc1b, F1, j);
        lin = row(w.fc1, w.fc1b, F1, I + j);
      }
      gate = std::min(gate, double(p.limit));
      lin = std::clamp(lin, -double(p.limit), double(p.limit));
      a[j] = gate * sigmoid(double(p.alpha) * gate) * (lin + p.beta);
      continue;
    }
    double v = row(w.fc1, w.fc1b, F1, j);
    switch (p.act) {
    case Activation::Relu: a[j] = std::max(v, 0.0); break;
    // com.microsoft.MoE's gelu: the tanh approximation onnxruntime computes.
    case Activation::Gelu: a[j] = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))); break;
    case Activation::Silu: a[j] = v * sigmoid(v); break;
    default: a[j] = v; break;
    }
  }
  std::vector<double> out(H);
  for (index_t h = 0; h < H; ++h) {
    double acc = bias ? w.fc2b[e * H + h] : 0.0;
    for (index_t j = 0; j < I; ++j)
      acc += double(w.fc2[(e * H + h) * I + j]) * a[j];
    out[h] = acc;
  }
  return out;
}

struct ActCase {
  Activation act;
  int fusion;
  const char *name;
};

TEST(MoEExperts, EveryActivationFusionAndBiasMatchesReference) {
  std::mt19937 rng(301);
  const ActCase acts[] = {{Activation::Relu, 0, "relu"},       {Activation::Gelu, 0, "gelu"},
                          {Activation::Silu, 0, "silu"},       {Activation::Identity, 0, "identity"},
                          {Activation::SwiGLU, 0, "swiglu0"},  {Activation::SwiGLU, 1, "swiglu1"},
                          {Activation::SwiGLU, 2, "swiglu2"}};
  for (const ActCase &ac : acts)
    for (bool bias : {false, true})
      for (index_t k = 1; k <= 3; ++k)
        for (index_t tokens : {0, 1, 7, 33}) {
          MoEParams p{};
          p.hidden = kHidden;
          p.inter = kInter;
          p.experts = kExperts;
          p.k = k;
          p.act = ac.act;
          p.swiglu_fusion = ac.fusion;
          p.normalize = true;
          if (ac.act == Activation::SwiGLU) { // non-default constants, with the clamp active
            p.alpha = 1.702f;
            p.beta = 1.f;
            p.limit = 0.4f;
          }
          const bool fused = ac.act == Activation::SwiGLU && ac.fusion != 0;
          const index_t F1 = fused ? 2 * kInter : kInter;
          ExpertWeights w;
          // Scales keep every layer's output O(1) so the tolerance means the same everywhere.
          w.fc1 = randomFloats(rng, kExperts * F1 * kHidden, 0.4f);
          w.fc1b = randomFloats(rng, kExperts * F1, 0.5f);
          w.fc2 = randomFloats(rng, kExperts * kHidden * kInter, 0.3f);
          w.fc2b = randomFloats(rng, kExperts * kHidden, 0.5f);
          const bool hasFc3 = ac.act == Activation::SwiGLU && ac.fusion == 0;
          if (hasFc3) {
            w.fc3 = randomFloats(rng, kExperts * kInter * kHidden, 0.4f);
            w.fc3b = randomFloats(rng, kExperts * kInter, 0.5f);
          }
          auto X = randomFloats(rng, tokens * kHidden);
          auto logits = randomFloats(rng, tokens * kExperts, 3.f);
          std::vector<float> weights(tokens * k);
          std::vector<int64_t> ids(tokens * k);
          moec_hk::moe_route_softmax_topk<float>(logits.data(), weights.data(), ids.data(), tokens, kExperts, k,
                                                 true);
          std::vector<double> want(tokens * kHidden, 0.0);
          for (index_t t = 0; t < tokens; ++t)
            for (index_t j = 0; j < k; ++j) {
              auto y = referenceFFN(X.data() + t * kHidden, ids[t * k + j], w, p, bias);
              for (index_t h = 0; h < kHidden; ++h)
                want[t * kHidden + h] += double(weights[t * k + j]) * y[h];
            }
          // Exactly the advertised scratch, followed by a canary the kernel must not touch.
          const size_t bytes = moec_hk::moe_experts_scratch_bytes<float>(tokens, p);
          std::vector<unsigned char> scratch(bytes + 256, 0xAB);
          std::vector<float> Y(tokens * kHidden, 99.f);
          const int rc = moec_hk::moe_experts<float>(
              X.data(), weights.data(), ids.data(), w.fc1.data(), bias ? w.fc1b.data() : nullptr, w.fc2.data(),
              bias ? w.fc2b.data() : nullptr, hasFc3 ? w.fc3.data() : nullptr,
              hasFc3 && bias ? w.fc3b.data() : nullptr, Y.data(), scratch.data(), tokens, p);
          ASSERT_EQ(rc, 0) << ac.name;
          EXPECT_TRUE(closeToReference(Y, want, kRel))
              << ac.name << " bias " << bias << " k " << k << " tokens " << tokens;
          EXPECT_TRUE(std::all_of(scratch.begin() + bytes, scratch.end(), [](unsigned char c) { return c == 0xAB; }))
              << "scratch overrun: " << ac.name << " tokens " << tokens;
        }
}

// Many tokens on few experts: every expert runs several row chunks.
TEST(MoEExperts, LongRunsPerExpert) {
  std::mt19937 rng(401);
  MoEParams p{};
  p.hidden = 9;
  p.inter = 13;
  p.experts = 3;
  p.k = 2;
  p.act = Activation::Silu;
  p.swiglu_fusion = 0;
  p.normalize = false;
  const index_t tokens = 300;
  ExpertWeights w;
  w.fc1 = randomFloats(rng, 3 * 13 * 9, 0.5f);
  w.fc2 = randomFloats(rng, 3 * 9 * 13, 0.4f);
  auto X = randomFloats(rng, tokens * 9);
  auto weights = randomFloats(rng, tokens * 2);
  std::vector<int64_t> ids(tokens * 2);
  std::uniform_int_distribution<int64_t> e(0, 2);
  for (auto &i : ids)
    i = e(rng); // duplicates within a token are allowed: both slots count
  std::vector<double> want(tokens * 9, 0.0);
  for (index_t t = 0; t < tokens; ++t)
    for (index_t j = 0; j < 2; ++j) {
      auto y = referenceFFN(X.data() + t * 9, ids[t * 2 + j], w, p, false);
      for (index_t h = 0; h < 9; ++h)
        want[t * 9 + h] += double(weights[t * 2 + j]) * y[h];
    }
  std::vector<unsigned char> scratch(moec_hk::moe_experts_scratch_bytes<float>(tokens, p));
  std::vector<float> Y(tokens * 9);
  ASSERT_EQ(moec_hk::moe_experts<float>(X.data(), weights.data(), ids.data(), w.fc1.data(), nullptr, w.fc2.data(),
                                        nullptr, nullptr, nullptr, Y.data(), scratch.data(), tokens, p),
            0);
  EXPECT_TRUE(closeToReference(Y, want, kRel));
}

// The compiler plans the workspace in an arena from scratch(0) and scratch(1):
// the size must be exactly affine in the token count.
TEST(MoEExperts, ScratchIsExactlyAffineInTokens) {
  for (Activation act : {Activation::Relu, Activation::SwiGLU})
    for (int fusion : {0, 1, 2})
      for (index_t k = 1; k <= 3; ++k) {
        MoEParams p{};
        p.hidden = 24;
        p.inter = 40;
        p.experts = 5;
        p.k = k;
        p.act = act;
        p.swiglu_fusion = fusion;
        p.normalize = false;
        const int64_t base = int64_t(moec_hk::moe_experts_scratch_bytes<float>(0, p));
        const int64_t slope = int64_t(moec_hk::moe_experts_scratch_bytes<float>(1, p)) - base;
        EXPECT_EQ(slope, int64_t(sizeof(int64_t)) * k);
        for (index_t tokens : {2, 3, 17, 64, 65, 1000, 100000})
          EXPECT_EQ(int64_t(moec_hk::moe_experts_scratch_bytes<float>(tokens, p)), base + slope * tokens)
              << "tokens " << tokens << " k " << k;
      }
}

TEST(MoEExperts, BadExpertIdsAndParametersAreReported) {
  MoEParams p{};
  p.hidden = 4;
  p.inter = 3;
  p.experts = 2;
  p.k = 1;
  p.act = Activation::Relu;
  p.swiglu_fusion = 0;
  p.normalize = false;
  std::vector<float> X(8, 1.f), w(2, 1.f), fc1(2 * 3 * 4, 0.5f), fc2(2 * 4 * 3, 0.5f), Y(8);
  std::vector<unsigned char> scratch(moec_hk::moe_experts_scratch_bytes<float>(2, p));
  for (int64_t bad : {2, -1, 1000}) {
    std::vector<int64_t> ids = {0, bad};
    EXPECT_EQ(moec_hk::moe_experts<float>(X.data(), w.data(), ids.data(), fc1.data(), nullptr, fc2.data(), nullptr,
                                          nullptr, nullptr, Y.data(), scratch.data(), 2, p),
              1)
        << bad;
  }
  std::vector<int64_t> ids = {0, 1};
  p.act = Activation::SwiGLU; // fusion 0 needs fc3
  EXPECT_EQ(moec_hk::moe_experts<float>(X.data(), w.data(), ids.data(), fc1.data(), nullptr, fc2.data(), nullptr,
                                        nullptr, nullptr, Y.data(), scratch.data(), 2, p),
            2);
}

// Quantized experts: random integer weights (int8, or int4 packed two per
// byte) with random per-block scales (group sizes 0 = per row, a divisor, a
// non-divisor) against the float reference run on the dequantized weights.
// The kernel's only difference is the order of float additions (per block,
// then scaled), so kRel holds.
void checkQuantizedExperts(int bits, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> qd(bits == 4 ? -8 : -127, bits == 4 ? 7 : 127);
  std::uniform_real_distribution<float> sd(0.001f, bits == 4 ? 0.1f : 0.01f);
  for (index_t group : {0, 4, 5}) {
    MoEParams p{};
    p.hidden = 12;
    p.inter = 10;
    p.experts = 3;
    p.k = 2;
    p.act = Activation::SwiGLU;
    p.swiglu_fusion = 0;
    p.alpha = 1.702f;
    p.beta = 1.f;
    p.limit = 7.f;
    const index_t H = 12, I = 10, E = 3, tokens = 37;
    auto quantized = [&](index_t rows, index_t cols, std::vector<int8_t> &q,
                         std::vector<float> &scales, std::vector<float> &dq) {
      const index_t g = group > 0 ? group : cols, blocks = (cols + g - 1) / g;
      q.resize(E * rows * cols);
      scales.resize(E * rows * blocks);
      dq.resize(q.size());
      for (auto &v : q)
        v = static_cast<int8_t>(qd(rng));
      for (auto &v : scales)
        v = sd(rng);
      for (index_t r = 0; r < E * rows; ++r)
        for (index_t c = 0; c < cols; ++c)
          dq[r * cols + c] = float(q[r * cols + c]) * scales[r * blocks + c / g];
      return g;
    };
    std::vector<int8_t> q1, q2, q3;
    std::vector<float> s1, s2, s3;
    ExpertWeights w;
    const index_t g1 = quantized(I, H, q1, s1, w.fc1), g2 = quantized(H, I, q2, s2, w.fc2),
                  g3 = quantized(I, H, q3, s3, w.fc3);
    auto X = randomFloats(rng, tokens * H);
    auto weights = randomFloats(rng, tokens * 2);
    std::vector<int64_t> ids(tokens * 2);
    std::uniform_int_distribution<int64_t> e(0, E - 1);
    for (auto &i : ids)
      i = e(rng);
    std::vector<double> want(tokens * H, 0.0);
    for (index_t t = 0; t < tokens; ++t)
      for (index_t j = 0; j < 2; ++j) {
        auto y = referenceFFN(X.data() + t * H, ids[t * 2 + j], w, p, false);
        for (index_t h = 0; h < H; ++h)
          want[t * H + h] += double(weights[t * 2 + j]) * y[h];
      }
    std::vector<unsigned char> scratch(moec_hk::moe_experts_scratch_bytes<float>(tokens, p));
    std::vector<float> Y(tokens * H);
    int rc;
    if (bits == 8) {
      rc = moec_hk::moe_experts<float, int8_t>(
          X.data(), weights.data(), ids.data(), q1.data(), nullptr, q2.data(), nullptr, q3.data(),
          nullptr, Y.data(), scratch.data(), tokens, p, s1.data(), s2.data(), s3.data(), g1, g2, g3);
    } else {
      // Two values per byte along each row (rows of 12 and 10 values: even).
      auto pack = [](const std::vector<int8_t> &q) {
        std::vector<int8_t> out(q.size() / 2);
        for (size_t i = 0; i < out.size(); ++i)
          out[i] = static_cast<int8_t>((static_cast<uint8_t>(q[2 * i]) & 0xF) |
                                       ((static_cast<uint8_t>(q[2 * i + 1]) & 0xF) << 4));
        return out;
      };
      auto p1 = pack(q1), p2 = pack(q2), p3 = pack(q3);
      using moec_hk::int4x2;
      rc = moec_hk::moe_experts<float, int4x2>(
          X.data(), weights.data(), ids.data(), reinterpret_cast<const int4x2 *>(p1.data()),
          nullptr, reinterpret_cast<const int4x2 *>(p2.data()), nullptr,
          reinterpret_cast<const int4x2 *>(p3.data()), nullptr, Y.data(), scratch.data(), tokens,
          p, s1.data(), s2.data(), s3.data(), g1, g2, g3);
    }
    ASSERT_EQ(rc, 0);
    EXPECT_TRUE(closeToReference(Y, want, kRel)) << bits << "-bit, group " << group;
  }
}

TEST(MoEExperts, Int8WeightsMatchTheDequantizedReference) { checkQuantizedExperts(8, 509); }

TEST(MoEExperts, PackedInt4WeightsMatchTheDequantizedReference) { checkQuantizedExperts(4, 510); }

} // namespace
} // namespace moec_test
