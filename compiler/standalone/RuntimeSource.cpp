//===- RuntimeSource.cpp - <name>.cpp: the generated runtime ----------------===//
//
// The common part of the runtime (status and messages, the signature
// tables, loading and checking weights.bin, create/run/destroy and the
// introspection calls) and the host backend: the step list unrolled into
// calls of the kernels in kernels.cpp. The CUDA backend is in
// CudaRuntimeSource.cpp.
//
//===----------------------------------------------------------------------===//

#include "compiler/standalone/GeneratedText.h"

#include "llvm/Support/raw_ostream.h"

namespace moec::standalone {

std::string affineAddress(const char *base, const Affine &offset) {
  std::string b = base;
  if (offset.perToken == 0)
    return offset.base == 0 ? b : b + " + " + std::to_string(offset.base);
  std::string perToken =
      offset.perToken == 1 ? "T" : std::to_string(offset.perToken) + " * T";
  if (offset.base == 0)
    return b + " + " + perToken;
  return b + " + (" + std::to_string(offset.base) + " + " + perToken + ")";
}

namespace {

constexpr const char *kCommonHelpers = R"cpp(
constexpr uint64_t kWeightBytes = @NU@_WEIGHTS_BYTES;
constexpr uint64_t kWeightChecksum = @NU@_WEIGHTS_CHECKSUM;
// Every host block (weights, arena) is 64-byte aligned, as libmoert's.
constexpr uint64_t kAlignment = 64;

// The message of the last failing call on this thread.
thread_local char gError[1024];

__attribute__((format(printf, 2, 3))) int fail(int status, const char *format, ...) {
  int used = std::snprintf(gError, sizeof gError, "@N@: ");
  va_list args;
  va_start(args, format);
  std::vsnprintf(gError + used, sizeof gError - used, format, args);
  va_end(args);
  return status;
}

// Bytes of a tensor at T tokens: fixedBytes * T^tokenDims, overflow-checked.
struct Extent {
  uint64_t fixedBytes;
  int tokenDims;
};

bool extentBytes(const Extent &extent, int64_t tokens, uint64_t *out) {
  uint64_t bytes = extent.fixedBytes;
  for (int i = 0; i < extent.tokenDims; ++i)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(tokens), &bytes))
      return false;
  *out = bytes;
  return true;
}

// The arena moec's memory plan needs for T tokens, rounded up to kAlignment.
bool arenaBytes(int64_t tokens, uint64_t *out) {
  uint64_t perToken = 0, bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(kArenaPerToken), static_cast<uint64_t>(tokens),
                             &perToken) ||
      __builtin_add_overflow(perToken, static_cast<uint64_t>(kArenaBase), &bytes) ||
      bytes > UINT64_MAX - kAlignment)
    return false;
  *out = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  return true;
}

// At least one aligned block, so that a size of 0 still gives a pointer.
void *alignedAlloc(uint64_t bytes) {
  uint64_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes > UINT64_MAX - kAlignment || rounded > SIZE_MAX)
    return nullptr;
  return std::aligned_alloc(kAlignment, static_cast<size_t>(rounded));
}

