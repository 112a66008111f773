//===- DeferredShapesTest.cpp - shapes the importer defers to the pipeline -===//
//
// A value whose shape moec cannot express (2*T rows, NonZero's count) imports
// as an unranked value with the reason on the node that lost the shape. The
// compile then fails in moec-onnx-infer-shapes, after the raising passes,
// with exactly one error naming that node, unless raising removed it.
//
//===----------------------------------------------------------------------===//
#include "ImportTestUtil.h"

#include "compiler/pipeline/Pipeline.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace mlir;
using namespace moec::test;
namespace onnxd = moec::onnx;
using TP = ::onnx::TensorProto;
using ::testing::HasSubstr;

namespace {

// Imports `path` and runs moec's pipeline up to the moe dialect, recording
// every error as importWithDiagnostics does. `module` is null on failure.
ImportResult compileToMoe(MLIRContext &ctx, const std::string &path) {
  DialectRegistry registry;
  moec::registerAllDialects(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
  ImportResult result;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    std::string text = describeLocation(diag.getLocation()) + ": " + diag.str();
    (diag.getSeverity() == DiagnosticSeverity::Error ? result.errors : result.others)
        .push_back(text);
    return success();
  });
  result.module = moec::importOnnxFile(ctx, path, {});
  if (!result.module)
    return result;
  PassManager pm(&ctx, ModuleOp::getOperationName());
  moec::PipelineOptions options;
  moec::buildPipeline(pm, options, moec::Stage::MoeMlir);
  if (failed(pm.run(*result.module)))
    result.module = nullptr;
  return result;
}

// x [T, 8] -> Reshape to [-1] (8*T elements: not expressible) -> Relu ->
// Softmax (whose opset-13 axis needs no rank) -> y.
ModelBuilder flattenTokensModel() {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("y");
  b.int64Initializer("flat", {1}, {-1});
  b.node("Reshape", "flatten_tokens", {"x", "flat"}, {"flat_x"});
  b.node("Relu", "relu", {"flat_x"}, {"relu_x"});
  b.node("Softmax", "softmax", {"relu_x"}, {"y"});
  return b;
}

TEST(DeferredShapes, ImportRecordsTheReasonOnTheNodeThatLostTheShape) {
  TempDir dir;
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("flat.onnx", flattenTokensModel().serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  EXPECT_TRUE(r.errors.empty());
  onnxd::ReshapeOp reshape;
  onnxd::ReluOp relu;
  r.module->walk([&](Operation *op) {
    if (auto o = dyn_cast<onnxd::ReshapeOp>(op))
      reshape = o;
    if (auto o = dyn_cast<onnxd::ReluOp>(op))
      relu = o;
  });
  ASSERT_TRUE(reshape && relu);
  auto unrankedF32 = UnrankedTensorType::get(Float32Type::get(&ctx));
  EXPECT_EQ(reshape.getType(), unrankedF32);
  EXPECT_THAT(onnxd::getUnknownShapeReason(reshape).value_or(""),
              HasSubstr("cannot infer shape: dimension depends on the token count"));
  // The Relu (and the Softmax after it) only inherit the unknown shape: no
  // reason of their own.
  EXPECT_EQ(relu.getType(), unrankedF32);
  EXPECT_FALSE(onnxd::getUnknownShapeReason(relu));
  EXPECT_FALSE(onnxd::getUnknownShapeReason(relu->getNextNode()));
  auto func = r.module->lookupSymbol<func::FuncOp>("main");
  EXPECT_EQ(func.getFunctionType().getResult(0), unrankedF32);
}

TEST(DeferredShapes, PipelineGivesOneErrorNamingTheNode) {
  TempDir dir;
  std::string path = dir.write("flat.onnx", flattenTokensModel().serialize());
  MLIRContext ctx;
  ImportResult r = compileToMoe(ctx, path);
  EXPECT_FALSE(r.module);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors.front(),
            path + ": node 'flatten_tokens': op 'Reshape' (opset 17): cannot infer shape: "
                   "dimension depends on the token count in a way moec does not support (only a "
                   "dimension equal to the token count may be dynamic)");
}

