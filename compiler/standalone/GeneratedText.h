//===- GeneratedText.h - the files of a standalone project -------*- C++ -*-===//
//
// Each function returns the text of one generated file. Fixed text lives in
// raw string literals with two placeholders, @N@ (the C prefix, e.g.
// "mixtral_moe_node") and @NU@ (the same in upper case); model-specific
// text (tables, the unrolled steps) is written by the functions.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_STANDALONE_GENERATEDTEXT_H
#define MOEC_COMPILER_STANDALONE_GENERATEDTEXT_H

#include "compiler/standalone/ModelPlan.h"

#include <string>

namespace moec::standalone {

struct ProjectInfo {
  std::string name;       // C identifier: prefix of every symbol and file
  std::string upper;      // name in upper case, for macros and enum constants
  bool embedWeights = false;
  uint64_t weightChecksum = 0;
  // GPU targets: the oldest driver that loads the cubin (cuDriverGetVersion
  // encoding, 1000 * major + 10 * minor).
  int minDriverVersion = 0;
  std::string producer = "moec 0.1.0";
};

// @N@ -> name, @NU@ -> upper.
std::string substitute(std::string text, const ProjectInfo &info);
// A C/C++ string literal (quotes included) for any bytes.
std::string cString(const std::string &text);
// Text safe inside a // comment (no newlines or other control characters).
std::string commentSafe(const std::string &text);
// "(T, 32) float32".
std::string describeSig(const TensorSig &sig);

std::string generateHeader(const ModelPlan &plan, const ProjectInfo &info);   // <name>.h
std::string generateRuntime(const ModelPlan &plan, const ProjectInfo &info);  // <name>.cpp
std::string generateCMakeLists(const ModelPlan &plan, const ProjectInfo &info);
std::string generateReadme(const ModelPlan &plan, const ProjectInfo &info);

// The parts of <name>.cpp that differ between targets; RuntimeSource.cpp
// writes the common part around them. `declarations` goes at file scope
// after the includes; `backend` inside the anonymous namespace, where it
// defines `struct Backend` with create(weights, options), run(weights,
// inputs, outputs, T) and a destructor, and `kKeepHostWeights`.
struct TargetParts {
  std::string declarations;
  std::string backend;
};
TargetParts hostRuntimeParts(const ModelPlan &plan, const ProjectInfo &info);
TargetParts cudaRuntimeParts(const ModelPlan &plan, const ProjectInfo &info);

// "A + (53312 + 64 * T)", "W + 1024": a buffer address in generated code.
std::string affineAddress(const char *base, const Affine &offset);

} // namespace moec::standalone

#endif // MOEC_COMPILER_STANDALONE_GENERATEDTEXT_H