// FNV-1a 64, the checksum of the .moe container; moec computed it over the
// weights.bin it wrote beside this file.
uint64_t fnv1a(uint64_t hash, const unsigned char *data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

struct FileCloser {
  std::FILE *file;
  ~FileCloser() {
    if (file)
      std::fclose(file);
  }
};

// Reads weights.bin into an aligned block, checking its size and checksum
// against the ones this code was generated with: weights from another
// compile (or a damaged copy) would run without error and compute garbage.
int readWeights(const char *path, unsigned char **out) {
  *out = nullptr;
  FileCloser file{std::fopen(path, "rb")};
  if (!file.file) {
    int error = errno;
    return fail(error == ENOENT ? @NU@_NOT_FOUND : @NU@_INVALID_ARGUMENT,
                "%s: cannot open the weights file: %s", path, std::strerror(error));
  }
  if (std::fseek(file.file, 0, SEEK_END) != 0)
    return fail(@NU@_INVALID_ARGUMENT, "%s: cannot seek in the weights file: %s", path,
                std::strerror(errno));
  long size = std::ftell(file.file);
  if (size < 0)
    return fail(@NU@_INVALID_ARGUMENT, "%s: cannot size the weights file: %s", path,
                std::strerror(errno));
  if (static_cast<uint64_t>(size) != kWeightBytes)
    return fail(@NU@_DATA_LOSS,
                "%s: the weights file has %ld bytes, this code was generated for %llu: use "
                "the weights.bin written with it",
                path, size, static_cast<unsigned long long>(kWeightBytes));
  std::rewind(file.file);
  unsigned char *data = static_cast<unsigned char *>(alignedAlloc(kWeightBytes));
  if (!data)
    return fail(@NU@_RESOURCE_EXHAUSTED, "%s: cannot allocate %llu bytes for the weights", path,
                static_cast<unsigned long long>(kWeightBytes));
  uint64_t hash = 0xcbf29ce484222325ULL, done = 0;
  while (done < kWeightBytes) {
    size_t chunk = static_cast<size_t>(kWeightBytes - done < (1u << 22) ? kWeightBytes - done
                                                                        : (1u << 22));
    size_t got = std::fread(data + done, 1, chunk, file.file);
    if (got != chunk) {
      std::free(data);
      return fail(@NU@_DATA_LOSS, "%s: read %llu of %llu bytes of weights%s%s", path,
                  static_cast<unsigned long long>(done + got),
                  static_cast<unsigned long long>(kWeightBytes),
                  std::ferror(file.file) ? ": " : "",
                  std::ferror(file.file) ? std::strerror(errno) : "");
    }
    hash = fnv1a(hash, data + done, chunk);
    done += chunk;
  }
  if (hash != kWeightChecksum) {
    std::free(data);
    return fail(@NU@_DATA_LOSS,
                "%s: weights checksum 0x%016llx differs from 0x%016llx, the one this code "
                "was generated with: the file is damaged or comes from another compile",
                path, static_cast<unsigned long long>(hash),
                static_cast<unsigned long long>(kWeightChecksum));
  }
  *out = data;
  return @NU@_OK;
}
)cpp";

constexpr const char *kModelAndApi = R"cpp(
} // namespace

struct @N@_model {
  int64_t maxTokens = 0;
  unsigned char *ownedWeights = nullptr;  // read from weights.bin
  const unsigned char *weights = nullptr; // ownedWeights or the embedded copy
  Backend backend;
  ~@N@_model() { std::free(ownedWeights); }
};

namespace {

int loadWeights(const @N@_options &options, @N@_model *model) {
  if (options.weights_path) {
    int status = readWeights(options.weights_path, &model->ownedWeights);
    model->weights = model->ownedWeights;
    return status;
  }
#if defined(@NU@_EMBED_WEIGHTS)
  uint64_t embedded = static_cast<uint64_t>(@N@_embedded_weights_end - @N@_embedded_weights);
  if (embedded != kWeightBytes)
    return fail(@NU@_DATA_LOSS,
                "create: the embedded weights have %llu bytes, this code was generated for "
                "%llu: rebuild with the weights.bin written with it",
                static_cast<unsigned long long>(embedded),
                static_cast<unsigned long long>(kWeightBytes));
  model->weights = @N@_embedded_weights;
  return @NU@_OK;
#else
  return fail(@NU@_INVALID_ARGUMENT,
              "create: options.weights_path is NULL and this library has no embedded "
              "weights (build with -D@NU@_EMBED_WEIGHTS=ON, or pass the weights.bin path)");
#endif
}

int checkSizes(int64_t maxTokens) {
  uint64_t bytes = 0;
  for (int32_t i = 0; i < kInputCount; ++i)
    if (!extentBytes(kInputExtents[i], maxTokens, &bytes) || bytes > SIZE_MAX)
      return fail(@NU@_RESOURCE_EXHAUSTED, "create: input '%s' overflows at max_tokens %lld",
                  kInputs[i].name, static_cast<long long>(maxTokens));
  for (int32_t i = 0; i < kOutputCount; ++i)
    if (!extentBytes(kOutputExtents[i], maxTokens, &bytes) || bytes > SIZE_MAX)
      return fail(@NU@_RESOURCE_EXHAUSTED, "create: output '%s' overflows at max_tokens %lld",
                  kOutputs[i].name, static_cast<long long>(maxTokens));
  if (!arenaBytes(maxTokens, &bytes) || bytes > SIZE_MAX)
    return fail(@NU@_RESOURCE_EXHAUSTED, "create: the arena overflows at max_tokens %lld",
                static_cast<long long>(maxTokens));
  return @NU@_OK;
}

} // namespace

extern "C" {

void @N@_options_init(@N@_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof *options);
  options->max_tokens = 4096;
}

const char *@N@_last_error(void) { return gError; }

