//===- SessionTest.cpp - Creating sessions and running models -------------===//
//
// Results are compared with a direct computation in double precision on
// random non-zero inputs. The kernels add or scale single floats, so each
// output element is the correctly rounded float of the exact result and the
// tolerance is one float32 rounding of the output.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/ArtifactBuilder.h"
#include "test/unit/runtime/TestUtil.h"

#include <cmath>
#include <random>

namespace moert::test {
namespace {

struct Loaded {
  ModelPtr model;
  SessionPtr session;
};

Loaded load(const ModelSpec &spec, int64_t maxTokens = -1) {
  Loaded loaded;
  std::unique_ptr<Status> status;
  loaded.model = loadBuffer(buildFile(spec), &status);
  EXPECT_TRUE(status->ok()) << status->message();
  if (!loaded.model)
    return loaded;
  moert_session_options_t options;
  moert_session_options_initialize(&options);
  EXPECT_EQ(options.max_tokens, 4096);
  if (maxTokens >= 0)
    options.max_tokens = maxTokens;
  moert_session_t *session = nullptr;
  Status created(moert_session_create(loaded.model.get(), &options, &session));
  EXPECT_TRUE(created.ok()) << created.message();
  loaded.session.reset(session);
  return loaded;
}

moert_tensor_t tensor(std::vector<float> &data, const int64_t *dims,
                      int32_t rank, moert_dtype_t dtype = MOERT_DTYPE_F32) {
  return {data.data(), dtype, rank, dims, data.size() * sizeof(float)};
}

void expectClose(const std::vector<float> &got,
                 const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], std::fabs(want[i]) * 6e-8 + 1e-30)
        << "element " << i;
}

TEST(Session, AddWeightMatchesDirectComputation) {
  std::vector<float> w = randomFloats(kHidden, 1);
  Loaded loaded = load(addWeightModel(w));
  ASSERT_TRUE(loaded.session);
  for (int64_t tokens : {0, 1, 2, 7, 33}) {
    std::vector<float> x = randomFloats(tokens * kHidden, 100 + tokens);
    std::vector<float> y(tokens * kHidden, NAN);
    int64_t dims[] = {tokens, kHidden};
    int64_t outDims[2];
    int32_t rank = 0;
    ASSERT_TRUE(Status(moert_session_output_dims(loaded.session.get(), 0, tokens,
                                                 outDims, 2, &rank))
                    .ok());
    ASSERT_EQ(rank, 2);
    EXPECT_EQ(outDims[0], tokens);
    EXPECT_EQ(outDims[1], kHidden);
    size_t bytes = 0;
    ASSERT_TRUE(Status(moert_session_output_byte_size(loaded.session.get(), 0,
                                                      tokens, &bytes))
                    .ok());
    EXPECT_EQ(bytes, y.size() * sizeof(float));
    moert_tensor_t input = tensor(x, dims, 2);
    moert_tensor_t output = tensor(y, outDims, 2);
    Status run(moert_session_run(loaded.session.get(), &input, 1, &output, 1));
    ASSERT_TRUE(run.ok()) << run.message();
    std::vector<double> want(y.size());
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < kHidden; ++h)
        want[t * kHidden + h] =
            static_cast<double>(x[t * kHidden + h]) + static_cast<double>(w[h]);
    expectClose(y, want);
  }
}

// An output may share exactly the buffer of the input it declares in place
// (y = x + w, elementwise, is safe in place); every other overlap is refused
// before a kernel runs.
TEST(Session, InPlaceOutputsAndOverlappingBuffers) {
  std::vector<float> w = randomFloats(kHidden, 3);
  const int64_t tokens = 4;
  int64_t dims[] = {tokens, kHidden};
  {
    ModelSpec spec = addWeightModel(w);
    spec.outputs[0].inplaceInput = 0;
    Loaded loaded = load(spec);
    ASSERT_TRUE(loaded.session);
    int64_t shared = -2;
    ASSERT_TRUE(Status(moert_model_output_inplace_input(loaded.model.get(), 0, &shared)).ok());
    EXPECT_EQ(shared, 0);
    std::vector<float> x = randomFloats(tokens * kHidden, 7);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      want[i] = static_cast<double>(x[i]) + static_cast<double>(w[i % kHidden]);
    moert_tensor_t input = tensor(x, dims, 2), output = tensor(x, dims, 2);
    Status run(moert_session_run(loaded.session.get(), &input, 1, &output, 1));
    ASSERT_TRUE(run.ok()) << run.message();
    expectClose(x, want);
    // Declared, but shifted by one row: refused.
    std::vector<float> big((tokens + 1) * kHidden, 1.f);
    moert_tensor_t from = tensor(big, dims, 2), to = tensor(big, dims, 2);
    to.data = big.data() + kHidden;
    Status shifted(moert_session_run(loaded.session.get(), &from, 1, &to, 1));
    EXPECT_EQ(shifted.code(), MOERT_INVALID_ARGUMENT);
    EXPECT_NE(shifted.message().find("without being the same buffer"), std::string::npos)
        << shifted.message();
  }
  {
    Loaded loaded = load(addWeightModel(w));
    ASSERT_TRUE(loaded.session);
    int64_t shared = -2;
    ASSERT_TRUE(Status(moert_model_output_inplace_input(loaded.model.get(), 0, &shared)).ok());
    EXPECT_EQ(shared, -1);
    std::vector<float> x = randomFloats(tokens * kHidden, 8);
    moert_tensor_t input = tensor(x, dims, 2), output = tensor(x, dims, 2);
    Status run(moert_session_run(loaded.session.get(), &input, 1, &output, 1));
    EXPECT_EQ(run.code(), MOERT_INVALID_ARGUMENT);
    EXPECT_NE(run.message().find("overlaps input 'x'"), std::string::npos) << run.message();
    EXPECT_NE(run.message().find("only an output declared in place"), std::string::npos)
        << run.message();
  }
  // A declaration the verifier refuses: an input that does not exist.
  ModelSpec bad = addWeightModel(w);
  bad.outputs[0].inplaceInput = 3;
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(bad), &status);
  EXPECT_FALSE(model);
  EXPECT_NE(status->message().find("inplace_input 3 is not an input"), std::string::npos)
      << status->message();
}

