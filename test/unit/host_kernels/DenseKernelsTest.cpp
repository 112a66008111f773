// linear, batch_matmul, softmax, topk, reduce and rms_norm against float64 references
// written here independently of the kernels (plain loops over full indices).
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace moec_test {
namespace {

// float32 results against float64 references: these problems accumulate at
// most a few hundred products, so 1e-5 of the output scale is ample headroom
// over float32 rounding (~1e-7 per operation) yet catches any logic error.
constexpr double kRel = 1e-5;

TEST(Linear, MatchesFloat64Reference) {
  std::mt19937 rng(11);
  const index_t shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 33, 65}, {4, 64, 32}, {37, 129, 70},
                               {0, 5, 3}, {5, 0, 4}, {6, 9, 0},    {2, 1000, 3}, {9, 8, 33}};
  for (auto &s : shapes)
    for (bool transposed : {false, true})
      for (bool withBias : {false, true}) {
        const index_t M = s[0], K = s[1], N = s[2];
        auto X = randomFloats(rng, M * K), W = randomFloats(rng, K * N), b = randomFloats(rng, N);
        std::vector<double> want(static_cast<size_t>(M * N));
        for (index_t i = 0; i < M; ++i)
          for (index_t j = 0; j < N; ++j) {
            double acc = withBias ? b[j] : 0.0;
            for (index_t k = 0; k < K; ++k)
              acc += double(X[i * K + k]) * (transposed ? W[j * K + k] : W[k * N + j]);
            want[i * N + j] = acc;
          }
        std::vector<float> Y(static_cast<size_t>(M * N), 12345.f);
        moec_hk::linear<float>(X.data(), W.data(), withBias ? b.data() : nullptr, Y.data(), M, K, N,
                               transposed);
        EXPECT_TRUE(closeToReference(Y, want, kRel))
            << "M=" << M << " K=" << K << " N=" << N << " transposed=" << transposed << " bias=" << withBias;
      }
}

TEST(Linear, DoubleAndInt64) {
  std::mt19937 rng(12);
  const index_t M = 5, K = 11, N = 9;
  std::uniform_int_distribution<int64_t> small(-9, 9);
  std::vector<int64_t> X(M * K), W(K * N), Y(M * N);
  for (auto &v : X)
    v = small(rng);
  for (auto &v : W)
    v = small(rng);
  moec_hk::linear<int64_t>(X.data(), W.data(), nullptr, Y.data(), M, K, N, false);
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      int64_t want = 0;
      for (index_t k = 0; k < K; ++k)
        want += X[i * K + k] * W[k * N + j];
      EXPECT_EQ(Y[i * N + j], want);
    }
  auto Xf = randomFloats(rng, M * K), Wf = randomFloats(rng, N * K);
  std::vector<double> Xd = toDouble(Xf), Wd = toDouble(Wf), Yd(M * N);
  moec_hk::linear<double>(Xd.data(), Wd.data(), nullptr, Yd.data(), M, K, N, true);
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      double want = 0;
      for (index_t k = 0; k < K; ++k)
        want += Xd[i * K + k] * Wd[j * K + k];
      EXPECT_NEAR(Yd[i * N + j], want, 1e-13);
    }
}

// Strides of an operand's batch dims after right-aligned broadcasting to
// `batch` (0 where the operand has no such dim or has size 1), as the emitter computes them.
std::vector<index_t> broadcastStrides(const std::vector<index_t> &own, const std::vector<index_t> &batch,
                                      index_t matrixElems) {
  std::vector<index_t> s(batch.size(), 0);
  index_t stride = matrixElems;
  for (size_t i = 0; i < own.size(); ++i) {
    size_t d = own.size() - 1 - i, bd = batch.size() - 1 - i;
    s[bd] = own[d] == 1 ? 0 : stride;
    stride *= own[d];
  }
  return s;
}

