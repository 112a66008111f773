//===- ImportTestUtil.cpp - building ONNX models for importer tests --------===//
#include "ImportTestUtil.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <fstream>

namespace moec::test {

std::vector<float> randomFloats(std::mt19937 &rng, size_t count) {
  std::uniform_real_distribution<float> magnitude(0.1f, 1.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> values(count);
  for (float &v : values)
    v = negative(rng) ? -magnitude(rng) : magnitude(rng);
  return values;
}

ModelBuilder::ModelBuilder() {
  model_.set_ir_version(8);
  model_.set_producer_name("moec-import-test");
  graph().set_name("test");
}

void ModelBuilder::opset(const std::string &domain, int64_t version) {
  auto *opset = model_.add_opset_import();
  opset->set_domain(domain);
  opset->set_version(version);
}

void ModelBuilder::input(const std::string &name, int32_t type, std::initializer_list<Dim> dims) {
  auto *value = graph().add_input();
  value->set_name(name);
  auto *tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(type);
  auto *shape = tensor->mutable_shape();
  for (const Dim &dim : dims) {
    auto *d = shape->add_dim();
    if (std::holds_alternative<int64_t>(dim))
      d->set_dim_value(std::get<int64_t>(dim));
    else
      d->set_dim_param(std::get<std::string>(dim));
  }
}

void ModelBuilder::output(const std::string &name, int32_t type) {
  auto *value = graph().add_output();
  value->set_name(name);
  value->mutable_type()->mutable_tensor_type()->set_elem_type(type);
}

::onnx::TensorProto &ModelBuilder::floatInitializer(const std::string &name,
                                                    std::vector<int64_t> dims,
                                                    const std::vector<float> &values, bool raw) {
  auto *tensor = graph().add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims)
    tensor->add_dims(d);
  if (raw)
    tensor->set_raw_data(std::string(reinterpret_cast<const char *>(values.data()),
                                     values.size() * sizeof(float)));
  else
    for (float v : values)
      tensor->add_float_data(v);
  return *tensor;
}

::onnx::TensorProto &ModelBuilder::int64Initializer(const std::string &name,
                                                    std::vector<int64_t> dims,
                                                    const std::vector<int64_t> &values,
                                                    bool raw) {
  auto *tensor = graph().add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(::onnx::TensorProto::INT64);
  for (int64_t d : dims)
    tensor->add_dims(d);
  if (raw)
    tensor->set_raw_data(std::string(reinterpret_cast<const char *>(values.data()),
                                     values.size() * sizeof(int64_t)));
  else
    for (int64_t v : values)
      tensor->add_int64_data(v);
  return *tensor;
}

::onnx::NodeProto &ModelBuilder::node(const std::string &type, const std::string &name,
                                      std::initializer_list<std::string> inputs,
                                      std::initializer_list<std::string> outputs,
                                      const std::string &domain) {
  auto *node = graph().add_node();
  node->set_op_type(type);
  node->set_name(name);
  node->set_domain(domain);
  for (const auto &i : inputs)
    node->add_input(i);
  for (const auto &o : outputs)
    node->add_output(o);
  return *node;
}

void ModelBuilder::intAttr(::onnx::NodeProto &node, const std::string &name, int64_t value) {
  auto *attr = node.add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::INT);
  attr->set_i(value);
}

void ModelBuilder::intsAttr(::onnx::NodeProto &node, const std::string &name,
                            std::vector<int64_t> values) {
  auto *attr = node.add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : values)
    attr->add_ints(v);
}

void ModelBuilder::stringAttr(::onnx::NodeProto &node, const std::string &name,
                              const std::string &value) {
  auto *attr = node.add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::STRING);
  attr->set_s(value);
}

std::string ModelBuilder::serialize() const {
  std::string bytes;
  model_.SerializeToString(&bytes);
  return bytes;
}

TempDir::TempDir() {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("moec-import-test", dir))
    dir = "/tmp";
  dir_ = std::string(dir);
}

TempDir::~TempDir() { llvm::sys::fs::remove_directories(dir_); }

std::string TempDir::path(const std::string &file) const { return dir_ + "/" + file; }

std::string TempDir::write(const std::string &file, const std::string &bytes) const {
  std::string full = path(file);
  std::ofstream out(full, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return full;
}

std::string describeLocation(mlir::Location loc) {
  std::string node, file;
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(loc)) {
    node = name.getName().str();
    loc = name.getChildLoc();
  }
  if (auto fileLoc = llvm::dyn_cast<mlir::FileLineColLoc>(loc))
    file = fileLoc.getFilename().str();
  return node.empty() ? file : file + ": node '" + node + "'";
}

ImportResult importWithDiagnostics(mlir::MLIRContext &ctx, const std::string &path,
                                   const OnnxImportOptions &options) {
  ImportResult result;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &diag) {
    std::string text = describeLocation(diag.getLocation()) + ": " + diag.str();
    if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
      result.errors.push_back(text);
    else
      result.others.push_back(text);
    return mlir::success();
  });
  result.module = importOnnxFile(ctx, path, options);
  return result;
}

std::vector<char> constantBytes(mlir::Operation *op) {
  auto attr = op->getAttrOfType<mlir::DenseResourceElementsAttr>("value");
  if (!attr || !attr.getRawHandle().getBlob())
    return {};
  llvm::ArrayRef<char> data = attr.getRawHandle().getBlob()->getData();
  return std::vector<char>(data.begin(), data.end());
}

} // namespace moec::test
