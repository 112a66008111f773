//===- AttentionMaskInput.cpp - an attention_mask input of all ones --------===//
#include "compiler/import/AttentionMaskInput.h"

#include "compiler/import/GraphEdit.h"

#include <vector>

namespace moec::import {
namespace {

constexpr const char *kMaskName = "attention_mask";
constexpr const char *kPrefix = "moec_attention_mask/";

} // namespace

std::optional<AttentionMaskInput>
takeAttentionMask(::onnx::GraphProto &graph, const std::map<std::string, int64_t> &bindings,
                  std::string &error) {
  auto *inputs = graph.mutable_input();
  for (int i = 0; i < inputs->size(); ++i) {
    const ::onnx::ValueInfoProto &input = inputs->Get(i);
    if (input.name() != kMaskName)
      continue;
    for (const ::onnx::TensorProto &t : graph.initializer())
      if (t.name() == kMaskName)
        return std::nullopt; // a constant, not an input
    const auto &type = input.type().tensor_type();
    if (!input.type().has_tensor_type() || !type.has_shape() || type.shape().dim_size() != 2 ||
        staticDim(type.shape().dim(1), bindings) >= 0)
      return std::nullopt; // not the [batch, length] form this replaces
    if (staticDim(type.shape().dim(0), bindings) < 1) {
      error = "input 'attention_mask' needs a static batch size (fix it with --bind-dim)";
      return std::nullopt;
    }
    AttentionMaskInput mask{input};
    inputs->DeleteSubrange(i, 1);
    return mask;
  }
  return std::nullopt;
}

bool defineOnesMask(::onnx::GraphProto &graph, const AttentionMaskInput &mask, bool withCache,
                    const std::map<std::string, int64_t> &bindings, std::string &error) {
  const auto &type = mask.input.type().tensor_type();
  int64_t batch = staticDim(type.shape().dim(0), bindings);
  const auto &lengthDim = type.shape().dim(1);
  std::string length = lengthDim.has_dim_param() ? lengthDim.dim_param() : "";
  const std::string p = kPrefix;
  std::vector<::onnx::NodeProto> nodes;
  std::string lengthValue = p + "length";
  if (withCache) {
    // The cached tokens and the run's: total_sequence_length.
    ::onnx::NodeProto cast =
        makeNode("Cast", lengthValue, {"total_sequence_length"}, {lengthValue});
    setIntAttr(cast, "to", ::onnx::TensorProto::INT64);
    nodes.push_back(cast);
  } else {
    // The token count: the dim of another input that has the same symbol.
    std::string source;
    int axis = -1;
    for (const ::onnx::ValueInfoProto &input : graph.input()) {
      if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
        continue;
      const auto &dims = input.type().tensor_type().shape().dim();
      for (int d = 0; d < dims.size() && source.empty(); ++d)
        if (!length.empty() && dims[d].has_dim_param() && dims[d].dim_param() == length) {
          source = input.name();
          axis = d;
        }
    }
    if (source.empty()) {
      error = "input 'attention_mask' has a length ('" + length +
              "') that no other input has: moec cannot tell it from the token count";
      return false;
    }
    nodes.push_back(makeNode("Shape", p + "source_shape", {source}, {p + "source_shape"}));
    addInt64Initializer(graph, p + "axis", {axis});
    ::onnx::NodeProto gather =
        makeNode("Gather", lengthValue, {p + "source_shape", p + "axis"}, {lengthValue});
    setIntAttr(gather, "axis", 0);
    nodes.push_back(gather);
  }
  addInt64Initializer(graph, p + "batch", {batch});
  ::onnx::NodeProto shape =
      makeNode("Concat", p + "shape", {p + "batch", lengthValue}, {p + "shape"});
  setIntAttr(shape, "axis", 0);
  nodes.push_back(shape);
  // One, in the input's element type.
  ::onnx::TensorProto *one = graph.add_initializer();
  one->set_name(p + "one");
  one->set_data_type(type.elem_type());
  switch (type.elem_type()) {
  case ::onnx::TensorProto::INT64: one->add_int64_data(1); break;
  case ::onnx::TensorProto::INT32:
  case ::onnx::TensorProto::BOOL: one->add_int32_data(1); break;
  case ::onnx::TensorProto::FLOAT: one->add_float_data(1.0f); break;
  default:
    error = "input 'attention_mask' has data type " + std::to_string(type.elem_type()) +
            "; moec replaces an int64, int32, bool or float mask";
    return false;
  }
  nodes.push_back(makeNode("Expand", p + "ones", {p + "one", p + "shape"}, {kMaskName}));

  std::vector<::onnx::NodeProto> all(nodes.begin(), nodes.end());
  for (const ::onnx::NodeProto &node : graph.node())
    all.push_back(node);
  graph.clear_node();
  for (::onnx::NodeProto &node : all)
    *graph.add_node() = std::move(node);
  return true;
}

} // namespace moec::import
