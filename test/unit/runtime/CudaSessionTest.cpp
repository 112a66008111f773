//===- CudaSessionTest.cpp - The CUDA executor against a fake driver ------===//
//
// MOERT_LIBCUDA points libmoert at FakeCudaDriver.cpp's shared object, whose
// kernels run on the host. Results are compared with direct double-precision
// computations (one float32 rounding per output element, as in
// SessionTest.cpp); launches, grids, arguments, graph captures and device
// memory are read back from the fake's records.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/CudaTestModels.h"
#include "test/unit/runtime/FakeCudaDriver.h"
#include "test/unit/runtime/FakeCudaFixture.h"
#include "test/unit/runtime/TestUtil.h"

#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <random>

namespace moert::test {
namespace {

void expectClose(const std::vector<float> &got,
                 const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], std::fabs(want[i]) * 6e-8 + 1e-30)
        << "element " << i;
}

class CudaSession : public FakeCudaTest {
protected:

  /// Loads `spec` and creates a session; the creation status goes to
  /// `*created` when given, else must be OK.
  SessionPtr open(const ModelSpec &spec, int64_t maxTokens = 64,
                  bool graphs = true, std::unique_ptr<Status> *created = nullptr) {
    std::unique_ptr<Status> status;
    model = loadBuffer(buildFile(spec), &status);
    EXPECT_TRUE(status->ok()) << status->message();
    if (!model)
      return nullptr;
    moert_session_options_t options;
    moert_session_options_initialize(&options);
    EXPECT_EQ(options.cuda_device, 0);
    EXPECT_EQ(options.cuda_graphs, 1);
    options.max_tokens = maxTokens;
    options.cuda_graphs = graphs ? 1 : 0;
    moert_session_t *session = nullptr;
    auto result = std::make_unique<Status>(
        moert_session_create(model.get(), &options, &session));
    if (created)
      *created = std::move(result);
    else
      EXPECT_TRUE(result->ok()) << result->message();
    return SessionPtr(session);
  }

  /// Runs a (T, 16) -> (T, 16) float model.
  std::unique_ptr<Status> runFloat(moert_session_t *session,
                                   std::vector<float> &x, std::vector<float> &y,
                                   int64_t tokens) {
    int64_t dims[] = {tokens, kHidden};
    moert_tensor_t input = {x.data(), MOERT_DTYPE_F32, 2, dims,
                            x.size() * sizeof(float)};
    moert_tensor_t output = {y.data(), MOERT_DTYPE_F32, 2, dims,
                             y.size() * sizeof(float)};
    return std::make_unique<Status>(
        moert_session_run(session, &input, 1, &output, 1));
  }

  ModelPtr model;
};

TEST(CudaNoDriver, SessionCreationFailsWithAClearMessage) {
  ModelSpec spec = cudaAddWeightModel(std::vector<float>(kHidden, 1.0f));
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  moert_session_t *session = nullptr;
  setenv("MOERT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  EXPECT_STATUS(Status(moert_session_create(model.get(), nullptr, &session)),
                MOERT_FAILED_PRECONDITION,
                "model.moe: cannot load the CUDA driver "
                "'/nonexistent/libcuda.so.1' named by MOERT_LIBCUDA");
  EXPECT_EQ(session, nullptr);
  unsetenv("MOERT_LIBCUDA");
  // The default library: on a machine without a driver this is the
  // message a user sees.
  void *real = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (real != nullptr) {
    dlclose(real);
    GTEST_SKIP() << "libcuda.so.1 is installed here";
  }
  EXPECT_STATUS(Status(moert_session_create(model.get(), nullptr, &session)),
                MOERT_FAILED_PRECONDITION,
                "model.moe: libcuda.so.1 not found: no NVIDIA driver on this "
                "machine");
  // Host artifacts still run without a driver.
  ModelPtr host = loadBuffer(buildFile(addWeightModel(std::vector<float>(
                                 kHidden, 1.0f))),
                             &status);
  ASSERT_TRUE(status->ok()) << status->message();
  EXPECT_TRUE(Status(moert_session_create(host.get(), nullptr, &session)).ok());
  moert_session_release(session);
}

