//===- ConstantData.cpp - reading compile-time constant tensors -------------===//
#include "compiler/utils/ConstantData.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Operation.h"

#include <cstring>

using namespace mlir;

namespace moec {

ElementsAttr getConstantElements(Value value) {
  Operation *op = value ? value.getDefiningOp() : nullptr;
  if (!op || op->getNumResults() != 1)
    return {};
  StringRef name = op->getName().getStringRef();
  if (name != "onnx.Constant" && name != "kernel.constant" &&
      name != "arith.constant")
    return {};
  return op->getAttrOfType<ElementsAttr>("value");
}

int64_t storageBytes(Type elementType) {
  if (elementType.isInteger(1))
    return 1;
  unsigned bits = elementType.getIntOrFloatBitWidth();
  return (bits + 7) / 8;
}

std::optional<std::vector<char>> getConstantBytes(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  Type elementType = type.getElementType();
  if (!elementType.isIntOrFloat())
    return std::nullopt;
  int64_t width = storageBytes(elementType);
  int64_t count = type.getNumElements();
  std::vector<char> bytes(static_cast<size_t>(count * width));
  if (count == 0)
    return bytes;

  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    if (static_cast<int64_t>(data.size()) != count * width)
      return std::nullopt;
    std::memcpy(bytes.data(), data.data(), data.size());
    return bytes;
  }

  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  // i1 is bit-packed inside DenseElementsAttr; moec stores a byte per bool.
  if (elementType.isInteger(1)) {
    int64_t i = 0;
    for (bool b : dense.getValues<bool>())
      bytes[i++] = b ? 1 : 0;
    return bytes;
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(bytes.data() + i * width, raw.data(), width);
  } else {
    std::memcpy(bytes.data(), raw.data(), bytes.size());
  }
  return bytes;
}

namespace {
template <typename T> T load(const char *p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

std::optional<double> decode(Type elementType, const char *p) {
  if (elementType.isF32())
    return load<float>(p);
  if (elementType.isF64())
    return load<double>(p);
  if (elementType.isF16() || elementType.isBF16()) {
    auto &semantics = cast<FloatType>(elementType).getFloatSemantics();
    APFloat value(semantics, APInt(16, load<uint16_t>(p)));
    return value.convertToDouble();
  }
  if (auto intType = dyn_cast<IntegerType>(elementType)) {
    unsigned bits = intType.getWidth();
    bool isUnsigned = intType.isUnsigned() || bits == 1;
    switch (bits) {
    case 1:
    case 8:
      return isUnsigned ? double(load<uint8_t>(p)) : double(load<int8_t>(p));
    case 16:
      return isUnsigned ? double(load<uint16_t>(p)) : double(load<int16_t>(p));
    case 32:
      return isUnsigned ? double(load<uint32_t>(p)) : double(load<int32_t>(p));
    case 64:
      return isUnsigned ? double(load<uint64_t>(p)) : double(load<int64_t>(p));
    }
  }
  return std::nullopt;
}
} // namespace

std::optional<double> getElementAsDouble(ElementsAttr attr, int64_t index) {
  auto bytes = getConstantBytes(attr);
  Type elementType = cast<ShapedType>(attr.getType()).getElementType();
  int64_t width = storageBytes(elementType);
  if (!bytes || index < 0 ||
      static_cast<size_t>((index + 1) * width) > bytes->size())
    return std::nullopt;
  return decode(elementType, bytes->data() + index * width);
}

std::optional<std::vector<int64_t>> getConstantInts(ElementsAttr attr) {
  auto bytes = getConstantBytes(attr);
  Type elementType = cast<ShapedType>(attr.getType()).getElementType();
  if (!bytes || !isa<IntegerType>(elementType))
    return std::nullopt;
  int64_t width = storageBytes(elementType);
  std::vector<int64_t> values;
  for (size_t offset = 0; offset < bytes->size(); offset += width) {
    auto v = decode(elementType, bytes->data() + offset);
    if (!v)
      return std::nullopt;
    // 64-bit values beyond 2^53 (INT64_MAX "to the end" in Slice) must not
    // round-trip through double: read them directly.
    if (width == 8)
      values.push_back(load<int64_t>(bytes->data() + offset));
    else
      values.push_back(static_cast<int64_t>(*v));
  }
  return values;
}

std::optional<std::vector<double>> getConstantValues(Value v) {
  ElementsAttr elements = getConstantElements(v);
  auto bytes = elements ? getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  Type t = cast<ShapedType>(elements.getType()).getElementType();
  int64_t n = elements.getNumElements();
  std::vector<double> out(n);
  const char *p = bytes->data();
  auto read = [&](auto tag) {
    using E = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      E value;
      std::memcpy(&value, p + i * sizeof(E), sizeof(E));
      out[i] = static_cast<double>(value);
    }
  };
  if (t.isF32())
    read(float());
  else if (t.isUnsignedInteger(8))
    read(uint8_t());
  else if (t.isInteger(8))
    read(int8_t());
  else if (t.isUnsignedInteger(16))
    read(uint16_t());
  else if (t.isInteger(16))
    read(int16_t());
  else if (t.isInteger(32))
    read(int32_t());
  else if (t.isF16() || t.isBF16()) {
    const llvm::fltSemantics &semantics =
        t.isF16() ? APFloat::IEEEhalf() : APFloat::BFloat();
    for (int64_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, p + 2 * i, 2);
      out[i] = APFloat(semantics, APInt(16, bits)).convertToDouble();
    }
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<float>> getConstantFloats(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
    return std::nullopt;
  ElementsAttr elements = moec::getConstantElements(v);
  auto bytes = elements ? moec::getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return std::nullopt;
  std::vector<float> values(bytes->size() / sizeof(float));
  if (!values.empty())
    std::memcpy(values.data(), bytes->data(), values.size() * sizeof(float));
  return values;
}

} // namespace moec
