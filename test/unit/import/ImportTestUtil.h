//===- ImportTestUtil.h - building ONNX models for importer tests -*- C++ -*-===//
#ifndef MOEC_TEST_UNIT_IMPORT_IMPORTTESTUTIL_H
#define MOEC_TEST_UNIT_IMPORT_IMPORTTESTUTIL_H

#include "compiler/import/OnnxImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace moec::test {

// A dim: a value or a symbolic name.
using Dim = std::variant<int64_t, std::string>;

// Random floats in ±[0.1, 1]: never zero, so a lost or misplaced value shows.
std::vector<float> randomFloats(std::mt19937 &rng, size_t count);

class ModelBuilder {
public:
  ModelBuilder();
  ::onnx::ModelProto &model() { return model_; }
  ::onnx::GraphProto &graph() { return *model_.mutable_graph(); }

  void opset(const std::string &domain, int64_t version);
  void input(const std::string &name, int32_t type, std::initializer_list<Dim> dims);
  void output(const std::string &name, int32_t type = ::onnx::TensorProto::FLOAT);
  ::onnx::TensorProto &floatInitializer(const std::string &name, std::vector<int64_t> dims,
                                        const std::vector<float> &values, bool raw = true);
  ::onnx::TensorProto &int64Initializer(const std::string &name, std::vector<int64_t> dims,
                                        const std::vector<int64_t> &values, bool raw = false);
  ::onnx::NodeProto &node(const std::string &type, const std::string &name,
                          std::initializer_list<std::string> inputs,
                          std::initializer_list<std::string> outputs,
                          const std::string &domain = "");
  static void intAttr(::onnx::NodeProto &node, const std::string &name, int64_t value);
  static void intsAttr(::onnx::NodeProto &node, const std::string &name,
                       std::vector<int64_t> values);
  static void stringAttr(::onnx::NodeProto &node, const std::string &name,
                         const std::string &value);

  std::string serialize() const;

private:
  ::onnx::ModelProto model_;
};

// A temporary directory removed at destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  std::string path(const std::string &file) const;
  std::string write(const std::string &file, const std::string &bytes) const;

private:
  std::string dir_;
};

// "<file>" or "<file>: node '<name>'" for a location the importer made.
std::string describeLocation(mlir::Location loc);

// An import with every diagnostic recorded as "<where>: <message>", where
// <where> is "<file>" or "<file>: node '<name>'".
struct ImportResult {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<std::string> errors;
  std::vector<std::string> others;
};
ImportResult importWithDiagnostics(mlir::MLIRContext &ctx, const std::string &path,
                                   const OnnxImportOptions &options = {});

// Bytes of a dense_resource constant op's blob, or empty.
std::vector<char> constantBytes(mlir::Operation *op);

} // namespace moec::test

#endif // MOEC_TEST_UNIT_IMPORT_IMPORTTESTUTIL_H
