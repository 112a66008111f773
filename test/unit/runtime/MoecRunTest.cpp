//===- MoecRunTest.cpp - The moec-run command line ------------------------===//

#include "test/unit/runtime/ArtifactBuilder.h"
#include "tools/moec-run/Npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace moert::test {
namespace {

struct Result {
  int code = -1;
  std::string out; // stdout and stderr
};

Result runTool(const std::string &args) {
  Result result;
  std::string command = std::string(MOEC_RUN_PATH) + " " + args + " 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return result;
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    result.out.append(buffer, got);
  int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class MoecRun : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/moec-run-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
    w.resize(kHidden);
    for (int64_t h = 0; h < kHidden; ++h)
      w[h] = 0.125f * static_cast<float>(h) + 0.5f;
    std::vector<uint8_t> file = buildFile(addWeightModel(w));
    std::ofstream(dir + "/m.moe", std::ios::binary)
        .write(reinterpret_cast<const char *>(file.data()), file.size());
    x = writeArray("x.npy", MOERT_DTYPE_F32, {3, kHidden},
                   [](size_t i) { return 0.3 * i - 2.0; });
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir + "'";
    (void)std::system(command.c_str());
  }

  template <typename Fn>
  std::vector<double> writeArray(const std::string &name, moert_dtype_t dtype,
                                 std::vector<int64_t> shape, Fn value) {
    moec::npy::Array array;
    EXPECT_TRUE(array.allocate(dtype, shape));
    std::vector<double> values(array.elementCount());
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = value(i);
      if (dtype == MOERT_DTYPE_F32) {
        float f = static_cast<float>(values[i]);
        values[i] = f;
        std::memcpy(array.data() + 4 * i, &f, 4);
      } else {
        std::memcpy(array.data() + 8 * i, &values[i], 8);
      }
    }
    std::string error;
    EXPECT_TRUE(moec::npy::write(dir + "/" + name, array, &error)) << error;
    return values;
  }

  std::string path(const std::string &name) { return dir + "/" + name; }

  std::string dir;
  std::vector<float> w;
  std::vector<double> x;
};

