// planArena on random problems, verified by brute force at many token counts,
// plus checks that liveness-based reuse really happens.
#include "compiler/memory/ArenaPlanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace moec {
namespace {

const int64_t kTokenCounts[] = {0, 1, 2, 3, 17, 64, 1000, 100000};

int64_t roundUpTo(int64_t v, int64_t a) { return (std::max<int64_t>(v, 0) + a - 1) / a * a; }

// Checks the plan's contract directly: alignment of both offset coefficients,
// every buffer inside the arena, and no two simultaneously live buffers
// sharing a byte, at each token count.
::testing::AssertionResult planIsValid(const std::vector<BufferRequest> &buffers, const ArenaPlan &plan,
                                       int64_t alignment) {
  if (plan.offsets.size() != buffers.size())
    return ::testing::AssertionFailure() << "plan has " << plan.offsets.size() << " offsets";
  for (size_t i = 0; i < buffers.size(); ++i)
    if (plan.offsets[i].base % alignment || plan.offsets[i].perToken % alignment || plan.offsets[i].base < 0 ||
        plan.offsets[i].perToken < 0)
      return ::testing::AssertionFailure() << "buffer " << i << " offset " << describe(plan.offsets[i]);
  for (int64_t T : kTokenCounts) {
    std::vector<int64_t> begin(buffers.size()), end(buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
      const AffineBytes &s = buffers[i].size;
      begin[i] = plan.offsets[i].at(T);
      end[i] = begin[i] + roundUpTo(s.base, alignment) + roundUpTo(s.perToken, alignment) * T;
      if (end[i] > plan.arenaSize.at(T))
        return ::testing::AssertionFailure() << "buffer " << i << " ends at " << end[i] << " past arena "
                                             << plan.arenaSize.at(T) << " for T=" << T;
    }
    for (size_t i = 0; i < buffers.size(); ++i)
      for (size_t j = i + 1; j < buffers.size(); ++j) {
        const bool live = std::min(buffers[i].firstStep, buffers[i].lastStep) <=
                              std::max(buffers[j].firstStep, buffers[j].lastStep) &&
                          std::min(buffers[j].firstStep, buffers[j].lastStep) <=
                              std::max(buffers[i].firstStep, buffers[i].lastStep);
        const bool bytes = begin[i] < end[i] && begin[j] < end[j];
        if (live && bytes && begin[i] < end[j] && begin[j] < end[i])
          return ::testing::AssertionFailure() << "buffers " << i << " and " << j << " overlap for T=" << T << ": ["
                                               << begin[i] << "," << end[i] << ") and [" << begin[j] << "," << end[j]
                                               << ")";
      }
  }
  return ::testing::AssertionSuccess();
}

std::vector<BufferRequest> randomProblem(std::mt19937 &rng, int count, int steps) {
  std::uniform_int_distribution<int> kind(0, 3), step(0, steps - 1), span(0, 6);
  std::uniform_int_distribution<int64_t> bytes(1, 5000);
  std::vector<BufferRequest> out;
  for (int i = 0; i < count; ++i) {
    BufferRequest b;
    switch (kind(rng)) { // static, per-token, both, or empty
    case 0: b.size = {bytes(rng), 0}; break;
    case 1: b.size = {0, bytes(rng) / 16 + 1}; break;
    case 2: b.size = {bytes(rng), bytes(rng) / 16 + 1}; break;
    default: b.size = i % 7 == 0 ? AffineBytes{0, 0} : AffineBytes{bytes(rng) % 70 + 1, 0}; break;
    }
    b.firstStep = step(rng);
    b.lastStep = b.firstStep + span(rng);
    out.push_back(b);
  }
  return out;
}

TEST(ArenaPlanner, RandomProblemsAreValidForEveryTokenCount) {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t alignment = trial % 3 == 0 ? 64 : trial % 3 == 1 ? 16 : 1;
    auto buffers = randomProblem(rng, 1 + trial % 60, 2 + trial % 25);
    ArenaPlan plan = planArena(buffers, alignment);
    ASSERT_TRUE(planIsValid(buffers, plan, alignment)) << "trial " << trial;
    // Reuse never costs memory: the arena is at most everything side by side.
    for (int64_t T : kTokenCounts) {
      int64_t sum = 0, peakLive = 0;
      for (const auto &b : buffers)
        sum += roundUpTo(b.size.base, alignment) + roundUpTo(b.size.perToken, alignment) * T;
      for (int s = 0; s < 40; ++s) {
        int64_t live = 0;
        for (const auto &b : buffers)
          if (b.firstStep <= s && s <= b.lastStep)
            live += roundUpTo(b.size.base, alignment) + roundUpTo(b.size.perToken, alignment) * T;
        peakLive = std::max(peakLive, live);
      }
      EXPECT_LE(plan.arenaSize.at(T), sum) << "trial " << trial << " T=" << T;
      EXPECT_GE(plan.arenaSize.at(T), peakLive) << "trial " << trial << " T=" << T; // sanity lower bound
    }
  }
}

