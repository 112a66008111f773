//===- ArtifactWriter.cpp - the .moe artifact -------------------------------===//
//
// The artifact is everything libmoert needs and nothing it must compute:
// the signature, the weights in the layout the kernels read, the arena size,
// the step list with every argument resolved to (input | output | weight |
// arena offset), and the compiled kernels. See docs/artifact-format.md.
//
//===----------------------------------------------------------------------===//

#include "compiler/artifact/ArtifactWriter.h"

#include "compiler/utils/ConstantData.h"
#include "dialects/kernel/KernelDialect.h"
#include "moert/artifact_generated.h"
#include "runtime/format/Container.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace fb = moert::fb;
namespace kernel = moec::kernel;

namespace {

FailureOr<fb::DType> dtypeOf(Location loc, Type t) {
  if (t.isF32()) return fb::DType_f32;
  if (t.isF16()) return fb::DType_f16;
  if (t.isBF16()) return fb::DType_bf16;
  if (t.isF64()) return fb::DType_f64;
  if (t.isInteger(1)) return fb::DType_boolean;
  if (auto i = dyn_cast<IntegerType>(t)) {
    if (i.getWidth() == 64 && !i.isUnsigned()) return fb::DType_i64;
    if (i.getWidth() == 32 && !i.isUnsigned()) return fb::DType_i32;
    if (i.getWidth() == 8) return i.isUnsigned() ? fb::DType_u8 : fb::DType_i8;
  }
  return emitError(loc) << "element type " << t << " cannot be stored in an artifact", failure();
}

std::vector<int64_t> dimsOf(ShapedType t) {
  std::vector<int64_t> dims;
  for (int64_t d : t.getShape())
    dims.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return dims;
}

std::string argName(func::FuncOp f, unsigned i, bool result) {
  auto name = result ? f.getResultAttrOfType<StringAttr>(i, "onnx.name")
                     : f.getArgAttrOfType<StringAttr>(i, "onnx.name");
  return name ? name.str() : (result ? "output" : "input") + std::to_string(i);
}

} // namespace