TEST_F(CudaSession, AddWeightRunsWithGraphsPerTokenCount) {
  std::vector<float> w = randomFloats(kHidden, 1);
  SessionPtr session = open(cudaAddWeightModel(w), 64);
  ASSERT_TRUE(session);
  // Weights uploaded once, at creation.
  EXPECT_EQ(fake->hostToDeviceCopies, 1);
  const int64_t runs[] = {3, 9, 3, 64, 9};
  for (size_t r = 0; r < 5; ++r) {
    int64_t tokens = runs[r];
    std::vector<float> x = randomFloats(tokens * kHidden, 10 + r);
    std::vector<float> y(tokens * kHidden, NAN);
    auto status = runFloat(session.get(), x, y, tokens);
    ASSERT_TRUE(status->ok()) << status->message();
    std::vector<double> want(y.size());
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < kHidden; ++h)
        want[t * kHidden + h] = double(x[t * kHidden + h]) + double(w[h]);
    expectClose(y, want);
    const FakeLaunch &launch = fake->launches.back();
    EXPECT_TRUE(launch.fromGraph);
    EXPECT_EQ(launch.tokens, tokens);
    // ceil(16 T / 128)
    EXPECT_EQ(launch.gridX, static_cast<unsigned>((16 * tokens + 127) / 128));
    EXPECT_EQ(launch.gridY, 1u);
    EXPECT_EQ(launch.blockX, 128u);
    EXPECT_EQ(launch.sharedBytes, 0u);
    for (int slot : {0, 1, 2, 23})
      EXPECT_NE(launch.ptr[slot], nullptr) << "slot " << slot;
    for (int slot = 3; slot < 23; ++slot)
      EXPECT_EQ(launch.ptr[slot], nullptr) << "slot " << slot;
  }
  // Captured once per distinct T (3, 9, 64), replayed on every run.
  EXPECT_EQ(fake->captures, 3);
  EXPECT_EQ(fake->instantiations, 3);
  EXPECT_EQ(fake->graphLaunches, 5);
  EXPECT_EQ(fake->launches.size(), 5u);
  EXPECT_EQ(fake->launchCalls, 3); // only during the captures
  // Weights were not uploaded again; inputs were copied once per run.
  EXPECT_EQ(fake->hostToDeviceCopies, 1 + 5);
  session.reset();
  EXPECT_EQ(fake->liveAllocations, 0);
  EXPECT_EQ(fake->liveModules, 0);
  EXPECT_EQ(fake->liveStreams, 0);
  EXPECT_EQ(fake->liveContexts, 0);
  EXPECT_EQ(fake->graphExecDestroys, 3);
}

// Two variants of one kernel for disjoint token-count buckets (as the
// compiler writes a decode and a prefill tile): each T launches exactly the
// variant whose range holds it, and the result is the same.
TEST_F(CudaSession, TokenBucketVariantsLaunchOnlyForTheirRange) {
  std::vector<float> w = randomFloats(kHidden, 7);
  ModelSpec spec = cudaAddWeightModel(w);
  StepSpec decode = spec.steps[0], prefill = spec.steps[0];
  decode.maxTokens = 8;
  prefill.minTokens = 9;
  prefill.blockX = 256; // tells the two apart in the fake driver's log
  spec.steps = {decode, prefill};
  SessionPtr session = open(spec, 64);
  ASSERT_TRUE(session);
  for (int64_t tokens : {1, 8, 9, 40}) {
    std::vector<float> x = randomFloats(tokens * kHidden, 100 + tokens);
    std::vector<float> y(tokens * kHidden, NAN);
    size_t before = fake->launches.size();
    auto status = runFloat(session.get(), x, y, tokens);
    ASSERT_TRUE(status->ok()) << status->message();
    ASSERT_EQ(fake->launches.size(), before + 1) << "T=" << tokens;
    EXPECT_EQ(fake->launches.back().blockX, tokens <= 8 ? 128u : 256u) << "T=" << tokens;
    std::vector<double> want(y.size());
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < kHidden; ++h)
        want[t * kHidden + h] = double(x[t * kHidden + h]) + double(w[h]);
    expectClose(y, want);
  }
}

