//===- ImporterTest.cpp - the ONNX importer on valid models ----------------===//
//
// Builds small models with the ONNX protobuf API, imports them and checks
// the IR: argument/result types with `?` for the token count, constants
// carrying exactly the bytes written, the module attributes, and the
// rewriting of older opsets' attribute forms.
//
//===----------------------------------------------------------------------===//
#include "ImportTestUtil.h"

#include "dialects/onnx/ONNXDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace mlir;
using namespace moec::test;
namespace onnxd = moec::onnx;
using TP = ::onnx::TensorProto;

namespace {

func::FuncOp mainOf(ModuleOp module) { return module.lookupSymbol<func::FuncOp>("main"); }

template <typename OpT>
SmallVector<OpT> opsOf(ModuleOp module) {
  SmallVector<OpT> ops;
  module.walk([&](OpT op) { ops.push_back(op); });
  return ops;
}

onnxd::ConstantOp constantNamed(ModuleOp module, StringRef name) {
  onnxd::ConstantOp found;
  module.walk([&](onnxd::ConstantOp op) {
    if (auto loc = dyn_cast<NameLoc>(op.getLoc()); loc && loc.getName() == name)
      found = op;
  });
  return found;
}

std::vector<char> asBytes(const std::vector<float> &values) {
  std::vector<char> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Router MatMul + com.microsoft.MoE, as exporters write a MoE block.
struct MoEModel {
  std::mt19937 rng{1234};
  std::vector<float> router = randomFloats(rng, 16 * 4);
  std::vector<float> fc1 = randomFloats(rng, 4 * 32 * 16);
  std::vector<float> fc1Bias = randomFloats(rng, 4 * 32);
  std::vector<float> fc2 = randomFloats(rng, 4 * 16 * 32);
  ModelBuilder b;

  MoEModel() {
    b.opset("", 17);
    b.opset("com.microsoft", 1);
    b.input("input", TP::FLOAT, {std::string("tokens"), int64_t(16)});
    b.output("output");
    b.floatInitializer("router.weight", {16, 4}, router);
    b.floatInitializer("fc1", {4, 32, 16}, fc1, /*raw=*/false); // typed float_data
    b.floatInitializer("fc1 bias", {4, 32}, fc1Bias);
    b.floatInitializer("fc2", {4, 16, 32}, fc2);
    b.node("MatMul", "router", {"input", "router.weight"}, {"logits"});
    auto &moe = b.node("MoE", "moe", {"input", "logits", "fc1", "fc1 bias", "fc2"}, {"output"},
                       "com.microsoft");
    ModelBuilder::intAttr(moe, "k", 2);
    ModelBuilder::stringAttr(moe, "activation_type", "silu");
    ModelBuilder::intAttr(moe, "normalize_routing_weights", 1);
  }
};

TEST(OnnxImporter, ImportsMoEBlockWithTypesConstantsAndModuleAttributes) {
  MoEModel m;
  TempDir dir;
  std::string path = dir.write("moe.onnx", m.b.serialize());
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, path);
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  EXPECT_TRUE(r.errors.empty());

  ModuleOp module = *r.module;
  EXPECT_EQ(module->getAttrOfType<StringAttr>("moec.source").getValue(), "moe.onnx");
  EXPECT_EQ(module->getAttrOfType<StringAttr>("moec.token_dim").getValue(), "tokens");
  auto opsets = module->getAttrOfType<DictionaryAttr>("onnx.opset_import");
  ASSERT_TRUE(opsets);
  EXPECT_EQ(cast<IntegerAttr>(opsets.get("ai.onnx")).getInt(), 17);
  EXPECT_EQ(cast<IntegerAttr>(opsets.get("com.microsoft")).getInt(), 1);

  func::FuncOp f = mainOf(module);
  ASSERT_TRUE(f);
  auto tokens = ShapedType::kDynamic;
  Type f32 = Float32Type::get(&ctx);
  ASSERT_EQ(f.getFunctionType().getNumInputs(), 1u);
  ASSERT_EQ(f.getFunctionType().getNumResults(), 1u);
  EXPECT_EQ(f.getFunctionType().getInput(0), RankedTensorType::get({tokens, 16}, f32));
  EXPECT_EQ(f.getFunctionType().getResult(0), RankedTensorType::get({tokens, 16}, f32));
  EXPECT_EQ(f.getArgAttrOfType<StringAttr>(0, "onnx.name").getValue(), "input");
  EXPECT_EQ(f.getResultAttrOfType<StringAttr>(0, "onnx.name").getValue(), "output");

  // Both raw_data and float_data initializers carry exactly the written bytes.
  for (auto [name, values] : {std::pair<StringRef, std::vector<float> *>{"router.weight", &m.router},
                              {"fc1", &m.fc1},
                              {"fc1 bias", &m.fc1Bias},
                              {"fc2", &m.fc2}}) {
    onnxd::ConstantOp c = constantNamed(module, name);
    ASSERT_TRUE(c) << name.str();
    EXPECT_TRUE(isa<DenseResourceElementsAttr>(c.getValue())) << name.str();
    EXPECT_EQ(constantBytes(c), asBytes(*values)) << name.str();
  }
  EXPECT_EQ(cast<RankedTensorType>(constantNamed(module, "fc1").getType()),
            RankedTensorType::get({4, 32, 16}, f32));

  auto moes = opsOf<onnxd::MsMoEOp>(module);
  ASSERT_EQ(moes.size(), 1u);
  onnxd::MsMoEOp moe = moes.front();
  EXPECT_TRUE(moe.getFc1ExpertsBias());
  EXPECT_FALSE(moe.getFc2ExpertsBias());
  EXPECT_FALSE(moe.getFc3ExpertsWeights());
  EXPECT_EQ(moe.getK(), 2u);
  EXPECT_EQ(moe.getActivationType(), "silu");
  EXPECT_EQ(moe.getNormalizeRoutingWeights(), 1u);
  EXPECT_FALSE(moe.getSwigluLimit().has_value());
  auto loc = dyn_cast<NameLoc>(moe.getLoc());
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc.getName(), "moe");
  auto router = opsOf<onnxd::MatMulOp>(module).front();
  EXPECT_EQ(router.getType(), RankedTensorType::get({tokens, 4}, f32));
}

