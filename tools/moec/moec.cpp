//===- moec.cpp - the moec compiler driver -----------------------------------===//
//
//   moec compile model.onnx --target host -o model.moe
//   moec compile model.onnx --target host --emit standalone -o model/
//
// Imports the ONNX file, runs the pipeline for the target and writes the
// artifact (or the IR of an earlier stage with --emit, or a generated runtime
// project with --emit standalone). Errors are printed as
// one line: `moec: error: <file>: node '<name>': <what>`, exit code 1.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/OnnxImporter.h"
#include "compiler/cuda/CudaEmitter.h"
#include "compiler/host/HostEmitter.h"
#include "compiler/pipeline/Pipeline.h"
#include "compiler/standalone/StandaloneEmitter.h"
#include "dialects/kernel/KernelDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <map>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory moecCategory("moec compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx>"), cl::cat(moecCategory));
cl::opt<std::string> outputPath("o", cl::desc("Output file (.moe for --emit artifact; a directory "
                                              "for --emit standalone; default: stdout for IR "
                                              "and C++)"),
                                cl::value_desc("file"), cl::cat(moecCategory));
cl::opt<std::string> target("target",
                            cl::desc("host (CPU: C++ kernels built with the system compiler), "
                                     "or a GPU architecture: sm_80, sm_86, sm_89, sm_90a "
                                     "(CUDA kernels compiled with NVRTC)"),
                            cl::init("host"), cl::cat(moecCategory));
cl::opt<std::string> precision("precision",
                               cl::desc("GPU targets: how float tensors are stored: bf16 "
                                        "(default), f16 or f32. Accumulation is always f32; "
                                        "the router stays f32"),
                               cl::init("bf16"), cl::cat(moecCategory));
cl::opt<std::string> gpuGemm("gpu-gemm",
                             cl::desc("GPU targets: tensor-core GEMM kernels: mma (mma.sync, every "
                                      "target; default) or wgmma (Hopper warpgroup MMA, sm_90a "
                                      "only; experimental until validated on a GPU)"),
                             cl::init("mma"), cl::cat(moecCategory));
cl::opt<std::string> quantize("quantize",
                              cl::desc("Store expert and linear weights quantized: none (default), "
                                       "int8, int4 (two per byte; use with --group-size, e.g. "
                                       "32) or fp8 (E4M3FN, one byte). Weight-only, symmetric, "
                                       "float32 scales; the router stays float. GPU GEMMs "
                                       "read the quantized bytes directly"),
                              cl::init("none"), cl::cat(moecCategory));
cl::opt<int64_t> groupSize("group-size",
                           cl::desc("With --quantize: weights per scale along the reduction "
                                    "axis (e.g. 32, 64, 128); 0 (default) = one scale per "
                                    "output row"),
                           cl::init(0), cl::cat(moecCategory));
cl::opt<std::string> quantizeConfig(
    "quantize-config",
    cl::desc("Per-layer quantization overrides, a JSON file: {\"rules\": [{\"match\": "
             "\"/attn/\", \"format\": \"int8\"}, {\"match\": \"/moe/\", \"format\": "
             "\"int4\", \"group_size\": 32}]}; the first rule whose match is a substring of "
             "an op's ONNX node name sets its format (none, int8, int4, fp8) and group size, other "
             "ops follow --quantize / --group-size (with --quantize none only the rules "
             "quantize). Every target"),
    cl::value_desc("FILE"), cl::cat(moecCategory));
cl::opt<std::string> calibrationDir(
    "calibration",
    cl::desc("Directory of .npy batches of the model's inputs (DIR/<input>.npy for one batch, "
             "or DIR/<batch>/<input>.npy; characters other than A-Z a-z 0-9 . _ - in input "
             "names become '_'). The float model runs on them on the host; with --quantize, "
             "AWQ-style per-channel scales are chosen on these activations and --report gets "
             "a quantization section with the error before and after"),
    cl::value_desc("DIR"), cl::cat(moecCategory));