TEST_F(CudaSession, GraphCacheEvictsLeastRecentlyUsed) {
  std::vector<float> w = randomFloats(kHidden, 2);
  SessionPtr session = open(cudaAddWeightModel(w), 32);
  ASSERT_TRUE(session);
  auto runAt = [&](int64_t tokens) {
    std::vector<float> x = randomFloats(tokens * kHidden, 50 + tokens);
    std::vector<float> y(tokens * kHidden, NAN);
    auto status = runFloat(session.get(), x, y, tokens);
    ASSERT_TRUE(status->ok()) << status->message();
    EXPECT_EQ(y[0], x[0] + w[0]);
    EXPECT_EQ(y.back(), x.back() + w[kHidden - 1]);
  };
  for (int64_t tokens = 1; tokens <= 16; ++tokens)
    runAt(tokens);
  EXPECT_EQ(fake->captures, 16);
  runAt(1);  // cached: 1 is now the most recent, 2 the least
  EXPECT_EQ(fake->captures, 16);
  runAt(17); // evicts T=2
  EXPECT_EQ(fake->captures, 17);
  EXPECT_EQ(fake->graphExecDestroys, 1);
  runAt(1); // still cached
  EXPECT_EQ(fake->captures, 17);
  runAt(2); // was evicted: captured again
  EXPECT_EQ(fake->captures, 18);
  EXPECT_EQ(fake->graphExecDestroys, 2);
}

TEST_F(CudaSession, ArenaOffsetsSharedMemoryOptInAndNoGraphs) {
  std::vector<float> w = randomFloats(kHidden, 3);
  for (bool graphs : {true, false}) {
    fake->reset();
    SessionPtr session = open(cudaArenaModel(w), 9, graphs);
    ASSERT_TRUE(session);
    // 64 KiB of dynamic shared memory needs the opt-in on that kernel only.
    ASSERT_EQ(fake->sharedOptIns.size(), 1u);
    EXPECT_EQ(fake->sharedOptIns[0].first, "moec_test_add_weight");
    EXPECT_EQ(fake->sharedOptIns[0].second, 64 * 1024);
    for (int64_t tokens : {1, 5, 9, 5}) {
      size_t before = fake->launches.size();
      std::vector<float> x = randomFloats(tokens * kHidden, 200 + tokens);
      std::vector<float> y(tokens * kHidden, NAN);
      auto status = runFloat(session.get(), x, y, tokens);
      ASSERT_TRUE(status->ok()) << status->message();
      std::vector<double> want(y.size());
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t h = 0; h < kHidden; ++h)
          want[t * kHidden + h] = 4.0 * x[t * kHidden + h] + w[h];
      expectClose(y, want);
      ASSERT_EQ(fake->launches.size(), before + 3);
      const FakeLaunch *steps = &fake->launches[before];
      for (int s = 0; s < 3; ++s)
        EXPECT_EQ(steps[s].fromGraph, graphs);
      // Step 0 writes A (arena + 0), step 1 reads A and writes B at
      // arena + 32 + 64 T: the same device addresses the steps share.
      auto *a = static_cast<char *>(steps[0].ptr[1]);
      EXPECT_EQ(steps[1].ptr[0], a);
      EXPECT_EQ(static_cast<char *>(steps[1].ptr[1]), a + 32 + 64 * tokens);
      EXPECT_EQ(steps[2].ptr[0], steps[1].ptr[1]);
      // The weight keeps its offset (64) from the single weight upload.
      EXPECT_EQ(reinterpret_cast<uintptr_t>(steps[2].ptr[1]) % 64, 0u);
      EXPECT_EQ(steps[0].gridX, static_cast<unsigned>((16 * tokens + 255) / 256));
      EXPECT_EQ(steps[2].sharedBytes, 64u * 1024);
      EXPECT_EQ(steps[0].ptr[23], steps[2].ptr[23]);
    }
    EXPECT_EQ(fake->captures, graphs ? 3 : 0);
  }
}

