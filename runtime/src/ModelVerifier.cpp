//===- ModelVerifier.cpp - Check an artifact payload and decode it --------===//
//
// Two layers of checks, both required:
//  1. flatbuffers::Verifier: every offset, vector and string in the payload
//     lies inside it, so reading a field can never leave the buffer.
//  2. The checks below: everything the schema cannot say (dtype and enum
//     values in range, indices below their counts, weights inside the
//     weights segment with the size their dims imply, aligned and not
//     overlapping, arena offsets inside the arena), with overflow-checked
//     arithmetic throughout.
// After this, the executor trusts the decoded Model without re-checking.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/CheckedMath.h"
#include "runtime/src/Model.h"
#include "runtime/src/Status.h"
#include "runtime/src/cuda/Arch.h"

#include "moert/artifact_generated.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>

namespace moert {
namespace {

constexpr uint32_t kSchemaVersion = 2;
constexpr size_t kMaxRank = 64;
constexpr const char *kHostTarget = "host";
constexpr const char *kHostBinaryFormat = "host-elf-so";
constexpr const char *kCudaBinaryFormat = "cubin";

moert_status corrupt(std::string message) {
  return makeStatus(MOERT_DATA_LOSS, std::move(message));
}

// FlatBuffers strings may hold NUL bytes; a name or symbol that does would
// silently mean something shorter once passed on as a C string.
bool isCleanString(const flatbuffers::String *text) {
  return std::memchr(text->data(), '\0', text->size()) == nullptr;
}

std::string quoted(const std::string &text) { return "'" + text + "'"; }

// The Verifier checks the alignment of a vector's length word (4 bytes) but
// not of its 8-byte elements, so a corrupt offset can leave a [long] vector
// misaligned. Copy elements out bytewise instead of dereferencing them.
int64_t dimAt(const flatbuffers::Vector<int64_t> *dims,
              flatbuffers::uoffset_t i) {
  int64_t value;
  std::memcpy(&value, dims->Data() + i * sizeof(int64_t), sizeof(value));
  return flatbuffers::EndianScalar(value);
}

std::string optionalString(const flatbuffers::String *text) {
  return text ? std::string(text->data(), text->size()) : std::string();
}

moert_status decodeSignature(const char *what,
                             const flatbuffers::Vector<
                                 flatbuffers::Offset<fb::TensorSig>> *sigs,
                             std::vector<TensorSig> *out) {
  if (sigs == nullptr)
    return nullptr;
  std::set<std::string> seen;
  for (flatbuffers::uoffset_t i = 0; i < sigs->size(); ++i) {
    const fb::TensorSig *sig = sigs->Get(i);
    std::string where = std::string(what) + " " + std::to_string(i);
    TensorSig decoded;
    decoded.name = std::string(sig->name()->data(), sig->name()->size());
    if (decoded.name.empty() || !isCleanString(sig->name()))
      return corrupt(where + ": name is empty or contains a NUL byte");
    where += " " + quoted(decoded.name);
    if (!seen.insert(decoded.name).second)
      return corrupt(where + ": duplicate " + what + " name");
    int dtype = static_cast<int>(sig->dtype());
    if (dtypeSize(dtype) == 0)
      return corrupt(where + ": invalid dtype " + std::to_string(dtype));
    decoded.dtype = static_cast<moert_dtype_t>(dtype);
    const auto *dims = sig->dims();
    if (dims->size() > kMaxRank)
      return corrupt(where + ": rank " + std::to_string(dims->size()) +
                     " exceeds the supported maximum " +
                     std::to_string(kMaxRank));
    for (flatbuffers::uoffset_t d = 0; d < dims->size(); ++d) {
      int64_t dim = dimAt(dims, d);
      if (dim < kTokenDim)
        return corrupt(where + ": dim " + std::to_string(d) + " is " +
                       std::to_string(dim) +
                       " (must be >= 0, or -1 for the token dimension)");
      decoded.dims.push_back(dim);
      if (dim == kTokenDim) {
        ++decoded.tokenDimCount;
      } else if (!checkedMul(decoded.staticElements, dim,
                             &decoded.staticElements)) {
        return corrupt(where + ": element count overflows");
      }
    }
    int64_t staticBytes;
    if (!checkedMul(decoded.staticElements,
                    static_cast<int64_t>(dtypeSize(dtype)), &staticBytes))
      return corrupt(where + ": byte size overflows");
    decoded.inplaceInput = sig->inplace_input();
    out->push_back(std::move(decoded));
  }
  return nullptr;
}

// An output may share only an input of its own type and shape, and an input
// only with one output.
moert_status checkInplace(const Model &model) {
  std::set<int> shared;
  for (size_t i = 0; i < model.inputs.size(); ++i)
    if (model.inputs[i].inplaceInput != -1)
      return corrupt("input " + std::to_string(i) + " " + quoted(model.inputs[i].name) +
                     ": inplace_input is for outputs only");
  for (size_t o = 0; o < model.outputs.size(); ++o) {
    const TensorSig &out = model.outputs[o];
    if (out.inplaceInput == -1)
      continue;
    std::string where = "output " + std::to_string(o) + " " + quoted(out.name);
    if (out.inplaceInput < 0 || static_cast<size_t>(out.inplaceInput) >= model.inputs.size())
      return corrupt(where + ": inplace_input " + std::to_string(out.inplaceInput) +
                     " is not an input");
    const TensorSig &in = model.inputs[static_cast<size_t>(out.inplaceInput)];
    if (in.dtype != out.dtype || in.dims != out.dims)
      return corrupt(where + ": shares the buffer of input " + quoted(in.name) +
                     " but has another type or shape");
    if (!shared.insert(out.inplaceInput).second)
      return corrupt(where + ": input " + quoted(in.name) + " is shared by two outputs");
  }
  return nullptr;
}

std::string describeWeight(const WeightDesc &weight, size_t index) {
  std::string text = "weight " + std::to_string(index);
  return weight.name.empty() ? text : text + " " + quoted(weight.name);
}

// Writers lay weights out one after another; two that share bytes mean a
// corrupt offset (a kernel writing one never happens, but a wrong offset
// would silently alias another tensor's data).
moert_status checkNoOverlap(const std::vector<WeightDesc> &weights) {
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), size_t(0));
  // Stable: of two weights at one offset, the later one is reported.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return weights[a].offset < weights[b].offset;
  });
  size_t previous = weights.size(); // none yet
  for (size_t index : order) {
    const WeightDesc &weight = weights[index];
    if (weight.size == 0)
      continue; // an empty range shares no byte
    if (previous != weights.size()) {
      const WeightDesc &before = weights[previous];
      if (before.offset + before.size > weight.offset)
        return corrupt(describeWeight(weight, index) + ": bytes [" +
                       std::to_string(weight.offset) + ", " +
                       std::to_string(weight.offset + weight.size) +
                       ") overlap " + describeWeight(before, previous) +
                       " at [" + std::to_string(before.offset) + ", " +
                       std::to_string(before.offset + before.size) + ")");
    }
    previous = index;
  }
  return nullptr;
}