TEST(Session, ArenaBuffersAtTokenDependentOffsets) {
  std::vector<float> w = randomFloats(kHidden, 2);
  for (int64_t maxTokens : {9, 64}) {
    Loaded loaded = load(arenaModel(w), maxTokens);
    ASSERT_TRUE(loaded.session);
    for (int64_t tokens : {1, 5, 9}) {
      std::vector<float> x = randomFloats(tokens * kHidden, 200 + tokens);
      std::vector<float> y(tokens * kHidden, NAN);
      int64_t dims[] = {tokens, kHidden};
      moert_tensor_t input = tensor(x, dims, 2);
      moert_tensor_t output = tensor(y, dims, 2);
      Status run(moert_session_run(loaded.session.get(), &input, 1, &output, 1));
      ASSERT_TRUE(run.ok()) << run.message();
      std::vector<double> want(y.size());
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t h = 0; h < kHidden; ++h)
          want[t * kHidden + h] = 4.0 * x[t * kHidden + h] + w[h];
      expectClose(y, want);
    }
  }
}

TEST(Session, GatherWithInt64InputsAndKernelErrors) {
  const int64_t vocab = 5;
  std::vector<float> table = randomFloats(vocab * kHidden, 3);
  Loaded loaded = load(gatherModel(table));
  ASSERT_TRUE(loaded.session);
  std::vector<int64_t> ids = {4, 0, 2, 2, 1, 3};
  int64_t tokens = static_cast<int64_t>(ids.size());
  std::vector<float> y(tokens * kHidden, NAN);
  int64_t idDims[] = {tokens};
  int64_t outDims[] = {tokens, kHidden};
  moert_tensor_t input = {ids.data(), MOERT_DTYPE_I64, 1, idDims,
                          ids.size() * sizeof(int64_t)};
  moert_tensor_t output = tensor(y, outDims, 2);
  Status run(moert_session_run(loaded.session.get(), &input, 1, &output, 1));
  ASSERT_TRUE(run.ok()) << run.message();
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < kHidden; ++h)
      ASSERT_EQ(y[t * kHidden + h], table[ids[t] * kHidden + h]);

  ids[3] = vocab; // out of range: the kernel reports a data error
  EXPECT_STATUS(
      Status(moert_session_run(loaded.session.get(), &input, 1, &output, 1)),
      MOERT_INTERNAL,
      "model.moe: step 0 (kernel 'moert_test_gather') failed with code 1");
}

TEST(Session, KernelFailureNamesStepAndKernel) {
  ModelSpec spec = addWeightModel(randomFloats(kHidden, 4));
  spec.kernels.push_back("moert_test_fail");
  spec.steps.push_back({1, {}});
  Loaded loaded = load(spec);
  ASSERT_TRUE(loaded.session);
  std::vector<float> x = randomFloats(3 * kHidden, 5), y(3 * kHidden);
  int64_t dims[] = {3, kHidden};
  moert_tensor_t input = tensor(x, dims, 2), output = tensor(y, dims, 2);
  EXPECT_STATUS(
      Status(moert_session_run(loaded.session.get(), &input, 1, &output, 1)),
      MOERT_INTERNAL,
      "model.moe: step 1 (kernel 'moert_test_fail') failed with code 7");
}

