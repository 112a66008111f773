//===- TensorImport.cpp - ONNX tensors to MLIR elements attributes ---------===//
//
// Initializers and Constant tensors carry their data in one of three places:
// raw_data (little-endian bytes), the typed repeated fields (float_data,
// int32_data, ...) or an external file (location/offset/length). All three
// are turned into one byte buffer in MLIR's layout (one byte per bool), then
// into a dense_resource blob owned by the context (large tensors) or a
// DenseElementsAttr (small ones, so they print readably).
//
//===----------------------------------------------------------------------===//
#include "compiler/import/ImportContext.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <optional>

using namespace mlir;

namespace moec::import {

Type convertDataType(MLIRContext &ctx, int32_t dataType) {
  switch (dataType) {
  case ::onnx::TensorProto::FLOAT:
    return Float32Type::get(&ctx);
  case ::onnx::TensorProto::FLOAT16:
    return Float16Type::get(&ctx);
  case ::onnx::TensorProto::BFLOAT16:
    return BFloat16Type::get(&ctx);
  case ::onnx::TensorProto::DOUBLE:
    return Float64Type::get(&ctx);
  case ::onnx::TensorProto::INT64:
    return IntegerType::get(&ctx, 64);
  case ::onnx::TensorProto::INT32:
    return IntegerType::get(&ctx, 32);
  case ::onnx::TensorProto::INT8:
    return IntegerType::get(&ctx, 8);
  case ::onnx::TensorProto::UINT8:
    return IntegerType::get(&ctx, 8, IntegerType::Unsigned);
  case ::onnx::TensorProto::BOOL:
    return IntegerType::get(&ctx, 1);
  default:
    return {};
  }
}

namespace {

// ONNX's float8 data types (onnx 1.14+; the onnx headers moec builds with may
// predate them, so by number).
constexpr int32_t kFloat8E4M3FN = 17, kFloat8E4M3FNUZ = 18, kFloat8E5M2 = 19,
                  kFloat8E5M2FNUZ = 20;

// The element type of a tensor's data: every type a graph value may have,
// and the float8 types, which moec reads only as constants (fp8 weights a
// DequantizeLinear scales; moec-raise-dequantize keeps E4M3FN and folds the
// others), never as graph inputs or Cast targets.
Type tensorDataType(MLIRContext &ctx, int32_t dataType) {
  switch (dataType) {
  case kFloat8E4M3FN:
    return Float8E4M3FNType::get(&ctx);
  case kFloat8E4M3FNUZ:
    return Float8E4M3FNUZType::get(&ctx);
  case kFloat8E5M2:
    return Float8E5M2Type::get(&ctx);
  case kFloat8E5M2FNUZ:
    return Float8E5M2FNUZType::get(&ctx);
  default:
    return convertDataType(ctx, dataType);
  }
}

// Bytes one element occupies in a blob (bool: one byte).
int64_t elementBytes(Type type) { return (type.getIntOrFloatBitWidth() + 7) / 8; }

// A resource key MLIR can print as a bare identifier.
std::string sanitizeKey(StringRef name) {
  std::string key;
  for (char c : name)
    key += (llvm::isAlnum(c) || c == '_' || c == '.') ? c : '_';
  if (key.empty() || llvm::isDigit(key[0]) || key[0] == '.')
    key.insert(key.begin(), '_');
  return key;
}

struct TensorReader {
  ImportContext &ic;
  const ::onnx::TensorProto &tensor;
  StringRef what;
  Location loc;

  InFlightDiagnostic error() { return emitError(loc) << what << ": "; }

