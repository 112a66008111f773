//===- ArtifactBuilder.h - Build .moe artifacts in tests -------*- C++ -*-===//
//
// Specs hold raw schema values (any integer for a dtype or an arg kind), so
// tests can build artifacts that are wrong in exactly one way.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TEST_UNIT_RUNTIME_ARTIFACTBUILDER_H
#define MOEC_TEST_UNIT_RUNTIME_ARTIFACTBUILDER_H

#include <cstdint>
#include <string>
#include <vector>

namespace moert::test {

// Raw values of moert.fb.DType / ArgKind.
enum : int8_t { kF32 = 0, kF64 = 3, kI64 = 4, kI32 = 5, kBool = 8 };
enum : int8_t { kInput = 0, kOutput = 1, kWeight = 2, kArena = 3 };

struct SigSpec {
  std::string name;
  int8_t dtype = kF32;
  std::vector<int64_t> dims;
  int32_t inplaceInput = -1; // TensorSig.inplace_input
};

struct WeightSpec {
  std::string name;
  int8_t dtype = kF32;
  std::vector<int64_t> dims;
  uint64_t offset = 0;
  uint64_t size = 0;
};

struct ArgSpec {
  int8_t kind = kInput;
  uint32_t index = 0;
  int64_t base = 0, perToken = 0; // arena offset
};

/// blocks = ceil((base + perToken*T) / divisor) along one grid axis.
struct GridSpec {
  int64_t base = 1, perToken = 0, divisor = 1;
};

struct StepSpec {
  uint32_t kernel = 0;
  std::vector<ArgSpec> args;
  // GPU launch geometry, written only when `gpu` is set.
  bool gpu = false;
  GridSpec gridX;
  bool hasGridY = false;
  GridSpec gridY;
  uint32_t blockX = 0, sharedBytes = 0;
  // Token-count bucket (GPU steps): runs when minTokens <= T <= maxTokens
  // (maxTokens < 0: no upper bound).
  int64_t minTokens = 0, maxTokens = -1;
};

struct ModelSpec {
  uint32_t schemaVersion = 2;
  std::string target = "host";
  std::string binaryFormat = "host-elf-so";
  bool hasBinary = true;
  std::vector<uint8_t> binary;
  std::vector<SigSpec> inputs, outputs;
  std::vector<WeightSpec> weights;
  std::vector<uint8_t> weightData; // the weights segment
  int64_t arenaBase = 0, arenaPerToken = 0;
  std::vector<std::string> kernels;
  std::vector<StepSpec> steps;
  std::string hostCpu; // Model.host_cpu; written when non-empty
};

/// The hidden width the test kernels use.
inline constexpr int64_t kHidden = 16;

/// The bytes of the test kernels' shared object (empty if unreadable).
const std::vector<uint8_t> &kernelBinary();

/// Appends a weight whose bytes are `bytes` at the next 64-aligned offset
/// of the weights segment; returns its index.
uint32_t addWeight(ModelSpec *spec, const std::string &name, int8_t dtype,
                   std::vector<int64_t> dims, const void *bytes, size_t size);

/// The FlatBuffer payload (metadata only).
std::vector<uint8_t> buildPayload(const ModelSpec &spec);
/// A complete .moe file: container header, payload, weights segment.
std::vector<uint8_t> buildFile(const ModelSpec &spec);

/// y = x + w: input x (T, 16) f32, weight w (16,), output y (T, 16).
/// `weights` are the 16 values of w.
ModelSpec addWeightModel(const std::vector<float> &weights);

/// y = 4x + w through two arena buffers: A = 2x at offset 0, B = 2A at
/// offset 32 + 64*T (arena 32 + 128*T bytes), y = B + w.
ModelSpec arenaModel(const std::vector<float> &weights);

/// y[t] = table[ids[t]]: input ids (T,) int64, weights table (V, 16) f32 and
/// vocab () int64 = V, output y (T, 16). The kernel returns 1 for an id
/// outside [0, V).
ModelSpec gatherModel(const std::vector<float> &table);

} // namespace moert::test

#endif // MOEC_TEST_UNIT_RUNTIME_ARTIFACTBUILDER_H