// Weight offsets are relative to the weights segment, whose extent the
// loader took from the container header (model->weightData/weightDataSize).
moert_status decodeWeights(const fb::Model *root, Model *model) {
  const auto *weights = root->weights();
  if (weights == nullptr)
    return nullptr;
  for (flatbuffers::uoffset_t i = 0; i < weights->size(); ++i) {
    const fb::Weight *weight = weights->Get(i);
    WeightDesc decoded;
    decoded.name = optionalString(weight->name());
    std::string where = "weight " + std::to_string(i);
    if (!decoded.name.empty())
      where += " " + quoted(decoded.name);
    int dtype = static_cast<int>(weight->dtype());
    if (dtypeSize(dtype) == 0)
      return corrupt(where + ": invalid dtype " + std::to_string(dtype));
    decoded.dtype = static_cast<moert_dtype_t>(dtype);
    uint64_t elements = 1;
    if (const auto *dims = weight->dims()) {
      if (dims->size() > kMaxRank)
        return corrupt(where + ": rank " + std::to_string(dims->size()) +
                       " exceeds the supported maximum " +
                       std::to_string(kMaxRank));
      for (flatbuffers::uoffset_t d = 0; d < dims->size(); ++d) {
        int64_t dim = dimAt(dims, d);
        if (dim < 0)
          return corrupt(where + ": dim " + std::to_string(d) + " is " +
                         std::to_string(dim) + " (weights have static dims)");
        decoded.dims.push_back(dim);
        if (!checkedMul(elements, static_cast<uint64_t>(dim), &elements))
          return corrupt(where + ": element count overflows");
      }
    }
    decoded.offset = weight->offset();
    decoded.size = weight->size();
    uint64_t expectedSize;
    if (!checkedMul(elements, static_cast<uint64_t>(dtypeSize(dtype)),
                    &expectedSize))
      return corrupt(where + ": byte size overflows");
    if (decoded.size != expectedSize)
      return corrupt(where + ": size " + std::to_string(decoded.size) +
                     " bytes does not match its dims and dtype (" +
                     std::to_string(expectedSize) + " bytes)");
    if (decoded.offset % kDataAlignment != 0)
      return corrupt(where + ": offset " + std::to_string(decoded.offset) +
                     " is not a multiple of " + std::to_string(kDataAlignment));
    uint64_t end;
    if (!checkedAdd(decoded.offset, decoded.size, &end))
      return corrupt(where + ": offset " + std::to_string(decoded.offset) +
                     " + size " + std::to_string(decoded.size) + " overflows");
    if (end > model->weightDataSize)
      return corrupt(where + ": bytes [" + std::to_string(decoded.offset) +
                     ", " + std::to_string(end) +
                     ") lie outside the weights segment (" +
                     std::to_string(model->weightDataSize) + " bytes)");
    if (!checkedAdd(model->weightBytes, decoded.size, &model->weightBytes))
      return corrupt(where + ": total weight size overflows");
    model->weights.push_back(std::move(decoded));
  }
  return checkNoOverlap(model->weights);
}

