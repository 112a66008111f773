//===- NodeImport.cpp - ONNX nodes to onnx dialect ops ---------------------===//
//
// One node becomes one op (plus constant ops for the older opsets' attribute
// forms, which are rewritten into the newest schema's inputs). Each op's
// result types are inferred and the op verified right away, so a problem is
// reported at the node that causes it, prefixed "op 'T' (opset N): ". A shape
// moec cannot express (2*T rows, a data-dependent count) is deferred, not
// refused: the result is unranked and the op records why
// (dialects/onnx/DeferredShapes.h); moec-onnx-infer-shapes reports it if no
// raising pass removed the op.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/ImportContext.h"
#include "dialects/onnx/DeferredShapes.h"
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"

#include <limits>
#include <optional>

using namespace mlir;

namespace moec::import {
namespace {

constexpr unsigned kVariadic = std::numeric_limits<unsigned>::max();

// What the importer needs to know about an ONNX op beyond its ODS definition.
struct OpInfo {
  const char *onnxName;
  const char *mlirName;  // after "onnx."
  unsigned minInputs;    // in the newest schema
  unsigned maxInputs;    // kVariadic: any number
  unsigned outputs;      // kVariadic: one result per node output
  unsigned segments = 0; // ODS operand count for AttrSizedOperandSegments ops
  uint32_t optionalSlots = 0; // bit i: input i may be empty (segmented ops)
};

const OpInfo kAiOnnxOps[] = {
    {"MatMul", "MatMul", 2, 2, 1},
    {"Gemm", "Gemm", 2, 3, 1},
    {"Add", "Add", 2, 2, 1},
    {"Sub", "Sub", 2, 2, 1},
    {"Mul", "Mul", 2, 2, 1},
    {"Div", "Div", 2, 2, 1},
    {"Pow", "Pow", 2, 2, 1},
    {"Equal", "Equal", 2, 2, 1},
    {"Less", "Less", 2, 2, 1},
    {"Greater", "Greater", 2, 2, 1},
    {"LessOrEqual", "LessOrEqual", 2, 2, 1},
    {"GreaterOrEqual", "GreaterOrEqual", 2, 2, 1},
    {"And", "And", 2, 2, 1},
    {"Or", "Or", 2, 2, 1},
    {"Max", "Max", 1, kVariadic, 1},
    {"Min", "Min", 1, kVariadic, 1},
    {"Where", "Where", 3, 3, 1},
    {"Clip", "Clip", 1, 3, 1, 3, 0b110},
    {"Sqrt", "Sqrt", 1, 1, 1},
    {"Neg", "Neg", 1, 1, 1},
    {"Exp", "Exp", 1, 1, 1},
    {"Sigmoid", "Sigmoid", 1, 1, 1},
    {"Relu", "Relu", 1, 1, 1},
    {"Tanh", "Tanh", 1, 1, 1},
    {"Erf", "Erf", 1, 1, 1},
    {"Cos", "Cos", 1, 1, 1},
    {"Sin", "Sin", 1, 1, 1},
    {"Gelu", "Gelu", 1, 1, 1},
    {"Abs", "Abs", 1, 1, 1},
    {"Log", "Log", 1, 1, 1},
    {"Reciprocal", "Reciprocal", 1, 1, 1},
    {"Not", "Not", 1, 1, 1},
    {"IsNaN", "IsNaN", 1, 1, 1},
    {"ReduceSum", "ReduceSum", 1, 2, 1},
    {"ReduceMean", "ReduceMean", 1, 2, 1},
    {"ReduceMax", "ReduceMax", 1, 2, 1},
    {"ReduceMin", "ReduceMin", 1, 2, 1},
    {"Softmax", "Softmax", 1, 1, 1},
    {"TopK", "TopK", 2, 2, 2},
    {"Gather", "Gather", 2, 2, 1},
    {"GatherElements", "GatherElements", 2, 2, 1},
    {"GatherND", "GatherND", 2, 2, 1},
    {"OneHot", "OneHot", 3, 3, 1},
    {"NonZero", "NonZero", 1, 1, 1},
    {"ScatterElements", "ScatterElements", 3, 3, 1},
    {"ScatterND", "ScatterND", 3, 3, 1},
    {"CumSum", "CumSum", 2, 2, 1},
    {"Range", "Range", 3, 3, 1},
    {"Reshape", "Reshape", 2, 2, 1},
    {"Flatten", "Flatten", 1, 1, 1},
    {"Transpose", "Transpose", 1, 1, 1},
    {"Squeeze", "Squeeze", 1, 2, 1},
    {"Unsqueeze", "Unsqueeze", 2, 2, 1},
    {"Concat", "Concat", 1, kVariadic, 1},
    {"Slice", "Slice", 3, 5, 1, 5, 0b11000},
    {"Split", "Split", 1, 2, kVariadic},
    {"Expand", "Expand", 2, 2, 1},
    {"Tile", "Tile", 2, 2, 1},
    {"Cast", "Cast", 1, 1, 1},
    {"Identity", "Identity", 1, 1, 1},
    {"Shape", "Shape", 1, 1, 1},
    {"Constant", "Constant", 0, 0, 1},
    {"ConstantOfShape", "ConstantOfShape", 1, 1, 1},
    {"RMSNormalization", "RMSNormalization", 2, 2, 1},
    {"DequantizeLinear", "DequantizeLinear", 2, 3, 1},
    // onnxruntime registers this contrib op in the ai.onnx domain.
    {"SimplifiedLayerNormalization", "SimplifiedLayerNormalization", 2, 2, kVariadic},
};

const OpInfo kMicrosoftOps[] = {
    {"MoE", "ms.MoE", 5, 8, 1, 8, 0b11101000},
    {"SimplifiedLayerNormalization", "SimplifiedLayerNormalization", 2, 2, kVariadic},
    // onnxruntime's exact Gelu (the ai.onnx op with approximate = "none").
    {"Gelu", "Gelu", 1, 1, 1},
    {"SkipSimplifiedLayerNormalization", "ms.SkipSimplifiedLayerNormalization", 3, 4,
     kVariadic},
    {"MatMulNBits", "ms.MatMulNBits", 3, 6, 1, 6, 0b111000},
    // Inputs after router_weights (fp4/fp8 scales) are not read by moec.
    {"QMoE", "ms.QMoE", 6, 15, 1, 15, 0b111111111011000},
    // Inputs after head_sink (quantized caches, q/k norms, query_seqlens) are
    // refused as too many inputs.
    {"GroupQueryAttention", "ms.GroupQueryAttention", 7, 12, kVariadic, 12, 0b111110011110},
    {"RotaryEmbedding", "ms.RotaryEmbedding", 4, 4, 1},
};

const OpInfo *findOp(StringRef domain, StringRef type) {
  ArrayRef<OpInfo> table;
  if (domain.empty())
    table = kAiOnnxOps;
  else if (domain == "com.microsoft")
    table = kMicrosoftOps;
  for (const OpInfo &info : table)
    if (type == info.onnxName)
      return &info;
  return nullptr;
}

// An attribute that older opsets had and the newest schema takes as an input
// (at operand position `input`), with the first opset of the input form.
struct LegacyInput {
  const char *op;
  const char *attribute;
  unsigned input;
  int64_t sinceOpset;
};
const LegacyInput kLegacyInputs[] = {
    {"ReduceSum", "axes", 1, 13},  {"ReduceMean", "axes", 1, 18}, {"ReduceMax", "axes", 1, 18},
    {"ReduceMin", "axes", 1, 18},  {"Squeeze", "axes", 1, 13},    {"Unsqueeze", "axes", 1, 13},
    {"Split", "split", 1, 13},     {"Slice", "starts", 1, 10},    {"Slice", "ends", 2, 10},
    {"Slice", "axes", 3, 10},      {"TopK", "k", 1, 10},
};

class NodeImporter {
public:
  NodeImporter(ImportContext &ic, const ::onnx::NodeProto &node, int index)
      : ic(ic), node(node), type(node.op_type()), domain(normalizeDomain(node.domain())),
        loc(makeLoc(ic, node, index)) {
    auto it = ic.opsets.find(domain);
    opset = it == ic.opsets.end() ? 0 : it->second;
  }

