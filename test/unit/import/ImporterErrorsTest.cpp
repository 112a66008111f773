//===- ImporterErrorsTest.cpp - the ONNX importer on bad input -------------===//
//
// Every bad input must produce exactly one error diagnostic that names the
// file (and the node, where there is one), return null, and not crash.
//
//===----------------------------------------------------------------------===//
#include "ImportTestUtil.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace mlir;
using namespace moec::test;
using TP = ::onnx::TensorProto;
using ::testing::HasSubstr;

namespace {

// Imports `bytes` written as `file`; expects failure with exactly one error.
std::string expectOneError(const std::string &bytes, const std::string &file = "bad.onnx",
                           const moec::OnnxImportOptions &options = {},
                           const TempDir *dirIn = nullptr) {
  TempDir local;
  const TempDir &dir = dirIn ? *dirIn : local;
  std::string path = dir.write(file, bytes);
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, path, options);
  EXPECT_FALSE(r.module);
  EXPECT_EQ(r.errors.size(), 1u);
  if (r.errors.empty())
    return "";
  // Every message starts with the file that was read.
  EXPECT_EQ(r.errors.front().rfind(path, 0), 0u) << r.errors.front();
  return r.errors.front().substr(path.size());
}

ModelBuilder reluModel() {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  return b;
}

// A model using every kind of field, so truncations cut through all of them.
std::string richModel() {
  std::mt19937 rng(7);
  ModelBuilder b;
  b.opset("", 17);
  b.opset("com.microsoft", 1);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  b.floatInitializer("router", {8, 2}, randomFloats(rng, 16));
  b.floatInitializer("fc1", {2, 4, 8}, randomFloats(rng, 64), /*raw=*/false);
  b.floatInitializer("fc2", {2, 8, 4}, randomFloats(rng, 64));
  b.node("MatMul", "router_mm", {"x", "router"}, {"logits"});
  auto &moe = b.node("MoE", "moe", {"x", "logits", "fc1", "", "fc2"}, {"y"}, "com.microsoft");
  ModelBuilder::intAttr(moe, "k", 1);
  return b.serialize();
}

TEST(OnnxImporterErrors, GarbageBytesAreNotAModel) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char &c : bytes)
      c = static_cast<char>(rng());
    std::string message = expectOneError(bytes);
    EXPECT_THAT(message, HasSubstr("model")) << message;
  }
  EXPECT_THAT(expectOneError("this is a text file, not a model\n"),
              HasSubstr("not an ONNX model"));
  EXPECT_THAT(expectOneError(""), HasSubstr("empty"));
}

TEST(OnnxImporterErrors, MissingFileIsReported) {
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, "/nonexistent/dir/model.onnx");
  EXPECT_FALSE(r.module);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors.front(), HasSubstr("/nonexistent/dir/model.onnx: cannot read the file"));
}

TEST(OnnxImporterErrors, EveryTruncationFailsWithOneError) {
  std::string full = richModel();
  {
    TempDir dir;
    MLIRContext ctx;
    ASSERT_TRUE(importWithDiagnostics(ctx, dir.write("full.onnx", full)).module);
  }
  // Every cut point through the header, graph, tensors and opset list.
  for (size_t cut = 1; cut < full.size(); cut += 1 + cut / 16) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut) + " of " + std::to_string(full.size()));
    expectOneError(full.substr(0, cut));
  }
}

TEST(OnnxImporterErrors, UnsupportedOpNamesNodeDomainAndOpset) {
  ModelBuilder b = reluModel();
  b.node("Conv", "conv", {"x", "x"}, {"y"});
  EXPECT_EQ(expectOneError(b.serialize()),
            ": node 'conv': op 'Conv' (domain 'ai.onnx', opset 17) is not supported");
}

TEST(OnnxImporterErrors, CustomDomainOpIsUnsupported) {
  ModelBuilder b = reluModel();
  b.opset("com.example", 3);
  b.node("Fancy", "fancy", {"x"}, {"y"}, "com.example");
  EXPECT_EQ(expectOneError(b.serialize()),
            ": node 'fancy': op 'Fancy' (domain 'com.example', opset 3) is not supported");
}

TEST(OnnxImporterErrors, TwoSymbolicDimsSuggestBindDim) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("batch"), std::string("seq"), int64_t(8)});
  b.output("y");
  b.node("Relu", "relu", {"x"}, {"y"});
  std::string message = expectOneError(b.serialize());
  EXPECT_THAT(message, HasSubstr("'batch' in input 'x'"));
  EXPECT_THAT(message, HasSubstr("'seq' in input 'x'"));
  EXPECT_THAT(message, HasSubstr("--bind-dim NAME=VALUE"));
}