// test/models/invalid/nonzero.onnx's graph: MatMul -> NonZero -> Cast, the
// output declared [2, "nnz"].
TEST(DeferredShapes, NonZeroFailsInThePipelineNamingTheNode) {
  std::mt19937 rng(4001);
  ModelBuilder b;
  b.opset("", 17);
  b.input("input", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.output("nz_f");
  auto *dims = b.graph().mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->add_dim()->set_dim_value(2);
  dims->add_dim()->set_dim_param("nnz");
  b.floatInitializer("w", {8, 8}, randomFloats(rng, 64));
  b.node("MatMul", "/block/MatMul", {"input", "w"}, {"h"});
  b.node("NonZero", "/block/NonZero", {"h"}, {"nz"});
  auto &cast = b.node("Cast", "/block/Cast", {"nz"}, {"nz_f"});
  ModelBuilder::intAttr(cast, "to", TP::FLOAT);
  TempDir dir;
  std::string path = dir.write("nonzero.onnx", b.serialize());
  {
    MLIRContext ctx;
    ImportResult r = importWithDiagnostics(ctx, path);
    ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
    auto func = r.module->lookupSymbol<func::FuncOp>("main");
    // Cast keeps its `to` type although the shape is unknown.
    EXPECT_EQ(func.getFunctionType().getResult(0),
              UnrankedTensorType::get(Float32Type::get(&ctx)));
  }
  MLIRContext ctx;
  ImportResult r = compileToMoe(ctx, path);
  EXPECT_FALSE(r.module);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors.front(), path + ": node '/block/NonZero': op 'NonZero' (opset 17): cannot "
                                     "infer shape: the number of nonzero elements depends on "
                                     "the input data");
}

// A deferred output whose declared element type disagrees is still refused.
TEST(DeferredShapes, DeferredOutputKeepsItsElementTypeCheck) {
  ModelBuilder b = flattenTokensModel();
  b.graph().mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(TP::INT64);
  TempDir dir;
  std::string path = dir.write("flat.onnx", b.serialize());
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, path);
  EXPECT_FALSE(r.module);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors.front(), HasSubstr("graph output 'y' is declared with a type that differs "
                                          "from the inferred 'tensor<*xf32>'"));
}

// The ops the MoE exports use import with their shapes where moec can
// express them: OneHot of constants folding into Tile's repeats (torch.onnx's
// repeat_interleave), GatherND of a weight by [T, 1] indices.
TEST(DeferredShapes, OneHotTileAndGatherNDInferKnownShapes) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(1), int64_t(8)});
  b.input("idx", TP::INT64, {std::string("tokens"), int64_t(1)});
  b.output("tiled");
  b.output("picked");
  std::mt19937 rng(11);
  b.floatInitializer("w", {4, 6, 8}, randomFloats(rng, 4 * 6 * 8));
  b.int64Initializer("hot_index", {1}, {1});
  b.int64Initializer("depth", {}, {3});
  b.int64Initializer("off_on", {2}, {1, 2});
  b.int64Initializer("flat", {1}, {-1});
  b.node("OneHot", "onehot", {"hot_index", "depth", "off_on"}, {"hot"});
  b.node("Reshape", "repeats", {"hot", "flat"}, {"repeats"});
  b.node("Tile", "tile", {"x", "repeats"}, {"tiled"});
  b.node("GatherND", "gathernd", {"w", "idx"}, {"picked"});
  TempDir dir;
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, dir.write("ops.onnx", b.serialize()));
  ASSERT_TRUE(r.module) << (r.errors.empty() ? "" : r.errors.front());
  auto types = r.module->lookupSymbol<func::FuncOp>("main").getFunctionType().getResults();
  auto f32 = Float32Type::get(&ctx);
  EXPECT_EQ(types[0], RankedTensorType::get({ShapedType::kDynamic, 2, 8}, f32));
  EXPECT_EQ(types[1], RankedTensorType::get({ShapedType::kDynamic, 6, 8}, f32));
}

TEST(DeferredShapes, GatherNDWithBatchDimsIsRefusedAtTheNode) {
  ModelBuilder b;
  b.opset("", 17);
  b.input("x", TP::FLOAT, {std::string("tokens"), int64_t(8)});
  b.input("idx", TP::INT64, {std::string("tokens"), int64_t(1)});
  b.output("y");
  auto &node = b.node("GatherND", "gnd", {"x", "idx"}, {"y"});
  ModelBuilder::intAttr(node, "batch_dims", 1);
  TempDir dir;
  std::string path = dir.write("gnd.onnx", b.serialize());
  MLIRContext ctx;
  ImportResult r = importWithDiagnostics(ctx, path);
  EXPECT_FALSE(r.module);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors.front(), path + ": node 'gnd': op 'GatherND' (opset 17): batch_dims = 1 "
                                     "is not supported (only 0)");
}

} // namespace
