//===- CudaTestModels.cpp - cubin artifacts for the CUDA tests ------------===//

#include "test/unit/runtime/CudaTestModels.h"

#include <cstring>

namespace moert::test {

std::vector<uint8_t> fakeCubin(const std::vector<std::string> &names) {
  std::vector<uint8_t> image(64, 0);
  const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2 /*64-bit*/, 1 /*LE*/, 1};
  std::memcpy(image.data(), ident, sizeof(ident));
  image[16] = 2;   // ET_EXEC
  image[18] = 190; // EM_CUDA
  image[20] = 1;   // EV_CURRENT
  image[52] = 64;  // e_ehsize
  std::string list = "FAKECUBIN:";
  for (size_t i = 0; i < names.size(); ++i)
    list += (i ? "," : "") + names[i];
  image.insert(image.end(), list.begin(), list.end());
  image.push_back(0);
  return image;
}

namespace {

StepSpec gpuStep(uint32_t kernel, std::vector<ArgSpec> args, GridSpec gridX,
                 uint32_t blockX, uint32_t sharedBytes = 0) {
  StepSpec step;
  step.kernel = kernel;
  step.args = std::move(args);
  step.gpu = true;
  step.gridX = gridX;
  step.blockX = blockX;
  step.sharedBytes = sharedBytes;
  return step;
}

ModelSpec cudaSpec(const std::string &target) {
  ModelSpec spec;
  spec.target = target;
  spec.binaryFormat = "cubin";
  return spec;
}

} // namespace

ModelSpec cudaAddWeightModel(const std::vector<float> &weights,
                             const std::string &target) {
  ModelSpec spec = cudaSpec(target);
  spec.inputs = {{"x", kF32, {-1, kHidden}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  addWeight(&spec, "w", kF32, {kHidden}, weights.data(),
            weights.size() * sizeof(float));
  spec.kernels = {"moec_test_add_weight"};
  spec.binary = fakeCubin(spec.kernels);
  spec.steps = {gpuStep(0, {{kInput, 0}, {kWeight, 0}, {kOutput, 0}},
                        {0, kHidden, 128}, 128)};
  return spec;
}

ModelSpec cudaArenaModel(const std::vector<float> &weights,
                         const std::string &target) {
  ModelSpec spec = cudaSpec(target);
  spec.inputs = {{"x", kF32, {-1, kHidden}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  // A pad weight first, so that w sits at a nonzero offset.
  std::vector<float> pad(3, 9.0f);
  addWeight(&spec, "pad", kF32, {3}, pad.data(), pad.size() * sizeof(float));
  uint32_t w = addWeight(&spec, "w", kF32, {kHidden}, weights.data(),
                         weights.size() * sizeof(float));
  spec.arenaBase = 32;
  spec.arenaPerToken = 2 * kHidden * 4;
  spec.kernels = {"moec_test_scale2", "moec_test_add_weight"};
  spec.binary = fakeCubin(spec.kernels);
  ArgSpec bufferA{kArena, 0, 0, 0};
  ArgSpec bufferB{kArena, 0, 32, kHidden * 4};
  StepSpec first = gpuStep(0, {{kInput, 0}, bufferA}, {0, kHidden, 256}, 256);
  first.hasGridY = true;
  first.gridY = {1, 0, 1};
  spec.steps = {first, gpuStep(0, {bufferA, bufferB}, {0, kHidden, 256}, 256),
                gpuStep(1, {bufferB, {kWeight, w}, {kOutput, 0}},
                        {0, kHidden, 128}, 128, 64 * 1024)};
  return spec;
}

ModelSpec cudaGatherModel(const std::vector<float> &table) {
  ModelSpec spec = cudaSpec("sm_80");
  int64_t vocab = static_cast<int64_t>(table.size()) / kHidden;
  spec.inputs = {{"ids", kI64, {-1}}};
  spec.outputs = {{"y", kF32, {-1, kHidden}}};
  addWeight(&spec, "table", kF32, {vocab, kHidden}, table.data(),
            table.size() * sizeof(float));
  addWeight(&spec, "vocab", kI64, {}, &vocab, sizeof(vocab));
  spec.kernels = {"moec_test_gather"};
  spec.binary = fakeCubin(spec.kernels);
  spec.steps = {gpuStep(
      0, {{kInput, 0}, {kWeight, 0}, {kOutput, 0}, {kWeight, 1}}, {0, 1, 32},
      32)};
  return spec;
}

} // namespace moert::test
