// moe_route_sigmoid (DeepSeek-V3 routing: sigmoid scores, a selection bias,
// group-limited top-k, routed scaling) against a float64 reference written
// from transformers' DeepseekV3TopkRouter.forward, with the kernel's tie rule
// (larger first, equal values to the lower index) where torch leaves ties
// unspecified. sigmoid_router_reference.py (beside this file, not run by CI)
// checks that a numpy copy of this reference equals the HF code.
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace moec_test {
namespace {

struct Router {
  index_t experts, k, groups, topk_groups;
  bool normalize;
  float scaling;
};

std::string describe(const Router &r) {
  return "E " + std::to_string(r.experts) + " k " + std::to_string(r.k) + " groups " + std::to_string(r.groups) +
         " topk_groups " + std::to_string(r.topk_groups) + (r.normalize ? " normalized" : "") + " scaling " +
         std::to_string(r.scaling);
}

// Two sel values (or group scores) closer than this but not equal could be
// ordered either way by the float kernel: a float sel carries about 5 units of
// u = 2^-24 relative rounding (exp, add, divide, bias add) on values below
// 1.1, a group score twice that plus its own sum, all below 1e-6. Exactly
// equal values are deliberate ties (equal inputs) and decide by index.
constexpr double kAmbiguous = 4e-6;

struct Routed {
  std::vector<int64_t> ids;
  std::vector<double> weights;
  bool clear = true; // false: some decision had a margin inside float rounding
};

// Indices 0..n-1 by descending v, equal values in index order.
std::vector<index_t> descending(const std::vector<double> &v) {
  std::vector<index_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) { return v[a] > v[b]; });
  return order;
}

bool nearTie(double a, double b) { return a != b && std::fabs(a - b) < kAmbiguous; }

// One token of DeepseekV3TopkRouter.forward in float64, appended to `out`.
void referenceToken(const float *x, const float *bias, const Router &r, Routed &out) {
  const index_t E = r.experts;
  std::vector<double> s(E), sel(E);
  for (index_t e = 0; e < E; ++e) {
    s[e] = 1.0 / (1.0 + std::exp(-double(x[e])));
    sel[e] = s[e] + (bias ? double(bias[e]) : 0.0);
  }
  if (r.groups > 1) {
    const index_t size = E / r.groups;
    std::vector<double> groupScore(r.groups);
    for (index_t g = 0; g < r.groups; ++g) {
      std::vector<double> members(sel.begin() + g * size, sel.begin() + (g + 1) * size);
      std::sort(members.begin(), members.end(), std::greater<double>());
      groupScore[g] = members[0] + members[1];
    }
    const std::vector<index_t> groupOrder = descending(groupScore);
    if (r.topk_groups < r.groups && nearTie(groupScore[groupOrder[r.topk_groups - 1]],
                                            groupScore[groupOrder[r.topk_groups]]))
      out.clear = false;
    for (index_t j = r.topk_groups; j < r.groups; ++j)
      for (index_t e = groupOrder[j] * size; e < (groupOrder[j] + 1) * size; ++e)
        sel[e] = -std::numeric_limits<double>::infinity();
  }
  const std::vector<index_t> order = descending(sel);
  // Every adjacent pair up to the k-th matters: the ids are compared in order.
  for (index_t j = 0; j < r.k && j + 1 < E; ++j)
    if (nearTie(sel[order[j]], sel[order[j + 1]]))
      out.clear = false;
  double sum = 0;
  for (index_t j = 0; j < r.k; ++j)
    sum += s[order[j]];
  for (index_t j = 0; j < r.k; ++j) {
    out.ids.push_back(order[j]);
    out.weights.push_back((r.normalize ? s[order[j]] / sum : s[order[j]]) * double(r.scaling));
  }
}

Routed reference(const std::vector<float> &logits, const float *bias, index_t tokens, const Router &r) {
  Routed out;
  for (index_t t = 0; t < tokens; ++t)
    referenceToken(logits.data() + t * r.experts, bias, r, out);
  return out;
}