// The chain exporters emit for x.reshape(x.shape[0], 4, 4) resolves with `?`.
TEST(OnnxImporter, InfersShapeGatherConcatReshapeChain) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("n"), int64_t(16)});
  b.output("y");
  b.int64Initializer("zero", {}, {0});
  b.int64Initializer("axes", {1}, {0}, /*raw=*/true);
  b.int64Initializer("rest", {2}, {4, 4});
  b.node("Shape", "shape", {"x"}, {"s"});
  b.node("Gather", "gather", {"s", "zero"}, {"t"});
  b.node("Unsqueeze", "unsqueeze", {"t", "axes"}, {"t1"});
  auto &concat = b.node("Concat", "concat", {"t1", "rest"}, {"target"});
  ModelBuilder::intAttr(concat, "axis", 0);
  b.node("Reshape", "reshape", {"x", "target"}, {"y"});
  TempDir dir;
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("chain.onnx", b.serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  auto result = mainOf(*r.module).getFunctionType().getResult(0);
  EXPECT_EQ(result, RankedTensorType::get({ShapedType::kDynamic, 4, 4}, Float32Type::get(&ctx)));
  auto known = onnxd::getKnownIntValues(opsOf<onnxd::ReshapeOp>(*r.module).front().getShape());
  ASSERT_TRUE(known);
  EXPECT_EQ(*known, (SmallVector<int64_t>{ShapedType::kDynamic, 4, 4}));
}

