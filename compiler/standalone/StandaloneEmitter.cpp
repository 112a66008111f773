//===- StandaloneEmitter.cpp - write a standalone runtime project ----------===//
//
// Reads the model plan off the compiled module and writes the project's
// files. The text of each file comes from ProjectFiles.cpp (header, CMake,
// README), RuntimeSource.cpp and CudaRuntimeSource.cpp (<name>.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/standalone/StandaloneEmitter.h"

#include "compiler/host/HostEmitter.h"
#include "compiler/standalone/GeneratedText.h"
#include "compiler/standalone/ModelPlan.h"
#include "passes/emit/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

#ifndef MOEC_CUDA_TOOLKIT_VERSION_MAJOR
// The toolkit whose NVRTC compiles the cubins; CMake passes the real one.
#define MOEC_CUDA_TOOLKIT_VERSION_MAJOR 12
#endif

namespace moec::standalone {

void buildStandalonePipeline(OpPassManager &pm, const PipelineOptions &options) {
  if (!isCudaTarget(options.target)) {
    // Stage::Source emits the host C++ without compiling it.
    buildPipeline(pm, options, Stage::Source);
    return;
  }
  buildPipeline(pm, options, Stage::KernelMlir);
  MoecEmitCudaOptions emitOptions;
  emitOptions.arch = options.target;
  emitOptions.compile = true;
  emitOptions.keepSourcesDir = options.keepSources;
  emitOptions.failOnSpills = options.failOnSpills;
  emitOptions.gemm = options.gpuGemm;
  pm.addPass(createMoecEmitCuda(emitOptions));
}

bool isValidName(llvm::StringRef name) {
  if (name.empty() || name.size() > 64 || llvm::isDigit(name.front()))
    return false;
  return llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

std::string defaultName(llvm::StringRef source) {
  std::string name;
  for (char c : llvm::sys::path::stem(source))
    name += llvm::isAlnum(c) ? c : '_';
  if (name.empty())
    name = "model";
  if (llvm::isDigit(name.front()))
    name = "m_" + name;
  return name.substr(0, 64);
}

namespace {

LogicalResult writeFile(Location loc, StringRef dir, StringRef name, StringRef bytes,
                        std::vector<std::string> &written) {
  SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  // A temp file renamed into place: an interrupted run leaves no torn file.
  SmallString<256> temp(path);
  temp += ".tmp";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return emitError(loc) << "cannot write " << path << ": " << ec.message();
    os.write(bytes.data(), bytes.size());
    os.close();
    if (os.has_error())
      return emitError(loc) << "cannot write " << path << ": " << os.error().message();
  }
  if (auto ec = llvm::sys::fs::rename(temp, path))
    return emitError(loc) << "cannot write " << path << ": " << ec.message();
  written.push_back(name.str());
  return success();
}

} // namespace

LogicalResult writeStandaloneProject(ModuleOp module, const StandaloneOptions &options,
                                     StandaloneSummary *summary) {
  Location loc = module.getLoc();
  auto plan = buildModelPlan(module);
  if (failed(plan))
    return failure();

  ProjectInfo info;
  info.name = options.name.empty() ? defaultName(plan->source.empty() ? "model" : plan->source)
                                   : options.name;
  if (!isValidName(info.name))
    return emitError(loc) << "standalone name '" << info.name
                          << "' is not a C identifier of at most 64 characters",
           failure();
  info.upper = llvm::StringRef(info.name).upper();
  info.embedWeights = options.embedWeights;
  info.weightChecksum = fnv1a64(plan->weightData.data(), plan->weightData.size());
  info.minDriverVersion = MOEC_CUDA_TOOLKIT_VERSION_MAJOR * 1000;

  if (auto ec = llvm::sys::fs::create_directories(options.directory))
    return emitError(loc) << "cannot create " << options.directory << ": " << ec.message(),
           failure();
  std::vector<std::string> written;
  auto write = [&](StringRef name, StringRef bytes) {
    return writeFile(loc, options.directory, name, bytes, written);
  };
  StringRef weights(reinterpret_cast<const char *>(plan->weightData.data()),
                    plan->weightData.size());
  if (failed(write(info.name + ".h", generateHeader(*plan, info))) ||
      failed(write(info.name + ".cpp", generateRuntime(*plan, info))) ||
      failed(write("weights.bin", weights)) ||
      failed(write("CMakeLists.txt", generateCMakeLists(*plan, info))) ||
      failed(write("README.md", generateReadme(*plan, info))))
    return failure();
  if (plan->gpu()) {
    if (failed(write("kernels.cubin", StringRef(plan->cubin.data(), plan->cubin.size()))))
      return failure();
  } else if (failed(write("kernels.cpp", plan->hostSource)) ||
             failed(write(kHostKernelHeaderName, hostKernelHeader()))) {
    return failure();
  }
  if (summary) {
    summary->name = info.name;
    summary->files = written;
    summary->steps = plan->steps.size();
    summary->weightBytes = plan->weightData.size();
  }
  return success();
}

} // namespace moec::standalone
