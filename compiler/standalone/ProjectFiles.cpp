//===- ProjectFiles.cpp - the C header, CMakeLists.txt and README ------------===//
//
// The parts of a standalone project around the runtime source: the public
// C header (the whole API), the CMake project that builds the shared
// library, and a README for whoever receives the directory.
//
//===----------------------------------------------------------------------===//

#include "compiler/standalone/GeneratedText.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace moec::standalone {

std::string substitute(std::string text, const ProjectInfo &info) {
  // @NU@ first: it is not a substring of @N@, but replacing @N@ first would
  // never see it either; the order only matters for readability.
  for (auto [from, to] : {std::pair<std::string, const std::string *>{"@NU@", &info.upper},
                          {"@N@", &info.name}}) {
    size_t at = 0;
    while ((at = text.find(from, at)) != std::string::npos) {
      text.replace(at, from.size(), *to);
      at += to->size();
    }
  }
  return text;
}

std::string cString(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '?') {
      out += "\\?"; // never a trigraph, in whatever C mode the header is read
    } else if (c < 0x20 || c >= 0x7f) {
      // Three octal digits always: a following digit cannot extend it.
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\%03o", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string commentSafe(const std::string &text) {
  std::string out;
  for (char c : text) {
    bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    // "*/" would end a C comment; a backslash at a line's end would splice lines.
    if (c == '/' && !out.empty() && out.back() == '*')
      out += ' ';
    out += control || c == '\\' ? '?' : c;
  }
  return out;
}

std::string describeSig(const TensorSig &sig) {
  std::string text = "(";
  for (size_t i = 0; i < sig.dims.size(); ++i) {
    if (i)
      text += ", ";
    text += sig.dims[i] < 0 ? "T" : std::to_string(sig.dims[i]);
  }
  if (sig.dims.size() == 1)
    text += ",";
  return text + ") " + dtypeName(sig.dtype);
}

namespace {

constexpr const char *kHeaderApi = R"c(
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define @NU@_API __attribute__((visibility("default")))
#else
#define @NU@_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: 0 is success; the values equal libmoert's moert_status_code_t.
 * Every failing call also leaves a one-line message for @N@_last_error(). */
typedef enum @N@_status {
  @NU@_OK = 0,
  @NU@_INVALID_ARGUMENT = 1,    /* caller error: NULL pointer, T < 0, bad options */
  @NU@_NOT_FOUND = 2,           /* the weights file does not exist */
  @NU@_DATA_LOSS = 3,           /* weights of the wrong size or checksum */
  @NU@_FAILED_PRECONDITION = 4, /* T above max_tokens; no driver, old driver, wrong GPU */
  @NU@_UNIMPLEMENTED = 5,       /* not returned; kept so the values equal libmoert's */
  @NU@_RESOURCE_EXHAUSTED = 6,  /* out of (device) memory, sizes that overflow */
  @NU@_INTERNAL = 7             /* a kernel reported bad data, a system or driver call failed */
} @N@_status;

/* Element types; the values equal libmoert's moert_dtype_t. */
typedef enum @N@_dtype {
  @NU@_DTYPE_F32 = 0, @NU@_DTYPE_F16 = 1, @NU@_DTYPE_BF16 = 2, @NU@_DTYPE_F64 = 3,
  @NU@_DTYPE_I64 = 4, @NU@_DTYPE_I32 = 5, @NU@_DTYPE_I8 = 6, @NU@_DTYPE_U8 = 7,
  @NU@_DTYPE_BOOL = 8 /* one byte per element, 0 or 1 */
} @N@_dtype;

/* One input or output. dims[i] == -1 is the token count T. */
typedef struct @N@_tensor_info {
  const char *name;
  int32_t dtype; /* an @N@_dtype */
  int32_t rank;
  const int64_t *dims;
} @N@_tensor_info;

typedef struct @N@_options {
  /* The weights file moec wrote beside this code (weights.bin). NULL: the
   * weights compiled into the library (built with @NU@_EMBED_WEIGHTS). */
  const char *weights_path;
  /* The largest token count run() will accept; the arena (and on a GPU the
   * staging buffers) are allocated for it once, in create(). Default 4096. */
  int64_t max_tokens;
  /* GPU targets: the CUDA device ordinal (default 0). */
  int32_t cuda_device;
  /* GPU targets: the driver library to dlopen. NULL: $MOEC_LIBCUDA when set
   * and non-empty, else "libcuda.so.1". */
  const char *libcuda_path;
} @N@_options;

/* An opaque loaded model: weights, arena, (GPU) context, stream and module.
 * One run at a time per model; use one model per thread. */
typedef struct @N@_model @N@_model;

/* Fills in the defaults above. */
@NU@_API void @N@_options_init(@N@_options *options);

/* Loads and checks the weights, allocates everything run() needs and, for a
 * GPU target, checks the driver version and the GPU's architecture. On
 * failure *model is NULL and the status says why. options NULL: defaults. */
@NU@_API int @N@_create(const @N@_options *options, @N@_model **model);

/* Runs the model on T tokens. inputs[i] / outputs[i] point at the i-th
 * input / output, row-major, with the shapes listed above (each may be NULL
 * when its size at T is 0). Host memory, also for GPU targets. Allocates
 * nothing. Outputs are undefined after a failure. */
@NU@_API int @N@_run(@N@_model *model, const void *const *inputs, void *const *outputs,
                     int64_t tokens);

/* Frees everything create() allocated. NULL is a no-op. */
@NU@_API void @N@_destroy(@N@_model *model);

/* The message of the last failing call on this thread ("" if none). */
@NU@_API const char *@N@_last_error(void);
/* "OK", "INVALID_ARGUMENT", ... ("UNKNOWN" for other values). */
@NU@_API const char *@N@_status_name(int status);

/* Introspection. Out-of-range indices give NULL / 0. */
@NU@_API int32_t @N@_input_count(void);
@NU@_API int32_t @N@_output_count(void);
@NU@_API const @N@_tensor_info *@N@_input_info(int32_t index);
@NU@_API const @N@_tensor_info *@N@_output_info(int32_t index);
/* Bytes of input/output `index` at `tokens` tokens (0 if out of range or overflowing). */
@NU@_API size_t @N@_input_bytes(int32_t index, int64_t tokens);
@NU@_API size_t @N@_output_bytes(int32_t index, int64_t tokens);
/* "host", "sm_90a", ... and the ONNX file it was compiled from. */
@NU@_API const char *@N@_target(void);
@NU@_API const char *@N@_source(void);
/* 1 when this library carries its weights (options.weights_path may be NULL). */
@NU@_API int @N@_has_embedded_weights(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* @NU@_H_ */
)c";

} // namespace