TEST(OnnxImporterErrors, MissingAndShortExternalDataNameInitializerAndFile) {
  auto model = [](const std::string &length) {
    ModelBuilder b = reluModel();
    b.graph().mutable_node()->Clear();
    auto &w = b.floatInitializer("expert.w", {4, 4}, {}, /*raw=*/false);
    w.set_data_location(TP::EXTERNAL);
    auto *loc = w.add_external_data();
    loc->set_key("location");
    loc->set_value("weights.bin");
    auto *len = w.add_external_data();
    len->set_key("length");
    len->set_value(length);
    b.node("Add", "add", {"x", "x"}, {"y"});
    return b.serialize();
  };
  std::string missing = expectOneError(model("64"));
  EXPECT_THAT(missing, HasSubstr("initializer 'expert.w'"));
  EXPECT_THAT(missing, HasSubstr("weights.bin"));

  TempDir dir;
  dir.write("weights.bin", std::string(40, '\1')); // 40 of the 64 bytes
  std::string shortData = expectOneError(model("64"), "bad.onnx", {}, &dir);
  EXPECT_THAT(shortData, HasSubstr("initializer 'expert.w'"));
  EXPECT_THAT(shortData, HasSubstr("weights.bin' has 40 bytes"));
}

TEST(OnnxImporterErrors, RawDataOfTheWrongSizeIsReported) {
  ModelBuilder b = reluModel();
  b.floatInitializer("w", {4, 4}, std::vector<float>(15, 1.0f));
  b.node("Relu", "relu", {"x"}, {"y"});
  EXPECT_THAT(expectOneError(b.serialize()),
              HasSubstr("initializer 'w': has 60 bytes of raw data, its shape needs 64"));
}

TEST(OnnxImporterErrors, UnknownAttributeIsNamed) {
  ModelBuilder b = reluModel();
  auto &node = b.node("Softmax", "sm", {"x"}, {"y"});
  ModelBuilder::intAttr(node, "axiz", 1);
  EXPECT_EQ(expectOneError(b.serialize()),
            ": node 'sm': op 'Softmax' (opset 17): unknown attribute 'axiz'");
}

TEST(OnnxImporterErrors, AttributeOfTheWrongKindIsReported) {
  ModelBuilder b = reluModel();
  auto &node = b.node("Gather", "g", {"x", "x"}, {"y"});
  ModelBuilder::stringAttr(node, "axis", "zero");
  EXPECT_THAT(expectOneError(b.serialize()),
              HasSubstr(": node 'g': op 'Gather' (opset 17): attribute 'axis' has the wrong type"));
}

TEST(OnnxImporterErrors, WrongInputAndOutputCounts) {
  ModelBuilder b = reluModel();
  b.node("Add", "add", {"x"}, {"y"});
  EXPECT_EQ(expectOneError(b.serialize()),
            ": node 'add': op 'Add' (opset 17): expects at least 2 inputs, got 1");
  ModelBuilder c = reluModel();
  c.node("Relu", "relu", {"x"}, {"y", "z"});
  EXPECT_EQ(expectOneError(c.serialize()),
            ": node 'relu': op 'Relu' (opset 17): expects 1 outputs, got 2");
  ModelBuilder d = reluModel();
  d.node("Relu", "relu", {"nowhere"}, {"y"});
  EXPECT_THAT(expectOneError(d.serialize()), HasSubstr("input 'nowhere' is not produced"));
}

// An invalid model (not a shape moec merely cannot express, which the
// importer defers: DeferredShapesTest.cpp) is refused at the node.
TEST(OnnxImporterErrors, ShapeInferenceFailureIsPrefixedWithOpAndOpset) {
  ModelBuilder b = reluModel();
  b.floatInitializer("bias", {3}, {0.5f, -0.25f, 0.75f});
  b.node("Add", "add_bias", {"x", "bias"}, {"y"});
  EXPECT_EQ(expectOneError(b.serialize()),
            ": node 'add_bias': op 'Add' (opset 17): operand shapes cannot be broadcast "
            "together: dimension 8 against 3");
}

TEST(OnnxImporterErrors, VerifierFailureIsPrefixedWithOpAndOpset) {
  ModelBuilder b = reluModel();
  b.opset("com.microsoft", 1);
  b.floatInitializer("w", {2, 4, 8}, std::vector<float>(64, 0.5f));
  b.floatInitializer("r", {8, 2}, std::vector<float>(16, 0.5f));
  b.node("MatMul", "mm", {"x", "r"}, {"logits"});
  auto &moe = b.node("MoE", "moe", {"x", "logits", "w", "", "w"}, {"y"}, "com.microsoft");
  ModelBuilder::stringAttr(moe, "activation_type", "swish");
  EXPECT_THAT(expectOneError(b.serialize()),
              HasSubstr(": node 'moe': op 'MoE' (opset 1): activation_type must be one of"));
}

TEST(OnnxImporterErrors, DeclaredOutputShapeDisagreeingWithInferenceIsReported) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  auto *dims = b.graph().mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->add_dim()->set_dim_param("tokens");
  dims->add_dim()->set_dim_value(9);
  b.node("Relu", "relu", {"x"}, {"y"});
  EXPECT_THAT(expectOneError(b.serialize()),
              HasSubstr("graph output 'y' is declared with a type that differs from the "
                        "inferred 'tensor<?x8xf32>'"));
}

} // namespace
