//===- CheckedMath.h - Overflow-checked integer arithmetic -----*- C++ -*-===//
//
// Every size and offset in an artifact comes from a file we do not trust, so
// all arithmetic on them goes through these helpers: each returns false
// instead of wrapping around.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_CHECKEDMATH_H
#define MOERT_SRC_CHECKEDMATH_H

#include <cstdint>

namespace moert {

template <typename T> bool checkedAdd(T a, T b, T *out) {
  return !__builtin_add_overflow(a, b, out);
}

template <typename T> bool checkedMul(T a, T b, T *out) {
  return !__builtin_mul_overflow(a, b, out);
}

/// base + perToken * tokens, false on overflow.
inline bool evalAffine(int64_t base, int64_t perToken, int64_t tokens,
                       int64_t *out) {
  int64_t scaled;
  return checkedMul(perToken, tokens, &scaled) &&
         checkedAdd(base, scaled, out);
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
inline bool alignUp(uint64_t value, uint64_t alignment, uint64_t *out) {
  uint64_t bumped;
  if (!checkedAdd(value, alignment - 1, &bumped))
    return false;
  *out = bumped & ~(alignment - 1);
  return true;
}

} // namespace moert

#endif // MOERT_SRC_CHECKEDMATH_H
