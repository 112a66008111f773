// self_attention (the kernel of moe.self_attention: causal grouped-query
// attention of a prompt over itself, no cache) against a float64 reference
// written here from the op's description: scores masked to j <= i (and
// i - j < window), optional softcap, softmax whose denominator also counts
// exp(sink_h).
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <cmath>
#include <limits>

namespace moec_test {
namespace {

using moec_hk::SelfAttentionShape;

// f32 against f64: each score is an f32 dot product of 16 terms of size <= 1
// (rounding <= 16 * 2^-24 ~ 1e-6 of its magnitude, <= 16), times scale and
// through tanh (a few ulp); exp of a difference of size <= ~40 has a relative
// error of ~40 * 2^-24 ~ 2.4e-6; the output is a convex combination of <= 33
// value rows of size <= 1 (another <= 33 * 2^-24 ~ 2e-6). All told a few 1e-6
// of max(1, |output|), so 1e-5 holds with a margin, while a wrong key, head,
// mask edge or sink moves outputs by 1e-2 or more.
constexpr double kRel = 1e-5;

struct Config {
  index_t batch = 2, heads = 4, kv_heads = 2, seq = 7, head_dim = 16, value_dim = 16;
  float scale = 1.f, softcap = 0.f;
  index_t window = 0;
  bool sinks = false;
};

std::string describe(const Config &c) {
  return "B" + std::to_string(c.batch) + " N" + std::to_string(c.heads) + " KV" +
         std::to_string(c.kv_heads) + " S" + std::to_string(c.seq) + " D" +
         std::to_string(c.head_dim) + " Dv" + std::to_string(c.value_dim) + " softcap " +
         std::to_string(c.softcap) + " window " + std::to_string(c.window) +
         (c.sinks ? " sinks" : "");
}

SelfAttentionShape shapeFor(const Config &c) {
  SelfAttentionShape s{};
  s.batch = c.batch;
  s.seq = c.seq;
  s.num_heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.head_dim = c.head_dim;
  s.value_dim = c.value_dim;
  s.scale = c.scale;
  s.softcap = c.softcap;
  s.window = c.window;
  return s;
}

struct Inputs {
  std::vector<float> q, k, v, sinks;
};

Inputs randomInputs(std::mt19937 &rng, const Config &c) {
  Inputs in;
  in.q = randomFloats(rng, c.batch * c.heads * c.seq * c.head_dim);
  in.k = randomFloats(rng, c.batch * c.kv_heads * c.seq * c.head_dim);
  in.v = randomFloats(rng, c.batch * c.kv_heads * c.seq * c.value_dim);
  // Sinks of the size of the scores (up to ~3), so they take a visible share.
  if (c.sinks)
    in.sinks = randomFloats(rng, c.heads, 3.f);
  return in;
}

// The op's definition in float64, with the mask spelled out over all S keys.
std::vector<double> reference(const Config &c, const Inputs &in) {
  const index_t N = c.heads, KV = c.kv_heads, S = c.seq, D = c.head_dim, DV = c.value_dim;
  std::vector<double> out(static_cast<size_t>(c.batch * N * S * DV));
  std::vector<double> scores(static_cast<size_t>(S));
  for (index_t b = 0; b < c.batch; ++b)
    for (index_t h = 0; h < N; ++h) {
      const index_t g = h / (N / KV);
      for (index_t i = 0; i < S; ++i) {
        double top = c.sinks ? in.sinks[h] : -std::numeric_limits<double>::infinity();
        for (index_t j = 0; j < S; ++j) {
          const bool allowed = j <= i && (c.window <= 0 || i - j < c.window);
          if (!allowed) {
            scores[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double dot = 0;
          for (index_t d = 0; d < D; ++d)
            dot += static_cast<double>(in.q[((b * N + h) * S + i) * D + d]) *
                   in.k[((b * KV + g) * S + j) * D + d];
          double score = dot * c.scale;
          if (c.softcap > 0)
            score = c.softcap * std::tanh(score / c.softcap);
          scores[j] = score;
          top = std::max(top, score);
        }
        double sum = c.sinks ? std::exp(in.sinks[h] - top) : 0.0;
        for (index_t j = 0; j < S; ++j)
          sum += std::exp(scores[j] - top);
        for (index_t d = 0; d < DV; ++d) {
          double acc = 0;
          for (index_t j = 0; j < S; ++j)
            acc += std::exp(scores[j] - top) * in.v[((b * KV + g) * S + j) * DV + d];
          out[((b * N + h) * S + i) * DV + d] = acc / sum;
        }
      }
    }
  return out;
}

std::vector<float> run(const Config &c, const Inputs &in) {
  std::vector<float> out(static_cast<size_t>(c.batch * c.heads * c.seq * c.value_dim), -7.f);
  EXPECT_EQ(moec_hk::self_attention<float>(in.q.data(), in.k.data(), in.v.data(),
                                           c.sinks ? in.sinks.data() : nullptr, out.data(),
                                           shapeFor(c)),
            0)
      << describe(c);
  return out;
}

// Every combination the op's users produce: GQA (KV = 2) and MHA (KV = 4),
// one token, a few, and more than a 32-key tile; value size equal to the
// key size and smaller (DeepSeek MLA); window, softcap and sinks on and off.
TEST(SelfAttention, MatchesFloat64ReferenceOverAllForms) {
  std::mt19937 rng(20261123);
  int cases = 0;
  for (index_t kvHeads : {2, 4})
    for (index_t seq : {1, 7, 33})
      for (index_t valueDim : {16, 8})
        for (index_t window : {0, 3})
          for (float softcap : {0.f, 30.f})
            for (bool sinks : {false, true}) {
              Config c;
              c.kv_heads = kvHeads;
              c.seq = seq;
              c.value_dim = valueDim;
              c.window = window;
              c.softcap = softcap;
              c.sinks = sinks;
              const Inputs in = randomInputs(rng, c);
              EXPECT_TRUE(closeToReference(run(c, in), reference(c, in), kRel)) << describe(c);
              ++cases;
            }
  EXPECT_EQ(cases, 96);
}

// The reference checks above could all pass with the features having little
// effect; this pins that each one changes the result beyond the tolerance.
TEST(SelfAttention, WindowSoftcapAndSinksEachMatter) {
  std::mt19937 rng(7);
  Config base;
  base.seq = 9;
  base.sinks = true;
  base.window = 3;
  base.softcap = 30.f;
  base.scale = 2.f; // scores up to ~30: the softcap bends them
  const Inputs in = randomInputs(rng, base);
  const std::vector<double> want = reference(base, in);
  auto differs = [&](Config c) {
    EXPECT_FALSE(closeToReference(run(c, in), want, 100 * kRel)) << describe(c);
  };
  Config c = base;
  c.window = 0;
  differs(c);
  c = base;
  c.softcap = 0.f;
  differs(c);
  c = base;
  c.sinks = false;
  differs(c);
  EXPECT_TRUE(closeToReference(run(base, in), want, kRel)) << describe(base);
}

// Causality: keys and values after query i are set huge; rows 0..i must not
// change at all (their arithmetic does not involve those rows), and must still
// match the reference.
TEST(SelfAttention, FutureKeysAndValuesDoNotLeak) {
  std::mt19937 rng(11);
  Config c;
  c.seq = 12;
  c.sinks = true;
  Inputs in = randomInputs(rng, c);
  const std::vector<float> before = run(c, in);
  const index_t cut = 5; // rows [0, cut) keep their keys
  for (index_t bg = 0; bg < c.batch * c.kv_heads; ++bg)
    for (index_t j = cut; j < c.seq; ++j) {
      for (index_t d = 0; d < c.head_dim; ++d)
        in.k[(bg * c.seq + j) * c.head_dim + d] = 1e3f;
      for (index_t d = 0; d < c.value_dim; ++d)
        in.v[(bg * c.seq + j) * c.value_dim + d] = 1e6f;
    }
  const std::vector<float> after = run(c, in);
  const std::vector<double> want = reference(c, in);
  for (index_t bh = 0; bh < c.batch * c.heads; ++bh)
    for (index_t i = 0; i < cut; ++i)
      for (index_t d = 0; d < c.value_dim; ++d) {
        const size_t at = static_cast<size_t>((bh * c.seq + i) * c.value_dim + d);
        ASSERT_EQ(after[at], before[at]) << "row " << i << " of (b, h) " << bh;
        ASSERT_NEAR(after[at], want[at], kRel) << "row " << i;
      }
  // Rows at or after the cut see the huge values (with weight ~1 wherever
  // q.k > 0 for the huge keys): the test can fail.
  float largest = 0.f;
  for (index_t bh = 0; bh < c.batch * c.heads; ++bh)
    for (index_t i = cut; i < c.seq; ++i)
      largest = std::max(largest, std::fabs(after[static_cast<size_t>((bh * c.seq + i) * c.value_dim)]));
  EXPECT_GT(largest, 1e3f);
}

// The window: keys older than i - window + 1 are set huge; the last row keeps
// its output exactly.
TEST(SelfAttention, KeysBeforeTheWindowDoNotLeak) {
  std::mt19937 rng(13);
  Config c;
  c.seq = 10;
  c.window = 4;
  Inputs in = randomInputs(rng, c);
  const std::vector<float> before = run(c, in);
  const index_t last = c.seq - 1, oldest = last - c.window + 1;
  for (index_t bg = 0; bg < c.batch * c.kv_heads; ++bg)
    for (index_t j = 0; j < oldest; ++j) {
      for (index_t d = 0; d < c.head_dim; ++d)
        in.k[(bg * c.seq + j) * c.head_dim + d] = 1e3f;
      for (index_t d = 0; d < c.value_dim; ++d)
        in.v[(bg * c.seq + j) * c.value_dim + d] = 1e6f;
    }
  const std::vector<float> after = run(c, in);
  for (index_t bh = 0; bh < c.batch * c.heads; ++bh)
    for (index_t d = 0; d < c.value_dim; ++d) {
      const size_t at = static_cast<size_t>((bh * c.seq + last) * c.value_dim + d);
      ASSERT_EQ(after[at], before[at]) << "(b, h) " << bh;
    }
  EXPECT_TRUE(closeToReference(after, reference(c, in), kRel));
}

// S = 0 is a valid run (an empty prompt): nothing is read or written.
TEST(SelfAttention, EmptySequenceWritesNothing) {
  Config c;
  c.seq = 0;
  c.sinks = true;
  std::vector<float> sentinel(8, -3.f), sinks(static_cast<size_t>(c.heads), 0.5f);
  EXPECT_EQ(moec_hk::self_attention<float>(nullptr, nullptr, nullptr, sinks.data(),
                                           sentinel.data(), shapeFor(c)),
            0);
  EXPECT_TRUE(sameElements(sentinel, std::vector<float>(8, -3.f)));
}

// A shape that breaks the emitter's contract is refused before any write.
TEST(SelfAttention, BadShapeIsRefused) {
  std::vector<float> q(64, 0.5f), out(64, -3.f);
  Config c;
  c.batch = 1;
  c.seq = 1;
  SelfAttentionShape s = shapeFor(c);
  s.kv_heads = 3; // 4 heads are not a multiple of 3
  EXPECT_EQ(moec_hk::self_attention<float>(q.data(), q.data(), q.data(), nullptr, out.data(), s), 2);
  s = shapeFor(c);
  s.window = -1;
  EXPECT_EQ(moec_hk::self_attention<float>(q.data(), q.data(), q.data(), nullptr, out.data(), s), 2);
  s = shapeFor(c);
  s.softcap = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(moec_hk::self_attention<float>(q.data(), q.data(), q.data(), nullptr, out.data(), s), 2);
  EXPECT_TRUE(sameElements(out, std::vector<float>(64, -3.f)));
}

} // namespace
} // namespace moec_test