TEST(ArenaPlanner, ReusesMemoryAcrossMostRandomProblems) {
  std::mt19937 rng(7);
  int reused = 0, trials = 100;
  for (int trial = 0; trial < trials; ++trial) {
    auto buffers = randomProblem(rng, 40, 30);
    ArenaPlan plan = planArena(buffers);
    int64_t sum = 0;
    for (const auto &b : buffers)
      sum += roundUpTo(b.size.base, 64) + roundUpTo(b.size.perToken, 64) * 64;
    reused += plan.arenaSize.at(64) < sum;
  }
  EXPECT_EQ(reused, trials); // 40 buffers over 30 steps always leave room to share
}

TEST(ArenaPlanner, ChainOfShortLivedBuffersUsesTwoSlots) {
  // Step i produces buffer i from buffer i-1: neighbours overlap, nothing else does.
  for (AffineBytes size : {AffineBytes{4096, 0}, AffineBytes{0, 512}, AffineBytes{1000, 100}}) {
    std::vector<BufferRequest> chain;
    for (int i = 0; i < 50; ++i)
      chain.push_back({size, i, i + 1});
    ArenaPlan plan = planArena(chain);
    ASSERT_TRUE(planIsValid(chain, plan, 64));
    const AffineBytes slot{roundUpTo(size.base, 64), roundUpTo(size.perToken, 64)};
    EXPECT_EQ(plan.arenaSize, (AffineBytes{2 * slot.base, 2 * slot.perToken})) << describe(plan.arenaSize);
  }
}

TEST(ArenaPlanner, DisjointLifetimesShareOneOffset) {
  std::vector<BufferRequest> buffers = {{{1000, 8}, 0, 2}, {{500, 8}, 3, 5}, {{1000, 0}, 6, 9}};
  ArenaPlan plan = planArena(buffers);
  for (const AffineBytes &o : plan.offsets)
    EXPECT_EQ(o, AffineBytes{});
  EXPECT_EQ(plan.arenaSize, (AffineBytes{1024, 64}));
}

TEST(ArenaPlanner, StaticAndPerTokenBuffersStayApartForAllTokenCounts) {
  // A static buffer and a per-token one live together: whichever is lower,
  // the other must start at its end in both coefficients.
  std::vector<BufferRequest> buffers = {{{4096, 0}, 0, 3}, {{0, 256}, 1, 2}, {{128, 64}, 2, 4}};
  ArenaPlan plan = planArena(buffers);
  EXPECT_TRUE(planIsValid(buffers, plan, 64));
  EXPECT_EQ(plan.arenaSize, (AffineBytes{4096 + 128, 256 + 64}));
}

TEST(ArenaPlanner, EdgeCases) {
  EXPECT_EQ(planArena({}).arenaSize, AffineBytes{});
  // Zero-sized buffers take no space; negative coefficients and reversed
  // live ranges are planned conservatively.
  std::vector<BufferRequest> odd = {{{0, 0}, 0, 5}, {{-5, 3}, 4, 2}, {{100, -7}, 3, 3}};
  ArenaPlan plan = planArena(odd, 0);
  EXPECT_EQ(plan.offsets.size(), 3u);
  std::vector<BufferRequest> sane = {{{0, 0}, 0, 5}, {{0, 3}, 2, 4}, {{100, 0}, 3, 3}};
  EXPECT_TRUE(planIsValid(sane, plan, 1));
  EXPECT_EQ(plan.arenaSize, (AffineBytes{100, 3}));
}

TEST(ArenaPlanner, DescribeIsReadable) {
  EXPECT_EQ(describe({1024, 256}), "1024 + 256*T bytes");
  EXPECT_EQ(describe({0, 256}), "256*T bytes");
  EXPECT_EQ(describe({1024, 0}), "1024 bytes");
  EXPECT_EQ(describe({0, 0}), "0 bytes");
  EXPECT_EQ(describe({64, -8}), "64 - 8*T bytes");
}

} // namespace
} // namespace moec
