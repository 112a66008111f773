// A thin NVRTC driver for the CUDA kernel tests: compiles one source for one
// architecture with in-memory headers and returns the log, PTX and cubin.
#ifndef MOEC_TEST_UNIT_CUDA_KERNELS_NVRTCCOMPILE_H
#define MOEC_TEST_UNIT_CUDA_KERNELS_NVRTCCOMPILE_H

#include <string>
#include <utility>
#include <vector>

namespace moec_test {

struct NvrtcResult {
  bool ok = false;
  std::string error; // the NVRTC status text when !ok
  std::string log;   // compiler diagnostics plus the ptxas report (-v)
  std::string ptx;
  std::vector<char> cubin;
};

// arch: "sm_80", "sm_86", "sm_89", "sm_90a" (a real architecture, so NVRTC
// emits a cubin). headers: (include name, contents) served from memory.
NvrtcResult compileWithNvrtc(const std::string &source, const std::string &name, const std::string &arch,
                             const std::vector<std::pair<std::string, std::string>> &headers,
                             const std::vector<std::string> &options);

// The names of the `.entry` functions of a PTX module.
std::vector<std::string> ptxEntries(const std::string &ptx);

std::string readTextFile(const std::string &path);

} // namespace moec_test

#endif // MOEC_TEST_UNIT_CUDA_KERNELS_NVRTCCOMPILE_H
