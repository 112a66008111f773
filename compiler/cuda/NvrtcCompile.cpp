//===- NvrtcCompile.cpp - CUDA source to cubin, in process ------------------===//
//
// NVRTC compiles the generated source for exactly one architecture; the
// device template headers are handed to it from memory (embedded in moec),
// so compiling needs the CUDA toolkit's NVRTC library and headers but no
// source tree and no GPU. ptxas' verbose report is parsed so spills and
// register counts are visible to the compiler and its tests.
//
//===----------------------------------------------------------------------===//

#include "compiler/cuda/CudaEmitter.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#ifdef MOEC_HAVE_NVRTC
#include <nvrtc.h>
#endif

#include <cstdlib>
#include <iterator>

using namespace mlir;

namespace moec {

std::vector<KernelResources> parsePtxasLog(llvm::StringRef log) {
  std::vector<KernelResources> out;
  llvm::SmallVector<llvm::StringRef> lines;
  log.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    // "ptxas info    : Compiling entry function 'name' for 'sm_90a'"
    size_t entry = line.find("Compiling entry function '");
    if (entry != llvm::StringRef::npos) {
      llvm::StringRef rest = line.substr(entry + strlen("Compiling entry function '"));
      KernelResources r;
      r.kernel = rest.substr(0, rest.find('\'')).str();
      out.push_back(r);
      continue;
    }
    if (out.empty())
      continue;
    KernelResources &r = out.back();
    auto numberBefore = [&](llvm::StringRef key) -> long {
      size_t at = line.find(key);
      if (at == llvm::StringRef::npos)
        return -1;
      llvm::StringRef head = line.substr(0, at).rtrim();
      size_t start = head.find_last_not_of("0123456789");
      long value = 0;
      if (head.substr(start == llvm::StringRef::npos ? 0 : start + 1).getAsInteger(10, value))
        return -1;
      return value;
    };
    if (long v = numberBefore("bytes spill stores"); v >= 0)
      r.spillStores = v;
    if (long v = numberBefore("bytes spill loads"); v >= 0)
      r.spillLoads = v;
    if (long v = numberBefore("registers"); v >= 0 && line.contains("Used"))
      r.registers = static_cast<int>(v);
    if (long v = numberBefore("bytes smem"); v >= 0)
      r.sharedBytes = v;
  }
  return out;
}

#ifndef MOEC_HAVE_NVRTC
FailureOr<NvrtcResult> compileCudaSource(Location loc, const std::string &, const CudaTarget &,
                                         const std::string &) {
  return emitError(loc) << "this moec was built without NVRTC (the CUDA toolkit was not found "
                           "at build time); use --emit cuda for the source, or rebuild with "
                           "the toolkit installed",
         failure();
}
#else
FailureOr<NvrtcResult> compileCudaSource(Location loc, const std::string &source,
                                         const CudaTarget &target,
                                         const std::string &keepSourcesDir) {
  const auto &headers = cudaKernelHeaders();
  if (!keepSourcesDir.empty() && failed(writeCudaSources(loc, source, keepSourcesDir)))
    return failure();

  std::vector<const char *> headerTexts, headerNames;
  for (const auto &h : headers) {
    headerTexts.push_back(h.text.c_str());
    headerNames.push_back(h.name);
  }
  nvrtcProgram program;
  if (nvrtcCreateProgram(&program, source.c_str(), "kernels.cu", headerTexts.size(),
                         headerTexts.data(), headerNames.data()) != NVRTC_SUCCESS)
    return emitError(loc) << "NVRTC could not create a program", failure();

  std::string archOption = "--gpu-architecture=" + target.arch;
  std::string includeDir = MOEC_CUDA_INCLUDE_DIR;
  if (const char *env = std::getenv("MOEC_CUDA_INCLUDE_DIR"))
    includeDir = env;
  std::string includeOption = "--include-path=" + includeDir;
  // No fast-math: results are compared with float references; ptxas -v so
  // spills are reported.
  // No --maxrregcount: measured on sm_90a, it made ptxas spill a grouped
  // GEMM that fits in 48 registers without it.
  const char *options[] = {archOption.c_str(), "--std=c++17", includeOption.c_str(),
                           "--ptxas-options=-v"};
  nvrtcResult status = nvrtcCompileProgram(program, std::size(options), options);

  NvrtcResult result;
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  result.log.resize(logSize);
  if (logSize)
    nvrtcGetProgramLog(program, result.log.data());
  if (status != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&program);
    return emitError(loc) << "NVRTC failed to compile the generated kernels for "
                          << target.arch << ":\n"
                          << llvm::StringRef(result.log).take_front(4000);
  }
  size_t cubinSize = 0;
  if (nvrtcGetCUBINSize(program, &cubinSize) != NVRTC_SUCCESS || cubinSize == 0) {
    nvrtcDestroyProgram(&program);
    return emitError(loc) << "NVRTC produced no cubin for " << target.arch;
  }
  result.cubin.resize(cubinSize);
  nvrtcGetCUBIN(program, result.cubin.data());
  nvrtcDestroyProgram(&program);
  result.resources = parsePtxasLog(result.log);
  return result;
}

#endif // MOEC_HAVE_NVRTC

} // namespace moec
