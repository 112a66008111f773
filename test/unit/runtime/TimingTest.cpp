//===- TimingTest.cpp - Weight introspection and run timing ---------------===//
//
// moert_model_weight_info, moert_session_enable_timing and
// moert_session_last_run_timing (the API moec-bench builds on). CUDA
// sessions run against FakeCudaDriver.cpp, whose events read a virtual
// clock that kernels and copies advance by fixed amounts: a correct
// placement of the events gives exactly known times, a misplaced one (an
// event inside the graph, the input copies counted as steps, capture time
// counted) gives different ones.
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

SessionPtr openSession(const ModelSpec &spec, ModelPtr *model,
                       int64_t maxTokens, bool graphs = true) {
  std::unique_ptr<Status> status;
  *model = loadBuffer(buildFile(spec), &status);
  EXPECT_TRUE(status->ok()) << status->message();
  if (!*model)
    return nullptr;
  moert_session_options_t options;
  moert_session_options_initialize(&options);
  options.max_tokens = maxTokens;
  options.cuda_graphs = graphs ? 1 : 0;
  moert_session_t *session = nullptr;
  Status created(moert_session_create(model->get(), &options, &session));
  EXPECT_TRUE(created.ok()) << created.message();
  return SessionPtr(session);
}

/// Runs a (T, 16) -> (T, 16) float model on random inputs and checks
/// y = 4x + w (the arena model) so that a timing change cannot hide a
/// broken run.
void runArena(moert_session_t *session, const std::vector<float> &w,
              int64_t tokens, unsigned seed) {
  std::vector<float> x = randomFloats(tokens * kHidden, seed);
  std::vector<float> y(tokens * kHidden, NAN);
  int64_t dims[] = {tokens, kHidden};
  moert_tensor_t input = {x.data(), MOERT_DTYPE_F32, 2, dims,
                          x.size() * sizeof(float)};
  moert_tensor_t output = {y.data(), MOERT_DTYPE_F32, 2, dims,
                           y.size() * sizeof(float)};
  Status status(moert_session_run(session, &input, 1, &output, 1));
  ASSERT_TRUE(status.ok()) << status.message();
  for (int64_t i = 0; i < tokens * kHidden; ++i) {
    double want = 4.0 * x[i] + w[i % kHidden];
    ASSERT_NEAR(y[i], want, std::fabs(want) * 6e-8) << "element " << i;
  }
}

moert_run_timing_t lastTiming(moert_session_t *session) {
  moert_run_timing_t timing{};
  timing.steps_ms = timing.total_ms = -1;
  Status status(moert_session_last_run_timing(session, &timing));
  EXPECT_TRUE(status.ok()) << status.message();
  return timing;
}

TEST(WeightInfo, DescribesEachWeightAndRejectsBadIndices) {
  std::vector<float> w = randomFloats(kHidden, 1);
  std::unique_ptr<Status> status;
  // The CUDA arena model has two weights ("pad" before "w"); introspection
  // needs no driver.
  ModelPtr model = loadBuffer(buildFile(cudaArenaModel(w)), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  ASSERT_EQ(moert_model_weight_count(model.get()), 2u);
  moert_weight_info_t info{};
  ASSERT_TRUE(Status(moert_model_weight_info(model.get(), 1, &info)).ok());
  EXPECT_STREQ(info.name, "w");
  EXPECT_EQ(info.dtype, MOERT_DTYPE_F32);
  ASSERT_EQ(info.rank, 1);
  EXPECT_EQ(info.dims[0], kHidden);
  EXPECT_EQ(info.byte_size, kHidden * sizeof(float));
  ASSERT_TRUE(Status(moert_model_weight_info(model.get(), 0, &info)).ok());
  EXPECT_STREQ(info.name, "pad");
  EXPECT_EQ(info.byte_size, 3 * sizeof(float));
  // The per-weight sizes add up to what moert_model_weight_bytes reports.
  EXPECT_EQ(moert_model_weight_bytes(model.get()), (3 + kHidden) * 4u);
  EXPECT_STATUS(Status(moert_model_weight_info(model.get(), 2, &info)),
                MOERT_INVALID_ARGUMENT,
                "model.moe: weight index 2 out of range (2)");
  EXPECT_STATUS(Status(moert_model_weight_info(nullptr, 0, &info)),
                MOERT_INVALID_ARGUMENT, "moert_model_weight_info: model is NULL");
  EXPECT_STATUS(Status(moert_model_weight_info(model.get(), 0, nullptr)),
                MOERT_INVALID_ARGUMENT, "out_info is NULL");
}

TEST(HostTiming, RecordsOnlyWhileEnabledAndOnlySuccessfulRuns) {
  std::vector<float> w = randomFloats(kHidden, 2);
  ModelPtr model;
  SessionPtr session = openSession(arenaModel(w), &model, 64);
  ASSERT_TRUE(session);
  moert_run_timing_t timing{};
  runArena(session.get(), w, 5, 20);
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), &timing)),
                MOERT_FAILED_PRECONDITION,
                "model.moe: timing is not enabled on this session");
  ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 1)).ok());
  // The run before enabling does not count.
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), &timing)),
                MOERT_FAILED_PRECONDITION, "no run has succeeded");
  for (int64_t tokens : {1, 64}) {
    runArena(session.get(), w, tokens, 30 + tokens);
    timing = lastTiming(session.get());
    EXPECT_EQ(timing.tokens, tokens);
    EXPECT_EQ(timing.clock, MOERT_CLOCK_HOST_MONOTONIC);
    // Three kernel calls take more than the clock's nanosecond resolution.
    EXPECT_GT(timing.steps_ms, 0.0);
    EXPECT_GE(timing.total_ms, timing.steps_ms);
    EXPECT_LT(timing.total_ms, 1000.0);
  }
  // A run that fails (here: wrong input width) leaves no times behind.
  std::vector<float> x(8 * 15, 1.0f), y(8 * 16);
  int64_t badDims[] = {8, 15}, outDims[] = {8, 16};
  moert_tensor_t input = {x.data(), MOERT_DTYPE_F32, 2, badDims,
                          x.size() * sizeof(float)};
  moert_tensor_t output = {y.data(), MOERT_DTYPE_F32, 2, outDims,
                           y.size() * sizeof(float)};
  EXPECT_FALSE(
      Status(moert_session_run(session.get(), &input, 1, &output, 1)).ok());
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), &timing)),
                MOERT_FAILED_PRECONDITION, "since the last failed run");
  ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 0)).ok());
  runArena(session.get(), w, 3, 40);
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), &timing)),
                MOERT_FAILED_PRECONDITION, "timing is not enabled");
  EXPECT_STATUS(Status(moert_session_enable_timing(nullptr, 1)),
                MOERT_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), nullptr)),
                MOERT_INVALID_ARGUMENT, "out_timing is NULL");
}