namespace moec {

FailureOr<std::vector<uint8_t>> buildArtifact(ModuleOp module, ArtifactSummary *summary) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func)
    return emitError(module.getLoc()) << "no function @main to package", failure();
  auto arena = func->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaSizeAttr);
  auto targetAttr = module->getAttrOfType<StringAttr>(kernel::kTargetAttr);
  std::string targetName = targetAttr ? targetAttr.str() : "host";
  bool gpu = targetName != "host";
  auto binaryAttr = module->getAttrOfType<DenseResourceElementsAttr>(
      gpu ? kernel::kCudaBinaryAttr : kernel::kHostBinaryAttr);
  if (!arena || !binaryAttr)
    return emitError(module.getLoc())
               << "the module has no memory plan or no compiled kernels "
                  "(run moec-plan-memory and moec-emit-host or moec-emit-cuda first)",
           failure();
  AsmResourceBlob *blob = binaryAttr.getRawHandle().getBlob();
  if (!blob)
    return emitError(module.getLoc()) << "the compiled kernels were dropped", failure();

  flatbuffers::FlatBufferBuilder builder(1 << 20);
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());

  // Signature.
  std::vector<flatbuffers::Offset<fb::TensorSig>> inputs, outputs;
  for (BlockArgument arg : body.getArguments()) {
    auto type = cast<ShapedType>(arg.getType());
    auto dtype = dtypeOf(func.getLoc(), type.getElementType());
    if (failed(dtype))
      return failure();
    auto dims = dimsOf(type);
    inputs.push_back(fb::CreateTensorSigDirect(
        builder, argName(func, arg.getArgNumber(), false).c_str(), *dtype, &dims));
  }
  llvm::DenseMap<Value, unsigned> outputIndex;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto type = cast<ShapedType>(v.getType());
    auto dtype = dtypeOf(func.getLoc(), type.getElementType());
    if (failed(dtype))
      return failure();
    auto dims = dimsOf(type);
    outputs.push_back(fb::CreateTensorSigDirect(builder, argName(func, i, true).c_str(), *dtype, &dims));
    outputIndex[v] = i;
  }

  // Weights, 64-byte aligned inside one data block.
  std::vector<uint8_t> weightData;
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  llvm::DenseMap<Value, unsigned> weightIndex;
  for (auto c : func.getOps<kernel::ConstantOp>()) {
    auto type = cast<ShapedType>(c.getType());
    auto bytes = getConstantBytes(c.getValue());
    auto dtype = dtypeOf(c.getLoc(), type.getElementType());
    if (!bytes || failed(dtype))
      return c.emitError("cannot read this weight's data"), failure();
    size_t offset = (weightData.size() + 63) / 64 * 64;
    weightData.resize(offset);
    weightData.insert(weightData.end(), bytes->begin(), bytes->end());
    auto dims = dimsOf(type);
    std::string name = c.getName() ? c.getName()->str() : "weight" + std::to_string(weights.size());
    weightIndex[c.getOutput()] = weights.size();
    weights.push_back(fb::CreateWeightDirect(builder, name.c_str(), *dtype, &dims, offset,
                                             bytes->size()));
  }
  weightData.resize((weightData.size() + 63) / 64 * 64);

  // Steps.
  std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
  std::vector<flatbuffers::Offset<fb::Step>> steps;
  auto offsetOf = [](kernel::LaunchOp l, unsigned result) {
    auto offsets = l->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaOffsetsAttr);
    return fb::Affine(offsets[2 * result], offsets[2 * result + 1]);
  };
  for (auto l : func.getOps<kernel::LaunchOp>()) {
    auto symbol = l->getAttrOfType<StringAttr>(kernel::kSymbolAttr);
    if (!symbol || !l->hasAttr(kernel::kArenaOffsetsAttr))
      return l.emitError("launch without a symbol or memory placement"), failure();
    std::vector<flatbuffers::Offset<fb::Arg>> args;
    auto addValue = [&](Value v) -> LogicalResult {
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        args.push_back(fb::CreateArg(builder, fb::ArgKind_input, arg.getArgNumber()));
        return success();
      }
      if (auto it = weightIndex.find(v); it != weightIndex.end()) {
        args.push_back(fb::CreateArg(builder, fb::ArgKind_weight, it->second));
        return success();
      }
      if (auto it = outputIndex.find(v); it != outputIndex.end()) {
        args.push_back(fb::CreateArg(builder, fb::ArgKind_output, it->second));
        return success();
      }
      auto producer = dyn_cast_or_null<kernel::LaunchOp>(v.getDefiningOp());
      if (!producer)
        return l.emitError("operand is not an input, weight or kernel result");
      fb::Affine offset = offsetOf(producer, cast<OpResult>(v).getResultNumber());
      args.push_back(fb::CreateArg(builder, fb::ArgKind_arena, 0, &offset));
      return success();
    };
    for (Value v : l.getInputs())
      if (failed(addValue(v)))
        return failure();
    for (Value v : l.getOutputs())
      if (failed(addValue(v)))
        return failure();
    if (auto scratch = l->getAttrOfType<DenseI64ArrayAttr>(kernel::kScratchOffsetAttr)) {
      fb::Affine offset(scratch[0], scratch[1]);
      args.push_back(fb::CreateArg(builder, fb::ArgKind_arena, 0, &offset));
    }
    if (!gpu) {
      steps.push_back(fb::CreateStepDirect(builder, kernels.size(), &args));
      kernels.push_back(fb::CreateKernelDirect(builder, symbol.getValue().str().c_str()));
      continue;
    }
    // GPU: one step per variant (token-count bucket), else one step.
    SmallVector<DictionaryAttr> variants;
    if (auto list = l->getAttrOfType<ArrayAttr>("variants"))
      for (auto v : list.getAsRange<DictionaryAttr>())
        variants.push_back(v);
    else
      variants.push_back(l->getAttrDictionary());
    for (DictionaryAttr v : variants) {
      auto grid = v.getAs<DenseI64ArrayAttr>("grid");
      auto blockAttr = v.getAs<IntegerAttr>("block");
      auto smem = v.getAs<IntegerAttr>("shared_bytes");
      auto name = v.getAs<StringAttr>("symbol");
      if (!grid || grid.size() != 6 || !blockAttr || !smem || !name)
        return l.emitError("GPU launch without its symbol, grid, block and shared memory"),
               failure();
      auto minTokens = v.getAs<IntegerAttr>("min_tokens");
      auto maxTokens = v.getAs<IntegerAttr>("max_tokens");
      fb::GridDim gridX(grid[0], grid[1], grid[2]), gridY(grid[3], grid[4], grid[5]);
      auto argsVec = builder.CreateVector(args);
      fb::StepBuilder sb(builder);
      sb.add_kernel(kernels.size());
      sb.add_args(argsVec);
      sb.add_grid_x(&gridX);
      sb.add_grid_y(&gridY);
      sb.add_block_x(static_cast<uint32_t>(blockAttr.getInt()));
      sb.add_shared_bytes(static_cast<uint32_t>(smem.getInt()));
      sb.add_min_tokens(minTokens ? minTokens.getInt() : 0);
      sb.add_max_tokens(maxTokens ? maxTokens.getInt() : -1);
      steps.push_back(sb.Finish());
      kernels.push_back(fb::CreateKernelDirect(builder, name.getValue().str().c_str()));
    }
  }

  ArrayRef<char> so = blob->getData();
  auto binaryData = builder.CreateVector(reinterpret_cast<const uint8_t *>(so.data()), so.size());
  auto binary =
      fb::CreateBinary(builder, builder.CreateString(gpu ? "cubin" : "host-elf-so"), binaryData);
  // Kernels read weights in place: the data must start 64-byte aligned
  // (PreAlign, not ForceVectorAlignment, which is limited to 32 here).
  builder.PreAlign(weightData.size(), 64);
  auto weightDataOffset = builder.CreateVector(weightData);

  auto str = [&](StringRef attr, StringRef dflt) {
    auto s = module->getAttrOfType<StringAttr>(attr);
    return builder.CreateString(s ? s.getValue().str() : dflt.str());
  };
  fb::Affine arenaSize(arena[0], arena[1]);
  auto producer = builder.CreateString("moec 0.1.0");
  auto target = builder.CreateString(targetName);
  auto source = str("moec.source", "");
  auto tokenDim = str("moec.token_dim", "");
  auto inputsVec = builder.CreateVector(inputs);
  auto outputsVec = builder.CreateVector(outputs);
  auto weightsVec = builder.CreateVector(weights);
  auto kernelsVec = builder.CreateVector(kernels);
  auto stepsVec = builder.CreateVector(steps);
  fb::ModelBuilder mb(builder);
  mb.add_schema_version(1);
  mb.add_producer(producer);
  mb.add_target(target);
  mb.add_source(source);
  mb.add_token_dim(tokenDim);
  mb.add_inputs(inputsVec);
  mb.add_outputs(outputsVec);
  mb.add_weights(weightsVec);
  mb.add_weight_data(weightDataOffset);
  mb.add_arena_size(&arenaSize);
  mb.add_kernels(kernelsVec);
  mb.add_binary(binary);
  mb.add_steps(stepsVec);
  fb::FinishModelBuffer(builder, mb.Finish());

  std::vector<uint8_t> file =
      moert::format::wrapPayload(builder.GetBufferPointer(), builder.GetSize());
  if (summary) {
    summary->kernels = kernels.size();
    summary->steps = steps.size();
    summary->weights = weights.size();
    summary->weightBytes = weightData.size();
    summary->fileBytes = file.size();
    summary->arenaBase = arena[0];
    summary->arenaPerToken = arena[1];
  }
  return file;
}

LogicalResult writeArtifact(ModuleOp module, StringRef path, ArtifactSummary *summary) {
  auto bytes = buildArtifact(module, summary);
  if (failed(bytes))
    return failure();
  SmallString<128> temp(path);
  temp += ".tmp";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return emitError(module.getLoc()) << "cannot write " << path << ": " << ec.message();
    os.write(reinterpret_cast<const char *>(bytes->data()), bytes->size());
    os.close();
    if (os.has_error())
      return emitError(module.getLoc()) << "cannot write " << path << ": " << os.error().message();
  }
  if (auto ec = llvm::sys::fs::rename(temp, path))
    return emitError(module.getLoc()) << "cannot write " << path << ": " << ec.message();
  return success();
}

} // namespace moec