  // Little-endian bytes from the typed repeated fields.
  std::optional<std::vector<char>> fromTypedFields(Type element, int64_t count) {
    std::vector<char> bytes(static_cast<size_t>(count * elementBytes(element)));
    auto expect = [&](int64_t have) {
      if (have == count)
        return true;
      error() << "has " << have << " values, its shape needs " << count;
      return false;
    };
    int32_t dt = tensor.data_type();
    if (dt == ::onnx::TensorProto::FLOAT) {
      if (!expect(tensor.float_data_size()))
        return std::nullopt;
      std::memcpy(bytes.data(), tensor.float_data().data(), bytes.size());
    } else if (dt == ::onnx::TensorProto::DOUBLE) {
      if (!expect(tensor.double_data_size()))
        return std::nullopt;
      std::memcpy(bytes.data(), tensor.double_data().data(), bytes.size());
    } else if (dt == ::onnx::TensorProto::INT64) {
      if (!expect(tensor.int64_data_size()))
        return std::nullopt;
      std::memcpy(bytes.data(), tensor.int64_data().data(), bytes.size());
    } else {
      // int32, int8, uint8, bool, float16, bfloat16 and the float8 types all
      // live in int32_data (the 16- and 8-bit floats as their bit patterns).
      if (!expect(tensor.int32_data_size()))
        return std::nullopt;
      int64_t width = elementBytes(element);
      for (int64_t i = 0; i < count; ++i) {
        int32_t v = tensor.int32_data(i);
        std::memcpy(bytes.data() + i * width, &v, width);
      }
    }
    return bytes;
  }

  // Reads the tensor's external data into the buffer `destination(size)`
  // returns, after every check passed: the caller decides where the bytes go
  // (a large weight straight into its resource blob, read once).
  bool readExternal(int64_t needed, llvm::function_ref<char *(size_t)> destination) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &entry : tensor.external_data()) {
      char *end = nullptr;
      if (entry.key() == "location") {
        location = entry.value();
      } else if (entry.key() == "offset" || entry.key() == "length") {
        long long parsed = std::strtoll(entry.value().c_str(), &end, 10);
        if (entry.value().empty() || *end != '\0' || parsed < 0) {
          error() << "external data " << entry.key() << " '" << entry.value()
                  << "' is not a non-negative integer";
          return false;
        }
        (entry.key() == "offset" ? offset : length) = parsed;
      }
    }
    if (location.empty()) {
      error() << "external data has no location";
      return false;
    }
    // Like onnx's checker: data files must stay inside the model's directory.
    if (llvm::sys::path::is_absolute(location) ||
        llvm::is_contained(llvm::make_range(llvm::sys::path::begin(location),
                                            llvm::sys::path::end(location)),
                           "..")) {
      error() << "external data file '" << location
              << "' must be a relative path inside the model's directory";
      return false;
    }
    SmallString<256> full(ic.directory);
    llvm::sys::path::append(full, location);
    uint64_t fileSize = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(full, fileSize)) {
      error() << "cannot read external data file '" << full << "': " << ec.message();
      return false;
    }
    if (length < 0)
      length = needed;
    if (length != needed) {
      error() << "external data length is " << length << " bytes, its shape needs " << needed;
      return false;
    }
    if (static_cast<uint64_t>(offset) > fileSize ||
        static_cast<uint64_t>(length) > fileSize - offset) {
      error() << "external data file '" << full << "' has " << fileSize
              << " bytes, the tensor needs bytes [" << offset << ", " << offset + length << ")";
      return false;
    }
    char *bytes = destination(static_cast<size_t>(length));
    if (length == 0)
      return true;
    auto buffer = llvm::MemoryBuffer::getFileSlice(full, length, offset);
    if (!buffer) {
      error() << "cannot read external data file '" << full
              << "': " << buffer.getError().message();
      return false;
    }
    std::memcpy(bytes, (*buffer)->getBufferStart(), static_cast<size_t>(length));
    return true;
  }
};