std::string generateHeader(const ModelPlan &plan, const ProjectInfo &info) {
  std::string text;
  llvm::raw_string_ostream os(text);
  bool gpu = plan.gpu();
  os << "/* @N@.h: the generated runtime of " << commentSafe(plan.source) << " for target "
     << plan.target << ".\n"
     << " *\n"
     << " * Generated by " << info.producer
     << " (moec compile --emit standalone); do not edit.\n"
     << " * The whole API of lib@N@.so, which needs nothing but the C++ standard library"
     << (gpu ? "\n * and the NVIDIA driver (loaded with dlopen at create time)" : "") << ".\n"
     << " *\n"
     << " *   @N@_options options;\n"
     << " *   @N@_options_init(&options);\n"
     << " *   options.weights_path = \"weights.bin\";\n"
     << " *   options.max_tokens = 64;\n"
     << " *   @N@_model *model = NULL;\n"
     << " *   if (@N@_create(&options, &model) != @NU@_OK)\n"
     << " *     fprintf(stderr, \"%s\\n\", @N@_last_error());\n"
     << " *   const void *inputs[@NU@_INPUT_COUNT] = {...};\n"
     << " *   void *outputs[@NU@_OUTPUT_COUNT] = {...};\n"
     << " *   int status = @N@_run(model, inputs, outputs, tokens);\n"
     << " *   @N@_destroy(model);\n"
     << " *\n"
     << " * Inputs (T = tokens, 0 <= T <= max_tokens; row-major, densely packed):\n";
  for (size_t i = 0; i < plan.inputs.size(); ++i)
    os << " *   " << i << " '" << commentSafe(plan.inputs[i].name)
       << "': " << describeSig(plan.inputs[i]) << "\n";
  os << " * Outputs:\n";
  for (size_t i = 0; i < plan.outputs.size(); ++i)
    os << " *   " << i << " '" << commentSafe(plan.outputs[i].name)
       << "': " << describeSig(plan.outputs[i]) << "\n";
  os << " */\n#ifndef @NU@_H_\n#define @NU@_H_\n\n"
     << "#define @NU@_INPUT_COUNT " << plan.inputs.size() << "\n"
     << "#define @NU@_OUTPUT_COUNT " << plan.outputs.size() << "\n"
     << "#define @NU@_TARGET " << cString(plan.target) << "\n"
     << "/* weights.bin: its size and FNV-1a 64 checksum, checked by create(). */\n"
     << "#define @NU@_WEIGHTS_BYTES " << plan.weightData.size() << "ULL\n"
     << "#define @NU@_WEIGHTS_CHECKSUM 0x" << llvm::format_hex_no_prefix(info.weightChecksum, 16)
     << "ULL\n";
  if (!plan.inputs.empty() || !plan.outputs.empty())
    os << "/* Names, in the order of inputs[] and outputs[]. */\n";
  for (size_t i = 0; i < plan.inputs.size(); ++i)
    os << "#define @NU@_INPUT_" << i << "_NAME " << cString(plan.inputs[i].name) << "\n";
  for (size_t i = 0; i < plan.outputs.size(); ++i)
    os << "#define @NU@_OUTPUT_" << i << "_NAME " << cString(plan.outputs[i].name) << "\n";
  os << kHeaderApi;
  return substitute(text, info);
}