TEST(Session, InputAndOutputChecks) {
  Loaded loaded = load(addWeightModel(randomFloats(kHidden, 6)), 8);
  ASSERT_TRUE(loaded.session);
  moert_session_t *session = loaded.session.get();
  std::vector<float> x = randomFloats(4 * kHidden, 7), y(4 * kHidden);
  int64_t dims[] = {4, kHidden};
  moert_tensor_t input = tensor(x, dims, 2), output = tensor(y, dims, 2);
  ASSERT_TRUE(Status(moert_session_run(session, &input, 1, &output, 1)).ok());

  moert_tensor_t bad = input;
  bad.dtype = MOERT_DTYPE_I32;
  EXPECT_STATUS(Status(moert_session_run(session, &bad, 1, &output, 1)),
                MOERT_INVALID_ARGUMENT,
                "model.moe: input 'x': expected shape (T, 16) float32, got "
                "(4, 16) int32");
  bad = input;
  bad.rank = 1;
  EXPECT_STATUS(Status(moert_session_run(session, &bad, 1, &output, 1)),
                MOERT_INVALID_ARGUMENT,
                "input 'x': expected shape (T, 16) float32, got (4,) float32");
  int64_t wrongStatic[] = {4, 15};
  bad = input;
  bad.dims = wrongStatic;
  EXPECT_STATUS(Status(moert_session_run(session, &bad, 1, &output, 1)),
                MOERT_INVALID_ARGUMENT,
                "input 'x': expected shape (T, 16) float32, got (4, 15) "
                "float32");
  bad = input;
  bad.byte_size -= 1;
  EXPECT_STATUS(Status(moert_session_run(session, &bad, 1, &output, 1)),
                MOERT_INVALID_ARGUMENT,
                "input 'x': buffer holds 255 bytes, shape (4, 16) float32 "
                "needs 256");
  bad = input;
  bad.dims = nullptr;
  EXPECT_STATUS(Status(moert_session_run(session, &bad, 1, &output, 1)),
                MOERT_INVALID_ARGUMENT, "input 'x': rank is 2 but dims is NULL");

  // Outputs: T comes from the inputs; the output must match it.
  int64_t otherTokens[] = {3, kHidden};
  moert_tensor_t badOut = output;
  badOut.dims = otherTokens;
  EXPECT_STATUS(Status(moert_session_run(session, &input, 1, &badOut, 1)),
                MOERT_INVALID_ARGUMENT,
                "output 'y': expected shape (T, 16) float32, got (3, 16)");
  badOut = output;
  badOut.byte_size = 100;
  EXPECT_STATUS(Status(moert_session_run(session, &input, 1, &badOut, 1)),
                MOERT_INVALID_ARGUMENT, "output 'y': buffer holds 100 bytes");
  badOut = output;
  badOut.data = nullptr;
  EXPECT_STATUS(Status(moert_session_run(session, &input, 1, &badOut, 1)),
                MOERT_INVALID_ARGUMENT, "output 'y': data is NULL");

  EXPECT_STATUS(Status(moert_session_run(session, &input, 0, &output, 1)),
                MOERT_INVALID_ARGUMENT, "expected 1 input(s), got 0");
  EXPECT_STATUS(Status(moert_session_run(session, &input, 1, &output, 2)),
                MOERT_INVALID_ARGUMENT, "expected 1 output(s), got 2");

  // T above max_tokens (8).
  std::vector<float> big = randomFloats(9 * kHidden, 8), bigOut(9 * kHidden);
  int64_t bigDims[] = {9, kHidden};
  moert_tensor_t bigIn = tensor(big, bigDims, 2), bigOutT = tensor(bigOut, bigDims, 2);
  EXPECT_STATUS(Status(moert_session_run(session, &bigIn, 1, &bigOutT, 1)),
                MOERT_FAILED_PRECONDITION,
                "input 'x': T=9 exceeds the session's max_tokens (8)");
  int64_t outDims[2];
  int32_t rank;
  EXPECT_STATUS(Status(moert_session_output_dims(session, 0, 9, outDims, 2, &rank)),
                MOERT_INVALID_ARGUMENT, "token count 9 is outside [0, max_tokens=8]");
  EXPECT_STATUS(Status(moert_session_output_dims(session, 0, 2, outDims, 1, &rank)),
                MOERT_INVALID_ARGUMENT, "output 'y' has rank 2 but room for 1");
  EXPECT_STATUS(Status(moert_session_output_dims(session, 1, 2, outDims, 2, &rank)),
                MOERT_INVALID_ARGUMENT, "output index 1 out of range");
}

