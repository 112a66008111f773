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
  // float reference, and NaN/Inf must behave as ONNX says.
  std::vector<llvm::StringRef> args = {*program, "-std=c++17", "-O3", "-fPIC", "-shared",
                                       "-fno-plt", "-o", objectPath, sourcePath};
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