std::string generateCMakeLists(const ModelPlan &plan, const ProjectInfo &info) {
  std::string text;
  llvm::raw_string_ostream os(text);
  bool gpu = plan.gpu();
  os << "# Builds lib@N@.so, the generated runtime of " << commentSafe(plan.source)
     << " for target " << plan.target << ".\n"
     << "# Generated by " << info.producer << " (moec compile --emit standalone); do not edit.\n"
     << "#\n"
     << "#   cmake -S . -B build && cmake --build build\n"
     << "#\n"
     << "# As part of another project: add_subdirectory(<this directory>) and link the\n"
     << "# target @N@; MOEC_STANDALONE_NAME is set to \"@N@\" in the parent scope.\n"
     << "cmake_minimum_required(VERSION 3.16)\n"
     << "project(@N@ LANGUAGES CXX)\n\n"
     << "option(@NU@_EMBED_WEIGHTS \"Compile weights.bin into the library\" "
     << (info.embedWeights ? "ON" : "OFF") << ")\n"
     << "if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)\n"
     << "  set(CMAKE_BUILD_TYPE Release CACHE STRING \"Build type\" FORCE)\n"
     << "endif()\n\n";
  if (gpu) {
    os << "add_library(@N@ SHARED @N@.cpp)\n";
  } else {
    os << "add_library(@N@ SHARED @N@.cpp kernels.cpp)\n"
       << "# The kernels are compiled as moec compiles them for libmoert (ISO C++17, -O3,\n"
       << "# no fast-math), so both give bit-identical results.\n"
       << "set_source_files_properties(kernels.cpp PROPERTIES COMPILE_OPTIONS \"-O3\")\n";
  }
  os << "set_target_properties(@N@ PROPERTIES\n"
     << "  CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF\n"
     << "  # Only the @N@_* functions of @N@.h are exported.\n"
     << "  CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)\n"
     << "target_include_directories(@N@ PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})\n"
     << "# @N@.cpp includes these files with the assembler's .incbin.\n"
     << "set(_@N@_embedded)\n";
  if (gpu)
    os << "target_compile_definitions(@N@ PRIVATE\n"
       << "  @NU@_CUBIN_FILE=\"${CMAKE_CURRENT_SOURCE_DIR}/kernels.cubin\")\n"
       << "list(APPEND _@N@_embedded ${CMAKE_CURRENT_SOURCE_DIR}/kernels.cubin)\n";
  os << "if(@NU@_EMBED_WEIGHTS)\n"
     << "  target_compile_definitions(@N@ PRIVATE @NU@_EMBED_WEIGHTS\n"
     << "    @NU@_WEIGHTS_FILE=\"${CMAKE_CURRENT_SOURCE_DIR}/weights.bin\")\n"
     << "  list(APPEND _@N@_embedded ${CMAKE_CURRENT_SOURCE_DIR}/weights.bin)\n"
     << "endif()\n"
     << "if(_@N@_embedded)\n"
     << "  set_source_files_properties(@N@.cpp PROPERTIES OBJECT_DEPENDS \"${_@N@_embedded}\")\n"
     << "endif()\n";
  if (gpu) {
    os << "\n# The CUDA driver is loaded with dlopen when a model is created: nothing from\n"
       << "# CUDA is linked. cuda.h is optional: when found, the driver's types come from it\n"
       << "# and the built-in declarations are checked against it.\n"
       << "find_path(@NU@_CUDA_INCLUDE_DIR cuda.h\n"
       << "  HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES include\n"
       << "  PATHS /usr/local/cuda/include)\n"
       << "if(@NU@_CUDA_INCLUDE_DIR)\n"
       << "  target_include_directories(@N@ SYSTEM PRIVATE ${@NU@_CUDA_INCLUDE_DIR})\n"
       << "  target_compile_definitions(@N@ PRIVATE @NU@_USE_CUDA_H)\n"
       << "endif()\n"
       << "target_link_libraries(@N@ PRIVATE ${CMAKE_DL_LIBS})\n";
  }
  os << "\nif(NOT CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR)\n"
     << "  set(MOEC_STANDALONE_NAME @N@ PARENT_SCOPE)\n"
     << "endif()\n";
  return substitute(text, info);
}