cl::opt<std::string> calibrationOut(
    "calibration-out",
    cl::desc("With --calibration: keep the sampled activations and routing counts in this "
             "directory (default: a temporary one, removed after the compile)"),
    cl::value_desc("DIR"), cl::cat(moecCategory));
cl::opt<double> pruneExperts(
    "prune-experts",
    cl::desc("With --calibration: remove the experts whose share of the routed slots on the "
             "calibration batches is below F (0 <= F < 1, e.g. 0.01) from the router and the "
             "expert weights; at least k experts stay per router, group-limited routers are "
             "left alone. Each router's routing histogram is printed"),
    cl::value_desc("F"), cl::cat(moecCategory));
cl::opt<std::string> hostCpu(
    "host-cpu",
    cl::desc("Host target: the x86-64 level the kernels are compiled for, which the CPU "
             "that runs the artifact must have (libmoert checks at session creation): "
             "generic (SSE2), x86-64-v2 (SSE4.2), x86-64-v3 (AVX2, FMA: every x86-64 "
             "server CPU since 2013-2015), x86-64-v4 (AVX-512), or native (default: the "
             "best of these this machine has; pass the deployment CPU's level to run the "
             "artifact elsewhere)"),
    cl::init(moec::kDefaultHostCpu.str()), cl::cat(moecCategory));
cl::opt<bool> failOnSpills("fail-on-spills",
                           cl::desc("GPU targets: make a register spill in any kernel an error"),
                           cl::cat(moecCategory));
enum class EmitKind { OnnxMlir, MoeMlir, KernelMlir, HostCpp, Cuda, Artifact, Standalone };
cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce (default: artifact)"), cl::init(EmitKind::Artifact),
    cl::values(clEnumValN(EmitKind::OnnxMlir, "onnx-mlir", "imported onnx-dialect IR"),
               clEnumValN(EmitKind::MoeMlir, "moe-mlir", "IR after raising and fusion"),
               clEnumValN(EmitKind::KernelMlir, "kernel-mlir",
                          "kernel launches after memory planning"),
               clEnumValN(EmitKind::HostCpp, "host-cpp", "the generated C++ kernels (host)"),
               clEnumValN(EmitKind::Cuda, "cuda", "the generated CUDA kernels (GPU targets)"),
               clEnumValN(EmitKind::Artifact, "artifact", "the .moe file"),
               clEnumValN(EmitKind::Standalone, "standalone",
                          "a C++ project for this model alone: unrolled runtime, kernels, "
                          "weights.bin, C header, CMakeLists.txt (-o DIR; see docs/deploy.md)")),
    cl::cat(moecCategory));
cl::opt<bool> embedWeights("embed-weights",
                           cl::desc("With --emit standalone: build the library with weights.bin "
                                    "compiled in by default (CMake option <NAME>_EMBED_WEIGHTS)"),
                           cl::cat(moecCategory));
cl::opt<std::string> standaloneName("standalone-name",
                                    cl::desc("With --emit standalone: the C prefix and file name "
                                             "of the generated runtime (default: the model "
                                             "file's name)"),
                                    cl::value_desc("NAME"), cl::cat(moecCategory));

moec::Stage stageOf(EmitKind kind) {
  switch (kind) {
  case EmitKind::OnnxMlir: return moec::Stage::OnnxMlir;
  case EmitKind::MoeMlir: return moec::Stage::MoeMlir;
  case EmitKind::KernelMlir: return moec::Stage::KernelMlir;
  case EmitKind::HostCpp:
  case EmitKind::Cuda: return moec::Stage::Source;
  case EmitKind::Artifact:
  case EmitKind::Standalone: return moec::Stage::Artifact;
  }
  return moec::Stage::Artifact;
}
cl::list<std::string> bindDims("bind-dim",
                               cl::desc("Fix a symbolic ONNX dimension, e.g. --bind-dim batch=1 "
                                        "(moec keeps one symbolic dim: the token count)"),
                               cl::value_desc("NAME=VALUE"), cl::cat(moecCategory));