uint64_t readLittle(const uint8_t *bytes, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i)
    value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return value;
}

// cuModuleLoadData takes no size: the driver finds the extent of a cubin
// from its ELF header. Check that header, so that a truncated binary is
// reported here instead of letting the driver read past the buffer.
moert_status checkCubinHeader(const uint8_t *data, uint64_t size) {
  constexpr uint64_t kElf64HeaderSize = 64;
  constexpr uint64_t kElfMachineCuda = 190; // EM_CUDA
  if (size < kElf64HeaderSize || std::memcmp(data, "\x7f" "ELF", 4) != 0 ||
      data[4] != 2 /* ELFCLASS64 */ || data[5] != 1 /* little endian */)
    return corrupt("cubin is not a 64-bit little-endian ELF image");
  if (readLittle(data + 18, 2) != kElfMachineCuda)
    return corrupt("cubin is an ELF image for machine " +
                   std::to_string(readLittle(data + 18, 2)) +
                   ", not CUDA (190)");
  struct Table {
    const char *name;
    uint64_t offset, entrySize, count;
  };
  const Table tables[] = {
      {"program header", readLittle(data + 32, 8), readLittle(data + 54, 2),
       readLittle(data + 56, 2)},
      {"section header", readLittle(data + 40, 8), readLittle(data + 58, 2),
       readLittle(data + 60, 2)},
  };
  for (const Table &table : tables) {
    uint64_t bytes = table.entrySize * table.count, end;
    if (table.count != 0 && (!checkedAdd(table.offset, bytes, &end) ||
                             end > size))
      return corrupt(std::string("cubin ") + table.name +
                     " table lies outside the binary (" +
                     std::to_string(size) + " bytes): truncated?");
  }
  return nullptr;
}

