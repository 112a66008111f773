//===- HostCompile.cpp - building the generated host code ------------------===//
//
// The host target compiles its generated C++ with the system compiler into a
// shared object, carried inside the artifact and loaded by libmoert. The
// kernel header is embedded in moec, so this needs no source tree.
//
//===----------------------------------------------------------------------===//

#include "compiler/host/HostEmitter.h"

#include "compiler/codegen/CodegenUtils.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdlib>

using namespace mlir;
namespace codegen = moec::codegen;

namespace {
#include "moec_host_kernels_header.inc"


LogicalResult writeFile(Location loc, llvm::StringRef path, llvm::StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return emitError(loc) << "cannot write " << path << ": " << ec.message();
  os << text;
  return success();
}
} // namespace

namespace moec {

namespace {
// The x86-64 psABI levels (the same names GCC and Clang take in -march) and
// the features each adds, as LLVM's host detection spells them.
struct CpuLevel {
  llvm::StringRef name;
  std::vector<llvm::StringRef> adds;
};
const std::vector<CpuLevel> &cpuLevels() {
  static const std::vector<CpuLevel> levels = {
      {"x86-64-v2", {"sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cx16", "sahf"}},
      {"x86-64-v3",
       {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"}},
      {"x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}},
  };
  return levels;
}
} // namespace

std::optional<std::string> resolveHostCpu(llvm::StringRef level, std::string *error) {
  if (level == "generic")
    return level.str();
  for (const CpuLevel &known : cpuLevels())
    if (level == known.name)
      return level.str();
  if (level == "native") {
    // Not -march=native: its extra extensions (VNNI, AMX, ...) are not part
    // of any level, so libmoert could not check for them on the machine
    // that runs the artifact. The best whole level is checkable.
    std::string best = "generic";
    if (llvm::Triple(llvm::sys::getProcessTriple()).getArch() == llvm::Triple::x86_64) {
      auto features = llvm::sys::getHostCPUFeatures();
      for (const CpuLevel &known : cpuLevels()) {
        if (!llvm::all_of(known.adds, [&](llvm::StringRef f) { return features.lookup(f); }))
          break;
        best = known.name.str();
      }
    }
    return best;
  }
  *error = "--host-cpu must be generic, x86-64-v2, x86-64-v3, x86-64-v4 or native, got '" +
           level.str() + "'";
  return std::nullopt;
}

std::string hostCpuOf(ModuleOp module) {
  auto level = module->getAttrOfType<StringAttr>(kHostCpuAttr);
  return level ? level.str() : "generic";
}

llvm::StringRef hostKernelHeader() {
  static const std::string text = codegen::joinEmbeddedChunks(kEmbeddedChunks);
  return text;
}

FailureOr<std::vector<char>> compileHostSource(Location loc, const std::string &source,
                                               const HostCompileOptions &options) {
  llvm::SmallString<128> dir;
  bool keep = !options.keepSourcesDir.empty();
  if (keep) {
    dir = options.keepSourcesDir;
    if (auto ec = llvm::sys::fs::create_directories(dir))
      return emitError(loc) << "cannot create " << dir << ": " << ec.message();
  } else if (auto ec = llvm::sys::fs::createUniqueDirectory("moec-host", dir)) {
    return emitError(loc) << "cannot create a temporary directory: " << ec.message();
  }
  auto path = [&](llvm::StringRef name) {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  std::string sourcePath = path("kernels.cpp"), objectPath = path("kernels.so"),
              logPath = path("compile.log");
  if (failed(writeFile(loc, path(kHostKernelHeaderName), hostKernelHeader())) ||
      failed(writeFile(loc, sourcePath, source)))
    return failure();

  std::string cxx = options.cxx;
  if (cxx.empty())
    if (const char *env = std::getenv("MOEC_HOST_CXX"))
      cxx = env;
  if (cxx.empty())
    cxx = "c++";
  auto program = llvm::sys::findProgramByName(cxx);
  if (!program)
    return emitError(loc) << "host C++ compiler '" << cxx
                          << "' not found (set MOEC_HOST_CXX or install g++)";
  // -O3 for vectorized inner loops; no -ffast-math: results must match the
  // float reference, and NaN/Inf must behave as ONNX says. -march for the
  // level, -ffp-contract=off so that no level fuses a*b+c into an FMA: every
  // level (and the standalone project's -O3 build) then computes the same
  // bits, and only speed depends on --host-cpu.
  std::string level = options.hostCpu.empty() ? "generic" : options.hostCpu;
  std::string error;
  auto resolved = resolveHostCpu(level, &error);
  if (!resolved)
    return emitError(loc) << error;
  std::string march = "-march=" + *resolved;
  std::vector<llvm::StringRef> args = {*program, "-std=c++17", "-O3", "-ffp-contract=off"};
  if (*resolved != "generic")
    args.push_back(march);
  for (llvm::StringRef arg : {"-fPIC", "-shared", "-fno-plt", "-o"})
    args.push_back(arg);
  args.push_back(objectPath);
  args.push_back(sourcePath);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(logPath),
                                                llvm::StringRef(logPath)};
  std::string errorMessage;
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, redirects, 0, 0,
                                     &errorMessage);
  auto cleanup = [&]() {
    if (!keep)
      llvm::sys::fs::remove_directories(dir);
  };
  if (rc != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().take_front(2000).str();
    cleanup();
    return emitError(loc) << "the host C++ compiler failed (" << cxx << ", exit " << rc
                          << (errorMessage.empty() ? "" : ", " + errorMessage)
                          << ") on the generated kernels:\n"
                          << log;
  }
  auto buffer = llvm::MemoryBuffer::getFile(objectPath);
  if (!buffer) {
    cleanup();
    return emitError(loc) << "cannot read " << objectPath;
  }
  std::vector<char> bytes((*buffer)->getBufferStart(), (*buffer)->getBufferEnd());
  cleanup();
  return bytes;
}

} // namespace moec
