// gather, gather_elements, scatter_elements, transpose, concat, slice and
// copy_bytes against references that index every element from scratch.
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <algorithm>
#include <numeric>

namespace moec_test {
namespace {

template <class I> void checkGather(std::mt19937 &rng, index_t O, index_t A, index_t In, index_t num) {
  auto data = randomFloats(rng, O * A * In);
  std::uniform_int_distribution<index_t> pick(-A, A - 1); // negatives wrap
  std::vector<I> idx(num);
  for (auto &i : idx)
    i = static_cast<I>(pick(rng));
  std::vector<float> want(O * num * In), got(want.size(), -1.f);
  for (index_t o = 0; o < O; ++o)
    for (index_t n = 0; n < num; ++n)
      for (index_t i = 0; i < In; ++i)
        want[(o * num + n) * In + i] = data[(o * A + (idx[n] < 0 ? idx[n] + A : idx[n])) * In + i];
  ASSERT_EQ((moec_hk::gather<float, I>(data.data(), idx.data(), got.data(), O, A, In, num)), 0);
  EXPECT_TRUE(sameElements(got, want)) << O << "x" << A << "x" << In << " num " << num;
}

TEST(Gather, NegativeIndicesWrapForBothIndexTypes) {
  std::mt19937 rng(61);
  const index_t shapes[][4] = {{2, 5, 3, 4}, {1, 7, 1, 9}, {3, 4, 5, 0}, {0, 3, 2, 2}, {2, 1, 8, 3}};
  for (auto &s : shapes) {
    checkGather<int64_t>(rng, s[0], s[1], s[2], s[3]);
    checkGather<int32_t>(rng, s[0], s[1], s[2], s[3]);
  }
}

TEST(Gather, OutOfRangeReturnsOne) {
  std::vector<float> data(2 * 3 * 2, 1.f), Y(2 * 2 * 2);
  for (int64_t bad : {3, -4, 100}) {
    std::vector<int64_t> idx = {0, bad};
    EXPECT_EQ((moec_hk::gather<float, int64_t>(data.data(), idx.data(), Y.data(), 2, 3, 2, 2)), 1) << bad;
  }
  std::vector<int32_t> idx = {0};
  EXPECT_EQ((moec_hk::gather<float, int32_t>(data.data(), idx.data(), Y.data(), 0, 0, 2, 1)), 1)
      << "an empty axis has no valid index";
}

struct ElementsCase {
  std::vector<index_t> data, idx;
  int axis;
};

const ElementsCase kElementsCases[] = {
    {{4, 5}, {3, 5}, 0},    {{4, 5}, {4, 7}, 1},       {{3, 4, 5}, {3, 2, 5}, 1}, {{3, 4, 5}, {2, 3, 6}, -1},
    {{6}, {10}, 0},         {{2, 3, 4}, {2, 3, 4}, 0}, {{2, 3}, {2, 0}, 1},       {{2, 3, 4}, {1, 2, 3}, 2}};

// Reference position in data for index position p: p with p[axis] = idx[p].
index_t referenceTarget(const ElementsCase &c, index_t p, index_t value) {
  int axis = c.axis < 0 ? c.axis + int(c.data.size()) : c.axis;
  auto pos = unravel(p, c.idx);
  pos[axis] = value < 0 ? value + c.data[axis] : value;
  index_t off = 0;
  for (size_t d = 0; d < pos.size(); ++d)
    off = off * c.data[d] + pos[d];
  return off;
}

TEST(GatherElements, MatchesReference) {
  std::mt19937 rng(71);
  for (const ElementsCase &c : kElementsCases) {
    int axis = c.axis < 0 ? c.axis + int(c.data.size()) : c.axis;
    auto data = randomFloats(rng, numel(c.data));
    std::uniform_int_distribution<index_t> pick(-c.data[axis], c.data[axis] - 1);
    std::vector<int64_t> idx(numel(c.idx));
    for (auto &i : idx)
      i = pick(rng);
    std::vector<float> want(idx.size()), got(idx.size(), -3.f);
    for (index_t p = 0; p < index_t(idx.size()); ++p)
      want[p] = data[referenceTarget(c, p, idx[p])];
    ASSERT_EQ((moec_hk::gather_elements<float, int64_t>(data.data(), idx.data(), got.data(), int(c.data.size()),
                                                        c.data.data(), c.idx.data(), c.axis)),
              0);
    EXPECT_TRUE(sameElements(got, want)) << shapeString(c.data) << " axis " << c.axis;
    if (!idx.empty()) {
      idx[idx.size() / 2] = c.data[axis]; // one past the end
      EXPECT_EQ((moec_hk::gather_elements<float, int64_t>(data.data(), idx.data(), got.data(),
                                                          int(c.data.size()), c.data.data(), c.idx.data(), c.axis)),
                1);
      idx[idx.size() / 2] = -c.data[axis] - 1;
      EXPECT_EQ((moec_hk::gather_elements<float, int64_t>(data.data(), idx.data(), got.data(),
                                                          int(c.data.size()), c.data.data(), c.idx.data(), c.axis)),
                1);
    }
  }
}

TEST(ScatterElements, EveryReductionWithDuplicates) {
  std::mt19937 rng(81);
  using R = moec_hk::ScatterReduction;
  for (const ElementsCase &c : kElementsCases)
    for (R red : {R::None, R::Add, R::Mul, R::Max, R::Min}) {
      int axis = c.axis < 0 ? c.axis + int(c.data.size()) : c.axis;
      auto data = randomFloats(rng, numel(c.data)), updates = randomFloats(rng, numel(c.idx));
      // A narrow index range forces duplicate targets.
      std::uniform_int_distribution<index_t> pick(-std::min<index_t>(2, c.data[axis]), std::min<index_t>(1, c.data[axis] - 1));
      std::vector<int32_t> idx(numel(c.idx));
      for (auto &i : idx)
        i = static_cast<int32_t>(pick(rng));
      std::vector<double> want = toDouble(data);
      for (index_t p = 0; p < index_t(idx.size()); ++p) {
        double &t = want[referenceTarget(c, p, idx[p])];
        double u = updates[p];
        t = red == R::None ? u : red == R::Add ? t + u : red == R::Mul ? t * u : red == R::Max ? std::max(t, u) : std::min(t, u);
      }
      std::vector<float> got(data.size(), -9.f);
      ASSERT_EQ((moec_hk::scatter_elements<float, int32_t>(data.data(), idx.data(), updates.data(), got.data(),
                                                           int(c.data.size()), c.data.data(), c.idx.data(), c.axis, red)),
                0);
      EXPECT_TRUE(closeToReference(got, want, 1e-6)) << shapeString(c.data) << " axis " << c.axis << " reduction " << int(red);
      // In place (Y aliases data) gives the same result.
      std::vector<float> inPlace = data;
      ASSERT_EQ((moec_hk::scatter_elements<float, int32_t>(inPlace.data(), idx.data(), updates.data(), inPlace.data(),
                                                           int(c.data.size()), c.data.data(), c.idx.data(), c.axis, red)),
                0);
      EXPECT_TRUE(sameElements(inPlace, got));
      if (!idx.empty()) {
        idx.back() = static_cast<int32_t>(c.data[axis]);
        EXPECT_EQ((moec_hk::scatter_elements<float, int32_t>(data.data(), idx.data(), updates.data(), got.data(),
                                                             int(c.data.size()), c.data.data(), c.idx.data(), c.axis, red)),
                  1);
      }
    }
}

TEST(Transpose, RandomPermutations) {
  std::mt19937 rng(91);
  const std::vector<std::vector<index_t>> shapes = {{7},          {3, 5},       {100, 70},   {2, 3, 4},
                                                    {4, 1, 6, 3}, {2, 3, 1, 5, 2}, {3, 0, 2}, {1, 1},
                                                    {33, 2, 65},  {5, 40, 37}};
  for (const auto &shape : shapes) {
    const int rank = int(shape.size());
    std::vector<int> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    for (int trial = 0; trial < 6; ++trial) {
      std::shuffle(perm.begin(), perm.end(), rng);
      auto X = randomFloats(rng, numel(shape));
      std::vector<index_t> outShape(rank);
      for (int d = 0; d < rank; ++d)
        outShape[d] = shape[perm[d]];
      auto inStrides = stridesOf(shape);
      std::vector<float> want(X.size()), got(X.size(), 0.5f);
      for (index_t f = 0; f < index_t(X.size()); ++f) {
        auto o = unravel(f, outShape);
        index_t src = 0;
        for (int d = 0; d < rank; ++d)
          src += o[d] * inStrides[perm[d]];
        want[f] = X[src];
      }
      moec_hk::transpose<float>(X.data(), got.data(), rank, shape.data(), perm.data());
      EXPECT_TRUE(sameElements(got, want)) << shapeString(shape);
    }
  }
}

TEST(Concat, MiddleAxisWithEmptyInputs) {
  std::mt19937 rng(101);
  const index_t outer = 3, inner = 4;
  const std::vector<index_t> lens = {2, 0, 5, 1};
  std::vector<std::vector<float>> ins;
  std::vector<const float *> ptrs;
  for (index_t l : lens)
    ins.push_back(randomFloats(rng, outer * l * inner));
  for (auto &v : ins)
    ptrs.push_back(v.data());
  const index_t total = std::accumulate(lens.begin(), lens.end(), index_t(0));
  std::vector<float> want, got(outer * total * inner, 0.f);
  for (index_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < lens.size(); ++i)
      for (index_t a = 0; a < lens[i]; ++a)
        for (index_t j = 0; j < inner; ++j)
          want.push_back(ins[i][(o * lens[i] + a) * inner + j]);
  moec_hk::concat<float>(ptrs.data(), lens.data(), int(lens.size()), got.data(), outer, inner);
  EXPECT_TRUE(sameElements(got, want));
  bool a[] = {true, false}, b[] = {false, true, true}, y[5];
  const bool *bins[] = {a, b};
  const index_t blens[] = {2, 3};
  moec_hk::concat<bool>(bins, blens, 2, y, 1, 1);
  EXPECT_TRUE(y[0] && !y[1] && !y[2] && y[3] && y[4]);
}

TEST(Slice, PositiveAndNegativeSteps) {
  std::mt19937 rng(111);
  struct Case {
    std::vector<index_t> shape, starts, steps, out;
  } cases[] = {{{10}, {1}, {3}, {3}},                     // 1, 4, 7
               {{10}, {9}, {-2}, {5}},                    // 9, 7, 5, 3, 1
               {{4, 6}, {1, 0}, {1, 1}, {2, 6}},
               {{4, 6, 5}, {3, 5, 0}, {-1, -2, 2}, {4, 3, 3}},
               {{4, 6}, {0, 2}, {1, 1}, {0, 3}},
               {{3, 7}, {2, 6}, {-1, -3}, {3, 3}}};
  for (const Case &c : cases) {
    auto X = randomFloats(rng, numel(c.shape));
    auto inStrides = stridesOf(c.shape);
    std::vector<float> want(numel(c.out)), got(want.size(), 0.f);
    for (index_t f = 0; f < index_t(want.size()); ++f) {
      auto o = unravel(f, c.out);
      index_t src = 0;
      for (size_t d = 0; d < o.size(); ++d)
        src += (c.starts[d] + o[d] * c.steps[d]) * inStrides[d];
      want[f] = X[src];
    }
    moec_hk::slice<float>(X.data(), got.data(), int(c.shape.size()), c.shape.data(), c.starts.data(),
                          c.steps.data(), c.out.data());
    EXPECT_TRUE(sameElements(got, want)) << shapeString(c.shape) << " -> " << shapeString(c.out);
  }
}

TEST(CopyBytes, CopiesAndToleratesEmptyAndAliasing) {
  std::vector<char> a = {1, 2, 3, 4, 5}, b(5, 0);
  moec_hk::copy_bytes(a.data(), b.data(), 5);
  EXPECT_EQ(a, b);
  moec_hk::copy_bytes(a.data(), a.data(), 5);
  moec_hk::copy_bytes(nullptr, nullptr, 0);
  EXPECT_EQ(a, b);
}

} // namespace
} // namespace moec_test