  LogicalResult run();

private:
  static std::string normalizeDomain(const std::string &d) { return d == "ai.onnx" ? "" : d; }
  static Location makeLoc(ImportContext &ic, const ::onnx::NodeProto &node, int index) {
    std::string name = node.name();
    if (name.empty())
      name = "#" + std::to_string(index) + " (" + node.op_type() + ", unnamed)";
    return NameLoc::get(StringAttr::get(&ic.ctx, name), ic.fileLoc);
  }

  // "op 'Reshape' (opset 17): " then the message.
  InFlightDiagnostic error() {
    return emitError(loc) << "op '" << type << "' (opset " << opset << "): ";
  }

  LogicalResult collectInputs();
  LogicalResult convertAttributes();
  LogicalResult convertAttribute(const ::onnx::AttributeProto &attr);
  LogicalResult convertConstantAttribute(const ::onnx::AttributeProto &attr);
  Value makeIntsConstant(ArrayRef<int64_t> values);
  LogicalResult fixSoftmaxAxis();
  LogicalResult finishOp(Operation *op);

  ImportContext &ic;
  const ::onnx::NodeProto &node;
  std::string type, domain;
  Location loc;
  int64_t opset = 0;
  const OpInfo *info = nullptr;
  // ONNX input slots of the newest schema; null = absent optional input.
  SmallVector<Value> inputs;
  NamedAttrList attributes;
};

LogicalResult NodeImporter::collectInputs() {
  for (const std::string &name : node.input()) {
    if (name.empty()) {
      inputs.push_back(Value());
      continue;
    }
    Value value = ic.values.lookup(name);
    if (!value)
      return error() << "input '" << name
                     << "' is not produced by any earlier node, initializer or graph input";
    inputs.push_back(value);
  }
  return success();
}

Value NodeImporter::makeIntsConstant(ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    ic.builder.getI64Type());
  auto op = ic.builder.create<onnx::ConstantOp>(loc, type, DenseElementsAttr::get(type, values));
  return op.getOutput();
}

LogicalResult NodeImporter::convertConstantAttribute(const ::onnx::AttributeProto &attr) {
  const std::string &name = attr.name();
  Builder &b = ic.builder;
  ElementsAttr value;
  if (name == "value" && attr.type() == ::onnx::AttributeProto::TENSOR) {
    std::string resource = node.output_size() > 0 ? node.output(0) : node.name();
    value = convertTensor(ic, attr.t(), "op '" + type + "' (opset " + std::to_string(opset) +
                                            "): attribute 'value'",
                          loc, /*denseLimit=*/64, resource);
    if (!value)
      return failure();
  } else if (name == "value_float" && attr.type() == ::onnx::AttributeProto::FLOAT) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()), attr.f());
  } else if (name == "value_int" && attr.type() == ::onnx::AttributeProto::INT) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                   static_cast<int64_t>(attr.i()));
  } else if (name == "value_floats" && attr.type() == ::onnx::AttributeProto::FLOATS) {
    SmallVector<float> floats(attr.floats().begin(), attr.floats().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(floats.size())}, b.getF32Type()),
        ArrayRef<float>(floats));
  } else if (name == "value_ints" && attr.type() == ::onnx::AttributeProto::INTS) {
    SmallVector<int64_t> ints(attr.ints().begin(), attr.ints().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(ints.size())}, b.getI64Type()),
        ArrayRef<int64_t>(ints));
  } else {
    return error() << "attribute '" << name << "' is not supported";
  }
  if (attributes.get("value"))
    return error() << "has more than one value attribute";
  attributes.set("value", value);
  return success();
}

