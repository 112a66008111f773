//===- ArenaPlanner.cpp - Static memory planning with a symbolic token count ===//
//
// Greedy placement by decreasing size. Two placements a (below) b are disjoint
// for every T >= 0 iff end_a.base <= start_b.base and end_a.perToken <=
// start_b.perToken (both are affine in T with non-negative coefficients, so
// "below at T = 0 and below as T grows" is exactly this componentwise test).
// Each buffer goes to the lowest candidate offset -- 0, or the end of a placed
// buffer it is live together with -- that is disjoint in this sense from every
// placed buffer it is live together with.
//
//===----------------------------------------------------------------------===//
#include "compiler/memory/ArenaPlanner.h"

#include <algorithm>
#include <numeric>
#include <tuple>

namespace moec {
namespace {

/// Sizes are compared at this token count when ordering the greedy: large
/// enough that per-token buffers dominate, as they do when serving.
constexpr int64_t kReferenceTokens = 64;

int64_t roundUp(int64_t value, int64_t alignment) {
  value = std::max<int64_t>(value, 0);
  return (value + alignment - 1) / alignment * alignment;
}

AffineBytes add(const AffineBytes &a, const AffineBytes &b) {
  return {a.base + b.base, a.perToken + b.perToken};
}

AffineBytes componentwiseMax(const AffineBytes &a, const AffineBytes &b) {
  return {std::max(a.base, b.base), std::max(a.perToken, b.perToken)};
}

/// a <= b for every T >= 0 (for non-negative coefficients: componentwise).
bool belowForAllTokens(const AffineBytes &a, const AffineBytes &b) {
  return a.base <= b.base && a.perToken <= b.perToken;
}

bool isEmpty(const AffineBytes &size) { return size.base == 0 && size.perToken == 0; }

struct Live {
  int64_t first, last;
  bool overlaps(const Live &o) const { return first <= o.last && o.first <= last; }
};

struct Placement {
  AffineBytes begin, end;
  Live live;
};

/// The lowest offset for a buffer of `size` that clears every placement in
/// `conflicts` (buffers live at the same time). Candidates are 0, the end of
/// each conflict, and the componentwise max of all ends -- the last one is
/// always valid, so a placement always exists.
AffineBytes lowestFreeOffset(const AffineBytes &size, const std::vector<const Placement *> &conflicts) {
  std::vector<AffineBytes> candidates{AffineBytes{}};
  AffineBytes top;
  for (const Placement *p : conflicts) {
    candidates.push_back(p->end);
    top = componentwiseMax(top, p->end);
  }
  candidates.push_back(top);
  std::sort(candidates.begin(), candidates.end(), [](const AffineBytes &a, const AffineBytes &b) {
    return std::make_tuple(a.at(kReferenceTokens), a.perToken) <
           std::make_tuple(b.at(kReferenceTokens), b.perToken);
  });
  for (const AffineBytes &offset : candidates) {
    const AffineBytes end = add(offset, size);
    const bool clear = std::all_of(conflicts.begin(), conflicts.end(), [&](const Placement *p) {
      return belowForAllTokens(end, p->begin) || belowForAllTokens(p->end, offset);
    });
    if (clear)
      return offset;
  }
  return top; // unreachable: `top` clears every conflict
}

} // namespace

ArenaPlan planArena(const std::vector<BufferRequest> &buffers, int64_t alignment) {
  alignment = std::max<int64_t>(alignment, 1);
  const size_t n = buffers.size();
  std::vector<AffineBytes> sizes(n);
  std::vector<Live> lives(n);
  for (size_t i = 0; i < n; ++i) {
    const BufferRequest &b = buffers[i];
    sizes[i] = {roundUp(b.size.base, alignment), roundUp(b.size.perToken, alignment)};
    lives[i] = {std::min(b.firstStep, b.lastStep), std::max(b.firstStep, b.lastStep)};
  }

  // Largest first (at the reference token count), then the one live longer;
  // the index last keeps the plan deterministic.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int64_t sa = sizes[a].at(kReferenceTokens), sb = sizes[b].at(kReferenceTokens);
    if (sa != sb)
      return sa > sb;
    if (sizes[a].perToken != sizes[b].perToken)
      return sizes[a].perToken > sizes[b].perToken;
    const int64_t la = lives[a].last - lives[a].first, lb = lives[b].last - lives[b].first;
    if (la != lb)
      return la > lb;
    return a < b;
  });

  ArenaPlan plan;
  plan.offsets.assign(n, AffineBytes{});
  std::vector<Placement> placed;
  placed.reserve(n);
  std::vector<const Placement *> conflicts;
  for (size_t i : order) {
    if (isEmpty(sizes[i]))
      continue; // occupies no bytes: offset 0 conflicts with nothing
    conflicts.clear();
    for (const Placement &p : placed)
      if (p.live.overlaps(lives[i]))
        conflicts.push_back(&p);
    const AffineBytes offset = lowestFreeOffset(sizes[i], conflicts);
    plan.offsets[i] = offset;
    placed.push_back({offset, add(offset, sizes[i]), lives[i]});
    plan.arenaSize = componentwiseMax(plan.arenaSize, placed.back().end);
  }
  return plan;
}

std::string describe(const AffineBytes &bytes) {
  if (bytes.perToken == 0)
    return std::to_string(bytes.base) + " bytes";
  std::string perToken = std::to_string(bytes.perToken < 0 ? -bytes.perToken : bytes.perToken) + "*T";
  if (bytes.base == 0)
    return (bytes.perToken < 0 ? "-" : "") + perToken + " bytes";
  return std::to_string(bytes.base) + (bytes.perToken < 0 ? " - " : " + ") + perToken + " bytes";
}

} // namespace moec