class CudaTiming : public FakeCudaTest {};

// The arena model launches 3 kernels (0.25 virtual ms each) and copies
// 64 T bytes in and 64 T bytes out at 1e6 bytes per virtual ms. So steps
// take exactly 0.75 ms whatever T is, and the run 0.75 + 128 T / 1e6 ms;
// capture and instantiation (first run at a T) add nothing, since they
// execute no kernel. float holds these values to ~1e-7 relative.
TEST_F(CudaTiming, EventsTimeTheStepsAndTheWholeRunOutsideTheGraph) {
  std::vector<float> w = randomFloats(kHidden, 3);
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "graphs" : "no graphs");
    fake->reset();
    ModelPtr model;
    SessionPtr session = openSession(cudaArenaModel(w), &model, 64, graphs);
    ASSERT_TRUE(session);
    // Without timing no event exists and none is recorded.
    runArena(session.get(), w, 5, 50);
    EXPECT_EQ(fake->liveEvents, 0);
    EXPECT_EQ(fake->eventRecords, 0);
    ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 1)).ok());
    EXPECT_EQ(fake->liveEvents, 4);
    // Enabling twice creates nothing more.
    ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 1)).ok());
    EXPECT_EQ(fake->liveEvents, 4);
    int runs = 0;
    for (int64_t tokens : {5, 17, 17, 64, 5}) {
      runArena(session.get(), w, tokens, 60 + tokens);
      ++runs;
      moert_run_timing_t timing = lastTiming(session.get());
      EXPECT_EQ(timing.tokens, tokens);
      EXPECT_EQ(timing.clock, MOERT_CLOCK_CUDA_EVENTS);
      EXPECT_NEAR(timing.steps_ms, 0.75, 1e-6) << "T=" << tokens;
      EXPECT_NEAR(timing.total_ms, 0.75 + 128.0 * tokens / 1e6, 1e-6)
          << "T=" << tokens;
      EXPECT_EQ(fake->eventRecords, 4 * runs);
    }
    // Recording stops when disabled; the events stay for a later enable.
    ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 0)).ok());
    runArena(session.get(), w, 9, 70);
    EXPECT_EQ(fake->eventRecords, 4 * runs);
    EXPECT_EQ(fake->liveEvents, 4);
    session.reset();
    EXPECT_EQ(fake->liveEvents, 0);
    EXPECT_EQ(fake->liveAllocations, 0);
  }
}

TEST_F(CudaTiming, AKernelErrorLeavesNoTimes) {
  const int64_t vocab = 5;
  std::vector<float> table = randomFloats(vocab * kHidden, 4);
  ModelPtr model;
  SessionPtr session = openSession(cudaGatherModel(table), &model, 16);
  ASSERT_TRUE(session);
  ASSERT_TRUE(Status(moert_session_enable_timing(session.get(), 1)).ok());
  std::vector<int64_t> ids = {4, 0, 2};
  std::vector<float> y(3 * kHidden);
  int64_t idDims[] = {3}, outDims[] = {3, kHidden};
  moert_tensor_t input = {ids.data(), MOERT_DTYPE_I64, 1, idDims,
                          ids.size() * sizeof(int64_t)};
  moert_tensor_t output = {y.data(), MOERT_DTYPE_F32, 2, outDims,
                           y.size() * sizeof(float)};
  ASSERT_TRUE(
      Status(moert_session_run(session.get(), &input, 1, &output, 1)).ok());
  moert_run_timing_t timing = lastTiming(session.get());
  // One kernel; 24 bytes of ids in, 192 bytes out.
  EXPECT_NEAR(timing.steps_ms, 0.25, 1e-6);
  EXPECT_NEAR(timing.total_ms, 0.25 + 216 / 1e6, 1e-6);
  ids[1] = vocab; // out of range: the kernel sets the status word
  EXPECT_STATUS(
      Status(moert_session_run(session.get(), &input, 1, &output, 1)),
      MOERT_INTERNAL, "reported error 3");
  EXPECT_STATUS(Status(moert_session_last_run_timing(session.get(), &timing)),
                MOERT_FAILED_PRECONDITION, "since the last failed run");
}

} // namespace
} // namespace moert::test
