//===- GraphEdit.h - small helpers for rewriting an ONNX GraphProto -*- C++ -*-===//
//
// The import-time rewrites (GrowingCache.cpp, AttentionMaskInput.cpp) edit
// the protobuf before the importer reads it: new nodes, int64 initializers,
// and dims read with the user's --bind-dim bindings applied.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_IMPORT_GRAPHEDIT_H
#define MOEC_COMPILER_IMPORT_GRAPHEDIT_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moec::import {

inline std::string symbolOf(const ::onnx::TensorShapeProto_Dimension &dim) {
  return dim.has_dim_param() ? dim.dim_param() : "";
}

// A dim's value: literal or bound with --bind-dim; -1 if it stays symbolic.
inline int64_t staticDim(const ::onnx::TensorShapeProto_Dimension &dim,
                         const std::map<std::string, int64_t> &bindings) {
  if (dim.has_dim_value())
    return dim.dim_value();
  auto bound = bindings.find(symbolOf(dim));
  return bound == bindings.end() ? -1 : bound->second;
}

inline ::onnx::NodeProto makeNode(const std::string &type, const std::string &name,
                                  const std::vector<std::string> &inputs,
                                  const std::vector<std::string> &outputs) {
  ::onnx::NodeProto node;
  node.set_op_type(type);
  node.set_name(name);
  for (const std::string &in : inputs)
    node.add_input(in);
  for (const std::string &out : outputs)
    node.add_output(out);
  return node;
}

inline void setIntAttr(::onnx::NodeProto &node, const std::string &name, int64_t value) {
  ::onnx::AttributeProto *attr = node.add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::INT);
  attr->set_i(value);
}

// A 1-D int64 initializer.
inline void addInt64Initializer(::onnx::GraphProto &graph, const std::string &name,
                                const std::vector<int64_t> &values) {
  ::onnx::TensorProto *tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(::onnx::TensorProto::INT64);
  tensor->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values)
    tensor->add_int64_data(v);
}

} // namespace moec::import

#endif // MOEC_COMPILER_IMPORT_GRAPHEDIT_H