LogicalResult NodeImporter::convertAttribute(const ::onnx::AttributeProto &attr) {
  const std::string &name = attr.name();
  Builder &b = ic.builder;
  if (type == "Constant")
    return convertConstantAttribute(attr);
  if (type == "Cast" && name == "to") {
    Type to = attr.type() == ::onnx::AttributeProto::INT
                  ? convertDataType(ic.ctx, static_cast<int32_t>(attr.i()))
                  : Type();
    if (!to)
      return error() << "cast to data type " << attr.i() << " is not supported";
    attributes.set("to", TypeAttr::get(to));
    return success();
  }
  if (type == "ConstantOfShape" && name == "value") {
    if (attr.type() != ::onnx::AttributeProto::TENSOR)
      return error() << "attribute 'value' must be a tensor";
    ElementsAttr value = convertTensor(ic, attr.t(), "op 'ConstantOfShape': attribute 'value'",
                                       loc, /*denseLimit=*/1, "fill");
    if (!value)
      return failure();
    attributes.set("value", value);
    return success();
  }
  switch (attr.type()) {
  case ::onnx::AttributeProto::INT:
    attributes.set(name, b.getI64IntegerAttr(attr.i()));
    return success();
  case ::onnx::AttributeProto::FLOAT:
    attributes.set(name, b.getF32FloatAttr(attr.f()));
    return success();
  case ::onnx::AttributeProto::STRING:
    attributes.set(name, b.getStringAttr(attr.s()));
    return success();
  case ::onnx::AttributeProto::INTS: {
    SmallVector<int64_t> ints(attr.ints().begin(), attr.ints().end());
    attributes.set(name, b.getDenseI64ArrayAttr(ints));
    return success();
  }
  default:
    return error() << "attribute '" << name << "' has type "
                   << ::onnx::AttributeProto::AttributeType_Name(attr.type())
                   << ", which is not supported here";
  }
}

