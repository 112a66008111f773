//===- OnnxImporter.cpp - ONNX protobuf to the onnx dialect ----------------===//
//
// The driver: reads and parses the file, checks the model header, turns
// graph inputs into function arguments (one symbolic dim allowed: the token
// count), initializers into onnx.Constant ops, nodes into ops (NodeImport),
// and graph outputs into the function's results.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/OnnxImporter.h"

#include "compiler/import/AttentionMaskInput.h"
#include "compiler/import/GrowingCache.h"
#include "compiler/import/ImportContext.h"
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <optional>
#include <set>

using namespace mlir;

namespace moec {
namespace {

using import::ImportContext;

// The first byte of a serialized ModelProto: field 1 (ir_version), varint.
constexpr unsigned char kIrVersionTag = 0x08;
// Opsets older than this predate numpy-style broadcasting in the arithmetic ops.
constexpr int64_t kMinAiOnnxOpset = 7;

bool parseModel(const llvm::MemoryBuffer &buffer, ::onnx::ModelProto &model) {
  if (buffer.getBufferSize() > static_cast<size_t>(INT_MAX))
    return false;
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>(buffer.getBufferStart()),
      static_cast<int>(buffer.getBufferSize()));
  stream.SetTotalBytesLimit(INT_MAX);
  return model.ParseFromCodedStream(&stream) && stream.ConsumedEntireMessage();
}

class GraphImporter {
public:
  GraphImporter(ImportContext &ic, const ::onnx::ModelProto &model,
                const OnnxImportOptions &options,
                std::optional<import::GrowingCacheRewrite> growingCache,
                bool removedAttentionMask)
      : ic(ic), model(model), graph(model.graph()), options(options),
        growingCache(std::move(growingCache)), removedAttentionMask(removedAttentionMask) {}

  OwningOpRef<ModuleOp> run();

private:
  LogicalResult readOpsets();
  LogicalResult resolveTokenDim();
  FailureOr<Type> inputType(const ::onnx::ValueInfoProto &input);
  LogicalResult importInitializers();
  LogicalResult checkDeclaredOutput(const ::onnx::ValueInfoProto &output, mlir::Value value);

  ImportContext &ic;
  const ::onnx::ModelProto &model;
  const ::onnx::GraphProto &graph;
  const OnnxImportOptions &options;
  std::optional<import::GrowingCacheRewrite> growingCache;
  bool removedAttentionMask = false;
  std::set<std::string> initializerNames;
  std::string tokenDim; // the one symbolic dim name left after bindings
  bool hasTokenDim = false;
};

LogicalResult GraphImporter::readOpsets() {
  for (const ::onnx::OperatorSetIdProto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    ic.opsets[domain] = opset.version();
  }
  if (ic.opsets.empty())
    return emitError(ic.fileLoc) << "the model has no opset_import (not a valid ONNX model, or "
                                    "the file is truncated)";
  int64_t aiOnnx = ic.defaultOpset();
  if (ic.opsets.count("") && aiOnnx < kMinAiOnnxOpset)
    return emitError(ic.fileLoc) << "ai.onnx opset " << aiOnnx << " is older than "
                                 << kMinAiOnnxOpset << ", which moec does not support";
  return success();
}

// Every symbolic input dim that is not bound must be the same name: T.
LogicalResult GraphImporter::resolveTokenDim() {
  // Distinct symbolic names in order of appearance, with the first input using each.
  SmallVector<std::pair<std::string, std::string>> symbols;
  for (const ::onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.count(input.name()))
      continue;
    if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
      continue; // reported by inputType()
    for (const auto &dim : input.type().tensor_type().shape().dim()) {
      if (dim.has_dim_value())
        continue;
      std::string name = dim.has_dim_param() ? dim.dim_param() : "";
      if (options.dimBindings.count(name))
        continue;
      if (llvm::none_of(symbols, [&](const auto &s) { return s.first == name; }))
        symbols.emplace_back(name, input.name());
    }
  }
  if (symbols.size() > 1) {
    InFlightDiagnostic diag = emitError(ic.fileLoc);
    diag << "the inputs have " << symbols.size() << " symbolic dimensions (";
    llvm::interleaveComma(symbols, diag, [&](const auto &s) {
      diag << (s.first.empty() ? std::string("an unnamed one") : "'" + s.first + "'")
           << " in input '" << s.second << "'";
    });
    // A second symbol first seen in a past_* input is the length of a
    // growing cache (transformers' exports concatenate past and new keys):
    // binding it would not help, the graph's cache length would still grow.
    const std::string &second = symbols[1].second;
    bool gqa = llvm::any_of(graph.node(), [](const ::onnx::NodeProto &node) {
      return node.op_type() == "GroupQueryAttention";
    });
    if (gqa) {
      // onnxruntime-genai's graphs: GroupQueryAttention runs a cache of
      // static capacity, whose lengths the symbols name.
      diag << "); GroupQueryAttention runs a fixed-capacity cache: bind every symbol but the "
              "token count to the capacity, e.g.";
      for (size_t i = 1; i < symbols.size(); ++i)
        diag << " --bind-dim " << (symbols[i].first.empty() ? "NAME" : symbols[i].first)
             << "=4096";
      diag << " (docs/user-guide.md, \"Generate\")";
      return diag;
    }
    if (llvm::StringRef(second).starts_with("past")) {
      diag << "); '" << symbols[1].first << "' is the length of a growing KV cache, which moec "
           << "does not compile: export the decoder without its cache (use_cache=False) or "
              "with a fixed-capacity cache (onnxruntime-genai's form, docs/user-guide.md, "
              "\"Generate\")";
      return diag;
    }
    diag << "); moec supports one, the token count: fix the others with --bind-dim NAME=VALUE";
    return diag;
  }
  if (!symbols.empty()) {
    hasTokenDim = true;
    tokenDim = symbols.front().first;
  }
  return success();
}

