//===- LoaderTest.cpp - Loading and verifying artifacts -------------------===//
//
// Each test breaks a valid artifact in exactly one way and expects the
// loader's error to say which part is wrong.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/ArtifactBuilder.h"
#include "test/unit/runtime/TestUtil.h"

#include "runtime/format/Container.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace moert::test {
namespace {

std::vector<float> someWeights() {
  std::vector<float> w(kHidden);
  for (int64_t i = 0; i < kHidden; ++i)
    w[i] = 0.25f * static_cast<float>(i) - 1.5f;
  return w;
}

// Loads `spec` and expects failure with `code` and `text`.
void expectLoadError(const ModelSpec &spec, moert_status_code_t code,
                     const std::string &text) {
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  EXPECT_EQ(model, nullptr);
  EXPECT_STATUS(*status, code, "model.moe: " + text);
}

TEST(Loader, KernelBinaryIsAvailable) {
  ASSERT_GT(kernelBinary().size(), 64u) << MOERT_TEST_KERNELS_PATH;
}

TEST(Loader, ValidModelIntrospection) {
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(gatherModel(std::vector<float>(48, 1.f))),
                              &status);
  ASSERT_TRUE(status->ok()) << status->message();
  EXPECT_STREQ(moert_model_name(model.get()), "model.moe");
  EXPECT_STREQ(moert_model_target(model.get()), "host");
  EXPECT_STREQ(moert_model_producer(model.get()), "moert-tests");
  EXPECT_STREQ(moert_model_source(model.get()), "test.onnx");
  ASSERT_EQ(moert_model_input_count(model.get()), 1u);
  ASSERT_EQ(moert_model_output_count(model.get()), 1u);
  moert_tensor_info_t info;
  ASSERT_TRUE(Status(moert_model_input_info(model.get(), 0, &info)).ok());
  EXPECT_STREQ(info.name, "ids");
  EXPECT_EQ(info.dtype, MOERT_DTYPE_I64);
  ASSERT_EQ(info.rank, 1);
  EXPECT_EQ(info.dims[0], -1);
  ASSERT_TRUE(Status(moert_model_output_info(model.get(), 0, &info)).ok());
  EXPECT_STREQ(info.name, "y");
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.dims[1], kHidden);
  EXPECT_STATUS(Status(moert_model_output_info(model.get(), 1, &info)),
                MOERT_INVALID_ARGUMENT, "output index 1 out of range");
  size_t index = 99;
  EXPECT_TRUE(Status(moert_model_find_input(model.get(), "ids", &index)).ok());
  EXPECT_EQ(index, 0u);
  EXPECT_STATUS(Status(moert_model_find_input(model.get(), "nope", &index)),
                MOERT_NOT_FOUND, "no input named 'nope' (the model has 'ids')");
  EXPECT_EQ(moert_model_weight_count(model.get()), 2u);
  EXPECT_EQ(moert_model_weight_bytes(model.get()), 48u * 4 + 8);
  EXPECT_EQ(moert_model_kernel_count(model.get()), 1u);
  EXPECT_EQ(moert_model_step_count(model.get()), 1u);
}

TEST(Loader, ArenaSizeIsReported) {
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(arenaModel(someWeights())), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  int64_t base = -1, perToken = -1;
  moert_model_arena_size(model.get(), &base, &perToken);
  EXPECT_EQ(base, 32);
  EXPECT_EQ(perToken, 128);
}

TEST(Loader, LoadsFromFileAndReportsMissingFile) {
  std::vector<uint8_t> file = buildFile(addWeightModel(someWeights()));
  char path[] = "/tmp/moert-loader-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, file.data(), file.size()),
            static_cast<ssize_t>(file.size()));
  close(fd);
  moert_model_t *model = nullptr;
  Status ok(moert_model_load_file(path, &model));
  EXPECT_TRUE(ok.ok()) << ok.message();
  EXPECT_STREQ(moert_model_name(model), path);
  moert_model_release(model);
  unlink(path);

  model = nullptr;
  Status missing(moert_model_load_file(path, &model));
  EXPECT_STATUS(missing, MOERT_NOT_FOUND, std::string(path) + ": cannot open");
  EXPECT_EQ(model, nullptr);
  Status directory(moert_model_load_file("/tmp", &model));
  EXPECT_STATUS(directory, MOERT_INVALID_ARGUMENT, "/tmp: ");
}