cl::opt<int64_t> kvCapacity(
    "kv-capacity",
    cl::desc("Rows of the fixed-capacity KV cache that a decoder exported with a growing cache\n"
             "(past_* inputs concatenated with the new keys, as transformers exports them)\n"
             "is compiled into: the most tokens one sequence holds, prompt and generated\n"
             "(default 4096). Such a model gets inputs seqlens_k and total_sequence_length;\n"
             "see docs/user-guide.md, \"Generate\""),
    cl::value_desc("N"), cl::init(4096), cl::cat(moecCategory));
cl::opt<bool> printPipeline("print-pipeline",
                            cl::desc("Print the pass pipeline before running it"),
                            cl::cat(moecCategory));
cl::opt<std::string> keepSources("keep-sources",
                                 cl::desc("Keep the generated kernel sources in this directory"),
                                 cl::value_desc("dir"), cl::cat(moecCategory));
cl::opt<bool> reportMemory("report-memory",
                           cl::desc("Print the arena size chosen by memory planning"),
                           cl::cat(moecCategory));
cl::opt<std::string> reportPath(
    "report",
    cl::desc("Write the compile report to FILE: per layer, each kernel launch with its ONNX "
             "node, FLOPs and bytes moved (a*T + b), and the launches and bytes before "
             "fusion. FILE ending in .json gets JSON, any other name Markdown (see "
             "docs/user-guide.md)"),
    cl::value_desc("FILE"), cl::cat(moecCategory));
cl::opt<bool> progress("progress",
                       cl::desc("Print progress to stderr (default: when stderr is a terminal)"),
                       cl::cat(moecCategory));
cl::opt<bool> quiet("q", cl::desc("Print nothing on success"), cl::cat(moecCategory));
cl::opt<bool> printWeights("print-weights",
                           cl::desc("With --emit *-mlir, print weight data in full (default: "
                                    "elided, so the IR stays readable)"),
                           cl::cat(moecCategory));

// "file: node 'name'" from a location the importer created.
std::string describeLocation(Location loc) {
  std::string node, file;
  auto visit = [&](Location l, auto &self) -> void {
    if (auto name = dyn_cast<NameLoc>(l)) {
      if (node.empty())
        node = name.getName().str();
      self(name.getChildLoc(), self);
    } else if (auto fileLoc = dyn_cast<FileLineColLoc>(l)) {
      if (file.empty())
        file = fileLoc.getFilename().str();
    } else if (auto fused = dyn_cast<FusedLoc>(l)) {
      for (Location inner : fused.getLocations())
        self(inner, self);
    } else if (auto callsite = dyn_cast<CallSiteLoc>(l)) {
      self(callsite.getCallee(), self);
    }
  };
  visit(loc, visit);
  if (file.empty())
    file = inputPath;
  return node.empty() ? file : file + ": node '" + node + "'";
}

class Progress {
public:
  explicit Progress(bool enabled) : enabled(enabled) {}
  void step(llvm::StringRef what) {
    finish();
    if (!enabled)
      return;
    llvm::errs() << "moec: " << what << "...";
    llvm::errs().flush();
    start = std::chrono::steady_clock::now();
    open = true;
  }
  void finish() {
    if (!open)
      return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    llvm::errs() << " " << llvm::format("%.2f", seconds) << " s\n";
    open = false;
  }
  void abort() {
    if (open)
      llvm::errs() << "\n";
    open = false;
  }

private:
  bool enabled;
  bool open = false;
  std::chrono::steady_clock::time_point start;
};

int fail(const llvm::Twine &message) {
  llvm::errs() << "moec: error: " << message << "\n";
  return 1;
}

