//===- Arch.cpp - CUDA target names, compatibility, launch math -----------===//

#include "runtime/src/cuda/Arch.h"

#include "runtime/src/CheckedMath.h"

namespace moert::cuda {

bool parseSmTarget(const std::string &text, SmTarget *out) {
  if (text.compare(0, 3, "sm_") != 0)
    return false;
  size_t end = text.size();
  char suffix = 0;
  if (end > 3 && (text[end - 1] == 'a' || text[end - 1] == 'f'))
    suffix = text[--end];
  size_t digits = end - 3;
  // Two digits (sm_80) or three (sm_100, sm_120); no leading zero.
  if (digits < 2 || digits > 3 || text[3] == '0')
    return false;
  int number = 0;
  for (size_t i = 3; i < end; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    number = number * 10 + (text[i] - '0');
  }
  out->major = number / 10;
  out->minor = number % 10;
  out->suffix = suffix;
  return true;
}

bool cubinRunsOn(const SmTarget &target, int major, int minor) {
  if (target.suffix == 'a')
    return major == target.major && minor == target.minor;
  return major == target.major && minor >= target.minor;
}

std::string smName(const SmTarget &target) {
  std::string name = smName(target.major, target.minor);
  if (target.suffix)
    name += target.suffix;
  return name;
}

std::string smName(int major, int minor) {
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

bool gridBlocks(const GridDim &dim, int64_t tokens, int64_t *out) {
  if (dim.base < 0 || dim.perToken < 0 || dim.divisor < 1 || tokens < 0)
    return false;
  int64_t work;
  if (!evalAffine(dim.base, dim.perToken, tokens, &work))
    return false;
  // ceil(work / divisor) without the overflow of work + divisor - 1.
  *out = work == 0 ? 0 : (work - 1) / dim.divisor + 1;
  return true;
}

} // namespace moert::cuda