// Random nonzero logits in +-[0.3, 3], each token redrawn while its float64
// decision has a near-tie float rounding could flip.
std::vector<float> clearLogits(std::mt19937 &rng, index_t tokens, const float *bias, const Router &r) {
  std::vector<float> logits;
  for (index_t t = 0; t < tokens; ++t) {
    for (int attempt = 0;; ++attempt) {
      std::vector<float> row = randomFloats(rng, r.experts, 3.f);
      Routed probe;
      referenceToken(row.data(), bias, r, probe);
      if (probe.clear) {
        logits.insert(logits.end(), row.begin(), row.end());
        break;
      }
      if (attempt == 100) {
        ADD_FAILURE() << "no clear token after 100 draws: " << describe(r);
        return logits;
      }
    }
  }
  return logits;
}

std::vector<float> randomBias(std::mt19937 &rng, index_t n) {
  std::uniform_real_distribution<float> d(-0.05f, 0.05f);
  std::vector<float> b(n);
  for (float &v : b)
    v = d(rng);
  return b;
}

// The weight tolerance, relative per element: s = 1 / (1 + exp(-x)) in float
// is within 4u of the exact value (u = 2^-24: exp 2u, add u, divide u), the
// sum of k of them within (k + 3)u, the quotient within (k + 8)u and the
// scaled weight within (k + 9)u: 1.0e-6 for k = 8. Twice that, for margin.
double weightTolerance(index_t k, double unit) { return 2.0 * double(k + 9) * unit; }