LogicalResult NodeImporter::convertAttributes() {
  for (const ::onnx::AttributeProto &attr : node.attribute()) {
    // Clip before opset 11: the bounds are float attributes, now scalar
    // inputs of the input's element type.
    if (type == "Clip" && opset < 11 && (attr.name() == "min" || attr.name() == "max")) {
      Type element = inputs.empty() || !inputs[0]
                         ? Type()
                         : cast<ShapedType>(inputs[0].getType()).getElementType();
      if (attr.type() != ::onnx::AttributeProto::FLOAT || !isa_and_nonnull<FloatType>(element))
        return error() << "attribute '" << attr.name()
                       << "' must be a float bounding a float input";
      auto scalar = RankedTensorType::get({}, element);
      unsigned slot = attr.name() == "min" ? 1 : 2;
      if (inputs.size() <= slot)
        inputs.resize(slot + 1);
      inputs[slot] = ic.builder
                         .create<onnx::ConstantOp>(
                             loc, scalar,
                             DenseElementsAttr::get(scalar, FloatAttr::get(element, attr.f())))
                         .getOutput();
      continue;
    }
    // Older opsets' attribute forms of what is now an input.
    bool legacy = false;
    for (const LegacyInput &rewrite : kLegacyInputs) {
      if (type != rewrite.op || attr.name() != rewrite.attribute || opset >= rewrite.sinceOpset)
        continue;
      SmallVector<int64_t> values;
      if (attr.type() == ::onnx::AttributeProto::INTS)
        values.assign(attr.ints().begin(), attr.ints().end());
      else if (attr.type() == ::onnx::AttributeProto::INT)
        values.push_back(attr.i());
      else
        return error() << "attribute '" << attr.name() << "' must be an integer list";
      if (inputs.size() <= rewrite.input)
        inputs.resize(rewrite.input + 1);
      inputs[rewrite.input] = makeIntsConstant(values);
      legacy = true;
    }
    if (!legacy && failed(convertAttribute(attr)))
      return failure();
  }
  return success();
}

// Softmax's default axis and meaning changed in opset 13: before, the input
// was flattened to 2-D at `axis` (default 1). That equals the new meaning
// when the axis is the last one; other cases are refused rather than guessed.
// Only that check needs the rank: an opset-13 Softmax of a deferred
// (unranked) value imports.
LogicalResult NodeImporter::fixSoftmaxAxis() {
  int64_t axis = opset >= 13 ? -1 : 1;
  if (auto given = dyn_cast_or_null<IntegerAttr>(attributes.get("axis")))
    axis = given.getInt();
  if (opset < 13) {
    auto rankedType = dyn_cast<RankedTensorType>(inputs[0].getType());
    if (!rankedType)
      return error() << "the input has no known rank (an opset < 13 axis needs it)";
    int64_t rank = rankedType.getRank();
    int64_t normalized = axis < 0 ? axis + rank : axis;
    if (normalized != rank - 1)
      return error() << "axis " << axis << " on a rank-" << rank
                     << " input flattens the input (opset < 13 semantics), which moec does "
                        "not support; export with opset 13 or later";
    axis = -1;
  }
  attributes.set("axis", ic.builder.getI64IntegerAttr(axis));
  return success();
}

