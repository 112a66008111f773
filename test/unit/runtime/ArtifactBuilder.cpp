//===- ArtifactBuilder.cpp - Build .moe artifacts in tests ----------------===//

#include "test/unit/runtime/ArtifactBuilder.h"

#include "moert/artifact_generated.h"
#include "runtime/format/Container.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace moert::test {

const std::vector<uint8_t> &kernelBinary() {
  static const std::vector<uint8_t> bytes = [] {
    std::ifstream file(MOERT_TEST_KERNELS_PATH, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(file),
                                std::istreambuf_iterator<char>());
  }();
  return bytes;
}

uint32_t addWeight(ModelSpec *spec, const std::string &name, int8_t dtype,
                   std::vector<int64_t> dims, const void *bytes, size_t size) {
  // As moec lays them out: each weight at the next 64-byte boundary, the
  // segment padded to a multiple of 64.
  size_t offset = (spec->weightData.size() + 63) / 64 * 64;
  spec->weightData.resize((offset + size + 63) / 64 * 64);
  if (size)
    std::memcpy(spec->weightData.data() + offset, bytes, size);
  spec->weights.push_back({name, dtype, std::move(dims), offset, size});
  return static_cast<uint32_t>(spec->weights.size() - 1);
}

std::vector<uint8_t> buildPayload(const ModelSpec &spec) {
  flatbuffers::FlatBufferBuilder fbb;
  auto sigs = [&](const std::vector<SigSpec> &list) {
    std::vector<flatbuffers::Offset<fb::TensorSig>> out;
    for (const SigSpec &sig : list)
      out.push_back(fb::CreateTensorSig(fbb, fbb.CreateString(sig.name),
                                        static_cast<fb::DType>(sig.dtype),
                                        fbb.CreateVector(sig.dims), sig.inplaceInput));
    return fbb.CreateVector(out);
  };
  auto inputs = sigs(spec.inputs);
  auto outputs = sigs(spec.outputs);

  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const WeightSpec &weight : spec.weights)
    weights.push_back(fb::CreateWeight(
        fbb, fbb.CreateString(weight.name), static_cast<fb::DType>(weight.dtype),
        fbb.CreateVector(weight.dims), weight.offset, weight.size));
  auto weightVector = fbb.CreateVector(weights);

  std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
  for (const std::string &symbol : spec.kernels)
    kernels.push_back(fb::CreateKernel(fbb, fbb.CreateString(symbol)));
  auto kernelVector = fbb.CreateVector(kernels);

  flatbuffers::Offset<fb::Binary> binary;
  if (spec.hasBinary)
    binary = fb::CreateBinary(fbb, fbb.CreateString(spec.binaryFormat),
                              fbb.CreateVector(spec.binary));

  std::vector<flatbuffers::Offset<fb::Step>> steps;
  for (const StepSpec &step : spec.steps) {
    std::vector<flatbuffers::Offset<fb::Arg>> args;
    for (const ArgSpec &arg : step.args) {
      fb::Affine offset(arg.base, arg.perToken);
      args.push_back(fb::CreateArg(fbb, static_cast<fb::ArgKind>(arg.kind),
                                   arg.index, &offset));
    }
    auto argVector = fbb.CreateVector(args);
    if (!step.gpu) {
      steps.push_back(fb::CreateStep(fbb, step.kernel, argVector));
      continue;
    }
    fb::GridDim gridX(step.gridX.base, step.gridX.perToken, step.gridX.divisor);
    fb::GridDim gridY(step.gridY.base, step.gridY.perToken, step.gridY.divisor);
    steps.push_back(fb::CreateStep(fbb, step.kernel, argVector, &gridX,
                                   step.hasGridY ? &gridY : nullptr,
                                   step.blockX, step.sharedBytes,
                                   step.minTokens, step.maxTokens));
  }
  auto stepVector = fbb.CreateVector(steps);

  fb::Affine arena(spec.arenaBase, spec.arenaPerToken);
  auto root = fb::CreateModel(
      fbb, spec.schemaVersion, fbb.CreateString("moert-tests"),
      fbb.CreateString(spec.target), fbb.CreateString("test.onnx"),
      fbb.CreateString("tokens"), inputs, outputs, weightVector, &arena,
      kernelVector, binary, stepVector,
      spec.hostCpu.empty() ? 0 : fbb.CreateString(spec.hostCpu));
  fb::FinishModelBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(),
                              fbb.GetBufferPointer() + fbb.GetSize());
}

std::vector<uint8_t> buildFile(const ModelSpec &spec) {
  std::vector<uint8_t> payload = buildPayload(spec);
  return format::wrap(payload.data(), payload.size(), spec.weightData.data(),
                      spec.weightData.size());
}

ModelSpec addWeightModel(const std::vector<float> &weights) {
  ModelSpec spec;
  spec.binary = kernelBinary();
  spec.inputs = {{"x", kF32, {-1, kHidden}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  addWeight(&spec, "w", kF32, {kHidden}, weights.data(),
            weights.size() * sizeof(float));
  spec.kernels = {"moert_test_add_weight"};
  spec.steps = {{0, {{kInput, 0}, {kWeight, 0}, {kOutput, 0}}}};
  return spec;
}

ModelSpec arenaModel(const std::vector<float> &weights) {
  ModelSpec spec;
  spec.binary = kernelBinary();
  spec.inputs = {{"x", kF32, {-1, kHidden}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  addWeight(&spec, "w", kF32, {kHidden}, weights.data(),
            weights.size() * sizeof(float));
  spec.arenaBase = 32;
  spec.arenaPerToken = 2 * kHidden * 4;
  spec.kernels = {"moert_test_scale2", "moert_test_add_weight"};
  ArgSpec bufferA{kArena, 0, 0, 0};
  ArgSpec bufferB{kArena, 0, 32, kHidden * 4};
  spec.steps = {{0, {{kInput, 0}, bufferA}},
                {0, {bufferA, bufferB}},
                {1, {bufferB, {kWeight, 0}, {kOutput, 0}}}};
  return spec;
}

ModelSpec gatherModel(const std::vector<float> &table) {
  ModelSpec spec;
  spec.binary = kernelBinary();
  int64_t vocab = static_cast<int64_t>(table.size()) / kHidden;
  spec.inputs = {{"ids", kI64, {-1}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  addWeight(&spec, "table", kF32, {vocab, kHidden}, table.data(),
            table.size() * sizeof(float));
  addWeight(&spec, "vocab", kI64, {}, &vocab, sizeof(vocab));
  spec.kernels = {"moert_test_gather"};
  spec.steps = {{0, {{kInput, 0}, {kWeight, 0}, {kOutput, 0}, {kWeight, 1}}}};
  return spec;
}

} // namespace moert::test