TEST(BatchMatmul, BroadcastsBatchDims) {
  std::mt19937 rng(21);
  struct Case {
    std::vector<index_t> a, b; // batch dims of A and B
    index_t M, K, N;
  } cases[] = {{{}, {}, 3, 4, 5},        {{2}, {2}, 3, 7, 5},      {{2, 1, 3}, {4, 3}, 2, 5, 6},
               {{1}, {3}, 4, 3, 2},      {{5}, {}, 1, 9, 33},      {{2, 3}, {1, 1}, 5, 5, 5},
               {{0, 2}, {2}, 3, 3, 3},   {{2}, {2}, 0, 3, 4},      {{3}, {3}, 2, 0, 4}};
  for (const Case &c : cases) {
    size_t rank = std::max(c.a.size(), c.b.size());
    std::vector<index_t> batch(rank);
    for (size_t i = 0; i < rank; ++i) {
      index_t da = i < c.a.size() ? c.a[c.a.size() - 1 - i] : 1;
      index_t db = i < c.b.size() ? c.b[c.b.size() - 1 - i] : 1;
      batch[rank - 1 - i] = da == 1 ? db : da;
    }
    auto A = randomFloats(rng, numel(c.a) * c.M * c.K), B = randomFloats(rng, numel(c.b) * c.K * c.N);
    auto as = broadcastStrides(c.a, batch, c.M * c.K), bs = broadcastStrides(c.b, batch, c.K * c.N);
    const index_t batches = numel(batch);
    std::vector<double> want(static_cast<size_t>(batches * c.M * c.N));
    for (index_t bi = 0; bi < batches; ++bi) {
      auto idx = unravel(bi, batch);
      // Each operand's own batch index: the broadcast index, or 0 where its dim is 1.
      auto ownOffset = [&](const std::vector<index_t> &own, index_t mat) {
        index_t off = 0, stride = mat;
        for (size_t i = 0; i < own.size(); ++i) {
          size_t d = own.size() - 1 - i;
          off += (own[d] == 1 ? 0 : idx[rank - 1 - i]) * stride;
          stride *= own[d];
        }
        return off;
      };
      index_t ao = ownOffset(c.a, c.M * c.K), bo = ownOffset(c.b, c.K * c.N);
      for (index_t i = 0; i < c.M; ++i)
        for (index_t j = 0; j < c.N; ++j) {
          double acc = 0;
          for (index_t k = 0; k < c.K; ++k)
            acc += double(A[ao + i * c.K + k]) * B[bo + k * c.N + j];
          want[(bi * c.M + i) * c.N + j] = acc;
        }
    }
    std::vector<float> Y(want.size(), 777.f);
    moec_hk::batch_matmul<float>(A.data(), B.data(), Y.data(), static_cast<int>(rank), batch.data(),
                                 as.data(), bs.data(), c.M, c.K, c.N);
    EXPECT_TRUE(closeToReference(Y, want, kRel)) << "batch " << shapeString(batch);
  }
}

TEST(Softmax, MatchesFloat64ReferenceAndIsStable) {
  std::mt19937 rng(31);
  const index_t shapes[][3] = {{3, 7, 1}, {2, 5, 3}, {1, 1, 1}, {0, 4, 2}, {2, 0, 3},
                               {2, 3, 70}, {4, 130, 1}, {3, 9, 65}};
  for (auto &s : shapes)
    for (float offset : {0.f, 1000.f, -1000.f}) { // large offsets overflow a naive exp
      const index_t O = s[0], A = s[1], In = s[2];
      auto X = randomFloats(rng, O * A * In, 4.f);
      for (float &x : X)
        x += offset;
      std::vector<double> want(X.size());
      for (index_t o = 0; o < O; ++o)
        for (index_t i = 0; i < In; ++i) {
          double mx = -INFINITY, sum = 0;
          for (index_t a = 0; a < A; ++a)
            mx = std::max(mx, double(X[(o * A + a) * In + i]));
          for (index_t a = 0; a < A; ++a)
            sum += std::exp(double(X[(o * A + a) * In + i]) - mx);
          for (index_t a = 0; a < A; ++a)
            want[(o * A + a) * In + i] = std::exp(double(X[(o * A + a) * In + i]) - mx) / sum;
        }
      std::vector<float> Y(X.size(), -5.f);
      moec_hk::softmax<float>(X.data(), Y.data(), O, A, In);
      EXPECT_TRUE(closeToReference(Y, want, kRel)) << O << "x" << A << "x" << In << " offset " << offset;
    }
}