// Infers (or defers) result types and verifies, rewording the op's own
// diagnostic into the importer's "op 'T' (opset N): ..." form at the node.
LogicalResult NodeImporter::finishOp(Operation *op) {
  if (auto shaped = dyn_cast<onnx::ONNXShapeInferenceOpInterface>(op)) {
    onnx::ShapeOutcome outcome = onnx::inferOrDeferShapes(shaped);
    if (outcome.kind == onnx::ShapeOutcome::Invalid)
      return error() << outcome.message;
  }
  std::string message;
  LogicalResult result = success();
  {
    ScopedDiagnosticHandler capture(&ic.ctx, [&](Diagnostic &diag) {
      if (diag.getSeverity() == DiagnosticSeverity::Error && message.empty())
        message = diag.str();
      return success();
    });
    result = mlir::verify(op, /*verifyRecursively=*/false);
  }
  if (succeeded(result))
    return success();
  // Ops prefix their errors with "'onnx.X' op "; the importer names the op itself.
  std::string prefix = "'" + op->getName().getStringRef().str() + "' op ";
  if (StringRef(message).starts_with(prefix))
    message = message.substr(prefix.size());
  if (message.empty())
    message = "invalid op";
  return error() << message;
}

LogicalResult NodeImporter::run() {
  info = findOp(domain, type);
  if (!info) {
    return emitError(loc) << "op '" << type << "' (domain '"
                          << (domain.empty() ? "ai.onnx" : domain) << "', opset " << opset
                          << ") is not supported";
  }
  if (opset == 0)
    return emitError(loc) << "op '" << type << "': the model imports no opset for domain '"
                          << (domain.empty() ? "ai.onnx" : domain) << "'";
  if (failed(collectInputs()) || failed(convertAttributes()))
    return failure();
  // Empty trailing inputs are simply absent.
  while (!inputs.empty() && !inputs.back())
    inputs.pop_back();
  if (inputs.size() < info->minInputs)
    return error() << "expects at least " << info->minInputs << " inputs, got "
                   << inputs.size();
  if (info->maxInputs != kVariadic && inputs.size() > info->maxInputs)
    return error() << "expects at most " << info->maxInputs << " inputs, got "
                   << inputs.size();
  for (unsigned i = 0; i < inputs.size(); ++i) {
    if (inputs[i])
      continue;
    // An absent input in the middle needs operand segments to be expressed.
    if (!(info->optionalSlots & (1u << i)))
      return error() << "input #" << i << " is required but empty";
  }
  unsigned outputs = node.output_size();
  if (info->outputs != kVariadic && outputs != info->outputs)
    return error() << "expects " << info->outputs << " outputs, got " << outputs;
  if (outputs == 0)
    return error() << "has no outputs";
  if (type == "Softmax" && failed(fixSoftmaxAxis()))
    return failure();

  // Every attribute must exist in the op's schema; a misspelled or newer
  // attribute would otherwise be silently ignored.
  OperationName opName("onnx." + std::string(info->mlirName), &ic.ctx);
  ArrayRef<StringAttr> known = opName.getAttributeNames();
  for (const NamedAttribute &attr : attributes)
    if (!llvm::is_contained(known, attr.getName()))
      return error() << "unknown attribute '" << attr.getName().getValue() << "'";

  OperationState state(loc, opName);
  SmallVector<int32_t> segmentSizes;
  for (Value input : inputs)
    if (input)
      state.addOperands(input);
  if (info->segments) {
    for (unsigned i = 0; i < info->segments; ++i)
      segmentSizes.push_back(i < inputs.size() && inputs[i] ? 1 : 0);
  }
  // Placeholder result types; inferShapes sets the real ones.
  Type placeholder = UnrankedTensorType::get(ic.builder.getF32Type());
  state.addTypes(SmallVector<Type>(outputs, placeholder));
  state.addAttributes(attributes);
  if (info->segments)
    state.addAttribute("operandSegmentSizes", ic.builder.getDenseI32ArrayAttr(segmentSizes));
  Operation *op = ic.builder.create(state);

  // An attribute of the wrong kind (e.g. a float 'axis') is dropped when it
  // is stored in the op's properties; catch that here.
  for (const NamedAttribute &attr : attributes) {
    std::optional<Attribute> stored = op->getInherentAttr(attr.getName());
    if (!stored || *stored != attr.getValue()) {
      op->erase();
      return error() << "attribute '" << attr.getName().getValue()
                     << "' has the wrong type for this op";
    }
  }
  if (failed(finishOp(op))) {
    op->erase();
    return failure();
  }
  for (auto [i, name] : llvm::enumerate(node.output()))
    if (!name.empty())
      ic.values[name] = op->getResult(i);
  return success();
}

} // namespace

LogicalResult importNode(ImportContext &ic, const ::onnx::NodeProto &node, int index) {
  return NodeImporter(ic, node, index).run();
}

} // namespace moec::import
