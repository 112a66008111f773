//===- Model.h - A loaded, verified artifact (private) ---------*- C++ -*-===//
//
// The loader turns the FlatBuffer into these plain structures after checking
// every index, offset and size in it, so the executor never reads the
// FlatBuffer again and never needs to re-check anything at run time.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_SRC_MODEL_H
#define MOERT_SRC_MODEL_H

#include "moert/moert.h"
#include "runtime/src/Storage.h"
#include "runtime/src/host/HostCpu.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moert {

/// The symbolic token dimension in a signature.
inline constexpr int64_t kTokenDim = -1;
/// Alignment of weights and of the arena (bytes).
inline constexpr uint64_t kDataAlignment = 64;

/// Bytes per element of a schema dtype value; 0 if not a valid dtype.
size_t dtypeSize(int value);
const char *dtypeName(int value);

/// base + per_token * T bytes.
struct AffineSize {
  int64_t base = 0;
  int64_t perToken = 0;
};

struct TensorSig {
  std::string name;
  moert_dtype_t dtype = MOERT_DTYPE_F32;
  std::vector<int64_t> dims; // kTokenDim marks T
  /// Product of the static dims (1 for a scalar).
  int64_t staticElements = 1;
  /// How many dims are kTokenDim; the element count is staticElements*T^n.
  int tokenDimCount = 0;
  /// Outputs: the input whose buffer this output may share, or -1.
  int inplaceInput = -1;

  /// Writes "(T, 16) float32" for messages.
  std::string describe() const;
};

/// Bytes of `sig` for T tokens (staticElements * T^tokenDimCount * dtype
/// size); false on overflow.
bool signatureBytes(const TensorSig &sig, int64_t tokens, int64_t *out);

struct WeightDesc {
  std::string name;
  moert_dtype_t dtype = MOERT_DTYPE_F32;
  std::vector<int64_t> dims;
  uint64_t offset = 0; // into Model::weightData (the weights segment)
  uint64_t size = 0;
};

enum class ArgKind : uint8_t { Input = 0, Output = 1, Weight = 2, Arena = 3 };

struct StepArg {
  ArgKind kind = ArgKind::Input;
  uint32_t index = 0;   // input/output/weight index
  AffineSize offset;    // arena only
};

/// GPU launch geometry along one grid axis:
/// blocks(T) = ceil((base + perToken * T) / divisor); 0 skips the launch.
struct GridDim {
  int64_t base = 1;
  int64_t perToken = 0;
  int64_t divisor = 1;
};

struct Step {
  uint32_t kernel = 0;
  std::vector<StepArg> args;
  // GPU targets only (the verifier rejects them on host steps).
  GridDim gridX, gridY;
  uint32_t blockX = 0;
  uint32_t sharedBytes = 0;
  // Token-count bucket: runs when minTokens <= T and (maxTokens < 0 or
  // T <= maxTokens).
  int64_t minTokens = 0;
  int64_t maxTokens = -1;
  bool runsFor(int64_t tokens) const {
    return tokens >= minTokens && (maxTokens < 0 || tokens <= maxTokens);
  }
};

/// What executes a model, decided by Model::target.
enum class TargetKind : uint8_t { Host, Cuda };

/// When the weights segment's checksum is checked (MOERT_VERIFY_WEIGHTS, see
/// docs/runtime.md). Reading every byte of a 20 GB segment at load would
/// page in weights that a host session may never touch (an MoE decode reads
/// only the routed experts) and read the file twice for a CUDA session.
enum class WeightsCheck : uint8_t {
  Load, ///< at load: the model is not returned unless it matches
  Lazy, ///< not at load; a CUDA session checks while it uploads
  Off,  ///< never
  /// Load below kVerifyAtLoadBelow bytes of weights, Lazy from there on.
  Auto,
};
/// The Auto threshold: below it a load-time check costs well under a second
/// even from disk.
inline constexpr uint64_t kVerifyAtLoadBelow = uint64_t(1) << 30;

struct Model {
  /// The path or buffer name, the prefix of every message about this model.
  std::string name;
  /// Holds the whole file: `weightData` and `binaryData` point into it.
  Storage storage;

  std::string producer, target, source, tokenDim;
  TargetKind targetKind = TargetKind::Host;
  std::vector<TensorSig> inputs;
  std::vector<TensorSig> outputs;
  std::vector<WeightDesc> weights;
  /// The weights segment, 64-byte aligned in memory (storage is).
  const uint8_t *weightData = nullptr;
  uint64_t weightDataSize = 0;
  uint64_t weightsChecksum = 0; // from the container header
  /// Load, Lazy or Off: the resolved policy (never Auto).
  WeightsCheck weightsCheck = WeightsCheck::Load;
  /// True once the segment matched its checksum (at load, or for Lazy in the
  /// first CUDA session's upload, so later sessions skip it).
  mutable std::atomic<bool> weightsVerified{false};
  uint64_t weightBytes = 0; // sum of weight sizes
  AffineSize arenaSize;
  std::vector<std::string> kernels; // symbols
  /// Host targets: the x86-64 level the kernels need (Model.host_cpu).
  host::CpuLevel hostCpu = host::CpuLevel::Generic;
  std::string binaryFormat;
  const uint8_t *binaryData = nullptr;
  uint64_t binarySize = 0;
  std::vector<Step> steps;
};

/// Loads the artifact at `path`; on success stores it in `*out`.
moert_status loadModelFile(const char *path, std::shared_ptr<Model> *out);

/// Loads an artifact image from memory (see moert_buffer_mode_t).
moert_status loadModelBuffer(const void *data, size_t size, const char *name,
                             bool borrow, std::shared_ptr<Model> *out);

/// The policy in MOERT_VERIFY_WEIGHTS ("auto" when unset or empty, "load",
/// "lazy", "off"); false with a message for any other value.
bool weightsCheckFromEnvironment(WeightsCheck *out, std::string *error);

/// Checks the FlatBuffer payload held by `model->storage` and fills in the
/// rest of `model`; `model->weightData`/`weightDataSize` must already point
/// at the weights segment. Messages are not yet prefixed with the model name.
moert_status verifyAndDecode(Model *model, const uint8_t *payload,
                             size_t payloadSize);

} // namespace moert

#endif // MOERT_SRC_MODEL_H