int compile() {
  if (inputPath.empty())
    return fail("no input model (usage: moec compile model.onnx --target host -o model.moe)");
  bool cuda = moec::isCudaTarget(target);
  if (target != "host" && !cuda)
    return fail("unknown target '" + target + "' (supported: host, " +
                moec::supportedCudaTargets() + ")");
  if (gpuGemm != "mma" && gpuGemm != "wgmma")
    return fail("--gpu-gemm must be mma or wgmma, got '" + gpuGemm + "'");
  if (gpuGemm == "wgmma" && target != "sm_90a")
    return fail("--gpu-gemm wgmma needs --target sm_90a (Hopper), not '" + target + "'");
  if (quantize != "none" && quantize != "int8" && quantize != "int4" && quantize != "fp8")
    return fail("--quantize must be none, int8, int4 or fp8, got '" + quantize + "'");
  if (groupSize < 0)
    return fail("--group-size must be >= 0, got " + std::to_string(groupSize));
  if (cuda && hostCpu.getNumOccurrences())
    return fail("--host-cpu applies to --target host only");
  std::string hostCpuError;
  std::optional<std::string> hostCpuLevel = moec::resolveHostCpu(hostCpu, &hostCpuError);
  if (!hostCpuLevel)
    return fail(hostCpuError);
  if (precision != "bf16" && precision != "f16" && precision != "f32")
    return fail("--precision must be bf16, f16 or f32, got '" + precision + "'");
  if (emit == EmitKind::Cuda && !cuda)
    return fail("--emit cuda needs a GPU target (--target sm_80, sm_86, sm_89 or sm_90a)");
  if (emit == EmitKind::HostCpp && cuda)
    return fail("--emit host-cpp needs --target host (use --emit cuda for a GPU target)");
  if (emit == EmitKind::Artifact && outputPath.empty())
    return fail("-o <file.moe> is required to write an artifact");
  bool standalone = emit == EmitKind::Standalone;
  if (standalone && outputPath.empty())
    return fail("-o <directory> is required with --emit standalone");
  if (!standalone && (embedWeights || !standaloneName.empty()))
    return fail(std::string(embedWeights ? "--embed-weights" : "--standalone-name") +
                " needs --emit standalone");
  if (!standaloneName.empty() && !moec::standalone::isValidName(standaloneName))
    return fail("--standalone-name must be a C identifier of at most 64 characters, got '" +
                standaloneName + "'");

  if (!reportPath.empty() && (emit == EmitKind::OnnxMlir || emit == EmitKind::MoeMlir))
    return fail("--report describes kernel launches: use it with --emit kernel-mlir or a "
                "later stage, not --emit " +
                std::string(emit == EmitKind::OnnxMlir ? "onnx-mlir" : "moe-mlir"));

  if (!calibrationOut.empty() && calibrationDir.empty())
    return fail("--calibration-out needs --calibration DIR");
  if (pruneExperts.getNumOccurrences() && calibrationDir.empty())
    return fail("--prune-experts needs --calibration DIR: the routing counts come from the "
                "calibration run");
  if (pruneExperts.getNumOccurrences() && !(pruneExperts >= 0.0 && pruneExperts < 1.0))
    return fail("--prune-experts must be in [0, 1) (a share of the routed slots), got " +
                std::to_string(pruneExperts.getValue()));
  if (!calibrationDir.empty() && !llvm::sys::fs::is_directory(calibrationDir))
    return fail("--calibration " + calibrationDir + ": not a directory (expected .npy batches "
                "of the model's inputs)");

  moec::OnnxImportOptions importOptions;
  if (kvCapacity < 1)
    return fail("--kv-capacity must be at least 1, got " + std::to_string(kvCapacity.getValue()));
  importOptions.kvCapacity = kvCapacity;
  for (const std::string &binding : bindDims) {
    auto [name, value] = llvm::StringRef(binding).split('=');
    int64_t v;
    if (name.empty() || value.getAsInteger(10, v) || v < 0)
      return fail("--bind-dim expects NAME=VALUE with VALUE >= 0, got '" + binding + "'");
    importOptions.dimBindings[name.str()] = v;
  }

  MLIRContext context;
  DialectRegistry registry;
  moec::registerAllDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  Progress steps(progress || llvm::sys::Process::StandardErrIsDisplayed());
  bool reported = false;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error) {
      // Only the first error: later ones are usually consequences of it.
      if (!reported) {
        steps.abort();
        std::string message = diag.str();
        llvm::errs() << "moec: error: " << describeLocation(diag.getLocation()) << ": "
                     << message << "\n";
      }
      reported = true;
    } else if (diag.getSeverity() == DiagnosticSeverity::Remark && !quiet) {
      steps.abort();
      llvm::errs() << "moec: " << diag.str() << "\n";
    } else if (diag.getSeverity() == DiagnosticSeverity::Warning) {
      steps.abort();
      llvm::errs() << "moec: warning: " << describeLocation(diag.getLocation()) << ": "
                   << diag.str() << "\n";
    }
    return success();
  });

  steps.step("importing " + llvm::sys::path::filename(inputPath).str());
  OwningOpRef<ModuleOp> module = moec::importOnnxFile(context, inputPath, importOptions);
  if (!module) {
    if (!reported)
      llvm::errs() << "moec: error: " << inputPath << ": import failed\n";
    return 1;
  }

  if (!cuda)
    (*module)->setAttr(moec::kHostCpuAttr, StringAttr::get(&context, *hostCpuLevel));

  PassManager pm(&context, ModuleOp::getOperationName());
  moec::PipelineOptions options;
  options.target = target;
  options.precision = precision;
  options.quantize = quantize;
  options.quantizeConfig = quantizeConfig;
  options.groupSize = groupSize;
  options.failOnSpills = failOnSpills;
  options.gpuGemm = gpuGemm;
  options.output = outputPath;
  options.keepSources = keepSources;
  options.reportMemory = reportMemory;
  options.report = reportPath;
  // The activation directory the calibration run writes and AWQ reads.
  std::string activations = calibrationOut;
  bool removeActivations = false;
  if (!calibrationDir.empty() && activations.empty()) {
    llvm::SmallString<128> dir;
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("moec-activations", dir))
      return fail("cannot create a temporary directory: " + ec.message());
    activations = std::string(dir);
    removeActivations = true;
  }
  llvm::scope_exit cleanup([&] {
    if (removeActivations)
      llvm::sys::fs::remove_directories(activations);
  });
  options.calibration = calibrationDir;
  options.activations = activations;
  options.pruneExperts = pruneExperts.getNumOccurrences() ? pruneExperts.getValue() : -1.0;
  options.progress = progress || llvm::sys::Process::StandardErrIsDisplayed();
  if (standalone) {
    options.output = "";
    moec::standalone::buildStandalonePipeline(pm, options);
  } else {
    moec::buildPipeline(pm, options, stageOf(emit));
  }
  if (printPipeline) {
    llvm::outs() << "moec: pipeline: ";
    pm.printAsTextualPipeline(llvm::outs());
    llvm::outs() << "\n";
  }
  steps.step("running " + std::to_string(pm.size()) + " pass groups (compiling kernels)");
  if (failed(pm.run(*module))) {
    if (!reported)
      llvm::errs() << "moec: error: " << inputPath << ": compilation failed\n";
    return 1;
  }
  steps.finish();

  if (standalone) {
    moec::standalone::StandaloneOptions standaloneOptions;
    standaloneOptions.directory = outputPath;
    standaloneOptions.name = standaloneName;
    standaloneOptions.embedWeights = embedWeights;
    moec::standalone::StandaloneSummary summary;
    if (failed(moec::standalone::writeStandaloneProject(*module, standaloneOptions, &summary))) {
      if (!reported)
        llvm::errs() << "moec: error: " << outputPath << ": cannot write the project\n";
      return 1;
    }
    if (!quiet) {
      std::string dir = llvm::StringRef(outputPath).rtrim('/').str();
      if (dir.empty())
        dir = "/";
      llvm::outs() << "moec: wrote " << dir << "/ (" << llvm::join(summary.files, ", ") << "; "
                   << summary.steps << " steps, " << summary.weightBytes
                   << " bytes of weights); build: cmake -S " << dir << " -B " << dir
                   << "/build && cmake --build " << dir << "/build\n";
    }
    return 0;
  }

  if (emit == EmitKind::Artifact) {
    if (!quiet) {
      uint64_t size = 0;
      llvm::sys::fs::file_size(outputPath, size);
      auto func = module->lookupSymbol("main");
      auto arena = func ? func->getAttrOfType<DenseI64ArrayAttr>(moec::kernel::kArenaSizeAttr)
                        : DenseI64ArrayAttr();
      size_t launches = 0;
      module->walk([&](moec::kernel::LaunchOp) { ++launches; });
      llvm::outs() << "moec: wrote " << outputPath << " (" << size << " bytes, " << launches
                   << " kernel launches, arena " << (arena ? arena[0] : 0) << " + "
                   << (arena ? arena[1] : 0) << "*T bytes)\n";
      // The importer changed the model's signature: say so where it is seen.
      if (auto capacity = (*module)->getAttrOfType<IntegerAttr>("moec.kv_cache_capacity"))
        llvm::outs() << "moec: the growing KV cache is compiled as a fixed-capacity cache of "
                     << capacity.getInt()
                     << " rows (--kv-capacity), updated in place; the inputs seqlens_k and "
                        "total_sequence_length give its length (docs/user-guide.md, "
                        "\"Generate\")\n";
      if ((*module)->hasAttr("moec.removed_attention_mask"))
        llvm::outs() << "moec: the input attention_mask is removed: moec compiles attention "
                        "without padding (every token attends to all tokens before it)\n";
    }
    return 0;
  }

  // IR or C++ to -o or stdout.
  std::error_code ec;
  std::unique_ptr<llvm::raw_fd_ostream> file;
  if (!outputPath.empty()) {
    file = std::make_unique<llvm::raw_fd_ostream>(outputPath, ec);
    if (ec)
      return fail(outputPath + ": " + ec.message());
  }
  llvm::raw_ostream &os = file ? *file : llvm::outs();
  if (stageOf(emit) == moec::Stage::Source) {
    os << (*module)
              ->getAttrOfType<StringAttr>(cuda ? moec::kernel::kCudaSourceAttr
                                               : moec::kernel::kHostSourceAttr)
              .getValue();
  } else {
    OpPrintingFlags flags;
    if (!printWeights)
      flags.elideLargeElementsAttrs(16).elideLargeResourceString(64);
    module->print(os, flags);
    os << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::StringRef command = argc > 1 ? argv[1] : "";
  if (command == "--version") {
    llvm::outs() << "moec 0.1.0 (MLIR " << LLVM_VERSION_STRING << ")\n";
    return 0;
  }
  if (command != "compile") {
    bool help = command == "--help" || command == "-h" || command == "help";
    (help ? llvm::outs() : llvm::errs())
        << "moec: an ahead-of-time compiler for Mixture-of-Experts models\n\n"
           "usage:\n"
           "  moec compile MODEL.onnx --target host -o MODEL.moe   compile a model\n"
           "  moec compile MODEL.onnx --emit standalone -o DIR     generate its own runtime\n"
           "  moec compile --help                                  all compile options\n"
           "  moec --version\n\n"
           "Run a compiled model with moec-run; inspect single passes with moec-opt.\n";
    if (help)
      return 0;
    if (!command.empty())
      llvm::errs() << "moec: error: unknown command '" << command << "'\n";
    return 1;
  }
  // Parse the options after "compile".
  std::vector<const char *> args{"moec compile"};
  for (int i = 2; i < argc; ++i)
    args.push_back(argv[i]);
  cl::HideUnrelatedOptions(moecCategory);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) { os << "moec 0.1.0\n"; });
  if (!cl::ParseCommandLineOptions(static_cast<int>(args.size()), args.data(),
                                   "moec compile: ONNX MoE model -> .moe artifact\n\n"
                                   "  moec compile model.onnx --target host -o model.moe\n",
                                   &llvm::errs()))
    return 1;
  return compile();
}
