//===- ArenaPlanner.h - Static memory planning with a symbolic token count -===//
//
// moec plans every intermediate buffer of a model into one arena at compile
// time. Sizes depend on the token count T, which is only known at run time, so
// sizes, offsets and the arena size are affine functions of T: bytes(T) =
// base + perToken * T. The plan is valid for every T >= 0 at once, so the
// runtime only evaluates a few affine functions per run and never allocates.
//
// Plain C++ (no MLIR): the planner is a pure function of its requests.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_MEMORY_ARENAPLANNER_H
#define MOEC_COMPILER_MEMORY_ARENAPLANNER_H

#include <cstdint>
#include <string>
#include <vector>

namespace moec {

/// bytes(T) = base + perToken * T for a token count T >= 0.
struct AffineBytes {
  int64_t base = 0, perToken = 0;

  int64_t at(int64_t tokens) const { return base + perToken * tokens; }
  bool operator==(const AffineBytes &o) const { return base == o.base && perToken == o.perToken; }
  bool operator!=(const AffineBytes &o) const { return !(*this == o); }
};

/// One buffer: its size and the steps it is live over, [firstStep, lastStep]
/// inclusive (written by firstStep, last read by lastStep).
struct BufferRequest {
  AffineBytes size;
  int64_t firstStep, lastStep;
};

/// offsets[i] is the placement of buffers[i]; arenaSize bounds every
/// offsets[i] + size_i for all T >= 0.
struct ArenaPlan {
  std::vector<AffineBytes> offsets;
  AffineBytes arenaSize;
};

/// Assigns every buffer an offset (both coefficients multiples of `alignment`)
/// such that for every T >= 0 no two buffers with overlapping live ranges
/// overlap in memory, and offsets[i](T) + size_i(T) <= arenaSize(T). Buffers
/// whose live ranges are disjoint may share memory.
///
/// Sizes are rounded up per coefficient to the alignment. Requests outside the
/// contract are planned conservatively instead of rejected: a negative
/// coefficient is raised to 0 (an upper bound of the size for all T >= 0), a
/// reversed live range is read as [lastStep, firstStep], and an alignment
/// below 1 is read as 1.
ArenaPlan planArena(const std::vector<BufferRequest> &buffers, int64_t alignment = 64);

/// Human-readable form, e.g. "1024 + 256*T bytes", "256*T bytes", "0 bytes".
std::string describe(const AffineBytes &bytes);

} // namespace moec

#endif // MOEC_COMPILER_MEMORY_ARENAPLANNER_H