TEST(Session, TokenDimsMustAgreeAcrossInputs) {
  // Two inputs, both (T, 16): y = a + w uses only a, but b's T must agree.
  ModelSpec spec = addWeightModel(randomFloats(kHidden, 9));
  spec.inputs = {{"a", kF32, {-1, kHidden}}, {"b", kF32, {kHidden, -1}}};
  Loaded loaded = load(spec);
  ASSERT_TRUE(loaded.session);
  std::vector<float> a = randomFloats(4 * kHidden, 10), b = a, y(a.size());
  int64_t aDims[] = {4, kHidden}, bDims[] = {kHidden, 5};
  moert_tensor_t inputs[] = {tensor(a, aDims, 2), tensor(b, bDims, 2)};
  moert_tensor_t output = tensor(y, aDims, 2);
  EXPECT_STATUS(Status(moert_session_run(loaded.session.get(), inputs, 2,
                                         &output, 1)),
                MOERT_INVALID_ARGUMENT,
                "input 'b': token dimension (dim 1) is 5 but T=4 from input 'a'");
  bDims[1] = 4;
  Status ok(moert_session_run(loaded.session.get(), inputs, 2, &output, 1));
  EXPECT_TRUE(ok.ok()) << ok.message();
}

TEST(Session, MissingSymbolAndUnsupportedTarget) {
  ModelSpec spec = addWeightModel(randomFloats(kHidden, 11));
  spec.kernels[0] = "moert_test_does_not_exist";
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(spec), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  moert_session_t *session = nullptr;
  EXPECT_STATUS(Status(moert_session_create(model.get(), nullptr, &session)),
                MOERT_NOT_FOUND,
                "model.moe: kernel 0: kernel symbol 'moert_test_does_not_exist' "
                "not found");
  EXPECT_EQ(session, nullptr);

  spec = addWeightModel(randomFloats(kHidden, 12));
  spec.binary = {0x7f, 'E', 'L', 'F', 0, 0, 0}; // not a loadable object
  model = loadBuffer(buildFile(spec), &status);
  ASSERT_TRUE(status->ok()) << status->message();
  EXPECT_STATUS(Status(moert_session_create(model.get(), nullptr, &session)),
                MOERT_DATA_LOSS, "model.moe: cannot load the kernel binary");

  // Targets this runtime has no executor for are refused at load time
  // (CUDA targets: CudaSessionTest.cpp).
  spec = addWeightModel(randomFloats(kHidden, 13));
  spec.target = "rocm_gfx942";
  model = loadBuffer(buildFile(spec), &status);
  EXPECT_FALSE(model);
  EXPECT_STATUS(*status, MOERT_UNIMPLEMENTED,
                "model.moe: target 'rocm_gfx942' is not supported by this "
                "runtime");
}

TEST(Session, OutlivesItsModelHandleAndSupportsSeveralSessions) {
  std::vector<float> w = randomFloats(kHidden, 14);
  Loaded first = load(addWeightModel(w), 4);
  ASSERT_TRUE(first.session);
  moert_session_t *second = nullptr;
  ASSERT_TRUE(Status(moert_session_create(first.model.get(), nullptr, &second)).ok());
  SessionPtr secondOwner(second);
  EXPECT_EQ(moert_session_max_tokens(second), 4096);
  first.model.reset(); // sessions keep the model alive
  for (moert_session_t *session : {first.session.get(), second}) {
    std::vector<float> x = randomFloats(2 * kHidden, 15), y(2 * kHidden);
    int64_t dims[] = {2, kHidden};
    moert_tensor_t input = tensor(x, dims, 2), output = tensor(y, dims, 2);
    ASSERT_TRUE(Status(moert_session_run(session, &input, 1, &output, 1)).ok());
    EXPECT_EQ(y[kHidden + 3], x[kHidden + 3] + w[3]);
  }
}

TEST(Session, OptionAndArgumentChecks) {
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(buildFile(addWeightModel(randomFloats(kHidden, 16))),
                              &status);
  ASSERT_TRUE(model);
  moert_session_options_t options;
  moert_session_options_initialize(&options);
  options.max_tokens = -1;
  moert_session_t *session = nullptr;
  EXPECT_STATUS(Status(moert_session_create(model.get(), &options, &session)),
                MOERT_INVALID_ARGUMENT, "max_tokens is -1");
  options.max_tokens = INT64_MAX / 2;
  EXPECT_STATUS(Status(moert_session_create(model.get(), &options, &session)),
                MOERT_RESOURCE_EXHAUSTED, "overflows at max_tokens");
  EXPECT_STATUS(Status(moert_session_create(nullptr, nullptr, &session)),
                MOERT_INVALID_ARGUMENT, "model is NULL");
  EXPECT_STATUS(Status(moert_session_run(nullptr, nullptr, 0, nullptr, 0)),
                MOERT_INVALID_ARGUMENT, "session is NULL");
  // NULL status is OK.
  EXPECT_EQ(moert_status_code(nullptr), MOERT_OK);
  EXPECT_STREQ(moert_status_message(nullptr), "OK");
  moert_status_free(nullptr);
}

} // namespace
} // namespace moert::test