TEST(Loader, BufferModesHandleAnyAlignment) {
  std::vector<uint8_t> file = buildFile(addWeightModel(someWeights()));
  // Place the image at every offset mod 64 in a larger block: borrowed when
  // aligned, copied otherwise; both must load.
  std::vector<uint8_t> block(file.size() + 128);
  uint8_t *aligned = reinterpret_cast<uint8_t *>(
      (reinterpret_cast<uintptr_t>(block.data()) + 63) & ~uintptr_t(63));
  for (size_t shift : {0, 1, 8, 32}) {
    std::memcpy(aligned + shift, file.data(), file.size());
    for (moert_buffer_mode_t mode : {MOERT_BUFFER_COPY, MOERT_BUFFER_BORROW}) {
      moert_model_t *model = nullptr;
      Status status(moert_model_load_buffer(aligned + shift, file.size(), nullptr,
                                            mode, &model));
      EXPECT_TRUE(status.ok()) << shift << ": " << status.message();
      moert_model_release(model);
    }
  }
  moert_model_t *model = nullptr;
  EXPECT_STATUS(Status(moert_model_load_buffer(nullptr, 10, nullptr,
                                               MOERT_BUFFER_COPY, &model)),
                MOERT_INVALID_ARGUMENT, "<buffer>: data is NULL");
  EXPECT_STATUS(Status(moert_model_load_buffer(file.data(), file.size(), "m",
                                               (moert_buffer_mode_t)7, &model)),
                MOERT_INVALID_ARGUMENT, "invalid mode 7");
  EXPECT_STATUS(Status(moert_model_load_file(nullptr, &model)),
                MOERT_INVALID_ARGUMENT, "path is NULL");
}

TEST(Loader, ContainerErrorsNameTheFile) {
  std::vector<uint8_t> file = buildFile(addWeightModel(someWeights()));
  std::vector<uint8_t> bad = file;
  bad[1] = 'X';
  std::unique_ptr<Status> status;
  loadBuffer(bad, &status);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS, "model.moe: not a moec artifact");
  bad = file;
  bad[8] = 9;
  loadBuffer(bad, &status);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS, "model.moe: container version 9");
  loadBuffer(std::vector<uint8_t>(), &status);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS, "model.moe: file is 0 bytes");
}

TEST(Loader, EveryTruncationIsAnError) {
  std::vector<uint8_t> file = buildFile(gatherModel(std::vector<float>(64, 1.f)));
  // Every cut in the header and the first KiB, every 61st byte after, and
  // every cut in the last 512 bytes: the end of the payload, the padding and
  // the whole weights segment (256 + 64 bytes).
  for (size_t cut = 0; cut < file.size();
       cut += cut < 1024 || cut + 512 >= file.size() ? 1 : 61) {
    std::vector<uint8_t> truncated(file.begin(), file.begin() + cut);
    std::unique_ptr<Status> status;
    ModelPtr model = loadBuffer(truncated, &status);
    EXPECT_EQ(model, nullptr) << "cut " << cut;
    EXPECT_EQ(status->code(), MOERT_DATA_LOSS) << "cut " << cut;
    EXPECT_NE(status->message().find("(truncated?)"), std::string::npos)
        << "cut " << cut << ": " << status->message();
  }
}

// A flipped bit anywhere must give an error: the checksums catch payload
// and weight flips (for a small model the weights are checked at load), the
// header checks catch the rest.
TEST(Loader, EverySingleBitFlipIsAnError) {
  ModelSpec spec = gatherModel(std::vector<float>(32, 0.5f));
  spec.binary = {1, 2, 3, 4}; // keep the artifact small
  std::vector<uint8_t> file = buildFile(spec);
  ASSERT_LT(file.size(), 4096u);
  uint64_t weightsOffset = 0;
  std::memcpy(&weightsOffset, file.data() + 32, 8); // little-endian host
  ASSERT_EQ(file.size() - weightsOffset, 192u); // table 128 + vocab 8, padded
  for (size_t byte = 0; byte < file.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> flipped = file;
      flipped[byte] ^= static_cast<uint8_t>(1u << bit);
      std::unique_ptr<Status> status;
      ModelPtr model = loadBuffer(flipped, &status);
      ASSERT_EQ(model, nullptr) << "byte " << byte << " bit " << bit;
      ASSERT_EQ(status->code(), MOERT_DATA_LOSS) << status->message();
      if (byte >= weightsOffset)
        ASSERT_NE(status->message().find("weights checksum mismatch"),
                  std::string::npos)
            << status->message();
    }
}

