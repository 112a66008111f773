//===- BenchLibTest.cpp - moec-bench's arithmetic, routing and shape files ===//
//
// The pieces of moec-bench whose mistakes would not crash but report wrong
// numbers: the peak GEMM (a wrong product would time the wrong work), the
// router replay that counts the experts a run reads, the FLOP formula, the
// quantiles, and the shape-file reader's refusals.
//
//===----------------------------------------------------------------------===//

#include "tools/moec-bench/Peak.h"
#include "tools/moec-bench/Report.h"
#include "tools/moec-bench/ShapeInfo.h"
#include "tools/moec-run/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <random>
#include <unistd.h>

namespace moec::bench {
namespace {

// Against a float64 product. A float32 dot product of length n is within
// gamma_n = n·2^-24 / (1 - n·2^-24) of sum |a_ik|·|b_kj| (Higham, 3.5), the
// bound used per element: any indexing or packing mistake is O(1) off.
TEST(HostGemm, MatchesAFloat64ProductWithinTheRoundingBound) {
  // Every variant this CPU runs: the best, then capped at AVX2, baseline.
  for (const char *cap : {"", "avx2", "baseline"})
  for (int64_t n : {32, 96, 288}) {
    setenv("MOEC_BENCH_ISA", cap, 1);
    std::mt19937 rng(static_cast<unsigned>(n));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(n * n), b(n * n), c(n * n, NAN);
    for (float &v : a)
      v = dist(rng);
    for (float &v : b)
      v = dist(rng);
    hostGemm(a.data(), b.data(), c.data(), n);
    const double u = std::ldexp(1.0, -24), gamma = n * u / (1 - n * u);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double exact = 0, magnitude = 0;
        for (int64_t k = 0; k < n; ++k) {
          exact += double(a[i * n + k]) * double(b[k * n + j]);
          magnitude += std::fabs(double(a[i * n + k]) * double(b[k * n + j]));
        }
        ASSERT_NEAR(c[i * n + j], exact, gamma * magnitude + 1e-30)
            << "n=" << n << " at (" << i << ", " << j << ") on "
            << hostGemmIsa();
      }
  }
  unsetenv("MOEC_BENCH_ISA");
}

TEST(Quantile, InterpolatesBetweenOrderStatistics) {
  std::vector<double> values = {7, 1, 10, 4, 3, 6, 2, 9, 5, 8};
  EXPECT_DOUBLE_EQ(quantile(values, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(values, 1.0), 10.0);
  EXPECT_DOUBLE_EQ(quantile(values, 0.5), 5.5);
  EXPECT_DOUBLE_EQ(quantile(values, 0.1), 1.9);
  EXPECT_DOUBLE_EQ(quantile({42.0}, 0.9), 42.0);
  EXPECT_TRUE(std::isnan(quantile({}, 0.5)));
}

// A router that is the identity (H = E): token rows are the logits.
ShapeInfo identityRouter(int64_t experts, int64_t k) {
  ShapeInfo shape;
  shape.hidden = shape.experts = experts;
  shape.topK = k;
  shape.router.assign(experts * experts, 0.0);
  for (int64_t e = 0; e < experts; ++e)
    shape.router[e * experts + e] = 1.0;
  return shape;
}

TEST(ExpertsTouched, SoftmaxTopKCountsTheDistinctLargestLogits) {
  ShapeInfo shape = identityRouter(6, 2);
  std::vector<float> x = {
      5, 4, 0, 0, 0, 0,  // experts 0, 1
      0, 3, 9, 0, 0, 0,  // experts 2, 1
      1, 0, 0, 0, 0, 2}; // experts 5, 0
  EXPECT_EQ(expertsTouched(shape, x.data(), 1), 2);
  EXPECT_EQ(expertsTouched(shape, x.data(), 2), 3);
  EXPECT_EQ(expertsTouched(shape, x.data(), 3), 4);
  EXPECT_EQ(expertsTouched(shape, x.data(), 0), 0);
}

// Expert 0 has the best score, but its group partner is poor, so its group
// loses to groups 1 and 2, whose two experts are both good: grouped routing
// never picks expert 0, softmax top-k would. The bias moves the selection
// but not the sigmoid itself.
TEST(ExpertsTouched, GroupedSigmoidRoutingKeepsOnlyTheBestGroups) {
  ShapeInfo shape = identityRouter(8, 2);
  shape.routing = Routing::SigmoidGroupedTopK;
  shape.groups = 4;
  shape.topkGroups = 2;
  // sigmoid(4.6) = 0.990, sigmoid(-4.6) = 0.010; 0.4 -> 0.599, 0.2 -> 0.550.
  std::vector<float> x = {4.6f, -4.6f, 0.4f, 0.4f, 0.2f, 0.2f, -4.6f, -4.6f};
  std::vector<float> twice(x);
  twice.insert(twice.end(), x.begin(), x.end());
  EXPECT_EQ(expertsTouched(shape, x.data(), 1), 2); // experts 2 and 3
  shape.routing = Routing::SoftmaxTopK;
  EXPECT_EQ(expertsTouched(shape, x.data(), 1), 2); // experts 0 and 2/3
  // A second, different token: the union is counted.
  std::vector<float> y = {4.6f, -4.6f, 0.4f, 0.4f, 0.2f, 0.2f, -4.6f, -4.6f,
                          -4.6f, -4.6f, -4.6f, -4.6f, 0.2f, 0.3f, 1.0f, 1.0f};
  shape.routing = Routing::SigmoidGroupedTopK;
  // Token 2: groups 2 (0.550+0.574) and 3 (0.731+0.731) win; experts 6, 7.
  EXPECT_EQ(expertsTouched(shape, y.data(), 2), 4);
  // A selection bias of +0.5 on expert 4 makes group 2 beat group 1 for
  // token 1 and expert 4 the best: experts 4 and 2/3 (or 5).
  shape.routerBias.assign(8, 0.0);
  shape.routerBias[4] = 0.5;
  EXPECT_EQ(expertsTouched(shape, x.data(), 1), 2);
  EXPECT_EQ(expertsTouched(shape, twice.data(), 2), 2);
}

TEST(ExpertsTouched, CountsEveryExpertOnceAndStopsAtE) {
  ShapeInfo shape = identityRouter(4, 2);
  std::vector<float> x;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (int i = 0; i < 4 * 1000; ++i)
    x.push_back(normal(rng));
  EXPECT_EQ(expertsTouched(shape, x.data(), 1000), 4);
}

TEST(LayerFlops, CountsRouterRoutedAndSharedExperts) {
  ShapeInfo shape;
  shape.hidden = 7168, shape.inter = 2048, shape.experts = 256, shape.topK = 8;
  shape.sharedExperts = 1, shape.sharedInter = 2048;
  // 2·T·H·(E + k·3·I + 1·3·I_s) at T = 4.
  EXPECT_DOUBLE_EQ(layerFlops(shape, 4),
                   2.0 * 4 * 7168 * (256 + 8 * 3 * 2048 + 3 * 2048));
  EXPECT_DOUBLE_EQ(uniformExpertsTouched(shape, 1), 8.0);
}

class ShapeFile : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/moec_bench_shape_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    for (const std::string &file : files)
      std::remove(file.c_str());
    rmdir(dir.c_str());
  }
  std::string write(const std::string &name, const std::string &text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    files.push_back(path);
    return path;
  }
  void writeRouter(const std::string &name, int64_t elements) {
    npy::Array array;
    ASSERT_TRUE(array.allocate(MOERT_DTYPE_F32, {elements}));
    std::string error;
    ASSERT_TRUE(npy::write(dir + "/" + name, array, &error)) << error;
    files.push_back(dir + "/" + name);
  }
  std::string loadError(const std::string &text) {
    ShapeInfo shape;
    std::string error;
    EXPECT_FALSE(loadShapeInfo(write("s.json", text), &shape, &error));
    return error;
  }
  std::string dir;
  std::vector<std::string> files;
};