// A DenseElementsAttr from blob-layout bytes.
ElementsAttr denseFromBytes(RankedTensorType type, ArrayRef<char> bytes) {
  Type element = type.getElementType();
  int64_t width = elementBytes(element);
  unsigned bits = element.getIntOrFloatBitWidth();
  SmallVector<APInt> ints;
  for (int64_t i = 0, n = type.getNumElements(); i < n; ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes.data() + i * width, width);
    ints.push_back(bits == 1 ? APInt(1, raw != 0) : APInt(bits, raw));
  }
  if (auto floatType = dyn_cast<FloatType>(element)) {
    SmallVector<APFloat> floats;
    for (const APInt &bitsValue : ints)
      floats.emplace_back(floatType.getFloatSemantics(), bitsValue);
    return DenseElementsAttr::get(type, floats);
  }
  return DenseElementsAttr::get(type, ints);
}

} // namespace

ElementsAttr convertTensor(ImportContext &ic, const ::onnx::TensorProto &tensor, StringRef what,
                           Location loc, int64_t denseLimit, StringRef resourceName) {
  TensorReader reader{ic, tensor, what, loc};
  Type element = tensorDataType(ic.ctx, tensor.data_type());
  if (!element) {
    reader.error() << "data type "
                   << ::onnx::TensorProto::DataType_Name(
                          static_cast<::onnx::TensorProto::DataType>(tensor.data_type()))
                   << " (" << tensor.data_type() << ") is not supported";
    return {};
  }
  if (tensor.has_segment()) {
    reader.error() << "segmented tensors are not supported";
    return {};
  }
  SmallVector<int64_t> shape;
  int64_t count = 1;
  // Cap the size so a corrupt shape cannot make us allocate absurd amounts.
  constexpr int64_t kMaxBytes = int64_t(1) << 40;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0 || (dim > 0 && count > kMaxBytes / dim)) {
      reader.error() << "has an invalid dimension " << dim;
      return {};
    }
    count *= dim;
    shape.push_back(dim);
  }
  int64_t needed = count * elementBytes(element);
  if (needed > kMaxBytes) {
    reader.error() << "is larger than 1 TiB";
    return {};
  }
  auto type = RankedTensorType::get(shape, element);

  bool external = tensor.data_location() == ::onnx::TensorProto::EXTERNAL;
  if (!external && tensor.has_raw_data() &&
      static_cast<int64_t>(tensor.raw_data().size()) != needed) {
    reader.error() << "has " << tensor.raw_data().size() << " bytes of raw data, its shape needs "
                   << needed;
    return {};
  }
  // A large weight goes into its resource blob with one copy: a model's
  // biggest tensor (gigabytes for a real MoE layer) is never held twice.
  if (count > denseLimit && !element.isInteger(1) && (external || tensor.has_raw_data())) {
    AsmResourceBlob blob;
    if (external) {
      bool ok = reader.readExternal(needed, [&](size_t size) {
        blob = HeapAsmResourceBlob::allocate(size, alignof(std::max_align_t));
        return blob.getMutableData().data();
      });
      if (!ok)
        return {};
    } else {
      blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
          ArrayRef<char>(tensor.raw_data().data(), tensor.raw_data().size()),
          alignof(std::max_align_t));
    }
    return DenseResourceElementsAttr::get(type, sanitizeKey(resourceName), std::move(blob));
  }

  std::optional<std::vector<char>> bytes;
  if (external) {
    bytes.emplace();
    if (!reader.readExternal(needed, [&](size_t size) {
          bytes->resize(size);
          return bytes->data();
        }))
      return {};
  } else if (tensor.has_raw_data()) {
    bytes.emplace(tensor.raw_data().begin(), tensor.raw_data().end());
  } else {
    bytes = reader.fromTypedFields(element, count);
  }
  if (!bytes)
    return {};
  if (element.isInteger(1))
    for (char &b : *bytes)
      b = b != 0; // ONNX allows any non-zero byte for true; keep 0/1.

  if (count <= denseLimit)
    return denseFromBytes(type, *bytes);
  auto blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(*bytes), alignof(std::max_align_t));
  return DenseResourceElementsAttr::get(type, sanitizeKey(resourceName), std::move(blob));
}

} // namespace moec::import
