//===- OnnxOpAccess.cpp - reading onnx ops by their ONNX schema ------------===//
#include "compiler/utils/OnnxOpAccess.h"

#include "compiler/utils/ConstantData.h"
#include "dialects/onnx/ONNXDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"

using namespace mlir;

namespace moec {

Value getOnnxInput(Operation *op, unsigned index) {
  Value value;
  // Ops with several optional inputs record how many operands each ONNX
  // input received; an empty segment is an absent input.
  auto segments =
      dyn_cast_or_null<DenseI32ArrayAttr>(op->getInherentAttr("operandSegmentSizes")
                                               .value_or(Attribute()));
  if (segments) {
    ArrayRef<int32_t> sizes = segments.asArrayRef();
    if (index >= sizes.size() || sizes[index] == 0)
      return {};
    unsigned start = 0;
    for (unsigned i = 0; i < index; ++i)
      start += sizes[i];
    value = op->getOperand(start);
  } else {
    if (index >= op->getNumOperands())
      return {};
    value = op->getOperand(index);
  }
  if (isa<NoneType>(value.getType()))
    return {};
  return value;
}

static Attribute lookup(Operation *op, StringRef name) {
  if (auto inherent = op->getInherentAttr(name))
    return *inherent;
  return op->getAttr(name);
}

int64_t getIntAttr(Operation *op, StringRef name, int64_t dflt) {
  if (auto attr = dyn_cast_or_null<IntegerAttr>(lookup(op, name)))
    return attr.getValue().getSExtValue();
  return dflt;
}

double getFloatAttr(Operation *op, StringRef name, double dflt) {
  Attribute attr = lookup(op, name);
  if (auto f = dyn_cast_or_null<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return static_cast<double>(i.getValue().getSExtValue());
  return dflt;
}

std::string getStringAttr(Operation *op, StringRef name, StringRef dflt) {
  if (auto attr = dyn_cast_or_null<StringAttr>(lookup(op, name)))
    return attr.getValue().str();
  return dflt.str();
}

std::optional<std::vector<int64_t>> getIntsAttr(Operation *op, StringRef name) {
  Attribute attr = lookup(op, name);
  if (!attr)
    return std::nullopt;
  std::vector<int64_t> values;
  if (auto dense = dyn_cast<DenseI64ArrayAttr>(attr)) {
    values.assign(dense.asArrayRef().begin(), dense.asArrayRef().end());
    return values;
  }
  if (auto array = dyn_cast<ArrayAttr>(attr)) {
    for (Attribute element : array) {
      auto i = dyn_cast<IntegerAttr>(element);
      if (!i)
        return std::nullopt;
      values.push_back(i.getValue().getSExtValue());
    }
    return values;
  }
  if (auto elements = dyn_cast<ElementsAttr>(attr))
    return getConstantInts(elements);
  return std::nullopt;
}

StringRef onnxOpType(Operation *op) {
  StringRef name = op->getName().getStringRef();
  return name.substr(name.rfind('.') + 1);
}

bool isOnnxOp(Operation *op, StringRef type) {
  return op && op->getDialect() && op->getDialect()->getNamespace() == "onnx" &&
         onnxOpType(op) == type;
}

Operation *definedByOnnx(Value v, StringRef type) {
  Operation *def = v ? v.getDefiningOp() : nullptr;
  return isOnnxOp(def, type) ? def : nullptr;
}

std::optional<std::vector<int64_t>> getKnownInts(Value value) {
  if (!value)
    return std::nullopt;
  auto known = onnx::getKnownIntValues(value);
  if (!known)
    return std::nullopt;
  return std::vector<int64_t>(known->begin(), known->end());
}

Value createBlobConstant(OpBuilder &b, Location loc, RankedTensorType type, ArrayRef<char> bytes,
                         StringRef key) {
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(bytes);
  return onnx::ConstantOp::create(b, loc, type, DenseResourceElementsAttr::get(type, key, std::move(blob)))
      .getOutput();
}

std::vector<std::string> nodeNames(Location loc) {
  std::vector<std::string> names;
  auto visit = [&](Location l, auto &self) -> void {
    if (auto name = dyn_cast<NameLoc>(l)) {
      std::string n = name.getName().str();
      if (!n.empty() && !llvm::is_contained(names, n))
        names.push_back(n);
      self(name.getChildLoc(), self);
    } else if (auto fused = dyn_cast<FusedLoc>(l)) {
      for (Location inner : fused.getLocations())
        self(inner, self);
    } else if (auto callsite = dyn_cast<CallSiteLoc>(l)) {
      self(callsite.getCallee(), self);
    }
  };
  visit(loc, visit);
  return names;
}

} // namespace moec