TEST(Softmax, NaNPoisonsItsLineOnly) {
  std::vector<float> X = {1, NAN, 2, 3, 4, 5}, Y(6);
  moec_hk::softmax<float>(X.data(), Y.data(), 2, 3, 1);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(std::isnan(Y[i]));
  for (int i = 3; i < 6; ++i)
    EXPECT_FALSE(std::isnan(Y[i]));
}

// Reference TopK: stable sort of (value, index) with the documented order.
template <class T>
void referenceTopK(const std::vector<T> &X, index_t O, index_t A, index_t In, index_t k, bool largest,
                   std::vector<T> &values, std::vector<int64_t> &indices) {
  values.assign(O * k * In, T());
  indices.assign(O * k * In, -1);
  for (index_t o = 0; o < O; ++o)
    for (index_t i = 0; i < In; ++i) {
      std::vector<index_t> order(A);
      std::iota(order.begin(), order.end(), 0);
      auto key = [&](index_t a) { return X[(o * A + a) * In + i]; };
      std::stable_sort(order.begin(), order.end(), [&](index_t x, index_t y) {
        bool xn = moec_hk::detail::is_nan(key(x)), yn = moec_hk::detail::is_nan(key(y));
        if (xn || yn)
          return largest ? (xn && !yn) : (yn && !xn);
        return largest ? key(x) > key(y) : key(x) < key(y);
      });
      for (index_t j = 0; j < k; ++j) {
        values[(o * k + j) * In + i] = key(order[j]);
        indices[(o * k + j) * In + i] = order[j];
      }
    }
}

TEST(TopK, SortedWithLowerIndexFirstOnTies) {
  std::mt19937 rng(41);
  std::uniform_int_distribution<int> few(-3, 3); // many ties
  const index_t shapes[][4] = {{2, 10, 1, 3}, {3, 7, 4, 7}, {1, 5, 1, 0}, {0, 5, 2, 2},
                               {2, 200, 1, 70}, {4, 33, 3, 1}, {1, 1, 1, 1}};
  for (auto &s : shapes)
    for (bool largest : {true, false})
      for (bool ties : {false, true}) {
        const index_t O = s[0], A = s[1], In = s[2], k = s[3];
        std::vector<float> X = randomFloats(rng, O * A * In);
        if (ties)
          for (float &x : X)
            x = float(few(rng)) + 0.5f;
        std::vector<float> wantV, gotV(O * k * In);
        std::vector<int64_t> wantI, gotI(O * k * In);
        referenceTopK(X, O, A, In, k, largest, wantV, wantI);
        moec_hk::topk<float>(X.data(), gotV.data(), gotI.data(), O, A, In, k, largest);
        EXPECT_TRUE(sameElements(gotV, wantV)) << O << "x" << A << "x" << In << " k=" << k;
        EXPECT_TRUE(sameElements(gotI, wantI)) << O << "x" << A << "x" << In << " k=" << k;
      }
}

TEST(TopK, NaNRanksAsGreatestAndInt64Works) {
  std::vector<float> X = {1.f, NAN, 3.f, NAN, -2.f};
  std::vector<float> v(3);
  std::vector<int64_t> i(3);
  moec_hk::topk<float>(X.data(), v.data(), i.data(), 1, 5, 1, 3, true);
  EXPECT_EQ(i, (std::vector<int64_t>{1, 3, 2}));
  moec_hk::topk<float>(X.data(), v.data(), i.data(), 1, 5, 1, 3, false);
  EXPECT_EQ(i, (std::vector<int64_t>{4, 0, 2}));
  std::vector<int64_t> Xi = {5, -1, 5, 7, 0}, vi(2), ii(2);
  moec_hk::topk<int64_t>(Xi.data(), vi.data(), ii.data(), 1, 5, 1, 2, true);
  EXPECT_EQ(vi, (std::vector<int64_t>{7, 5}));
  EXPECT_EQ(ii, (std::vector<int64_t>{3, 0}));
}