const char *@N@_status_name(int status) {
  switch (status) {
  case @NU@_OK: return "OK";
  case @NU@_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
  case @NU@_NOT_FOUND: return "NOT_FOUND";
  case @NU@_DATA_LOSS: return "DATA_LOSS";
  case @NU@_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
  case @NU@_UNIMPLEMENTED: return "UNIMPLEMENTED";
  case @NU@_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
  case @NU@_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

int32_t @N@_input_count(void) { return kInputCount; }
int32_t @N@_output_count(void) { return kOutputCount; }

const @N@_tensor_info *@N@_input_info(int32_t index) {
  return index >= 0 && index < kInputCount ? &kInputs[index] : nullptr;
}

const @N@_tensor_info *@N@_output_info(int32_t index) {
  return index >= 0 && index < kOutputCount ? &kOutputs[index] : nullptr;
}

size_t @N@_input_bytes(int32_t index, int64_t tokens) {
  uint64_t bytes = 0;
  if (index < 0 || index >= kInputCount || tokens < 0 ||
      !extentBytes(kInputExtents[index], tokens, &bytes) || bytes > SIZE_MAX)
    return 0;
  return static_cast<size_t>(bytes);
}

size_t @N@_output_bytes(int32_t index, int64_t tokens) {
  uint64_t bytes = 0;
  if (index < 0 || index >= kOutputCount || tokens < 0 ||
      !extentBytes(kOutputExtents[index], tokens, &bytes) || bytes > SIZE_MAX)
    return 0;
  return static_cast<size_t>(bytes);
}

const char *@N@_target(void) { return @NU@_TARGET; }
const char *@N@_source(void) { return kSource; }

int @N@_has_embedded_weights(void) {
#if defined(@NU@_EMBED_WEIGHTS)
  return 1;
#else
  return 0;
#endif
}

int @N@_create(const @N@_options *options, @N@_model **model) {
  if (!model)
    return fail(@NU@_INVALID_ARGUMENT, "create: the model pointer is NULL");
  *model = nullptr;
  @N@_options defaults;
  @N@_options_init(&defaults);
  if (!options)
    options = &defaults;
  if (options->max_tokens < 0)
    return fail(@NU@_INVALID_ARGUMENT, "create: max_tokens is %lld (must be >= 0)",
                static_cast<long long>(options->max_tokens));
  if (int status = checkSizes(options->max_tokens))
    return status;
  @N@_model *created = new (std::nothrow) @N@_model();
  if (!created)
    return fail(@NU@_RESOURCE_EXHAUSTED, "create: out of memory");
  created->maxTokens = options->max_tokens;
  int status = loadWeights(*options, created);
  if (status == @NU@_OK)
    status = created->backend.create(created->weights, *options);
  if (status != @NU@_OK) {
    delete created;
    return status;
  }
  if (!kKeepHostWeights) { // uploaded to the device: the host copy is not needed
    std::free(created->ownedWeights);
    created->ownedWeights = nullptr;
    created->weights = nullptr;
  }
  *model = created;
  return @NU@_OK;
}

int @N@_run(@N@_model *model, const void *const *inputs, void *const *outputs,
            int64_t tokens) {
  if (!model)
    return fail(@NU@_INVALID_ARGUMENT, "run: the model is NULL");
  if (tokens < 0)
    return fail(@NU@_INVALID_ARGUMENT, "run: the token count is %lld",
                static_cast<long long>(tokens));
  if (tokens > model->maxTokens)
    return fail(@NU@_FAILED_PRECONDITION, "run: T=%lld exceeds max_tokens (%lld) given to create",
                static_cast<long long>(tokens), static_cast<long long>(model->maxTokens));
  if ((kInputCount && !inputs) || (kOutputCount && !outputs))
    return fail(@NU@_INVALID_ARGUMENT, "run: the %s array is NULL",
                kInputCount && !inputs ? "inputs" : "outputs");
  uint64_t bytes = 0;
  for (int32_t i = 0; i < kInputCount; ++i)
    if (!inputs[i] && extentBytes(kInputExtents[i], tokens, &bytes) && bytes != 0)
      return fail(@NU@_INVALID_ARGUMENT, "run: input %d '%s' is NULL", static_cast<int>(i),
                  kInputs[i].name);
  for (int32_t i = 0; i < kOutputCount; ++i)
    if (!outputs[i] && extentBytes(kOutputExtents[i], tokens, &bytes) && bytes != 0)
      return fail(@NU@_INVALID_ARGUMENT, "run: output %d '%s' is NULL", static_cast<int>(i),
                  kOutputs[i].name);
  return model->backend.run(model->weights, inputs, outputs, tokens);
}

void @N@_destroy(@N@_model *model) { delete model; }

} // extern "C"
)cpp";