moert_status decodeBinary(const fb::Model *root, Model *model) {
  const auto *kernels = root->kernels();
  if (kernels != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < kernels->size(); ++i) {
      const flatbuffers::String *symbol = kernels->Get(i)->symbol();
      if (symbol->size() == 0 || !isCleanString(symbol))
        return corrupt("kernel " + std::to_string(i) +
                       ": symbol is empty or contains a NUL byte");
      model->kernels.emplace_back(symbol->data(), symbol->size());
    }
  }
  const fb::Binary *binary = root->binary();
  if (binary == nullptr) {
    if (!model->kernels.empty())
      return corrupt("the model has " + std::to_string(model->kernels.size()) +
                     " kernel(s) but no binary");
    return nullptr;
  }
  model->binaryFormat = optionalString(binary->format());
  model->binaryData = binary->data()->data();
  model->binarySize = binary->data()->size();
  const char *expected = model->targetKind == TargetKind::Host
                             ? kHostBinaryFormat
                             : kCudaBinaryFormat;
  if (model->binaryFormat != expected)
    return makeStatus(MOERT_UNIMPLEMENTED,
                      "binary format " + quoted(model->binaryFormat) +
                          " is not known for target " + quoted(model->target) +
                          " (expected '" + expected + "')");
  if (model->binarySize == 0 && !model->kernels.empty())
    return corrupt("binary is empty but the model has kernels");
  if (model->targetKind == TargetKind::Cuda && !model->kernels.empty())
    return checkCubinHeader(model->binaryData, model->binarySize);
  return nullptr;
}

// Whether this CPU has the level is a session question (a model may be
// inspected anywhere); here only that the level is one this runtime knows.
moert_status decodeHostCpu(const fb::Model *root, Model *model) {
  std::string text = optionalString(root->host_cpu());
  if (model->targetKind != TargetKind::Host) {
    if (!text.empty())
      return corrupt("host_cpu " + quoted(text) + " is set on a " +
                     model->target + " artifact (host targets only)");
    return nullptr;
  }
  if (!host::parseCpuLevel(text, &model->hostCpu))
    return makeStatus(MOERT_UNIMPLEMENTED,
                      "host_cpu " + quoted(text) +
                          " is not a level this runtime knows (generic, "
                          "x86-64-v2, x86-64-v3, x86-64-v4)");
  return nullptr;
}

moert_status checkArena(const std::string &where, const AffineSize &offset,
                        const AffineSize &arena) {
  if (offset.base < 0 || offset.perToken < 0)
    return corrupt(where + ": arena offset (" + std::to_string(offset.base) +
                   " + " + std::to_string(offset.perToken) +
                   "*T) is negative");
  // With both parts bounded by the arena's own, offset(T) <= arena(T) for
  // every T >= 0, so no run can point outside the arena.
  if (offset.base > arena.base || offset.perToken > arena.perToken)
    return corrupt(where + ": arena offset (" + std::to_string(offset.base) +
                   " + " + std::to_string(offset.perToken) +
                   "*T) lies outside the arena (" + std::to_string(arena.base) +
                   " + " + std::to_string(arena.perToken) + "*T bytes)");
  return nullptr;
}

moert_status checkGridDim(const std::string &where, const char *axis,
                          const GridDim &dim) {
  if (dim.base < 0 || dim.perToken < 0 || dim.divisor < 1)
    return corrupt(where + ": " + axis + " (" + std::to_string(dim.base) +
                   " + " + std::to_string(dim.perToken) + "*T) / " +
                   std::to_string(dim.divisor) +
                   " is invalid (needs base >= 0, per_token >= 0, "
                   "divisor >= 1)");
  return nullptr;
}