TEST_F(MoecRun, RunsWritesAndChecks) {
  writeArray("ref.npy", MOERT_DTYPE_F64, {3, kHidden},
             [&](size_t i) { return x[i] + w[i % kHidden]; });
  Result result = runTool(path("m.moe") + " --input x=" + path("x.npy") +
                          " --output y=" + path("y.npy") + " --check y=" +
                          path("ref.npy") + " --repeat 3");
  EXPECT_EQ(result.code, 0) << result.out;
  EXPECT_NE(result.out.find("check y: max_abs_err="), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("(rtol 0.0001 atol 1e-05) PASS"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("moec-run: " + path("m.moe") +
                            ": T=3, 1 output(s) checked, all PASS"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("3 runs, median"), std::string::npos);
  moec::npy::Array y;
  std::string error;
  ASSERT_TRUE(moec::npy::read(path("y.npy"), &y, &error)) << error;
  ASSERT_EQ(y.elementCount(), x.size());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(y.elementAsDouble(i), x[i] + w[i % kHidden], 1e-6);
}

TEST_F(MoecRun, FailingCheckExitsOne) {
  writeArray("ref.npy", MOERT_DTYPE_F64, {3, kHidden}, [&](size_t i) {
    return x[i] + w[i % kHidden] + (i == 5 ? 1e-3 : 0.0);
  });
  Result result = runTool(path("m.moe") + " --input x=" + path("x.npy") +
                          " --check y=" + path("ref.npy"));
  EXPECT_EQ(result.code, 1) << result.out;
  EXPECT_NE(result.out.find("max_abs_err=0.001"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find(" FAIL\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1 output(s) checked, 1 FAIL"), std::string::npos);
  // A looser tolerance passes.
  result = runTool(path("m.moe") + " --input=x=" + path("x.npy") +
                   " --check y=" + path("ref.npy") + " --atol=2e-3");
  EXPECT_EQ(result.code, 0) << result.out;
}

TEST_F(MoecRun, NanMismatchFails) {
  writeArray("ref.npy", MOERT_DTYPE_F64, {3, kHidden}, [&](size_t i) {
    return i == 0 ? NAN : x[i] + w[i % kHidden];
  });
  Result result = runTool(path("m.moe") + " --input x=" + path("x.npy") +
                          " --check y=" + path("ref.npy"));
  EXPECT_EQ(result.code, 1) << result.out;
  EXPECT_NE(result.out.find("nan_mismatches=1 FAIL"), std::string::npos)
      << result.out;
}

TEST_F(MoecRun, ErrorsExitTwoWithOneLine) {
  struct Case {
    std::string args, text;
  };
  writeArray("x64.npy", MOERT_DTYPE_F64, {3, kHidden},
             [](size_t i) { return 1.0 * i; });
  writeArray("x15.npy", MOERT_DTYPE_F32, {4, 15},
             [](size_t i) { return 1.0 * i; });
  std::vector<uint8_t> corrupt = buildFile(addWeightModel(w));
  corrupt[200] ^= 1;
  std::ofstream(path("bad.moe"), std::ios::binary)
      .write(reinterpret_cast<const char *>(corrupt.data()), corrupt.size());
  std::vector<Case> cases = {
      {"--bogus", "moec-run: error: --bogus: unknown flag"},
      {path("m.moe") + " --input x", "moec-run: error: --input: expected "
                                     "NAME=FILE.npy, got 'x'"},
      {path("m.moe") + " --rtol", "moec-run: error: --rtol: missing value"},
      {path("m.moe") + " --rtol abc", "--rtol: expected a non-negative number"},
      {path("m.moe") + " --repeat 0", "--repeat: expected a positive integer"},
      {"", "moec-run: error: moec-run: no model given"},
      {path("missing.moe") + " --input x=" + path("x.npy"),
       "moec-run: error: " + path("missing.moe") + ": cannot open"},
      {path("bad.moe") + " --input x=" + path("x.npy"),
       "moec-run: error: " + path("bad.moe") + ": payload checksum mismatch"},
      {path("m.moe") + " --input z=" + path("x.npy"),
       "no input named 'z' (the model has 'x')"},
      {path("m.moe"), "input 'x' not given (use --input x=FILE.npy)"},
      {path("m.moe") + " --input x=" + path("nope.npy"),
       "moec-run: error: " + path("nope.npy") + ": No such file"},
      {path("m.moe") + " --input x=" + path("x64.npy"),
       "moec-run: error: input 'x': " + path("x64.npy") +
           " holds float64 but the model expects float32"},
      {path("m.moe") + " --input x=" + path("x15.npy"),
       "input 'x': expected shape (T, 16) float32, got (4, 15) float32"},
      {path("m.moe") + " --input x=" + path("x.npy") + " --max-tokens 2",
       "T=3 tokens, more than --max-tokens 2"},
      {path("m.moe") + " --input x=" + path("x.npy") + " --check y=" +
           path("x15.npy"),
       "reference shape (4, 15) differs from output 'y' shape (3, 16)"},
  };
  for (const Case &c : cases) {
    Result result = runTool(c.args);
    EXPECT_EQ(result.code, 2) << c.args << "\n" << result.out;
    EXPECT_NE(result.out.find(c.text), std::string::npos)
        << c.args << "\n" << result.out;
    EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1)
        << result.out;
  }
}

TEST_F(MoecRun, HelpExplainsEveryFlag) {
  Result result = runTool("--help");
  EXPECT_EQ(result.code, 0);
  for (const char *flag : {"--input", "--output", "--check", "--rtol", "--atol",
                           "--max-tokens", "--repeat", "--help"})
    EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
}

} // namespace
} // namespace moert::test