FailureOr<Type> GraphImporter::inputType(const ::onnx::ValueInfoProto &input) {
  if (!input.type().has_tensor_type())
    return emitError(ic.fileLoc) << "input '" << input.name() << "' is not a tensor";
  const auto &tensorType = input.type().tensor_type();
  Type element = import::convertDataType(ic.ctx, tensorType.elem_type());
  if (!element)
    return emitError(ic.fileLoc) << "input '" << input.name() << "' has data type "
                                 << tensorType.elem_type() << ", which is not supported";
  if (!tensorType.has_shape())
    return emitError(ic.fileLoc) << "input '" << input.name()
                                 << "' has no shape; moec needs the rank of every input";
  SmallVector<int64_t> shape;
  for (const ::onnx::TensorShapeProto_Dimension &dim : tensorType.shape().dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0)
        return emitError(ic.fileLoc) << "input '" << input.name() << "' has a negative dimension";
      shape.push_back(dim.dim_value());
      continue;
    }
    std::string name = dim.has_dim_param() ? dim.dim_param() : "";
    auto bound = options.dimBindings.find(name);
    if (bound != options.dimBindings.end()) {
      if (bound->second < 0)
        return emitError(ic.fileLoc) << "dimension '" << name << "' is bound to a negative value";
      shape.push_back(bound->second);
    } else {
      shape.push_back(ShapedType::kDynamic);
    }
  }
  return Type(RankedTensorType::get(shape, element));
}

// A graph output's declared type (when the exporter wrote one) must agree
// with the inferred type; a disagreement means the model and moec differ in
// their reading of some op, which is better reported than compiled. A
// deferred (unranked) output is checked for its element type only.
LogicalResult GraphImporter::checkDeclaredOutput(const ::onnx::ValueInfoProto &output,
                                                 Value value) {
  if (!output.type().has_tensor_type())
    return success();
  const auto &declared = output.type().tensor_type();
  auto type = cast<TensorType>(value.getType());
  Type element = import::convertDataType(ic.ctx, declared.elem_type());
  bool mismatch = declared.elem_type() != 0 && element != type.getElementType();
  auto inferred = dyn_cast<RankedTensorType>(type);
  if (inferred && declared.has_shape()) {
    const auto &dims = declared.shape().dim();
    mismatch |= dims.size() != inferred.getRank();
    for (int i = 0; !mismatch && i < dims.size(); ++i)
      mismatch = dims[i].has_dim_value() && !inferred.isDynamicDim(i) &&
                 dims[i].dim_value() != inferred.getDimSize(i);
  }
  if (mismatch)
    return emitError(ic.fileLoc) << "graph output '" << output.name()
                                 << "' is declared with a type that differs from the inferred "
                                 << type;
  return success();
}