// GPU steps carry their launch geometry; host steps must not (a host
// artifact that has it was written for another executor, so it is refused
// rather than silently ignored).
moert_status decodeGeometry(const fb::Step *step, const Model &model,
                            const std::string &where, Step *out) {
  if (model.targetKind == TargetKind::Host) {
    if (step->grid_x() || step->grid_y() || step->block_x() != 0 ||
        step->shared_bytes() != 0)
      return corrupt(where + ": a host step carries GPU launch geometry "
                             "(grid_x, grid_y, block_x or shared_bytes)");
    return nullptr;
  }
  if (step->grid_x() == nullptr)
    return corrupt(where + ": a GPU step has no grid_x");
  auto decode = [](const fb::GridDim *dim) {
    return GridDim{dim->base(), dim->per_token(), dim->divisor()};
  };
  out->gridX = decode(step->grid_x());
  if (step->grid_y() != nullptr)
    out->gridY = decode(step->grid_y());
  if (moert_status status = checkGridDim(where, "grid_x", out->gridX))
    return status;
  if (moert_status status = checkGridDim(where, "grid_y", out->gridY))
    return status;
  out->blockX = step->block_x();
  if (out->blockX < 1 || out->blockX > cuda::kMaxBlockThreads)
    return corrupt(where + ": block_x " + std::to_string(out->blockX) +
                   " is outside [1, " +
                   std::to_string(cuda::kMaxBlockThreads) + "]");
  out->sharedBytes = step->shared_bytes();
  if (out->sharedBytes > cuda::kMaxSharedBytes)
    return corrupt(where + ": shared_bytes " +
                   std::to_string(out->sharedBytes) + " exceeds " +
                   std::to_string(cuda::kMaxSharedBytes) +
                   " (227 KiB, the most any supported GPU has per block)");
  if (out->args.size() > cuda::kStatusSlot)
    return corrupt(where + ": " + std::to_string(out->args.size()) +
                   " args, but a GPU kernel takes at most " +
                   std::to_string(cuda::kStatusSlot) +
                   " (slot 23 is the status word)");
  return nullptr;
}

moert_status decodeSteps(const fb::Model *root, Model *model) {
  const auto *steps = root->steps();
  if (steps == nullptr)
    return nullptr;
  for (flatbuffers::uoffset_t s = 0; s < steps->size(); ++s) {
    const fb::Step *step = steps->Get(s);
    std::string where = "step " + std::to_string(s);
    Step decoded;
    decoded.kernel = step->kernel();
    decoded.minTokens = step->min_tokens();
    decoded.maxTokens = step->max_tokens();
    if (decoded.minTokens < 0 || (decoded.maxTokens >= 0 && decoded.maxTokens < decoded.minTokens))
      return corrupt(where + ": token range [" + std::to_string(decoded.minTokens) + ", " +
                     std::to_string(decoded.maxTokens) + "] is empty or negative");
    if (decoded.kernel >= model->kernels.size())
      return corrupt(where + ": kernel index " +
                     std::to_string(decoded.kernel) + " out of range (" +
                     std::to_string(model->kernels.size()) + " kernels)");
    const auto *args = step->args();
    for (flatbuffers::uoffset_t a = 0; args && a < args->size(); ++a) {
      const fb::Arg *arg = args->Get(a);
      std::string argWhere = where + " arg " + std::to_string(a);
      StepArg out;
      out.index = arg->index();
      int kind = static_cast<int>(arg->kind());
      size_t count = 0;
      const char *plural = nullptr;
      switch (kind) {
      case fb::ArgKind_input:
        count = model->inputs.size(), plural = "inputs";
        break;
      case fb::ArgKind_output:
        count = model->outputs.size(), plural = "outputs";
        break;
      case fb::ArgKind_weight:
        count = model->weights.size(), plural = "weights";
        break;
      case fb::ArgKind_arena:
        break;
      default:
        return corrupt(argWhere + ": invalid arg kind " + std::to_string(kind));
      }
      out.kind = static_cast<ArgKind>(kind);
      if (out.kind == ArgKind::Arena) {
        if (const fb::Affine *offset = arg->offset())
          out.offset = AffineSize{offset->base(), offset->per_token()};
        if (moert_status status =
                checkArena(argWhere, out.offset, model->arenaSize))
          return status;
      } else if (out.index >= count) {
        return corrupt(argWhere + ": " + fb::EnumNameArgKind(arg->kind()) +
                       " index " + std::to_string(out.index) +
                       " out of range (" + std::to_string(count) + " " +
                       plural + ")");
      }
      decoded.args.push_back(out);
    }
    if (moert_status status = decodeGeometry(step, *model, where, &decoded))
      return status;
    model->steps.push_back(std::move(decoded));
  }
  return nullptr;
}