TEST_F(ShapeFile, ReadsTheFieldsAndTheRouter) {
  writeRouter("r.npy", 4 * 2);
  std::string path = write(
      "ok.json", "{\"name\": \"m\", \"hidden\": 4, \"inter\": 6, \"experts\": 2,"
                 " \"top_k\": 1, \"router_weight\": \"r.npy\", \"extra\": "
                 "{\"nested\": [1, 2, {\"a\": null}]}, \"flag\": true}");
  ShapeInfo shape;
  std::string error;
  ASSERT_TRUE(loadShapeInfo(path, &shape, &error)) << error;
  EXPECT_EQ(shape.name, "m");
  EXPECT_EQ(shape.hidden, 4);
  EXPECT_EQ(shape.inter, 6);
  EXPECT_EQ(shape.router.size(), 8u);
  EXPECT_EQ(shape.matricesPerExpert, 3);
  EXPECT_EQ(shape.raw.at("flag"), "true");
  EXPECT_EQ(shape.raw.count("extra"), 0u); // nested values are skipped
}

TEST_F(ShapeFile, RefusesMalformedOrInconsistentFiles) {
  EXPECT_NE(loadError("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": 4,}").find("expected a member name"),
            std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": 4}").find("\"inter\" is missing"),
            std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": 4, \"inter\": 2, \"experts\": 2, "
                      "\"top_k\": 3}")
                .find("\"top_k\" (3) exceeds \"experts\" (2)"),
            std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": -4, \"inter\": 2, \"experts\": 2, "
                      "\"top_k\": 1}")
                .find("\"hidden\" must be an integer >= 1, got '-4'"),
            std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": 4, \"inter\": 2, \"experts\": 2, "
                      "\"top_k\": 1, \"routing\": \"hash\"}")
                .find("\"routing\" must be"),
            std::string::npos);
  EXPECT_NE(loadError("{\"hidden\": 4, \"inter\": 2, \"experts\": 6, "
                      "\"top_k\": 1, \"routing\": \"sigmoid_grouped_topk\", "
                      "\"groups\": 4}")
                .find("do not fit 6 experts"),
            std::string::npos);
  writeRouter("short.npy", 7);
  std::string error = loadError(
      "{\"hidden\": 4, \"inter\": 2, \"experts\": 2, \"top_k\": 1, "
      "\"router_weight\": \"short.npy\"}");
  EXPECT_NE(error.find("short.npy: holds 7 values, expected 8"),
            std::string::npos)
      << error;
  ShapeInfo shape;
  EXPECT_FALSE(loadShapeInfo(dir + "/missing.json", &shape, &error));
  EXPECT_NE(error.find("missing.json: cannot read the shape file"),
            std::string::npos);
}

} // namespace
} // namespace moec::bench