LogicalResult GraphImporter::importInitializers() {
  for (const ::onnx::TensorProto &tensor : graph.initializer()) {
    if (tensor.name().empty())
      return emitError(ic.fileLoc) << "an initializer has no name";
    ElementsAttr value = import::convertTensor(ic, tensor, "initializer '" + tensor.name() + "'",
                                               ic.fileLoc, /*denseLimit=*/0, tensor.name());
    if (!value)
      return failure();
    Location loc = NameLoc::get(StringAttr::get(&ic.ctx, tensor.name()), ic.fileLoc);
    auto op = ic.builder.create<onnx::ConstantOp>(loc, value.getType(), value);
    ic.values[tensor.name()] = op.getOutput();
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  for (const ::onnx::TensorProto &tensor : graph.initializer())
    initializerNames.insert(tensor.name());
  if (failed(readOpsets()) || failed(resolveTokenDim()))
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(ic.fileLoc);
  Builder &b = ic.builder;
  SmallVector<Type> argTypes;
  SmallVector<const ::onnx::ValueInfoProto *> args;
  for (const ::onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.count(input.name()))
      continue; // an initializer listed as an input is a constant
    auto type = inputType(input);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    args.push_back(&input);
  }
  auto func = func::FuncOp::create(ic.fileLoc, "main", b.getFunctionType(argTypes, {}));
  module->push_back(func);
  Block *entry = func.addEntryBlock();
  for (auto [i, input] : llvm::enumerate(args)) {
    func.setArgAttr(i, "onnx.name", b.getStringAttr(input->name()));
    ic.values[input->name()] = entry->getArgument(i);
  }
  ic.builder.setInsertionPointToStart(entry);
  if (failed(importInitializers()))
    return nullptr;
  for (auto [i, node] : llvm::enumerate(graph.node()))
    if (failed(import::importNode(ic, node, static_cast<int>(i))))
      return nullptr;

  SmallVector<Value> results;
  for (const ::onnx::ValueInfoProto &output : graph.output()) {
    Value value = ic.values.lookup(output.name());
    if (!value)
      return emitError(ic.fileLoc) << "graph output '" << output.name()
                                   << "' is not produced by any node, initializer or input",
             nullptr;
    if (failed(checkDeclaredOutput(output, value)))
      return nullptr;
    results.push_back(value);
  }
  if (results.empty())
    return emitError(ic.fileLoc) << "the graph has no outputs", nullptr;
  ic.builder.create<func::ReturnOp>(ic.fileLoc, results);
  func.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "onnx.name", b.getStringAttr(output.name()));

  module->getOperation()->setAttr("moec.source",
                                  b.getStringAttr(llvm::sys::path::filename(ic.path)));
  if (hasTokenDim)
    module->getOperation()->setAttr("moec.token_dim", b.getStringAttr(tokenDim));
  if (growingCache)
    module->getOperation()->setAttr("moec.kv_cache_capacity",
                                    b.getI64IntegerAttr(growingCache->capacity));
  if (removedAttentionMask)
    module->getOperation()->setAttr("moec.removed_attention_mask", b.getUnitAttr());
  SmallVector<NamedAttribute> opsets;
  for (const auto &[domain, version] : ic.opsets)
    // The default domain is keyed "ai.onnx": an empty key would not parse back.
    opsets.emplace_back(b.getStringAttr(domain.empty() ? "ai.onnx" : domain),
                        b.getI64IntegerAttr(version));
  module->getOperation()->setAttr("onnx.opset_import", b.getDictionaryAttr(opsets));
  if (failed(mlir::verify(*module)))
    return nullptr; // the verifier has reported the problem
  return module;
}

} // namespace

OwningOpRef<ModuleOp> importOnnxFile(MLIRContext &ctx, llvm::StringRef path,
                                     const OnnxImportOptions &options) {
  ctx.loadDialect<onnx::ONNXDialect, func::FuncDialect>();
  Location fileLoc = FileLineColLoc::get(&ctx, path, 0, 0);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    emitError(fileLoc) << "cannot read the file: " << buffer.getError().message();
    return nullptr;
  }
  const llvm::MemoryBuffer &bytes = **buffer;
  if (bytes.getBufferSize() == 0) {
    emitError(fileLoc) << "the file is empty, not an ONNX model";
    return nullptr;
  }
  ::onnx::ModelProto model;
  if (!parseModel(bytes, model)) {
    if (static_cast<unsigned char>(bytes.getBufferStart()[0]) == kIrVersionTag)
      emitError(fileLoc) << "the ONNX model cannot be parsed: the file is truncated or corrupt";
    else
      emitError(fileLoc) << "not an ONNX model (the file is not a serialized ONNX ModelProto)";
    return nullptr;
  }
  if (model.ir_version() <= 0 || !model.has_graph()) {
    emitError(fileLoc) << "not an ONNX model (no IR version or no graph; the file may be "
                          "truncated)";
    return nullptr;
  }
  SmallString<256> directory(path);
  llvm::sys::path::remove_filename(directory);
  if (directory.empty())
    directory = ".";
  if (options.kvCapacity < 1) {
    emitError(fileLoc) << "the KV cache capacity must be at least 1, got " << options.kvCapacity;
    return nullptr;
  }
  std::string cacheError;
  ::onnx::GraphProto &graph = *model.mutable_graph();
  // onnxruntime-genai's graphs keep their cache in GroupQueryAttention, which
  // reads the mask and the cache lengths itself (bound with --bind-dim): the
  // two rewrites are for attention written in plain ops.
  bool hasGqa = llvm::any_of(graph.node(), [](const ::onnx::NodeProto &node) {
    return node.op_type() == "GroupQueryAttention";
  });
  auto mask = hasGqa ? std::nullopt
                     : import::takeAttentionMask(graph, options.dimBindings, cacheError);
  auto growingCache = cacheError.empty() && !hasGqa
                          ? import::rewriteGrowingCache(graph, options.dimBindings,
                                                        options.kvCapacity, cacheError)
                          : std::nullopt;
  if (mask && cacheError.empty())
    import::defineOnesMask(graph, *mask, growingCache.has_value(), options.dimBindings,
                           cacheError);
  if (!cacheError.empty()) {
    emitError(fileLoc) << cacheError;
    return nullptr;
  }
  ImportContext ic(ctx, path.str(), directory.str().str(), fileLoc);
  return GraphImporter(ic, model, options, std::move(growingCache), mask.has_value()).run();
}

} // namespace moec