// The structural checks must hold on their own, without the checksum:
// re-wrap each bit-flipped payload with a fresh checksum. The loader may
// accept a flip that keeps the model valid (e.g. in weight values), but must
// never crash, and what it accepts must be consistent.
TEST(Loader, StructureIsVerifiedIndependentlyOfTheChecksum) {
  ModelSpec spec = gatherModel(std::vector<float>(32, 0.5f));
  spec.binary = {1, 2, 3, 4};
  std::vector<uint8_t> payload = buildPayload(spec);
  auto rewrap = [&](const std::vector<uint8_t> &bytes) {
    return format::wrap(bytes.data(), bytes.size(), spec.weightData.data(),
                        spec.weightData.size());
  };
  size_t accepted = 0, rejected = 0;
  for (size_t byte = 0; byte < payload.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> flipped = payload;
      flipped[byte] ^= static_cast<uint8_t>(1u << bit);
      std::vector<uint8_t> file = rewrap(flipped);
      std::unique_ptr<Status> status;
      ModelPtr model = loadBuffer(file, &status);
      if (!model) {
        ++rejected;
        EXPECT_EQ(status->message().rfind("model.moe: ", 0), 0u)
            << status->message();
        continue;
      }
      ++accepted;
      // Whatever was accepted is internally consistent.
      for (size_t i = 0; i < moert_model_input_count(model.get()); ++i) {
        moert_tensor_info_t info;
        ASSERT_TRUE(Status(moert_model_input_info(model.get(), i, &info)).ok());
        ASSERT_NE(moert_dtype_size(info.dtype), 0u);
      }
    }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u); // e.g. flips inside names or the binary
}

TEST(Loader, RejectsWrongFileIdentifierAndBadStructure) {
  ModelSpec spec = addWeightModel(someWeights());
  std::vector<uint8_t> payload = buildPayload(spec);
  std::vector<uint8_t> bad = payload;
  std::memcpy(bad.data() + 4, "XXXX", 4);
  auto rewrap = [&](const std::vector<uint8_t> &bytes) {
    return format::wrap(bytes.data(), bytes.size(), spec.weightData.data(),
                        spec.weightData.size());
  };
  std::vector<uint8_t> file = rewrap(bad);
  std::unique_ptr<Status> status;
  loadBuffer(file, &status);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS, "file identifier is not 'MOE1'");

  bad = payload;
  bad[0] = 0xf0; // root offset points far outside the payload
  bad[1] = 0xff;
  file = rewrap(bad);
  loadBuffer(file, &status);
  EXPECT_STATUS(*status, MOERT_DATA_LOSS, "FlatBuffers verification failed");
}

TEST(Loader, SchemaVersion) {
  ModelSpec spec = addWeightModel(someWeights());
  spec.schemaVersion = 3;
  expectLoadError(spec, MOERT_UNIMPLEMENTED,
                  "schema version 3 is newer than this runtime supports (2)");
  spec.schemaVersion = 0;
  expectLoadError(spec, MOERT_DATA_LOSS, "schema version 0 is invalid");
}

TEST(Loader, SignatureChecks) {
  ModelSpec spec = addWeightModel(someWeights());
  spec.inputs[0].dtype = 42;
  expectLoadError(spec, MOERT_DATA_LOSS, "input 0 'x': invalid dtype 42");
  spec = addWeightModel(someWeights());
  spec.outputs[0].dtype = -1;
  expectLoadError(spec, MOERT_DATA_LOSS, "output 0 'y': invalid dtype -1");
  spec = addWeightModel(someWeights());
  spec.inputs[0].dims = {-1, -2};
  expectLoadError(spec, MOERT_DATA_LOSS, "input 0 'x': dim 1 is -2");
  spec = addWeightModel(someWeights());
  spec.inputs[0].name = "";
  expectLoadError(spec, MOERT_DATA_LOSS, "input 0: name is empty");
  spec = addWeightModel(someWeights());
  spec.inputs.push_back(spec.inputs[0]);
  expectLoadError(spec, MOERT_DATA_LOSS, "input 1 'x': duplicate input name");
  spec = addWeightModel(someWeights());
  spec.inputs[0].dims = {INT64_MAX / 2, 4};
  expectLoadError(spec, MOERT_DATA_LOSS, "input 0 'x': element count overflows");
  spec = addWeightModel(someWeights());
  spec.inputs[0].dims = {4, kHidden};
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "output 'y' has a token dimension but no input has one");
}

