//===- GrowingCache.cpp - a growing KV cache into a fixed-capacity one -----===//
#include "compiler/import/GrowingCache.h"

#include "compiler/import/GraphEdit.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace moec::import {
namespace {

constexpr const char *kSeqlensK = "seqlens_k";
constexpr const char *kTotalLength = "total_sequence_length";
// Prefix of every name the rewrite adds to the graph.
constexpr const char *kPrefix = "moec_kv_cache/";

bool isSymbolic(const ::onnx::TensorShapeProto_Dimension &dim,
                const std::map<std::string, int64_t> &bindings) {
  return !dim.has_dim_value() && !bindings.count(dim.has_dim_param() ? dim.dim_param() : "");
}

const ::onnx::AttributeProto *findAttr(const ::onnx::NodeProto &node, const std::string &name) {
  for (const ::onnx::AttributeProto &attr : node.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

} // namespace

std::optional<GrowingCacheRewrite>
rewriteGrowingCache(::onnx::GraphProto &graph, const std::map<std::string, int64_t> &bindings,
                    int64_t capacity, std::string &error) {
  std::set<std::string> initializers;
  for (const ::onnx::TensorProto &t : graph.initializer())
    initializers.insert(t.name());

  // The symbols in order of appearance, as the importer reads them.
  std::vector<std::pair<std::string, std::string>> symbols; // name, first input
  for (const ::onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.count(input.name()) || !input.type().has_tensor_type() ||
        !input.type().tensor_type().has_shape())
      continue;
    for (const auto &dim : input.type().tensor_type().shape().dim())
      if (isSymbolic(dim, bindings) &&
          std::none_of(symbols.begin(), symbols.end(),
                       [&](const auto &s) { return s.first == symbolOf(dim); }))
        symbols.emplace_back(symbolOf(dim), input.name());
  }
  if (symbols.size() != 2 || symbols[1].second.rfind("past", 0) != 0)
    return std::nullopt;
  const std::string tokenSymbol = symbols[0].first, pastSymbol = symbols[1].first;

  GrowingCacheRewrite rewrite;
  rewrite.pastSymbol = pastSymbol;
  rewrite.capacity = capacity;
  // Values whose shape is a cache input's, with that input's rewritten shape
  // (keys and values may differ in head size).
  std::map<std::string, std::vector<int64_t>> aliases;
  std::string tokenInput;
  int tokenAxis = -1;
  int64_t batch = -1;
  for (::onnx::ValueInfoProto &input : *graph.mutable_input()) {
    if (initializers.count(input.name()) || !input.type().has_tensor_type() ||
        !input.type().tensor_type().has_shape())
      continue;
    if (input.name() == kSeqlensK || input.name() == kTotalLength) {
      error = "input '" + input.name() + "' already exists: moec cannot add it to run the "
              "growing KV cache '" + pastSymbol + "' as a fixed-capacity cache";
      return std::nullopt;
    }
    auto *dims = input.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim();
    bool carriesPast = false;
    for (int i = 0; i < dims->size(); ++i) {
      const auto &dim = dims->Get(i);
      if (!isSymbolic(dim, bindings))
        continue;
      if (symbolOf(dim) == pastSymbol) {
        carriesPast = true;
        if (dims->size() != 4 || i != 2) {
          error = "input '" + input.name() + "' has the cache length '" + pastSymbol +
                  "' at axis " + std::to_string(i) + " of " + std::to_string(dims->size()) +
                  "; a growing KV cache must be [batch, kv_heads, '" + pastSymbol +
                  "', head_size]";
          return std::nullopt;
        }
      } else if (tokenInput.empty()) {
        tokenInput = input.name();
        tokenAxis = i;
      }
    }
    if (!carriesPast)
      continue;
    int64_t b = staticDim(dims->Get(0), bindings);
    if (b < 1 || staticDim(dims->Get(1), bindings) < 1 || staticDim(dims->Get(3), bindings) < 1) {
      error = "cache input '" + input.name() + "' needs static batch, kv_heads and head_size " +
              "(fix them with --bind-dim)";
      return std::nullopt;
    }
    if (batch != -1 && b != batch) {
      error = "the cache inputs disagree on the batch size (" + std::to_string(batch) + " and " +
              std::to_string(b) + " in '" + input.name() + "')";
      return std::nullopt;
    }
    batch = b;
    std::vector<int64_t> cacheShape = {b, staticDim(dims->Get(1), bindings), capacity,
                                       staticDim(dims->Get(3), bindings)};
    for (int i = 0; i < 4; ++i) {
      auto *dim = dims->Mutable(i);
      int64_t value = i == 2 ? capacity : staticDim(*dim, bindings);
      dim->Clear();
      dim->set_dim_value(value);
    }
    aliases[input.name()] = cacheShape;
    ++rewrite.cacheInputs;
  }
  if (tokenInput.empty()) {
    error = "no input carries the token count '" + tokenSymbol + "' besides the growing KV "
            "cache '" + pastSymbol + "'";
    return std::nullopt;
  }

  // seqlens_k [B] and total_sequence_length [1], int32, as GroupQueryAttention has them.
  auto addInput = [&](const char *name, int64_t length) {
    ::onnx::ValueInfoProto *input = graph.add_input();
    input->set_name(name);
    auto *tensor = input->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(::onnx::TensorProto::INT32);
    tensor->mutable_shape()->add_dim()->set_dim_value(length);
  };
  addInput(kSeqlensK, batch);
  addInput(kTotalLength, 1);

  // past = total_sequence_length - T, int64 [1].
  std::vector<::onnx::NodeProto> nodes;
  const std::string p = kPrefix;
  const std::string pastLength = p + "past_length";
  {
    ::onnx::NodeProto cast = makeNode("Cast", p + "total_i64", {kTotalLength}, {p + "total_i64"});
    setIntAttr(cast, "to", ::onnx::TensorProto::INT64);
    nodes.push_back(cast);
    nodes.push_back(makeNode("Shape", p + "token_shape", {tokenInput}, {p + "token_shape"}));
    addInt64Initializer(graph, p + "token_axis", {tokenAxis});
    ::onnx::NodeProto gather = makeNode("Gather", p + "tokens",
                                        {p + "token_shape", p + "token_axis"}, {p + "tokens"});
    setIntAttr(gather, "axis", 0);
    nodes.push_back(gather);
    nodes.push_back(makeNode("Sub", pastLength, {p + "total_i64", p + "tokens"}, {pastLength}));
  }

  int shapes = 0;
  for (const ::onnx::NodeProto &node : graph.node()) {
    bool onnxDomain = node.domain().empty() || node.domain() == "ai.onnx";
    // Views of a cache input: its Shape is the cache's.
    if (onnxDomain && node.output_size() == 1 && node.input_size() == 1 &&
        (node.op_type() == "Identity" || node.op_type() == "Concat") &&
        aliases.count(node.input(0))) {
      std::vector<int64_t> shape = aliases[node.input(0)];
      aliases[node.output(0)] = shape;
    }
    if (!onnxDomain || node.op_type() != "Shape" || node.input_size() != 1 ||
        !aliases.count(node.input(0))) {
      nodes.push_back(node);
      continue;
    }
    const std::vector<int64_t> &cacheShape = aliases[node.input(0)];
    int64_t start = 0, end = 4;
    if (const auto *a = findAttr(node, "start"))
      start = a->i();
    if (const auto *a = findAttr(node, "end"))
      end = a->i();
    start = std::clamp<int64_t>(start < 0 ? start + 4 : start, 0, 4);
    end = std::clamp<int64_t>(end < 0 ? end + 4 : end, 0, 4);
    if (!(start <= 2 && 2 < end)) {
      nodes.push_back(node); // static dims only
      continue;
    }
    // Concat(static dims before, past, static dims after).
    std::string base = p + "shape_" + std::to_string(shapes++);
    ::onnx::NodeProto concat = makeNode("Concat", base, {}, {node.output(0)});
    setIntAttr(concat, "axis", 0);
    if (start < 2) {
      addInt64Initializer(graph, base + "/before",
                          std::vector<int64_t>(cacheShape.begin() + start, cacheShape.begin() + 2));
      concat.add_input(base + "/before");
    }
    concat.add_input(pastLength);
    if (end > 3) {
      addInt64Initializer(graph, base + "/after", {cacheShape[3]});
      concat.add_input(base + "/after");
    }
    nodes.push_back(concat);
  }
  graph.clear_node();
  for (::onnx::NodeProto &node : nodes)
    *graph.add_node() = std::move(node);
  return rewrite;
}

} // namespace moec::import
