//===- KernelDialect.cpp - kernel dialect verifiers -------------------------===//
#include "dialects/kernel/KernelDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moec::kernel;

#include "dialects/kernel/KernelOpsDialect.cpp.inc"

void KernelDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/kernel/KernelOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialects/kernel/KernelOps.cpp.inc"

LogicalResult ConstantOp::verify() {
  auto type = cast<ShapedType>(getOutput().getType());
  if (!type.hasStaticShape())
    return emitOpError("a weight must have a static shape");
  if (cast<TypedAttr>(getValue()).getType() != type)
    return emitOpError("value type does not match the result type");
  return success();
}

LogicalResult LaunchOp::verify() {
  bool isElementwise = getKernel() == "elementwise";
  if (isElementwise != !getBody().empty())
    return emitOpError(isElementwise
                           ? "an elementwise launch needs a body"
                           : "only elementwise launches have a body");
  if (isElementwise) {
    if (getNumResults() != 1)
      return emitOpError("an elementwise launch has one result");
    Block &block = getBody().front();
    if (block.getNumArguments() != getInputs().size())
      return emitOpError("body must take one scalar per input");
    if (!isa<YieldOp>(block.getTerminator()))
      return emitOpError("body must end with kernel.yield");
  }
  for (Type type : getResultTypes())
    if (!cast<RankedTensorType>(type).getElementType().isIntOrFloat())
      return emitOpError("results must hold integers or floats");
  return success();
}

namespace moec::kernel {

FailureOr<SmallVector<GpuLaunchVariant>> gpuLaunchVariants(LaunchOp launch) {
  SmallVector<DictionaryAttr> dicts;
  if (auto list = launch->getAttrOfType<ArrayAttr>("variants"))
    for (auto v : list.getAsRange<DictionaryAttr>())
      dicts.push_back(v);
  else
    dicts.push_back(launch->getAttrDictionary());
  SmallVector<GpuLaunchVariant> variants;
  for (DictionaryAttr v : dicts) {
    auto grid = v.getAs<DenseI64ArrayAttr>("grid");
    auto block = v.getAs<IntegerAttr>("block");
    auto smem = v.getAs<IntegerAttr>("shared_bytes");
    auto name = v.getAs<StringAttr>("symbol");
    if (!grid || grid.size() != 6 || !block || !smem || !name)
      return launch.emitError("GPU launch without its symbol, grid, block and shared memory");
    GpuLaunchVariant variant;
    variant.symbol = name.getValue();
    variant.grid = grid.asArrayRef();
    variant.block = block.getInt();
    variant.sharedBytes = smem.getInt();
    if (auto minTokens = v.getAs<IntegerAttr>("min_tokens"))
      variant.minTokens = minTokens.getInt();
    if (auto maxTokens = v.getAs<IntegerAttr>("max_tokens"))
      variant.maxTokens = maxTokens.getInt();
    variants.push_back(variant);
  }
  return variants;
}

} // namespace moec::kernel