double referenceReduce(const std::vector<double> &vals, moec_hk::ReduceKind kind) {
  using K = moec_hk::ReduceKind;
  if (vals.empty())
    return kind == K::Sum ? 0 : kind == K::Prod ? 1 : kind == K::Max ? -INFINITY : kind == K::Min ? INFINITY : NAN;
  double r = kind == K::Prod ? 1 : kind == K::Max ? -INFINITY : kind == K::Min ? INFINITY : 0;
  for (double v : vals)
    r = kind == K::Prod ? r * v : kind == K::Max ? std::max(r, v) : kind == K::Min ? std::min(r, v) : r + v;
  return kind == K::Mean ? r / double(vals.size()) : r;
}

TEST(Reduce, EveryKindOverRandomAxes) {
  std::mt19937 rng(51);
  using K = moec_hk::ReduceKind;
  const std::vector<std::vector<index_t>> shapes = {
      {5}, {3, 4}, {2, 3, 5}, {4, 1, 6, 3}, {2, 9, 2, 17}, {3, 0, 4}, {0, 2}, {1, 1, 1}, {2, 70}, {70, 3}};
  for (const auto &shape : shapes) {
    const int rank = static_cast<int>(shape.size());
    for (unsigned mask = 0; mask < (1u << rank); ++mask)
      for (K kind : {K::Sum, K::Mean, K::Max, K::Min, K::Prod}) {
        bool reduced[8];
        std::vector<index_t> kept;
        for (int d = 0; d < rank; ++d) {
          reduced[d] = (mask >> d) & 1;
          if (!reduced[d])
            kept.push_back(shape[d]);
        }
        // Prod over many values: keep magnitudes near 1 so it stays well scaled.
        auto X = kind == K::Prod ? randomFloats(rng, numel(shape), 1.f) : randomFloats(rng, numel(shape), 3.f);
        if (kind == K::Prod)
          for (float &x : X)
            x = (x > 0 ? 1.f : -1.f) * (0.9f + 0.1f * std::fabs(x));
        std::vector<std::vector<double>> groups(static_cast<size_t>(numel(kept)));
        for (index_t f = 0; f < numel(shape); ++f) {
          auto idx = unravel(f, shape);
          index_t out = 0;
          for (int d = 0; d < rank; ++d)
            if (!reduced[d])
              out = out * shape[d] + idx[d];
          groups[out].push_back(X[f]);
        }
        std::vector<double> want;
        for (auto &g : groups)
          want.push_back(referenceReduce(g, kind));
        std::vector<float> Y(want.size(), 4242.f);
        moec_hk::reduce<float>(X.data(), Y.data(), rank, shape.data(), reduced, kind);
        for (size_t i = 0; i < want.size(); ++i) {
          if (std::isnan(want[i]) || std::isinf(want[i])) {
            EXPECT_TRUE(std::isnan(want[i]) ? std::isnan(Y[i]) : Y[i] == float(want[i]))
                << shapeString(shape) << " mask " << mask << " kind " << int(kind);
            continue;
          }
          // Sums are judged against the magnitude of their terms (cancellation
          // can make the result itself small); the rest against the result.
          double scale = std::max(1.0, std::fabs(want[i]));
          if (kind == K::Sum || kind == K::Mean) {
            double absSum = 0;
            for (double v : groups[i])
              absSum += std::fabs(v);
            scale = std::max(scale, kind == K::Sum ? absSum : absSum / double(groups[i].size()));
          }
          EXPECT_NEAR(Y[i], want[i], kRel * scale)
              << shapeString(shape) << " mask " << mask << " kind " << int(kind) << " element " << i;
        }
      }
  }
}

TEST(Reduce, NaNPropagatesThroughMaxAndIntegersUseLimits) {
  std::vector<float> X = {1, 2, NAN, 4, 5, 6, 7, 8, 9, 10};
  float y = 0;
  const index_t shape[] = {10};
  const bool all[] = {true};
  moec_hk::reduce<float>(X.data(), &y, 1, shape, all, moec_hk::ReduceKind::Max);
  EXPECT_TRUE(std::isnan(y));
  moec_hk::reduce<float>(X.data(), &y, 1, shape, all, moec_hk::ReduceKind::Min);
  EXPECT_TRUE(std::isnan(y));
  std::vector<int64_t> xi = {3, -4, 9};
  int64_t yi[2] = {0, 0};
  const index_t s3[] = {3}, s0[] = {0};
  moec_hk::reduce<int64_t>(xi.data(), yi, 1, s3, all, moec_hk::ReduceKind::Mean);
  EXPECT_EQ(yi[0], 2);
  moec_hk::reduce<int64_t>(xi.data(), yi, 1, s0, all, moec_hk::ReduceKind::Max);
  EXPECT_EQ(yi[0], std::numeric_limits<int64_t>::lowest());
}

