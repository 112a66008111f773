// range, cumsum and scatter_nd (the ops of whole exported decoders) against
// references that compute every element from the ONNX definitions, on
// seeded random inputs, plus their error codes (a Range length other than
// the planned one, an index out of range) with the output left untouched.
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <limits>

namespace moec_test {
namespace {

// ---- Range ------------------------------------------------------------------

// Integer ranges with a known length n: limit = start + n * delta - r, r in
// [0, |delta|) toward start, so ceil((limit - start) / delta) is exactly n.
template <class T> void checkIntRange(std::mt19937 &rng) {
  std::uniform_int_distribution<int64_t> startOf(-1000, 1000), deltaOf(1, 9), lengthOf(0, 40);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t s = startOf(rng), n = lengthOf(rng);
    const int64_t d = (trial % 2 ? 1 : -1) * deltaOf(rng);
    const int64_t r = std::uniform_int_distribution<int64_t>(0, std::abs(d) - 1)(rng);
    const int64_t l = n == 0 ? s - (d > 0 ? r : -r) : s + n * d - (d > 0 ? r : -r);
    const T start = T(s), limit = T(l), delta = T(d);
    std::vector<T> got(n, T(-7)), want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = T(s + i * d);
    ASSERT_EQ(moec_hk::range<T>(&start, &limit, &delta, got.data(), n), 0)
        << s << " " << l << " " << d;
    EXPECT_TRUE(sameElements(got, want)) << s << " " << l << " " << d;
  }
}

TEST(Range, IntegerLengthsAndElements) {
  std::mt19937 rng(71);
  checkIntRange<int64_t>(rng);
  checkIntRange<int32_t>(rng);
}

// Float ranges whose quotient (limit - start) / delta is n - 0.5, far from an
// integer, so the length is n whatever the rounding; elements within the two
// roundings of start + i * delta: 2 ulp of the largest magnitude involved.
template <class T> void checkFloatRange(std::mt19937 &rng) {
  std::uniform_real_distribution<double> startOf(-50, 50), deltaOf(0.05, 3);
  std::uniform_int_distribution<int64_t> lengthOf(1, 60);
  for (int trial = 0; trial < 50; ++trial) {
    const T start = T(startOf(rng)), delta = T((trial % 2 ? 1 : -1) * deltaOf(rng));
    const int64_t n = lengthOf(rng);
    const T limit = T(double(start) + (double(n) - 0.5) * double(delta));
    std::vector<T> got(n, T(-7));
    ASSERT_EQ(moec_hk::range<T>(&start, &limit, &delta, got.data(), n), 0)
        << start << " " << limit << " " << delta;
    const double scale = std::max(std::fabs(double(start)), std::fabs(double(limit))) + 1;
    for (int64_t i = 0; i < n; ++i) {
      const double want = double(start) + double(i) * double(delta);
      EXPECT_LE(std::fabs(double(got[i]) - want),
                2 * scale * std::numeric_limits<T>::epsilon())
          << "element " << i;
    }
  }
}

TEST(Range, FloatLengthsAndElements) {
  std::mt19937 rng(72);
  checkFloatRange<float>(rng);
  checkFloatRange<double>(rng);
}

TEST(Range, EmptyWhenTheStepPointsAway) {
  const int64_t start = 5, limit = 1, delta = 2;
  EXPECT_EQ(moec_hk::range<int64_t>(&start, &limit, &delta, nullptr, 0), 0);
  const float fs = 0.f, fl = -1.f, fd = 0.5f;
  EXPECT_EQ(moec_hk::range<float>(&fs, &fl, &fd, nullptr, 0), 0);
}

// The int64 extremes: the span 2^64 - 1 does not fit int64, the length does.
TEST(Range, Int64ExtremesDoNotOverflow) {
  const int64_t start = std::numeric_limits<int64_t>::min(),
                limit = std::numeric_limits<int64_t>::max(), delta = int64_t(1) << 62;
  std::vector<int64_t> got(4, 7);
  ASSERT_EQ(moec_hk::range<int64_t>(&start, &limit, &delta, got.data(), 4), 0);
  EXPECT_TRUE(sameElements(got, {start, start + delta, int64_t(0), delta}));
  const int64_t down = -delta;
  ASSERT_EQ(moec_hk::range<int64_t>(&limit, &start, &down, got.data(), 4), 0);
  EXPECT_TRUE(sameElements(got, {limit, limit - delta, limit - 2 * delta, limit - 3 * delta}));
}

// A length other than the planned one, or delta 0, is code 3 with nothing
// written: the planned buffer is never overrun.
TEST(Range, LengthMismatchIsAnErrorWithoutWrites) {
  const int64_t start = 0, limit = 9, delta = 1, zero = 0;
  std::vector<int64_t> y(12, -7);
  EXPECT_EQ(moec_hk::range<int64_t>(&start, &limit, &delta, y.data(), 8),
            moec_hk::kRangeLengthMismatch);
  EXPECT_EQ(moec_hk::range<int64_t>(&start, &limit, &delta, y.data(), 10),
            moec_hk::kRangeLengthMismatch);
  EXPECT_EQ(moec_hk::range<int64_t>(&start, &limit, &zero, y.data(), 9),
            moec_hk::kRangeLengthMismatch);
  const float fs = 0.f, fl = 1.f, fz = 0.f;
  std::vector<float> fy(4, -7.f);
  EXPECT_EQ(moec_hk::range<float>(&fs, &fl, &fz, fy.data(), 4), moec_hk::kRangeLengthMismatch);
  EXPECT_TRUE(sameElements(y, std::vector<int64_t>(12, -7)));
  EXPECT_TRUE(sameElements(fy, std::vector<float>(4, -7.f)));
}

// ---- CumSum -----------------------------------------------------------------

// float64 reference of the four (exclusive, reverse) forms over [O, A, I].
std::vector<double> cumsumReference(const std::vector<double> &x, index_t O, index_t A,
                                    index_t I, bool exclusive, bool reverse) {
  std::vector<double> y(x.size());
  for (index_t o = 0; o < O; ++o)
    for (index_t i = 0; i < I; ++i)
      for (index_t a = 0; a < A; ++a) {
        double sum = 0;
        for (index_t b = 0; b < A; ++b) {
          bool before = reverse ? b > a : b < a;
          if (before || (!exclusive && b == a))
            sum += x[(o * A + b) * I + i];
        }
        y[(o * A + a) * I + i] = sum;
      }
  return y;
}

TEST(CumSum, FloatAllFormsAgainstFloat64) {
  std::mt19937 rng(73);
  const index_t shapes[][3] = {{1, 17, 1}, {3, 9, 5}, {2, 1, 7}, {4, 33, 2}, {0, 4, 3}, {2, 0, 3}};
  for (auto &s : shapes)
    for (int form = 0; form < 4; ++form) {
      const bool exclusive = form & 1, reverse = form & 2;
      auto x = randomFloats(rng, s[0] * s[1] * s[2]);
      std::vector<float> got(x.size(), -7.f);
      moec_hk::cumsum<float>(x.data(), got.data(), s[0], s[1], s[2], exclusive, reverse);
      // A float running sum of at most 33 terms of magnitude <= 1: each step
      // rounds once (2^-24 relative), so 33 * 2^-24 * 33 < 1e-4 absolute.
      EXPECT_TRUE(closeToReference(got, cumsumReference(toDouble(x), s[0], s[1], s[2], exclusive,
                                                        reverse),
                                   1e-4))
          << s[0] << "x" << s[1] << "x" << s[2] << " exclusive " << exclusive << " reverse "
          << reverse;
    }
}

template <class T> void checkIntCumSum(std::mt19937 &rng) {
  std::uniform_int_distribution<int64_t> value(-1000, 1000);
  const index_t O = 3, A = 11, I = 4;
  std::vector<T> x(O * A * I);
  for (T &v : x)
    v = T(value(rng));
  std::vector<double> xd(x.begin(), x.end());
  for (int form = 0; form < 4; ++form) {
    const bool exclusive = form & 1, reverse = form & 2;
    std::vector<T> got(x.size(), T(-7));
    moec_hk::cumsum<T>(x.data(), got.data(), O, A, I, exclusive, reverse);
    auto ref = cumsumReference(xd, O, A, I, exclusive, reverse);
    std::vector<T> want(ref.begin(), ref.end());
    EXPECT_TRUE(sameElements(got, want)) << "exclusive " << exclusive << " reverse " << reverse;
  }
}

TEST(CumSum, IntegersExact) {
  std::mt19937 rng(74);
  checkIntCumSum<int64_t>(rng);
  checkIntCumSum<int32_t>(rng);
}

// ---- ScatterND --------------------------------------------------------------

enum class Reduce { None, Add, Mul, Max, Min };

// Applies the tuples in order in float64 (the reference: ONNX's loop).
std::vector<double> scatterNdReference(std::vector<double> y, const std::vector<index_t> &shape,
                                       const std::vector<int64_t> &idx,
                                       const std::vector<double> &updates, index_t tuples,
                                       int q, Reduce r) {
  auto strides = stridesOf(shape);
  index_t slice = 1;
  for (size_t d = q; d < shape.size(); ++d)
    slice *= shape[d];
  for (index_t t = 0; t < tuples; ++t) {
    index_t offset = 0;
    for (int j = 0; j < q; ++j) {
      int64_t a = idx[t * q + j];
      offset += (a < 0 ? a + shape[j] : a) * strides[j];
    }
    for (index_t e = 0; e < slice; ++e) {
      double &v = y[offset + e];
      const double u = updates[t * slice + e];
      v = r == Reduce::None  ? u
          : r == Reduce::Add ? v + u
          : r == Reduce::Mul ? v * u
          : r == Reduce::Max ? std::max(v, u)
                             : std::min(v, u);
    }
  }
  return y;
}

// Random tuples (negative ones wrap; distinct for None as ONNX requires,
// repeated for the reductions) into data of `shape`.
void checkScatterNd(std::mt19937 &rng, const std::vector<index_t> &shape, int q, index_t tuples,
                    Reduce r) {
  const std::vector<index_t> prefix(shape.begin(), shape.begin() + q);
  const index_t cells = numel(prefix);
  std::vector<index_t> targets;
  if (r == Reduce::None) {
    std::vector<index_t> all(cells);
    for (index_t c = 0; c < cells; ++c)
      all[c] = c;
    std::shuffle(all.begin(), all.end(), rng);
    targets.assign(all.begin(), all.begin() + std::min(tuples, cells));
    tuples = static_cast<index_t>(targets.size());
  } else {
    std::uniform_int_distribution<index_t> cell(0, cells - 1);
    for (index_t t = 0; t < tuples; ++t)
      targets.push_back(t % 3 == 2 ? targets[t - 1] : cell(rng)); // every third repeats
  }
  std::vector<int64_t> idx;
  std::bernoulli_distribution negative(0.3);
  for (index_t c : targets) {
    auto coords = unravel(c, prefix);
    for (int j = 0; j < q; ++j)
      idx.push_back(negative(rng) ? coords[j] - shape[j] : coords[j]);
  }
  const index_t slice = numel(shape) / std::max<index_t>(cells, 1);
  auto data = randomFloats(rng, numel(shape));
  auto updates = randomFloats(rng, tuples * slice);
  std::vector<float> got(data.size(), -7.f);
  const auto kind = static_cast<moec_hk::ScatterReduction>(static_cast<int>(r));
  ASSERT_EQ((moec_hk::scatter_nd<float, int64_t>(data.data(), idx.data(), updates.data(),
                                                 got.data(), static_cast<int>(shape.size()),
                                                 shape.data(), tuples, q, kind)),
            0);
  auto want = scatterNdReference(toDouble(data), shape, idx, toDouble(updates), tuples, q, r);
  // None, Max, Min move values: exact. Add and Mul round once per update in
  // float (at most ~tuples / 3 + 1 updates of magnitude <= 1 per element).
  const double rel = r == Reduce::Add || r == Reduce::Mul ? 1e-5 : 0.0;
  EXPECT_TRUE(closeToReference(got, want, rel))
      << shapeString(shape) << " q " << q << " tuples " << tuples << " reduction " << int(r);
}

TEST(ScatterND, EveryReductionAndTupleLength) {
  std::mt19937 rng(75);
  for (Reduce r : {Reduce::None, Reduce::Add, Reduce::Mul, Reduce::Max, Reduce::Min}) {
    checkScatterNd(rng, {6, 5}, 1, 4, r);       // rows
    checkScatterNd(rng, {4, 3, 5}, 2, 7, r);    // vectors
    checkScatterNd(rng, {3, 4, 2}, 3, 9, r);    // single elements
    checkScatterNd(rng, {5, 8}, 1, 12, r);      // more tuples than rows (None: capped)
  }
}

// q = 0: every tuple addresses the whole tensor.
TEST(ScatterND, EmptyTuplesAddressEverything) {
  std::vector<float> data = {1, 2, 3, 4}, updates = {5, 6, 7, 8, 0.5f, 0.5f, 0.5f, 0.5f}, y(4);
  const index_t shape[] = {2, 2};
  ASSERT_EQ((moec_hk::scatter_nd<float, int64_t>(data.data(), nullptr, updates.data(), y.data(),
                                                 2, shape, 2, 0,
                                                 moec_hk::ScatterReduction::Mul)),
            0);
  EXPECT_TRUE(sameElements(y, {0.5f * 5, 1.f * 6, 1.5f * 7, 2.f * 8}));
}

TEST(ScatterND, OutOfRangeReturnsOneWithoutWrites) {
  std::vector<float> data(12, 1.f), updates(2 * 4, 2.f);
  const index_t shape[] = {3, 4};
  for (int64_t bad : {3, -4, 1000}) {
    std::vector<int64_t> idx = {0, bad};
    std::vector<float> y(12, -7.f);
    EXPECT_EQ((moec_hk::scatter_nd<float, int64_t>(data.data(), idx.data(), updates.data(),
                                                   y.data(), 2, shape, 2, 1,
                                                   moec_hk::ScatterReduction::None)),
              1)
        << bad;
    EXPECT_TRUE(sameElements(y, std::vector<float>(12, -7.f))) << bad;
  }
  std::vector<float> y(12);
  EXPECT_EQ((moec_hk::scatter_nd<float, int64_t>(data.data(), nullptr, updates.data(), y.data(),
                                                 2, shape, 0, 3, moec_hk::ScatterReduction::None)),
            2);
}

// In place (Y == data), int32 indices, int64 data.
TEST(ScatterND, InPlaceWithInt32Indices) {
  std::vector<int64_t> y = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> updates = {10, 20, 30, 40};
  const std::vector<int32_t> idx = {-1, 0};
  const index_t shape[] = {3, 2};
  ASSERT_EQ((moec_hk::scatter_nd<int64_t, int32_t>(y.data(), idx.data(), updates.data(),
                                                   y.data(), 2, shape, 2, 1,
                                                   moec_hk::ScatterReduction::Add)),
            0);
  EXPECT_TRUE(sameElements(y, {1 + 30, 2 + 40, 3, 4, 5 + 10, 6 + 20}));
}

} // namespace
} // namespace moec_test