// kInputs/kOutputs (what the header's info calls return) and their extents.
void writeSignatureTables(llvm::raw_ostream &os, const char *kind,
                          const std::vector<TensorSig> &sigs) {
  std::string prefix = std::string("k") + kind;
  for (size_t i = 0; i < sigs.size(); ++i) {
    if (sigs[i].dims.empty())
      continue;
    os << "const int64_t " << prefix << "Dims" << i << "[] = {";
    for (size_t d = 0; d < sigs[i].dims.size(); ++d)
      os << (d ? ", " : "") << sigs[i].dims[d];
    os << "};\n";
  }
  os << "constexpr int32_t " << prefix << "Count = " << sigs.size() << ";\n";
  // A trailing sentinel keeps the arrays non-empty for a model without inputs.
  os << "const @N@_tensor_info " << prefix << "s[] = {\n";
  for (size_t i = 0; i < sigs.size(); ++i)
    os << "    {" << cString(sigs[i].name) << ", @NU@_DTYPE_" << dtypeEnumName(sigs[i].dtype)
       << ", " << sigs[i].dims.size() << ", "
       << (sigs[i].dims.empty() ? std::string("nullptr")
                                : prefix + "Dims" + std::to_string(i))
       << "}, // " << describeSig(sigs[i]) << "\n";
  os << "    {nullptr, 0, 0, nullptr}};\n";
  os << "const Extent " << prefix << "Extents[] = {";
  for (const TensorSig &sig : sigs) {
    uint64_t fixed = dtypeSize(sig.dtype);
    int tokenDims = 0;
    for (int64_t d : sig.dims) {
      if (d < 0)
        ++tokenDims;
      else
        fixed *= static_cast<uint64_t>(d); // static shapes: small, checked by the importer
    }
    os << "{" << fixed << "ULL, " << tokenDims << "}, ";
  }
  os << "{0, 0}};\n";
}

} // namespace

std::string generateRuntime(const ModelPlan &plan, const ProjectInfo &info) {
  TargetParts parts = plan.gpu() ? cudaRuntimeParts(plan, info) : hostRuntimeParts(plan, info);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "// @N@.cpp: the runtime of " << commentSafe(plan.source) << " for target " << plan.target
     << ".\n"
     << "// Generated by " << info.producer << " (moec compile --emit standalone); do not edit.\n"
     << "//\n"
     << "// The compiled model's step list, written out: create() loads and checks the\n"
     << "// weights and allocates everything once; run() is a straight line of kernel\n"
     << "// " << (plan.gpu() ? "launches" : "calls")
     << " whose buffer addresses are expressions of the token count T, and\n"
     << "// allocates nothing. The memory plan: the arena holds " << plan.arena.base << " + "
     << plan.arena.perToken << " * T bytes.\n"
     << "#include \"@N@.h\"\n\n"
     << "#include <cerrno>\n#include <cstdarg>\n#include <cstdint>\n#include <cstdio>\n"
     << "#include <cstdlib>\n#include <cstring>\n#include <new>\n"
     << parts.declarations
     << "\n#if defined(@NU@_EMBED_WEIGHTS)\n"
     << "// weights.bin in the library's read-only data, 64-byte aligned (the path,\n"
     << "// @NU@_WEIGHTS_FILE, comes from CMakeLists.txt).\n"
     << "#if !defined(@NU@_WEIGHTS_FILE)\n"
     << "#error \"@NU@_WEIGHTS_FILE (the path of weights.bin, a string literal) must be "
        "defined: build with CMakeLists.txt\"\n"
     << "#endif\n"
     << "__asm__(\".section .rodata.@N@_weights,\\\"a\\\"\\n\"\n"
     << "        \".balign 64\\n\"\n"
     << "        \".globl @N@_embedded_weights\\n\"\n"
     << "        \".hidden @N@_embedded_weights\\n\"\n"
     << "        \"@N@_embedded_weights:\\n\"\n"
     << "        \".incbin \\\"\" @NU@_WEIGHTS_FILE \"\\\"\\n\"\n"
     << "        \".globl @N@_embedded_weights_end\\n\"\n"
     << "        \".hidden @N@_embedded_weights_end\\n\"\n"
     << "        \"@N@_embedded_weights_end:\\n\"\n"
     << "        \".previous\\n\");\n"
     << "extern \"C\" __attribute__((visibility(\"hidden\"))) const unsigned char "
        "@N@_embedded_weights[];\n"
     << "extern \"C\" __attribute__((visibility(\"hidden\"))) const unsigned char "
        "@N@_embedded_weights_end[];\n"
     << "#endif\n\n"
     << "namespace {\n\n"
     << "const char kSource[] = " << cString(plan.source) << ";\n"
     << "constexpr int64_t kArenaBase = " << plan.arena.base
     << ", kArenaPerToken = " << plan.arena.perToken << ";\n"
     << kCommonHelpers << "\n// The signature.\n";
  writeSignatureTables(os, "Input", plan.inputs);
  writeSignatureTables(os, "Output", plan.outputs);
  os << "// Weights (offset, bytes) in weights.bin:\n";
  for (const Weight &w : plan.weights)
    os << "//   " << w.offset << " " << w.size << " " << commentSafe(w.name) << "\n";
  os << parts.backend << kModelAndApi;
  return substitute(text, info);
}

