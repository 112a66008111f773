//===- ModelLoader.cpp - Load a .moe file or buffer -----------------------===//

#include "runtime/format/Container.h"
#include "runtime/src/CheckedMath.h"
#include "runtime/src/Model.h"
#include "runtime/src/Status.h"

#include <cstdlib>
#include <cstring>

namespace moert {

size_t dtypeSize(int value) {
  switch (value) {
  case MOERT_DTYPE_F32:
  case MOERT_DTYPE_I32:
    return 4;
  case MOERT_DTYPE_F16:
  case MOERT_DTYPE_BF16:
    return 2;
  case MOERT_DTYPE_F64:
  case MOERT_DTYPE_I64:
    return 8;
  case MOERT_DTYPE_I8:
  case MOERT_DTYPE_U8:
  case MOERT_DTYPE_BOOL:
    return 1;
  default:
    return 0;
  }
}

const char *dtypeName(int value) {
  switch (value) {
  case MOERT_DTYPE_F32:
    return "float32";
  case MOERT_DTYPE_F16:
    return "float16";
  case MOERT_DTYPE_BF16:
    return "bfloat16";
  case MOERT_DTYPE_F64:
    return "float64";
  case MOERT_DTYPE_I64:
    return "int64";
  case MOERT_DTYPE_I32:
    return "int32";
  case MOERT_DTYPE_I8:
    return "int8";
  case MOERT_DTYPE_U8:
    return "uint8";
  case MOERT_DTYPE_BOOL:
    return "bool";
  default:
    return "invalid";
  }
}

std::string TensorSig::describe() const {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      text += ", ";
    text += dims[i] == kTokenDim ? std::string("T") : std::to_string(dims[i]);
  }
  if (dims.size() == 1)
    text += ",";
  return text + ") " + dtypeName(dtype);
}

bool signatureBytes(const TensorSig &sig, int64_t tokens, int64_t *out) {
  int64_t count = sig.staticElements;
  for (int i = 0; i < sig.tokenDimCount; ++i)
    if (!checkedMul(count, tokens, &count))
      return false;
  return checkedMul(count, static_cast<int64_t>(dtypeSize(sig.dtype)), out);
}

bool weightsCheckFromEnvironment(WeightsCheck *out, std::string *error) {
  const char *value = std::getenv("MOERT_VERIFY_WEIGHTS");
  std::string text = value ? value : "";
  if (text.empty() || text == "auto")
    *out = WeightsCheck::Auto;
  else if (text == "load")
    *out = WeightsCheck::Load;
  else if (text == "lazy")
    *out = WeightsCheck::Lazy;
  else if (text == "off")
    *out = WeightsCheck::Off;
  else {
    *error = "MOERT_VERIFY_WEIGHTS='" + text +
             "' is not one of auto, load, lazy, off";
    return false;
  }
  return true;
}

namespace {

// Checks the container held by `model->storage`, verifies and decodes the
// payload, then checks the weights segment as MOERT_VERIFY_WEIGHTS says.
// The cheap checks come first, so a corrupt header or payload is reported
// without reading gigabytes of weights.
moert_status finishLoad(Model *model) {
  WeightsCheck policy;
  std::string reason;
  if (!weightsCheckFromEnvironment(&policy, &reason))
    return makeStatus(MOERT_INVALID_ARGUMENT, std::move(reason));
  const uint8_t *file = model->storage.data();
  format::Layout layout;
  if (!format::decodeHeader(file, model->storage.size(), &layout, &reason) ||
      !format::checkPayload(file, layout, &reason))
    return makeStatus(MOERT_DATA_LOSS, std::move(reason));
  model->weightData = file + layout.weightsOffset;
  model->weightDataSize = layout.weightsSize;
  model->weightsChecksum = layout.weightsChecksum;
  // Storage is 64-byte aligned and so is the segment's file offset: kernels
  // read every weight (at a 64-multiple offset) in place.
  if (reinterpret_cast<uintptr_t>(model->weightData) % kDataAlignment != 0)
    return makeStatus(MOERT_INTERNAL, "the weights segment is not " +
                                          std::to_string(kDataAlignment) +
                                          "-byte aligned in memory");
  if (moert_status status = verifyAndDecode(
          model, file + format::kHeaderSize,
          static_cast<size_t>(layout.payloadSize)))
    return status;
  if (policy == WeightsCheck::Auto)
    policy = layout.weightsSize < kVerifyAtLoadBelow ? WeightsCheck::Load
                                                     : WeightsCheck::Lazy;
  model->weightsCheck = policy;
  if (policy == WeightsCheck::Load) {
    if (!format::checkWeights(file, layout, &reason))
      return makeStatus(MOERT_DATA_LOSS, std::move(reason));
    model->weightsVerified = true;
  }
  return nullptr;
}

} // namespace

moert_status loadModelFile(const char *path, std::shared_ptr<Model> *out) {
  auto model = std::make_shared<Model>();
  model->name = path;
  moert_status status = model->storage.openFile(path);
  if (!status)
    status = finishLoad(model.get());
  if (status)
    return annotate(status, model->name + ": ");
  *out = std::move(model);
  return nullptr;
}

moert_status loadModelBuffer(const void *data, size_t size, const char *name,
                             bool borrow, std::shared_ptr<Model> *out) {
  auto model = std::make_shared<Model>();
  model->name = name ? name : "<buffer>";
  if (data == nullptr && size != 0)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      model->name + ": data is NULL but size is " +
                          std::to_string(size));
  // The payload and the weights segment start at 64-byte multiples in the
  // image, so a 64-aligned image gives aligned ones; otherwise take an
  // aligned copy.
  moert_status status = nullptr;
  if (borrow && reinterpret_cast<uintptr_t>(data) % kDataAlignment == 0)
    model->storage.borrow(data, size);
  else
    status = model->storage.copyFrom(data, size);
  if (!status)
    status = finishLoad(model.get());
  if (status)
    return annotate(status, model->name + ": ");
  *out = std::move(model);
  return nullptr;
}

} // namespace moert