// Opset 11: ReduceSum/Unsqueeze axes and TopK's k are attributes; the
// importer turns them into constant inputs. Softmax gets an explicit axis.
TEST(OnnxImporter, RewritesOlderOpsetAttributesIntoInputs) {
  ModelBuilder b;
  b.opset("", 9);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  b.output("idx", TP::INT64);
  auto &softmax = b.node("Softmax", "softmax", {"x"}, {"p"});
  ModelBuilder::intAttr(softmax, "axis", 1);
  auto &topk = b.node("TopK", "topk", {"p"}, {"v", "idx"});
  ModelBuilder::intAttr(topk, "k", 3);
  auto &sum = b.node("ReduceSum", "sum", {"v"}, {"s"});
  ModelBuilder::intsAttr(sum, "axes", {1});
  ModelBuilder::intAttr(sum, "keepdims", 0);
  auto &unsqueeze = b.node("Unsqueeze", "unsqueeze", {"s"}, {"y"});
  ModelBuilder::intsAttr(unsqueeze, "axes", {1});
  TempDir dir;
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("old.onnx", b.serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  auto type = mainOf(*r.module).getFunctionType();
  Type f32 = Float32Type::get(&ctx), i64 = IntegerType::get(&ctx, 64);
  EXPECT_EQ(type.getResult(0), RankedTensorType::get({ShapedType::kDynamic, 1}, f32));
  EXPECT_EQ(type.getResult(1), RankedTensorType::get({ShapedType::kDynamic, 3}, i64));
  auto reduce = opsOf<onnxd::ReduceSumOp>(*r.module).front();
  ASSERT_TRUE(reduce.getAxes());
  EXPECT_EQ(*onnxd::getKnownIntValues(reduce.getAxes()), SmallVector<int64_t>{1});
  EXPECT_EQ(*onnxd::getKnownIntValues(opsOf<onnxd::TopKOp>(*r.module).front().getK()),
            SmallVector<int64_t>{3});
  EXPECT_EQ(static_cast<int64_t>(opsOf<onnxd::SoftmaxOp>(*r.module).front().getAxis()), -1);
}

// Clip before opset 11 has float min/max attributes; they become scalar
// constant inputs of the input's type, and an absent bound stays absent.
TEST(OnnxImporter, RewritesClipBoundAttributesOfOpset10IntoInputs) {
  ModelBuilder b;
  b.opset("", 10);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  b.output("z");
  auto &both = b.node("Clip", "both", {"x"}, {"y"});
  for (auto [name, value] : {std::pair<const char *, float>{"min", -1.5f}, {"max", 2.0f}}) {
    auto *attr = both.add_attribute();
    attr->set_name(name);
    attr->set_type(::onnx::AttributeProto::FLOAT);
    attr->set_f(value);
  }
  auto &upper = b.node("Clip", "upper", {"x"}, {"z"});
  auto *attr = upper.add_attribute();
  attr->set_name("max");
  attr->set_type(::onnx::AttributeProto::FLOAT);
  attr->set_f(0.25f);
  TempDir dir;
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("clip10.onnx", b.serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  auto clips = opsOf<onnxd::ClipOp>(*r.module);
  ASSERT_EQ(clips.size(), 2u);
  auto scalar = [](Value v) {
    auto c = v.getDefiningOp<onnxd::ConstantOp>();
    auto values = cast<DenseElementsAttr>(c.getValue()).getValues<float>();
    return *values.begin();
  };
  ASSERT_TRUE(clips[0].getMin() && clips[0].getMax());
  EXPECT_EQ(scalar(clips[0].getMin()), -1.5f);
  EXPECT_EQ(scalar(clips[0].getMax()), 2.0f);
  EXPECT_FALSE(clips[1].getMin());
  ASSERT_TRUE(clips[1].getMax());
  EXPECT_EQ(scalar(clips[1].getMax()), 0.25f);
}

// Fully static models have no token dim; bound dims become static.
TEST(OnnxImporter, BindsNamedDimsAndOmitsTokenDimWhenStatic) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("batch"), int64_t(8)});
  b.output("y");
  b.node("Relu", "relu", {"x"}, {"y"});
  TempDir dir;
  MLIRContext ctx;
  moec::OnnxImportOptions options;
  options.dimBindings["batch"] = 3;
  ImportResult r = importWithDiagnostics(ctx, dir.write("static.onnx", b.serialize()), options);
  ASSERT_TRUE(r.module);
  EXPECT_FALSE((*r.module)->hasAttr("moec.token_dim"));
  EXPECT_EQ(mainOf(*r.module).getFunctionType().getInput(0),
            RankedTensorType::get({3, 8}, Float32Type::get(&ctx)));
}

// Weights in an external file at an offset, and an initializer that is also
// listed as a graph input (older exporters do that): both are constants.
TEST(OnnxImporter, ReadsExternalDataAndTreatsInitializerInputsAsConstants) {
  std::mt19937 rng(99);
  std::vector<float> weights = randomFloats(rng, 8 * 4);
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.input("w", TP::FLOAT, {int64_t(8), int64_t(4)});
  b.output("y");
  auto &w = b.floatInitializer("w", {8, 4}, {}, /*raw=*/false);
  w.set_data_location(TP::EXTERNAL);
  for (auto [key, value] : {std::pair<std::string, std::string>{"location", "w.bin"},
                            {"offset", "16"},
                            {"length", std::to_string(weights.size() * 4)}}) {
    auto *entry = w.add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  b.node("MatMul", "mm", {"x", "w"}, {"y"});
  TempDir dir;
  std::string data(16, '\x7f');
  data.append(reinterpret_cast<const char *>(weights.data()), weights.size() * 4);
  dir.write("w.bin", data);
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("ext.onnx", b.serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  func::FuncOp f = mainOf(*r.module);
  EXPECT_EQ(f.getNumArguments(), 1u);
  EXPECT_EQ(constantBytes(constantNamed(*r.module, "w")), asBytes(weights));
  EXPECT_EQ(f.getFunctionType().getResult(0),
            RankedTensorType::get({ShapedType::kDynamic, 4}, Float32Type::get(&ctx)));
}

} // namespace