// Rows of every size class (one element, odd, long), with and without a
// scale, and with row magnitudes from 1e-4 (where epsilon dominates) to 1e3.
TEST(RmsNorm, MatchesFloat64Reference) {
  std::mt19937 rng(23);
  const index_t shapes[][2] = {{1, 1}, {3, 7}, {17, 64}, {5, 1000}, {0, 8}, {4, 0}};
  for (auto &s : shapes)
    for (bool withScale : {false, true})
      for (float magnitude : {1e-4f, 1.f, 1e3f}) {
        const index_t rows = s[0], cols = s[1];
        const float eps = 1e-6f;
        auto X = randomFloats(rng, rows * cols, magnitude), w = randomFloats(rng, cols);
        std::vector<double> want(static_cast<size_t>(rows * cols));
        for (index_t r = 0; r < rows; ++r) {
          double ss = 0;
          for (index_t c = 0; c < cols; ++c)
            ss += double(X[r * cols + c]) * X[r * cols + c];
          const double inv = 1.0 / std::sqrt(ss / cols + double(eps));
          for (index_t c = 0; c < cols; ++c)
            want[r * cols + c] = X[r * cols + c] * inv * (withScale ? double(w[c]) : 1.0);
        }
        std::vector<float> Y(static_cast<size_t>(rows * cols), 12345.f);
        moec_hk::rms_norm<float, float, float>(X.data(), withScale ? w.data() : nullptr, Y.data(),
                                               rows, cols, eps);
        EXPECT_TRUE(closeToReference(Y, want, kRel))
            << "rows=" << rows << " cols=" << cols << " scale=" << withScale
            << " magnitude=" << magnitude;
      }
}

// rms_norm_residual is exactly an add followed by rms_norm (what the fusion
// replaces), bit for bit: the same rounding of the sum, the same statistics.
TEST(RmsNormResidual, EqualsAddThenNormBitwise) {
  std::mt19937 rng(43);
  for (index_t rows : {0, 1, 5})
    for (index_t cols : {1, 16, 67})
      for (bool withScale : {false, true}) {
        auto X = randomFloats(rng, rows * cols, 3.f), R = randomFloats(rng, rows * cols, 3.f);
        auto w = randomFloats(rng, cols);
        std::vector<float> sum(X.size()), want(X.size()), gotSum(X.size(), 7.f),
            got(X.size(), 7.f);
        for (size_t i = 0; i < X.size(); ++i)
          sum[i] = X[i] + R[i];
        moec_hk::rms_norm<float, float, float>(sum.data(), withScale ? w.data() : nullptr,
                                               want.data(), rows, cols, 1e-5f);
        moec_hk::rms_norm_residual<float, float, float>(
            X.data(), R.data(), withScale ? w.data() : nullptr, got.data(), gotSum.data(), rows,
            cols, 1e-5f);
        EXPECT_EQ(gotSum, sum) << rows << "x" << cols;
        EXPECT_EQ(got, want) << rows << "x" << cols << " scale=" << withScale;
      }
}