TEST_F(CudaSession, ZeroTokensSkipsZeroBlockLaunches) {
  SessionPtr session = open(cudaAddWeightModel(randomFloats(kHidden, 4)), 8);
  ASSERT_TRUE(session);
  std::vector<float> x, y;
  auto status = runFloat(session.get(), x, y, 0);
  ASSERT_TRUE(status->ok()) << status->message();
  EXPECT_EQ(fake->launches.size(), 0u);
  EXPECT_EQ(fake->launchCalls, 0);
}

TEST_F(CudaSession, StatusWordNamesTheFailingStep) {
  const int64_t vocab = 5;
  std::vector<float> table = randomFloats(vocab * kHidden, 5);
  for (bool graphs : {true, false}) {
    fake->reset();
    SessionPtr session = open(cudaGatherModel(table), 16, graphs);
    ASSERT_TRUE(session);
    std::vector<int64_t> ids = {4, 0, 2, 2, 1, 3};
    int64_t tokens = static_cast<int64_t>(ids.size());
    std::vector<float> y(tokens * kHidden, NAN);
    int64_t idDims[] = {tokens};
    int64_t outDims[] = {tokens, kHidden};
    moert_tensor_t input = {ids.data(), MOERT_DTYPE_I64, 1, idDims,
                            ids.size() * sizeof(int64_t)};
    moert_tensor_t output = {y.data(), MOERT_DTYPE_F32, 2, outDims,
                             y.size() * sizeof(float)};
    Status ok(moert_session_run(session.get(), &input, 1, &output, 1));
    ASSERT_TRUE(ok.ok()) << ok.message();
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < kHidden; ++h)
        ASSERT_EQ(y[t * kHidden + h], table[ids[t] * kHidden + h]);
    ids[3] = vocab;
    EXPECT_STATUS(
        Status(moert_session_run(session.get(), &input, 1, &output, 1)),
        MOERT_INTERNAL,
        "model.moe: step 0 (kernel 'moec_test_gather') reported error 3");
    ids[3] = 1; // the status word is cleared before every run
    Status again(moert_session_run(session.get(), &input, 1, &output, 1));
    EXPECT_TRUE(again.ok()) << again.message();
  }
}

TEST_F(CudaSession, ArchitectureMismatchIsAPrecondition) {
  std::vector<float> w = randomFloats(kHidden, 6);
  std::unique_ptr<Status> created;
  fake->ccMajor = 8, fake->ccMinor = 0;
  SessionPtr session =
      open(cudaAddWeightModel(w, "sm_90a"), 8, true, &created);
  EXPECT_FALSE(session);
  EXPECT_STATUS(*created, MOERT_FAILED_PRECONDITION,
                "model.moe: artifact built for sm_90a, this GPU is sm_80 "
                "(Fake A100, device 0)");
  fake->ccMajor = 9, fake->ccMinor = 0;
  session = open(cudaAddWeightModel(w, "sm_86"), 8, true, &created);
  EXPECT_STATUS(*created, MOERT_FAILED_PRECONDITION,
                "artifact built for sm_86, this GPU is sm_90");
  fake->ccMajor = 8, fake->ccMinor = 6; // sm_80 code runs on 8.6
  session = open(cudaAddWeightModel(w, "sm_80"), 8, true, &created);
  EXPECT_TRUE(created->ok()) << created->message();
  EXPECT_TRUE(session);
  session.reset();
  EXPECT_EQ(fake->liveContexts, 0);
}

