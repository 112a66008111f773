//===- ModelPlan.cpp - the step list and memory plan, read off the IR -------===//
//
// Follows compiler/artifact/ArtifactWriter.cpp rule for rule: inputs and
// outputs from @main's signature, weights in kernel.constant order at
// 64-byte aligned offsets, each launch's arguments resolved in the order
// inputs, results, scratch; a GPU launch with `variants` becomes one step
// per token-count bucket. A generated runtime that followed other rules
// would compute something else than libmoert on the same artifact.
//
//===----------------------------------------------------------------------===//

#include "compiler/standalone/ModelPlan.h"

#include "compiler/codegen/LaunchView.h"
#include "compiler/utils/ConstantData.h"
#include "dialects/kernel/KernelDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
namespace kernel = moec::kernel;

namespace moec::standalone {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "float32";
  case DType::F16: return "float16";
  case DType::BF16: return "bfloat16";
  case DType::F64: return "float64";
  case DType::I64: return "int64";
  case DType::I32: return "int32";
  case DType::I8: return "int8";
  case DType::U8: return "uint8";
  case DType::Bool: return "bool";
  }
  return "?";
}

const char *dtypeEnumName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::F64: return "F64";
  case DType::I64: return "I64";
  case DType::I32: return "I32";
  case DType::I8: return "I8";
  case DType::U8: return "U8";
  case DType::Bool: return "BOOL";
  }
  return "?";
}

unsigned dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F64:
  case DType::I64: return 8;
  case DType::F32:
  case DType::I32: return 4;
  case DType::F16:
  case DType::BF16: return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool: return 1;
  }
  return 0;
}