// T is read off the inputs; a model whose outputs depend on T must have an
// input that carries it.
moert_status checkTokenSource(const Model &model) {
  for (const TensorSig &input : model.inputs)
    if (input.tokenDimCount > 0)
      return nullptr;
  for (const TensorSig &output : model.outputs)
    if (output.tokenDimCount > 0)
      return corrupt("output " + quoted(output.name) +
                     " has a token dimension but no input has one, so the "
                     "token count cannot be determined");
  return nullptr;
}

} // namespace

moert_status verifyAndDecode(Model *model, const uint8_t *payload,
                             size_t payloadSize) {
  // The FlatBuffers Verifier asserts on buffers of 2 GiB or more (offsets
  // are 32-bit), so reject those first.
  if (payloadSize >= FLATBUFFERS_MAX_BUFFER_SIZE)
    return corrupt("payload of " + std::to_string(payloadSize) +
                   " bytes exceeds the FlatBuffers limit of 2 GiB");
  if (reinterpret_cast<uintptr_t>(payload) % 8 != 0)
    return makeStatus(MOERT_INTERNAL, "payload is not 8-byte aligned");
  if (payloadSize < 8 || !fb::ModelBufferHasIdentifier(payload))
    return corrupt("payload is not a moec model (file identifier is not '" +
                   std::string(fb::ModelIdentifier()) + "')");
  flatbuffers::Verifier verifier(payload, payloadSize);
  if (!fb::VerifyModelBuffer(verifier))
    return corrupt("payload structure is invalid (FlatBuffers verification "
                   "failed)");
  const fb::Model *root = fb::GetModel(payload);

  uint32_t version = root->schema_version();
  if (version == 0)
    return corrupt("schema version 0 is invalid");
  if (version > kSchemaVersion)
    return makeStatus(MOERT_UNIMPLEMENTED,
                      "schema version " + std::to_string(version) +
                          " is newer than this runtime supports (" +
                          std::to_string(kSchemaVersion) + ")");

  model->producer = optionalString(root->producer());
  model->target = optionalString(root->target());
  model->source = optionalString(root->source());
  model->tokenDim = optionalString(root->token_dim());
  if (model->target.empty())
    return corrupt("target is missing");
  cuda::SmTarget sm;
  if (model->target == kHostTarget)
    model->targetKind = TargetKind::Host;
  else if (cuda::parseSmTarget(model->target, &sm))
    model->targetKind = TargetKind::Cuda;
  else
    return makeStatus(MOERT_UNIMPLEMENTED,
                      "target " + quoted(model->target) +
                          " is not supported by this runtime (expected "
                          "'host' or a CUDA architecture such as 'sm_80', "
                          "'sm_90a')");

  if (const fb::Affine *arena = root->arena_size())
    model->arenaSize = AffineSize{arena->base(), arena->per_token()};
  if (model->arenaSize.base < 0 || model->arenaSize.perToken < 0)
    return corrupt("arena size (" + std::to_string(model->arenaSize.base) +
                   " + " + std::to_string(model->arenaSize.perToken) +
                   "*T bytes) is negative");

  if (moert_status status =
          decodeSignature("input", root->inputs(), &model->inputs))
    return status;
  if (moert_status status =
          decodeSignature("output", root->outputs(), &model->outputs))
    return status;
  if (moert_status status = checkInplace(*model))
    return status;
  if (moert_status status = checkTokenSource(*model))
    return status;
  if (moert_status status = decodeWeights(root, model))
    return status;
  if (moert_status status = decodeBinary(root, model))
    return status;
  if (moert_status status = decodeHostCpu(root, model))
    return status;
  return decodeSteps(root, model);
}

} // namespace moert