// --- host -------------------------------------------------------------------

TargetParts hostRuntimeParts(const ModelPlan &plan, const ProjectInfo &) {
  TargetParts parts;
  llvm::raw_string_ostream decl(parts.declarations);
  decl << "\n// The kernels (kernels.cpp, hidden inside this library), in step order.\n"
       << "extern \"C\" {\n";
  for (const Step &step : plan.steps)
    decl << "int32_t " << step.symbol << "(void *const *args, int64_t T);\n";
  decl << "}\n";

  llvm::raw_string_ostream os(parts.backend);
  os << R"cpp(
// The host keeps the weights: kernels read them in place.
constexpr bool kKeepHostWeights = true;

struct Backend {
  unsigned char *arena = nullptr;

  Backend() = default;
  Backend(const Backend &) = delete;
  Backend &operator=(const Backend &) = delete;
  ~Backend() { std::free(arena); }

  int create(const unsigned char *, const @N@_options &options) {
    uint64_t bytes = 0;
    arenaBytes(options.max_tokens, &bytes); // checked by create()
    arena = static_cast<unsigned char *>(alignedAlloc(bytes));
    if (!arena)
      return fail(@NU@_RESOURCE_EXHAUSTED,
                  "create: cannot allocate the %llu-byte arena for max_tokens %lld",
                  static_cast<unsigned long long>(bytes),
                  static_cast<long long>(options.max_tokens));
    std::memset(arena, 0, static_cast<size_t>(bytes));
    return @NU@_OK;
  }

  // The step list. W: the weights; A: the arena; addresses from moec's memory plan.
  int run(const unsigned char *weights, const void *const *inputs, void *const *outputs,
          int64_t T) {
    // Kernels never write their inputs or the weights.
    unsigned char *const W = const_cast<unsigned char *>(weights);
    unsigned char *const A = arena;
    void *const *const in = const_cast<void *const *>(inputs);
)cpp";
  // Silence unused-variable warnings for what no step uses.
  bool used[4] = {false, false, false, false};
  for (const Step &step : plan.steps)
    for (const Arg &arg : step.args)
      used[arg.kind] = true;
  const char *unusedNames[4] = {"in", "outputs", "W", "A"};
  for (int kind = 0; kind < 4; ++kind)
    if (!used[kind])
      os << "    (void)" << unusedNames[kind] << ";\n";
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step &step = plan.steps[s];
    os << "    // Step " << s << ": " << commentSafe(step.description) << "\n    {\n";
    if (step.args.empty()) {
      os << "      void *const args[1] = {nullptr};\n";
    } else {
      os << "      void *const args[] = {";
      for (size_t a = 0; a < step.args.size(); ++a) {
        const Arg &arg = step.args[a];
        os << (a ? ",\n                            " : "");
        switch (arg.kind) {
        case Arg::Input: os << "in[" << arg.index << "]"; break;
        case Arg::Output: os << "outputs[" << arg.index << "]"; break;
        case Arg::Weight:
          os << affineAddress("W", {static_cast<int64_t>(plan.weights[arg.index].offset), 0})
             << " /* " << commentSafe(plan.weights[arg.index].name) << " */";
          break;
        case Arg::Arena: os << affineAddress("A", arg.offset); break;
        }
      }
      os << "};\n";
    }
    os << "      if (const int32_t code = " << step.symbol << "(args, T))\n"
       << "        return fail(@NU@_INTERNAL,\n"
       << "                    \"run: step " << s << " (kernel '" << step.symbol
       << "') failed with code %d (T=%lld)\",\n"
       << "                    static_cast<int>(code), static_cast<long long>(T));\n"
       << "    }\n";
  }
  os << "    return @NU@_OK;\n  }\n};\n";
  return parts;
}

} // namespace moec::standalone