template <class T>
::testing::AssertionResult routesLike(const std::vector<float> &logits, const std::vector<float> *bias,
                                      index_t tokens, const Router &r) {
  const Routed want = reference(logits, bias ? bias->data() : nullptr, tokens, r);
  if (!want.clear)
    return ::testing::AssertionFailure() << "the test input has a near-tie (a test bug)";
  // The bias stays float whatever T is, as the lowering passes it.
  const std::vector<T> x(logits.begin(), logits.end());
  std::vector<T> w(tokens * r.k, T(-7));
  std::vector<int64_t> ids(tokens * r.k, -7);
  moec_hk::moe_route_sigmoid<T>(x.data(), bias ? bias->data() : nullptr, w.data(), ids.data(), tokens, r.experts,
                                r.k, r.groups, r.topk_groups, r.normalize, r.scaling);
  const ::testing::AssertionResult sameIds = sameElements(ids, want.ids);
  if (!sameIds)
    return ::testing::AssertionFailure() << "expert ids: " << sameIds.message();
  const double tol = weightTolerance(r.k, std::numeric_limits<T>::epsilon() / 2);
  for (size_t i = 0; i < w.size(); ++i) {
    const double err = std::fabs(double(w[i]) - want.weights[i]);
    if (!(err <= tol * std::fabs(want.weights[i])))
      return ::testing::AssertionFailure() << "weight " << i << ": got " << double(w[i]) << ", want "
                                           << want.weights[i] << " (relative error " << err / want.weights[i]
                                           << " > " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

// Every grouping of 8 experts (1, 2 or 4 groups, every topk_groups), k from 1
// to past the kept experts, normalize on/off, with and without bias.
TEST(SigmoidRouter, EightExpertsEveryGroupingMatchesReference) {
  std::mt19937 rng(3101);
  const index_t E = 8, tokens = 9;
  const std::vector<float> bias = randomBias(rng, E);
  for (index_t groups : {1, 2, 4})
    for (index_t topk_groups = 1; topk_groups <= groups; ++topk_groups)
      for (index_t k : {1, 2, 3, 5})
        for (bool normalize : {false, true})
          for (bool withBias : {false, true}) {
            const Router r{E, k, groups, topk_groups, normalize, withBias ? 2.5f : 1.f};
            const std::vector<float> *b = withBias ? &bias : nullptr;
            const std::vector<float> logits = clearLogits(rng, tokens, withBias ? bias.data() : nullptr, r);
            EXPECT_TRUE(routesLike<float>(logits, b, tokens, r)) << describe(r) << (withBias ? " bias" : "");
          }
}

// DeepSeek-V3's router: 256 experts in 8 groups, 4 groups kept, k = 8, scaling
// 2.5, in float and double (with a float bias). Group 5 holds group 1's logits and bias in another
// order, so the two groups tie exactly (lower group kept) and so do their
// members (lower expert first) whenever both are kept.
TEST(SigmoidRouter, DeepSeekV3ShapeMatchesReference) {
  std::mt19937 rng(3102);
  const index_t E = 256, size = 32, tokens = 48;
  std::vector<index_t> perm(size);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> bias = randomBias(rng, E);
  for (index_t i = 0; i < size; ++i)
    bias[5 * size + i] = bias[1 * size + perm[i]];
  for (index_t k : {1, 8})
    for (bool normalize : {false, true})
      for (bool tied : {false, true}) {
        const Router r{E, k, 8, 4, normalize, 2.5f};
        std::vector<float> logits;
        for (index_t t = 0; t < tokens; ++t) {
          std::vector<float> row;
          for (int attempt = 0; attempt <= 100; ++attempt) {
            row = randomFloats(rng, E, 3.f);
            if (tied)
              for (index_t i = 0; i < size; ++i)
                row[5 * size + i] = row[1 * size + perm[i]];
            Routed probe;
            referenceToken(row.data(), bias.data(), r, probe);
            if (probe.clear)
              break;
          }
          logits.insert(logits.end(), row.begin(), row.end());
        }
        EXPECT_TRUE(routesLike<float>(logits, &bias, tokens, r)) << describe(r) << (tied ? " tied" : "");
        EXPECT_TRUE(routesLike<double>(logits, &bias, tokens, r)) << describe(r) << (tied ? " tied" : "") << " double";
      }
  // Without bias, and with every group kept (the same as no groups).
  for (index_t topk_groups : {4, 8}) {
    const Router r{E, 8, 8, topk_groups, true, 2.5f};
    const std::vector<float> logits = clearLogits(rng, tokens, nullptr, r);
    EXPECT_TRUE(routesLike<float>(logits, nullptr, tokens, r)) << describe(r);
  }
}

struct Result {
  std::vector<float> w;
  std::vector<int64_t> ids;
};

Result route(const std::vector<float> &logits, const std::vector<float> &bias, const Router &r) {
  const index_t tokens = index_t(logits.size()) / r.experts;
  Result out{std::vector<float>(tokens * r.k, -7.f), std::vector<int64_t>(tokens * r.k, -7)};
  moec_hk::moe_route_sigmoid<float>(logits.data(), bias.empty() ? nullptr : bias.data(), out.w.data(),
                                    out.ids.data(), tokens, r.experts, r.k, r.groups, r.topk_groups, r.normalize,
                                    r.scaling);
  return out;
}

float logit(double p) { return float(std::log(p / (1 - p))); }
double sigmoid(float x) { return 1.0 / (1.0 + std::exp(-double(x))); }

TEST(SigmoidRouter, EqualExpertsPickTheLowerIndex) {
  const Router r{8, 4, 1, 1, true, 1.f};
  Result got = route({0.2f, 1.5f, -0.3f, 1.5f, 0.9f, 1.5f, 0.1f, 0.9f}, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{1, 3, 5, 4}));
  const double sum = 3 * sigmoid(1.5f) + sigmoid(0.9f);
  EXPECT_NEAR(got.w[0], sigmoid(1.5f) / sum, 1e-6);
  EXPECT_NEAR(got.w[3], sigmoid(0.9f) / sum, 1e-6);
  // A near-tie is decided by value, not index: 1.5001 puts sel 1.5e-5 above.
  got = route({0.2f, 1.5f, -0.3f, 1.5f, 0.9f, 1.5001f, 0.1f, 0.9f}, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{5, 1, 3, 4}));
}

// Groups 1 and 3 (of 4 groups of 2) score the same (the same values, swapped):
// with 2 groups kept, group 0 and the lower tied group 1 survive.
TEST(SigmoidRouter, EqualGroupsPickTheLowerGroup) {
  const Router r{8, 4, 4, 2, false, 1.f};
  Result got = route({2.f, 1.f, 0.5f, 0.25f, -1.f, -2.f, 0.25f, 0.5f}, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_NEAR(got.w[3], sigmoid(0.25f), 1e-6);
  // Group 3 a hair ahead (1e-3 in one logit): it is kept instead of group 1.
  got = route({2.f, 1.f, 0.5f, 0.25f, -1.f, -2.f, 0.251f, 0.5f}, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{0, 1, 7, 6}));
}