std::string generateReadme(const ModelPlan &plan, const ProjectInfo &info) {
  std::string text;
  llvm::raw_string_ostream os(text);
  bool gpu = plan.gpu();
  os << "# @N@: generated runtime of " << plan.source << " (" << plan.target << ")\n\n"
     << "Generated by " << info.producer << " with `moec compile --emit standalone`; "
     << "regenerate rather than edit.\nIt runs the compiled model with no interpreter, no "
     << "artifact parsing and no\ndependency beyond the C++ standard library"
     << (gpu ? " and the NVIDIA driver, which is\nloaded with `dlopen(\"libcuda.so.1\")` when "
               "a model is created (CUDA is never\nlinked)"
             : "")
     << ".\n\n## Files\n\n| file | what |\n| --- | --- |\n"
     << "| `@N@.h` | the C API: create / run / destroy, status codes, introspection |\n"
     << "| `@N@.cpp` | the step list unrolled into straight-line kernel "
     << (gpu ? "launches" : "calls") << ", buffer offsets as expressions of T |\n";
  if (gpu)
    os << "| `kernels.cubin` | the CUDA kernels for " << plan.target
       << ", compiled into the library with `.incbin` |\n";
  else
    os << "| `kernels.cpp`, `moec_host_kernels.h` | the generated C++ kernels and their "
          "templates |\n";
  os << "| `weights.bin` | the weights in the layout the kernels read ("
     << plan.weightData.size() << " bytes) |\n"
     << "| `CMakeLists.txt` | builds `lib@N@.so` |\n\n"
     << "## Build\n\n```\ncmake -S . -B build && cmake --build build\n```\n\n"
     << "`-D@NU@_EMBED_WEIGHTS=ON` compiles `weights.bin` into the library (default: "
     << (info.embedWeights ? "ON" : "OFF")
     << ");\nthen `options.weights_path` may be NULL. The object must stay below 2 GiB "
        "(x86-64\nsmall code model): keep large weights in the file.\n";
  if (gpu)
    os << "\nBuilding needs no CUDA toolkit; when `cuda.h` is found (`CUDA_HOME`,\n"
          "`/usr/local/cuda/include`) the driver declarations are checked against it.\n";
  os << "\n## Use\n\nSee the comment at the top of `@N@.h`. `@N@_create` loads `weights.bin` "
        "and checks\nits size and FNV-1a checksum against the ones this code was "
        "generated with\n(`@NU@_WEIGHTS_BYTES`, `@NU@_WEIGHTS_CHECKSUM`), then ";
  if (gpu)
    os << "loads the driver, checks its version (CUDA "
       << info.minDriverVersion / 1000 << "." << info.minDriverVersion % 1000 / 10
       << " or newer) and that\nthe GPU can run " << plan.target
       << " code, loads the cubin, uploads the weights and allocates the\nactivations "
          "(staging buffers and arena) for `max_tokens`";
  else
    os << "allocates the arena for `max_tokens`";
  os << ". `@N@_run` allocates nothing.\n\nInputs:\n\n";
  for (size_t i = 0; i < plan.inputs.size(); ++i)
    os << "- " << i << " `" << plan.inputs[i].name << "`: " << describeSig(plan.inputs[i])
       << "\n";
  os << "\nOutputs:\n\n";
  for (size_t i = 0; i < plan.outputs.size(); ++i)
    os << "- " << i << " `" << plan.outputs[i].name << "`: " << describeSig(plan.outputs[i])
       << "\n";
  os << "\nStatus codes and messages: `@N@_status_name(code)`, `@N@_last_error()`.\n";
  return substitute(text, info);
}

} // namespace moec::standalone
