#include "test/unit/cuda_kernels/NvrtcCompile.h"

#include <nvrtc.h>

#include <fstream>
#include <sstream>

namespace moec_test {

NvrtcResult compileWithNvrtc(const std::string &source, const std::string &name, const std::string &arch,
                             const std::vector<std::pair<std::string, std::string>> &headers,
                             const std::vector<std::string> &options) {
  NvrtcResult result;
  std::vector<const char *> header_names, header_sources;
  for (const auto &h : headers) {
    header_names.push_back(h.first.c_str());
    header_sources.push_back(h.second.c_str());
  }
  nvrtcProgram program = nullptr;
  nvrtcResult status =
      nvrtcCreateProgram(&program, source.c_str(), name.c_str(), static_cast<int>(headers.size()),
                         header_sources.data(), header_names.data());
  if (status != NVRTC_SUCCESS) {
    result.error = std::string("nvrtcCreateProgram: ") + nvrtcGetErrorString(status);
    return result;
  }
  const std::string arch_option = "--gpu-architecture=" + arch;
  std::vector<const char *> argv{arch_option.c_str()};
  for (const std::string &o : options)
    argv.push_back(o.c_str());
  status = nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) == NVRTC_SUCCESS && size > 1) {
    result.log.resize(size);
    nvrtcGetProgramLog(program, &result.log[0]);
    result.log.resize(size - 1); // drop the terminating NUL
  }
  if (status != NVRTC_SUCCESS) {
    result.error = std::string("nvrtcCompileProgram: ") + nvrtcGetErrorString(status);
    nvrtcDestroyProgram(&program);
    return result;
  }
  if (nvrtcGetPTXSize(program, &size) == NVRTC_SUCCESS && size > 1) {
    result.ptx.resize(size);
    nvrtcGetPTX(program, &result.ptx[0]);
    result.ptx.resize(size - 1);
  }
  status = nvrtcGetCUBINSize(program, &size);
  if (status == NVRTC_SUCCESS && size > 0) {
    result.cubin.resize(size);
    status = nvrtcGetCUBIN(program, result.cubin.data());
  }
  if (status != NVRTC_SUCCESS)
    result.error = std::string("nvrtcGetCUBIN: ") + nvrtcGetErrorString(status);
  result.ok = status == NVRTC_SUCCESS && !result.cubin.empty();
  if (!result.ok && result.error.empty())
    result.error = "NVRTC produced no cubin";
  nvrtcDestroyProgram(&program);
  return result;
}

std::vector<std::string> ptxEntries(const std::string &ptx) {
  std::vector<std::string> names;
  std::istringstream in(ptx);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find(".entry ");
    if (at == std::string::npos)
      continue;
    size_t b = at + 7;
    while (b < line.size() && line[b] == ' ')
      ++b;
    size_t e = b;
    while (e < line.size() && line[e] != '(' && line[e] != ' ')
      ++e;
    if (e > b)
      names.push_back(line.substr(b, e - b));
  }
  return names;
}

std::string readTextFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace moec_test