// A group scores the sum of its TWO largest sel: group 0 has the single best
// expert (0.95) and the larger total (1.85), group 1 the larger top two (1.35).
TEST(SigmoidRouter, GroupScoreIsTheSumOfTheTopTwo) {
  const Router r{8, 2, 2, 1, true, 1.f};
  const std::vector<float> logits = {logit(0.95), logit(0.30), logit(0.30), logit(0.30),
                                     logit(0.70), logit(0.65), logit(0.05), logit(0.05)};
  const Result got = route(logits, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{4, 5}));
  EXPECT_NEAR(got.w[0], 0.70 / 1.35, 1e-6);
}

// The bias changes which experts are chosen but not their weights.
TEST(SigmoidRouter, BiasSelectsButDoesNotWeigh) {
  const Router r{4, 1, 1, 1, false, 2.5f};
  const std::vector<float> logits = {2.f, 1.f, 0.f, -1.f};
  Result got = route(logits, {0.f, 0.3f, 0.f, 0.f}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{1}));
  EXPECT_NEAR(got.w[0], 2.5 * sigmoid(1.f), 2e-6);
  got = route(logits, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{0}));
  EXPECT_NEAR(got.w[0], 2.5 * sigmoid(2.f), 2e-6);
}

// k past the kept experts: the excluded experts (sel -inf, as HF's
// masked_fill) follow in index order, weighted by their unbiased scores.
TEST(SigmoidRouter, ExcludedExpertsFollowInIndexOrder) {
  const Router r{8, 4, 4, 1, true, 1.f};
  const std::vector<float> logits = {1.f, 2.f, -1.f, 0.5f, 3.f, 2.5f, 0.f, 1.5f};
  const Result got = route(logits, {}, r);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{4, 5, 0, 1}));
  const double sum = sigmoid(3.f) + sigmoid(2.5f) + sigmoid(1.f) + sigmoid(2.f);
  EXPECT_NEAR(got.w[2], sigmoid(1.f) / sum, 1e-6);
}

// A NaN logit ranks first (as torch.topk ranks NaN): its group is kept, it is
// chosen first and it poisons the normalized weights.
TEST(SigmoidRouter, NaNIsChosenFirstAndPoisonsTheSum) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits = {3.f, 2.f, 2.5f, 1.f, 0.f, -1.f, nan, 0.5f};
  Result got = route(logits, {}, Router{8, 2, 2, 1, true, 1.f});
  EXPECT_EQ(got.ids, (std::vector<int64_t>{6, 7}));
  EXPECT_TRUE(std::isnan(got.w[0]) && std::isnan(got.w[1]));
  got = route(logits, {}, Router{8, 2, 2, 1, false, 1.f});
  EXPECT_EQ(got.ids, (std::vector<int64_t>{6, 7}));
  EXPECT_TRUE(std::isnan(got.w[0]));
  EXPECT_NEAR(got.w[1], sigmoid(0.5f), 1e-6);
}

// Parameters the emitter must never pass give weight 0 and expert 0 (not a
// crash or an out-of-bounds read); no tokens or k = 0 write nothing.
TEST(SigmoidRouter, BrokenContractWritesZeros) {
  std::mt19937 rng(3103);
  const std::vector<float> logits = randomFloats(rng, 2 * 6, 2.f);
  for (const Router &r : {Router{6, 2, 4, 1, true, 1.f}, Router{6, 2, 3, 0, true, 1.f},
                          Router{6, 2, 3, 4, true, 1.f}, Router{6, 2, 6, 1, true, 1.f},
                          Router{6, 7, 1, 1, true, 1.f}}) {
    const Result got = route(logits, {}, r);
    EXPECT_EQ(got.ids, std::vector<int64_t>(2 * r.k, 0)) << describe(r);
    EXPECT_EQ(got.w, std::vector<float>(2 * r.k, 0.f)) << describe(r);
  }
  float w = -7.f;
  int64_t id = -7;
  moec_hk::moe_route_sigmoid<float>(logits.data(), nullptr, &w, &id, 0, 6, 1, 1, 1, true, 1.f);
  moec_hk::moe_route_sigmoid<float>(logits.data(), nullptr, &w, &id, 2, 6, 0, 1, 1, true, 1.f);
  EXPECT_EQ(w, -7.f);
  EXPECT_EQ(id, -7);
}

} // namespace
} // namespace moec_test