// linear_q8 and dequantize against float64 on the dequantized weights, for
// per-row scales, blocks that divide K and blocks that do not.
TEST(LinearQ8, MatchesTheDequantizedReference) {
  std::mt19937 rng(41);
  std::uniform_int_distribution<int> qd(-127, 127);
  std::uniform_real_distribution<float> sd(0.001f, 0.02f);
  const index_t shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 33, 65}, {4, 64, 32}, {0, 5, 3}};
  for (auto &shape : shapes)
    for (index_t group : {0, 1, 4, 16})
      for (bool withBias : {false, true}) {
        const index_t M = shape[0], K = shape[1], N = shape[2];
        const index_t g = group > 0 ? group : K, blocks = (K + g - 1) / g;
        std::vector<int8_t> Q(N * K);
        for (auto &q : Q)
          q = static_cast<int8_t>(qd(rng));
        std::vector<float> scales(N * blocks);
        for (auto &v : scales)
          v = sd(rng);
        auto X = randomFloats(rng, M * K), b = randomFloats(rng, N);
        std::vector<double> want(M * N);
        for (index_t i = 0; i < M; ++i)
          for (index_t j = 0; j < N; ++j) {
            double acc = withBias ? b[j] : 0.0;
            for (index_t k = 0; k < K; ++k)
              acc += double(X[i * K + k]) * double(Q[j * K + k]) * scales[j * blocks + k / g];
            want[i * N + j] = acc;
          }
        std::vector<float> Y(M * N, 12345.f);
        moec_hk::linear_q8<float>(X.data(), Q.data(), scales.data(), group, withBias ? b.data() : nullptr,
                                  Y.data(), M, K, N);
        EXPECT_TRUE(closeToReference(Y, want, kRel))
            << "M=" << M << " K=" << K << " N=" << N << " group=" << group << " bias=" << withBias;

        std::vector<float> D(N * K);
        moec_hk::dequantize<int8_t, float, float>(Q.data(), scales.data(), D.data(), N, K, 1, g);
        std::vector<double> wantD(N * K);
        for (index_t j = 0; j < N; ++j)
          for (index_t k = 0; k < K; ++k)
            wantD[j * K + k] = double(Q[j * K + k]) * scales[j * blocks + k / g];
        EXPECT_TRUE(closeToReference(D, wantD, 1e-7)) << "dequantize, group=" << group;
      }
}

// linear_q4 and dequantize_int4 (two signed 4-bit values per byte, low nibble
// first, odd K padded) against float64 on the unpacked values.
TEST(LinearQ4, MatchesTheDequantizedReference) {
  std::mt19937 rng(43);
  std::uniform_int_distribution<int> qd(-8, 7);
  std::uniform_real_distribution<float> sd(0.01f, 0.2f);
  const index_t shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 33, 65}, {4, 64, 32}, {0, 5, 3}};
  for (auto &shape : shapes)
    for (index_t group : {0, 2, 5, 16}) {
      const index_t M = shape[0], K = shape[1], N = shape[2];
      const index_t g = group > 0 ? group : K, blocks = (K + g - 1) / g, packed = (K + 1) / 2;
      std::vector<int8_t> Q(N * K), P(N * packed, 0);
      for (index_t n = 0; n < N; ++n)
        for (index_t k = 0; k < K; ++k) {
          Q[n * K + k] = static_cast<int8_t>(qd(rng));
          uint8_t nibble = static_cast<uint8_t>(Q[n * K + k]) & 0xF;
          P[n * packed + k / 2] = static_cast<int8_t>(
              static_cast<uint8_t>(P[n * packed + k / 2]) | (k % 2 ? nibble << 4 : nibble));
        }
      std::vector<float> scales(N * blocks);
      for (auto &v : scales)
        v = sd(rng);
      auto X = randomFloats(rng, M * K), b = randomFloats(rng, N);
      std::vector<double> want(M * N), wantD(N * K);
      for (index_t j = 0; j < N; ++j)
        for (index_t k = 0; k < K; ++k)
          wantD[j * K + k] = double(Q[j * K + k]) * scales[j * blocks + k / g];
      for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
          double acc = b[j];
          for (index_t k = 0; k < K; ++k)
            acc += double(X[i * K + k]) * wantD[j * K + k];
          want[i * N + j] = acc;
        }
      const auto *packedQ = reinterpret_cast<const moec_hk::int4x2 *>(P.data());
      std::vector<float> Y(M * N, 12345.f);
      moec_hk::linear_q4<float>(X.data(), packedQ, scales.data(), group, b.data(), Y.data(), M, K, N);
      EXPECT_TRUE(closeToReference(Y, want, kRel)) << "M=" << M << " K=" << K << " N=" << N
                                                   << " group=" << group;
      std::vector<float> D(N * K);
      moec_hk::dequantize_int4<float, float>(packedQ, scales.data(), D.data(), N, K, g);
      EXPECT_TRUE(closeToReference(D, wantD, 1e-7)) << "dequantize_int4, group=" << group;
    }
}

} // namespace
} // namespace moec_test
