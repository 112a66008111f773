//===- ModelPlan.h - what a generated runtime must do, read off the IR -*- C++ -*-===//
//
// The standalone emitter writes the same model libmoert would run from the
// .moe artifact, but as code. ModelPlan is that model in plain data: the
// signature, the weights in the artifact's layout (same order, same 64-byte
// aligned offsets, so weights.bin equals the artifact's weights segment), the
// arena size, and the step list with every kernel argument resolved to an
// input, an output, a weight or an arena offset affine in T. It is read off
// the final kernel-dialect module by the rules compiler/artifact/
// ArtifactWriter.cpp follows; the standalone tests check the two agree by
// comparing outputs bit for bit.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_STANDALONE_MODELPLAN_H
#define MOEC_COMPILER_STANDALONE_MODELPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moec::standalone {

// Element type codes: those of the artifact schema and of moert_dtype_t.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, F64 = 3, I64 = 4, I32 = 5, I8 = 6,
                         U8 = 7, Bool = 8 };
const char *dtypeName(DType dtype);     // "float32"
const char *dtypeEnumName(DType dtype); // "F32"
unsigned dtypeSize(DType dtype);

// base + perToken * T (bytes).
struct Affine {
  int64_t base = 0, perToken = 0;
};

struct TensorSig {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> dims; // -1: the token count T
};

struct Weight {
  std::string name;
  uint64_t offset = 0, size = 0; // into the weight data; offset % 64 == 0
};

struct Arg {
  enum Kind { Input, Output, Weight, Arena } kind = Input;
  unsigned index = 0; // Input/Output/Weight
  Affine offset;      // Arena
};

// blocks = ceil((base + perToken * T) / divisor); 0 blocks skips the launch.
struct GridAxis {
  int64_t base = 1, perToken = 0, divisor = 1;
};

struct Step {
  std::string symbol;      // the kernel's entry point
  std::string description; // "linear for node 'n': (...) -> (...)", for comments
  std::vector<Arg> args;
  // GPU targets only.
  GridAxis gridX, gridY;
  unsigned block = 0, sharedBytes = 0;
  int64_t minTokens = 0, maxTokens = -1; // runs when min <= T and (max < 0 or T <= max)
};

struct ModelPlan {
  std::string target; // "host", "sm_90a", ...
  std::string source; // the ONNX file's base name
  std::vector<TensorSig> inputs, outputs;
  std::vector<Weight> weights;
  std::vector<uint8_t> weightData; // a multiple of 64 bytes
  Affine arena;
  std::vector<Step> steps;
  std::string hostSource;  // host: the generated kernel C++
  std::vector<char> cubin; // GPU: the compiled kernels

  bool gpu() const { return target != "host"; }
};

// Reads the plan off a module after memory planning and kernel emission
// (for GPU targets, after NVRTC compiled the cubin). Errors are reported
// at the offending op.
mlir::FailureOr<ModelPlan> buildModelPlan(mlir::ModuleOp module);

// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3), the
// checksum the .moe container uses; the generated code checks weights.bin
// with it.
uint64_t fnv1a64(const uint8_t *data, size_t size);

} // namespace moec::standalone

#endif // MOEC_COMPILER_STANDALONE_MODELPLAN_H