TEST_F(CudaSession, DriverAndDeviceFailures) {
  std::vector<float> w = randomFloats(kHidden, 7);
  std::unique_ptr<Status> created;
  fake->initResult = 100;
  open(cudaAddWeightModel(w), 8, true, &created);
  EXPECT_STATUS(*created, MOERT_FAILED_PRECONDITION,
                "model.moe: no CUDA GPU: cuInit failed with "
                "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)");
  fake->reset();
  fake->deviceCount = 0;
  open(cudaAddWeightModel(w), 8, true, &created);
  EXPECT_STATUS(*created, MOERT_FAILED_PRECONDITION,
                "no CUDA GPU: the driver reports 0 devices");
  fake->reset();
  ModelSpec spec = cudaAddWeightModel(w);
  spec.binary = fakeCubin({"something_else"});
  open(spec, 8, true, &created);
  EXPECT_STATUS(*created, MOERT_NOT_FOUND,
                "kernel 0: symbol 'moec_test_add_weight' not found in the cubin");
  fake->reset();
  fake->maxSharedOptin = 48 * 1024; // a GPU without the large opt-in
  open(cudaArenaModel(w), 8, true, &created);
  EXPECT_STATUS(*created, MOERT_FAILED_PRECONDITION,
                "step 2 (kernel 'moec_test_add_weight') needs 65536 bytes of "
                "shared memory per block; Fake A100 allows 49152");
  fake->reset();
  fake->maxGridX = 4; // ceil(16 * 64 / 128) = 8 blocks at max_tokens
  open(cudaAddWeightModel(w), 64, true, &created);
  EXPECT_STATUS(*created, MOERT_INVALID_ARGUMENT,
                "at max_tokens 64 the grid is 8 x 1 blocks, above this GPU's "
                "limit of 4 x 65535");
  EXPECT_EQ(fake->liveAllocations + fake->liveModules + fake->liveContexts +
                fake->liveStreams,
            0);
}

TEST_F(CudaSession, NotEnoughDeviceMemoryReportsNeededAndFree) {
  std::vector<float> w = randomFloats(kHidden, 8);
  std::unique_ptr<Status> created;
  fake->totalBytes = 4096;
  // 1 << 20 tokens of (T, 16) float32 in and out: 128 MiB of staging.
  open(cudaAddWeightModel(w), 1 << 20, true, &created);
  EXPECT_STATUS(*created, MOERT_RESOURCE_EXHAUSTED,
                "model.moe: not enough device memory on Fake A100: needs "
                "134218240 bytes (weights 256, inputs/outputs/arena for "
                "max_tokens 1048576 134217984), 4096 of 4096 bytes free");
  EXPECT_EQ(fake->liveAllocations, 0);
}

TEST_F(CudaSession, LaunchFailureDuringCaptureLeavesTheStreamUsable) {
  std::vector<float> w = randomFloats(kHidden, 9);
  SessionPtr session = open(cudaArenaModel(w), 8);
  ASSERT_TRUE(session);
  fake->failLaunchCall = 1; // step 1 of the first capture
  std::vector<float> x = randomFloats(4 * kHidden, 90), y(4 * kHidden);
  auto status = runFloat(session.get(), x, y, 4);
  EXPECT_STATUS(*status, MOERT_INTERNAL,
                "model.moe: launching step 1 (kernel 'moec_test_scale2') with "
                "grid 1 x 1, block 256, 0 bytes of shared memory failed: "
                "CUDA_ERROR_LAUNCH_FAILED");
  EXPECT_EQ(fake->graphDestroys, 1); // the partial graph
  EXPECT_EQ(fake->instantiations, 0);
  status = runFloat(session.get(), x, y, 4);
  ASSERT_TRUE(status->ok()) << status->message();
  for (int64_t i = 0; i < 4 * kHidden; ++i)
    EXPECT_NEAR(y[i], 4.0 * x[i] + w[i % kHidden],
                std::fabs(4.0 * x[i] + w[i % kHidden]) * 6e-8);
}

TEST_F(CudaSession, RunChecksInputsBeforeTouchingTheDevice) {
  SessionPtr session = open(cudaAddWeightModel(randomFloats(kHidden, 10)), 4);
  ASSERT_TRUE(session);
  std::vector<float> x = randomFloats(5 * kHidden, 11), y(5 * kHidden);
  auto status = runFloat(session.get(), x, y, 5);
  EXPECT_STATUS(*status, MOERT_FAILED_PRECONDITION,
                "T=5 exceeds the session's max_tokens (4)");
  EXPECT_EQ(fake->hostToDeviceCopies, 1); // the weights only
}

} // namespace
} // namespace moert::test