uint64_t fnv1a64(const uint8_t *data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

namespace {

FailureOr<DType> dtypeOf(Location loc, Type t) {
  if (t.isF32()) return DType::F32;
  if (t.isF16()) return DType::F16;
  if (t.isBF16()) return DType::BF16;
  if (t.isF64()) return DType::F64;
  if (t.isInteger(1)) return DType::Bool;
  if (auto i = dyn_cast<IntegerType>(t)) {
    if (i.getWidth() == 64 && !i.isUnsigned()) return DType::I64;
    if (i.getWidth() == 32 && !i.isUnsigned()) return DType::I32;
    if (i.getWidth() == 8) return i.isUnsigned() ? DType::U8 : DType::I8;
  }
  return emitError(loc) << "element type " << t << " has no standalone runtime equivalent",
         failure();
}

FailureOr<TensorSig> signatureOf(func::FuncOp func, Type type, std::string name) {
  auto shaped = cast<ShapedType>(type);
  auto dtype = dtypeOf(func.getLoc(), shaped.getElementType());
  if (failed(dtype))
    return failure();
  TensorSig sig;
  sig.name = std::move(name);
  sig.dtype = *dtype;
  for (int64_t d : shaped.getShape())
    sig.dims.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return sig;
}

std::string argName(func::FuncOp f, unsigned i, bool result) {
  auto name = result ? f.getResultAttrOfType<StringAttr>(i, "onnx.name")
                     : f.getArgAttrOfType<StringAttr>(i, "onnx.name");
  return name ? name.str() : (result ? "output" : "input") + std::to_string(i);
}

// The compiled kernels as bytes (the cubin, or the host shared object).
FailureOr<std::vector<char>> binaryOf(ModuleOp module, StringRef attr) {
  auto binary = module->getAttrOfType<DenseResourceElementsAttr>(attr);
  AsmResourceBlob *blob = binary ? binary.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return emitError(module.getLoc()) << "the module has no compiled kernels (" << attr << ")",
           failure();
  ArrayRef<char> data = blob->getData();
  return std::vector<char>(data.begin(), data.end());
}

} // namespace

FailureOr<ModelPlan> buildModelPlan(ModuleOp module) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func)
    return emitError(module.getLoc()) << "no function @main to generate a runtime for", failure();
  auto arena = func->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaSizeAttr);
  if (!arena || arena.size() != 2)
    return emitError(module.getLoc())
               << "the module has no memory plan (run moec-plan-memory first)",
           failure();
  ModelPlan plan;
  auto targetAttr = module->getAttrOfType<StringAttr>(kernel::kTargetAttr);
  plan.target = targetAttr ? targetAttr.str() : "host";
  if (auto source = module->getAttrOfType<StringAttr>("moec.source"))
    plan.source = source.str();
  plan.arena = {arena[0], arena[1]};
  if (plan.gpu()) {
    auto cubin = binaryOf(module, kernel::kCudaBinaryAttr);
    if (failed(cubin))
      return failure();
    plan.cubin = std::move(*cubin);
  } else {
    auto source = module->getAttrOfType<StringAttr>(kernel::kHostSourceAttr);
    if (!source)
      return emitError(module.getLoc())
                 << "the module has no host kernel source (run moec-emit-host first)",
             failure();
    plan.hostSource = source.str();
  }

  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (BlockArgument arg : body.getArguments()) {
    auto sig = signatureOf(func, arg.getType(), argName(func, arg.getArgNumber(), false));
    if (failed(sig))
      return failure();
    plan.inputs.push_back(std::move(*sig));
  }
  llvm::DenseMap<Value, unsigned> outputIndex;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto sig = signatureOf(func, v.getType(), argName(func, i, true));
    if (failed(sig))
      return failure();
    plan.outputs.push_back(std::move(*sig));
    outputIndex[v] = i;
  }

  llvm::DenseMap<Value, unsigned> weightIndex;
  for (auto c : func.getOps<kernel::ConstantOp>()) {
    auto bytes = getConstantBytes(c.getValue());
    if (!bytes)
      return c.emitError("cannot read this weight's data"), failure();
    uint64_t offset = (plan.weightData.size() + 63) / 64 * 64;
    plan.weightData.resize(offset);
    plan.weightData.insert(plan.weightData.end(), bytes->begin(), bytes->end());
    Weight w;
    w.name = c.getName() ? c.getName()->str() : "weight" + std::to_string(plan.weights.size());
    w.offset = offset;
    w.size = bytes->size();
    weightIndex[c.getOutput()] = plan.weights.size();
    plan.weights.push_back(std::move(w));
  }
  plan.weightData.resize((plan.weightData.size() + 63) / 64 * 64);

  for (auto l : func.getOps<kernel::LaunchOp>()) {
    auto symbol = l->getAttrOfType<StringAttr>(kernel::kSymbolAttr);
    if (!symbol || !l->hasAttr(kernel::kArenaOffsetsAttr))
      return l.emitError("launch without a symbol or memory placement"), failure();
    Step step;
    step.symbol = symbol.str();
    step.description = codegen::LaunchView(l).describe();
    auto addValue = [&](Value v) -> LogicalResult {
      Arg arg;
      if (auto blockArg = dyn_cast<BlockArgument>(v)) {
        arg.kind = Arg::Input;
        arg.index = blockArg.getArgNumber();
      } else if (auto it = weightIndex.find(v); it != weightIndex.end()) {
        arg.kind = Arg::Weight;
        arg.index = it->second;
      } else if (auto it = outputIndex.find(v); it != outputIndex.end()) {
        arg.kind = Arg::Output;
        arg.index = it->second;
      } else {
        auto producer = dyn_cast_or_null<kernel::LaunchOp>(v.getDefiningOp());
        if (!producer)
          return l.emitError("operand is not an input, weight or kernel result");
        auto offsets = producer->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaOffsetsAttr);
        unsigned r = cast<OpResult>(v).getResultNumber();
        if (!offsets || offsets.size() < 2 * (r + 1))
          return l.emitError("operand's producer has no arena offset");
        arg.kind = Arg::Arena;
        arg.offset = {offsets[2 * r], offsets[2 * r + 1]};
      }
      step.args.push_back(arg);
      return success();
    };
    for (Value v : l.getInputs())
      if (failed(addValue(v)))
        return failure();
    for (Value v : l.getOutputs())
      if (failed(addValue(v)))
        return failure();
    if (auto scratch = l->getAttrOfType<DenseI64ArrayAttr>(kernel::kScratchOffsetAttr)) {
      Arg arg;
      arg.kind = Arg::Arena;
      arg.offset = {scratch[0], scratch[1]};
      step.args.push_back(arg);
    }
    if (!plan.gpu()) {
      plan.steps.push_back(std::move(step));
      continue;
    }
    // GPU: one step per variant (token-count bucket), else one step.
    auto variants = kernel::gpuLaunchVariants(l);
    if (failed(variants))
      return failure();
    if (step.args.size() > 23)
      return l.emitError("GPU launch with more than 23 arguments"), failure();
    for (const kernel::GpuLaunchVariant &v : *variants) {
      Step variant = step;
      variant.symbol = v.symbol.str();
      variant.gridX = {v.grid[0], v.grid[1], v.grid[2]};
      variant.gridY = {v.grid[3], v.grid[4], v.grid[5]};
      variant.block = static_cast<unsigned>(v.block);
      variant.sharedBytes = static_cast<unsigned>(v.sharedBytes);
      variant.minTokens = v.minTokens;
      variant.maxTokens = v.maxTokens;
      if (variant.gridX.divisor < 1 || variant.gridY.divisor < 1 || variant.gridX.base < 0 ||
          variant.gridY.base < 0 || variant.gridX.perToken < 0 || variant.gridY.perToken < 0)
        return l.emitError("GPU launch grid must have base, per_token >= 0 and divisor >= 1"),
               failure();
      plan.steps.push_back(std::move(variant));
    }
  }
  return plan;
}

} // namespace moec::standalone