TEST(Loader, WeightChecks) {
  ModelSpec spec = addWeightModel(someWeights());
  spec.weights[0].offset = 64;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 0 'w': bytes [64, 128) lie outside the weights "
                  "segment (64 bytes)");
  spec = addWeightModel(someWeights());
  spec.weights[0].offset = 4;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 0 'w': offset 4 is not a multiple of 64");
  spec = addWeightModel(someWeights());
  spec.weights[0].size = 60;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 0 'w': size 60 bytes does not match its dims and "
                  "dtype (64 bytes)");
  spec = addWeightModel(someWeights());
  spec.weights[0].dtype = 9;
  expectLoadError(spec, MOERT_DATA_LOSS, "weight 0 'w': invalid dtype 9");
  spec = addWeightModel(someWeights());
  spec.weights[0].dims = {-1};
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 0 'w': dim 0 is -1 (weights have static dims)");
  spec = addWeightModel(someWeights());
  spec.weights[0].offset = UINT64_MAX - 63;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 0 'w': offset 18446744073709551552 + size 64 "
                  "overflows");
  spec = addWeightModel(someWeights());
  spec.weights[0].dims = {INT64_MAX, INT64_MAX};
  expectLoadError(spec, MOERT_DATA_LOSS, "weight 0 'w': element count overflows");
}

TEST(Loader, WeightsMustNotOverlap) {
  // table: 8 rows of 16 floats at [0, 512); vocab: 8 bytes at [512, 520).
  ModelSpec spec = gatherModel(std::vector<float>(8 * kHidden, 0.5f));
  ASSERT_EQ(spec.weights[1].offset, 512u);
  spec.weights[1].offset = 448;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 1 'vocab': bytes [448, 456) overlap weight 0 "
                  "'table' at [0, 512)");
  // Two weights at the same offset: the later one in the list is named.
  spec = gatherModel(std::vector<float>(8 * kHidden, 0.5f));
  spec.weights[1].offset = 0;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "weight 1 'vocab': bytes [0, 8) overlap weight 0 'table' "
                  "at [0, 512)");
  // Adjacent ranges and empty weights share no byte.
  spec = gatherModel(std::vector<float>(8 * kHidden, 0.5f));
  spec.weights.push_back({"empty", kF32, {0}, 64, 0});
  std::unique_ptr<Status> status;
  EXPECT_NE(loadBuffer(buildFile(spec), &status), nullptr) << status->message();
}

TEST(Loader, StepChecks) {
  ModelSpec spec = addWeightModel(someWeights());
  spec.steps[0].kernel = 3;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0: kernel index 3 out of range (1 kernels)");
  spec = addWeightModel(someWeights());
  spec.steps[0].args[1].index = 9;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0 arg 1: weight index 9 out of range (1 weights)");
  spec = addWeightModel(someWeights());
  spec.steps[0].args[0].index = 1;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0 arg 0: input index 1 out of range (1 inputs)");
  spec = addWeightModel(someWeights());
  spec.steps[0].args[2].index = 5;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 0 arg 2: output index 5 out of range (1 outputs)");
  spec = addWeightModel(someWeights());
  spec.steps[0].args[2].kind = 4;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0 arg 2: invalid arg kind 4");
}

TEST(Loader, ArenaChecks) {
  ModelSpec spec = arenaModel(someWeights());
  spec.steps[1].args[1].base = 33; // arena base is 32
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "step 1 arg 1: arena offset (33 + 64*T) lies outside the "
                  "arena (32 + 128*T bytes)");
  spec = arenaModel(someWeights());
  spec.steps[1].args[1].perToken = 129;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 1 arg 1: arena offset");
  spec = arenaModel(someWeights());
  spec.steps[0].args[1].base = -8;
  expectLoadError(spec, MOERT_DATA_LOSS, "step 0 arg 1: arena offset (-8 + 0*T) "
                                         "is negative");
  spec = arenaModel(someWeights());
  spec.arenaPerToken = -1;
  expectLoadError(spec, MOERT_DATA_LOSS, "arena size (32 + -1*T bytes) is "
                                         "negative");
}

TEST(Loader, BinaryChecks) {
  ModelSpec spec = addWeightModel(someWeights());
  spec.binaryFormat = "cubin";
  expectLoadError(spec, MOERT_UNIMPLEMENTED,
                  "binary format 'cubin' is not known for target 'host'");
  spec = addWeightModel(someWeights());
  spec.hasBinary = false;
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "the model has 1 kernel(s) but no binary");
  spec = addWeightModel(someWeights());
  spec.kernels[0] = "";
  expectLoadError(spec, MOERT_DATA_LOSS, "kernel 0: symbol is empty");
  spec = addWeightModel(someWeights());
  spec.kernels[0] = std::string("moert_test_add_weight\0x", 23);
  expectLoadError(spec, MOERT_DATA_LOSS,
                  "kernel 0: symbol is empty or contains a NUL byte");
  spec = addWeightModel(someWeights());
  spec.target = "";
  expectLoadError(spec, MOERT_DATA_LOSS, "target is missing");
}

} // namespace
} // namespace moert::test
