//===- ArtifactWriter.cpp - the .moe artifact -------------------------------===//
//
// The artifact is everything libmoert needs and nothing it must compute:
// the signature, the weights in the layout the kernels read, the arena size,
// the step list with every argument resolved to (input | output | weight |
// arena offset), and the compiled kernels. See docs/artifact-format.md.
//
// The FlatBuffer holds only the metadata and the kernel binary; the weight
// bytes follow it in the weights segment. Weights are streamed to the file
// one at a time straight from their MLIR resource blobs, so writing a 20 GB
// model needs no second copy of it in memory.
//
//===----------------------------------------------------------------------===//

#include "compiler/artifact/ArtifactWriter.h"

#include "compiler/host/HostEmitter.h"
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
namespace format = moert::format;
namespace kernel = moec::kernel;

namespace {

constexpr uint32_t kSchemaVersion = 2;

FailureOr<fb::DType> dtypeOf(Location loc, Type t) {
  if (t.isF32()) return fb::DType_f32;
  if (t.isF16()) return fb::DType_f16;
  if (t.isBF16()) return fb::DType_bf16;
  if (t.isF64()) return fb::DType_f64;
  if (t.isInteger(1)) return fb::DType_boolean;
  // fp8 E4M3FN weights are stored as their byte patterns: the runtime only
  // moves them, the kernels decode them (the schema has no float8 dtype).
  if (isa<Float8E4M3FNType>(t)) return fb::DType_u8;
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

uint64_t alignTo64(uint64_t value) { return (value + 63) / 64 * 64; }

// The graph input whose buffer graph output `v` may share, or -1: `v` is a
// result of a launch that supports sharing it with one of its operands
// (kernel::kInplaceOperandsAttr), that operand is a graph input, and that
// launch is the input's only reader (so nothing reads the old values after
// the launch has overwritten them).
int32_t inplaceInputOf(Value v) {
  auto result = dyn_cast<OpResult>(v);
  auto launch = result ? dyn_cast<kernel::LaunchOp>(result.getOwner()) : kernel::LaunchOp();
  auto operands = launch ? launch->getAttrOfType<DenseI64ArrayAttr>(kernel::kInplaceOperandsAttr)
                         : DenseI64ArrayAttr();
  if (!operands || result.getResultNumber() >= operands.size())
    return -1;
  int64_t operand = operands[result.getResultNumber()];
  if (operand < 0 || operand >= static_cast<int64_t>(launch->getNumOperands()))
    return -1;
  auto input = dyn_cast<BlockArgument>(launch->getOperand(static_cast<unsigned>(operand)));
  if (!input || !input.hasOneUse() || input.getType() != v.getType())
    return -1;
  return static_cast<int32_t>(input.getArgNumber());
}

// One weight's place in the segment. Its bytes are read only when written.
struct PlannedWeight {
  kernel::ConstantOp op;
  uint64_t offset = 0, size = 0;
};

// The FlatBuffer (metadata and kernel binary) and where each weight goes.
struct Plan {
  flatbuffers::FlatBufferBuilder builder{1 << 20};
  std::vector<PlannedWeight> weights;
  uint64_t weightsSize = 0; // the segment, a multiple of 64
  moec::ArtifactSummary summary;
};

// Bytes `op` stores: its value's elements, each storageBytes() wide.
FailureOr<uint64_t> storedSize(kernel::ConstantOp op) {
  auto type = cast<ShapedType>(op.getValue().getType());
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return op.emitError("a weight must have a static shape and an integer or float type"),
           failure();
  return static_cast<uint64_t>(type.getNumElements()) *
         static_cast<uint64_t>(moec::storageBytes(type.getElementType()));
}

// Calls `write` with the bytes of `weight`: the resource blob itself when the
// weight is one (no copy: these are the large ones), else a decoded copy
// (small constants, splats, bit-packed booleans).
LogicalResult withWeightBytes(PlannedWeight weight,
                              llvm::function_ref<void(ArrayRef<char>)> write) {
  ElementsAttr value = weight.op.getValue();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (blob && blob->getData().size() == weight.size) {
      write(blob->getData());
      return success();
    }
  }
  auto bytes = moec::getConstantBytes(value);
  if (!bytes || bytes->size() != weight.size)
    return weight.op.emitError("cannot read this weight's data");
  write(*bytes);
  return success();
}

FailureOr<fb::Affine> offsetOf(kernel::LaunchOp l, unsigned result) {
  auto offsets = l->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaOffsetsAttr);
  if (!offsets || offsets.size() < 2 * (result + 1))
    return l.emitError("launch without a memory placement for result ") << result, failure();
  return fb::Affine(offsets[2 * result], offsets[2 * result + 1]);
}

// Builds the FlatBuffer of `module` and plans the weights segment.
LogicalResult buildPlan(ModuleOp module, Plan &plan) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func)
    return emitError(module.getLoc()) << "no function @main to package";
  auto arena = func->getAttrOfType<DenseI64ArrayAttr>(kernel::kArenaSizeAttr);
  auto targetAttr = module->getAttrOfType<StringAttr>(kernel::kTargetAttr);
  std::string targetName = targetAttr ? targetAttr.str() : "host";
  bool gpu = targetName != "host";
  auto binaryAttr = module->getAttrOfType<DenseResourceElementsAttr>(
      gpu ? kernel::kCudaBinaryAttr : kernel::kHostBinaryAttr);
  if (!arena || arena.size() != 2 || !binaryAttr)
    return emitError(module.getLoc())
           << "the module has no memory plan or no compiled kernels "
              "(run moec-plan-memory and moec-emit-host or moec-emit-cuda first)";
  AsmResourceBlob *blob = binaryAttr.getRawHandle().getBlob();
  if (!blob)
    return emitError(module.getLoc()) << "the compiled kernels were dropped";

  flatbuffers::FlatBufferBuilder &builder = plan.builder;
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());

  // Signature. An output may share an input's buffer (see
// kernel::kInplaceOperandsAttr) when the launch producing it supports it for
// that operand, the operand is a graph input and that launch is its only
// reader.
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
  llvm::DenseSet<int32_t> claimedInputs;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto type = cast<ShapedType>(v.getType());
    auto dtype = dtypeOf(func.getLoc(), type.getElementType());
    if (failed(dtype))
      return failure();
    auto dims = dimsOf(type);
    int32_t inplace = inplaceInputOf(v);
    if (inplace >= 0 && !claimedInputs.insert(inplace).second)
      inplace = -1; // one output per input (the same value returned twice)
    outputs.push_back(fb::CreateTensorSigDirect(builder, argName(func, i, true).c_str(), *dtype,
                                                &dims, inplace));
    outputIndex[v] = i;
  }

  // Weights: only their place in the segment now, one after another at
  // 64-byte boundaries; the bytes are written later.
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  llvm::DenseMap<Value, unsigned> weightIndex;
  for (auto c : func.getOps<kernel::ConstantOp>()) {
    auto type = cast<ShapedType>(c.getType());
    auto dtype = dtypeOf(c.getLoc(), type.getElementType());
    auto size = storedSize(c);
    if (failed(dtype) || failed(size))
      return failure();
    uint64_t expected = static_cast<uint64_t>(type.getNumElements()) *
                        static_cast<uint64_t>(moec::storageBytes(type.getElementType()));
    if (*size != expected)
      return c.emitError("the weight's data holds ")
             << *size << " bytes but its type needs " << expected;
    uint64_t offset = alignTo64(plan.weightsSize);
    plan.weightsSize = offset + *size;
    auto dims = dimsOf(type);
    std::string name = c.getName() ? c.getName()->str() : "weight" + std::to_string(weights.size());
    weightIndex[c.getOutput()] = weights.size();
    weights.push_back(fb::CreateWeightDirect(builder, name.c_str(), *dtype, &dims, offset, *size));
    plan.weights.push_back({c, offset, *size});
  }
  plan.weightsSize = alignTo64(plan.weightsSize);

  // Steps.
  std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
  std::vector<flatbuffers::Offset<fb::Step>> steps;
  for (auto l : func.getOps<kernel::LaunchOp>()) {
    auto symbol = l->getAttrOfType<StringAttr>(kernel::kSymbolAttr);
    if (!symbol || !l->hasAttr(kernel::kArenaOffsetsAttr))
      return l.emitError("launch without a symbol or memory placement");
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
      auto offset = offsetOf(producer, cast<OpResult>(v).getResultNumber());
      if (failed(offset))
        return failure();
      args.push_back(fb::CreateArg(builder, fb::ArgKind_arena, 0, &*offset));
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
    auto variants = kernel::gpuLaunchVariants(l);
    if (failed(variants))
      return failure();
    for (const kernel::GpuLaunchVariant &v : *variants) {
      fb::GridDim gridX(v.grid[0], v.grid[1], v.grid[2]), gridY(v.grid[3], v.grid[4], v.grid[5]);
      auto argsVec = builder.CreateVector(args);
      fb::StepBuilder sb(builder);
      sb.add_kernel(kernels.size());
      sb.add_args(argsVec);
      sb.add_grid_x(&gridX);
      sb.add_grid_y(&gridY);
      sb.add_block_x(static_cast<uint32_t>(v.block));
      sb.add_shared_bytes(static_cast<uint32_t>(v.sharedBytes));
      sb.add_min_tokens(v.minTokens);
      sb.add_max_tokens(v.maxTokens);
      steps.push_back(sb.Finish());
      kernels.push_back(fb::CreateKernelDirect(builder, v.symbol.str().c_str()));
    }
  }

  // FlatBuffers' own limit now bounds only the metadata and the binary.
  ArrayRef<char> so = blob->getData();
  if (so.size() >= FLATBUFFERS_MAX_BUFFER_SIZE / 2)
    return emitError(module.getLoc()) << "the compiled kernels take " << so.size()
                                      << " bytes; an artifact holds at most 1 GiB of kernel code";
  auto binaryData = builder.CreateVector(reinterpret_cast<const uint8_t *>(so.data()), so.size());
  auto binary =
      fb::CreateBinary(builder, builder.CreateString(gpu ? "cubin" : "host-elf-so"), binaryData);

  auto str = [&](StringRef attr, StringRef dflt) {
    auto s = module->getAttrOfType<StringAttr>(attr);
    return builder.CreateString(s ? s.getValue().str() : dflt.str());
  };
  fb::Affine arenaSize(arena[0], arena[1]);
  auto producer = builder.CreateString("moec 0.1.0");
  auto target = builder.CreateString(targetName);
  auto source = str("moec.source", "");
  auto tokenDim = str("moec.token_dim", "");
  // The x86-64 level the host kernels were compiled for (--host-cpu): the
  // runtime refuses a CPU without it instead of dying of SIGILL.
  flatbuffers::Offset<flatbuffers::String> hostCpu;
  if (!gpu) {
    std::string error;
    auto level = moec::resolveHostCpu(moec::hostCpuOf(module), &error);
    if (!level)
      return emitError(module.getLoc()) << error;
    if (*level != "generic")
      hostCpu = builder.CreateString(*level);
  }
  auto inputsVec = builder.CreateVector(inputs);
  auto outputsVec = builder.CreateVector(outputs);
  auto weightsVec = builder.CreateVector(weights);
  auto kernelsVec = builder.CreateVector(kernels);
  auto stepsVec = builder.CreateVector(steps);
  fb::ModelBuilder mb(builder);
  mb.add_schema_version(kSchemaVersion);
  mb.add_producer(producer);
  mb.add_target(target);
  mb.add_source(source);
  mb.add_token_dim(tokenDim);
  mb.add_inputs(inputsVec);
  mb.add_outputs(outputsVec);
  mb.add_weights(weightsVec);
  mb.add_arena_size(&arenaSize);
  mb.add_kernels(kernelsVec);
  mb.add_binary(binary);
  mb.add_steps(stepsVec);
  if (!hostCpu.IsNull())
    mb.add_host_cpu(hostCpu);
  fb::FinishModelBuffer(builder, mb.Finish());

  plan.summary.kernels = kernels.size();
  plan.summary.steps = steps.size();
  plan.summary.weights = weights.size();
  plan.summary.weightBytes = plan.weightsSize;
  plan.summary.arenaBase = arena[0];
  plan.summary.arenaPerToken = arena[1];
  return success();
}

} // namespace

namespace moec {

LogicalResult writeArtifact(ModuleOp module, llvm::raw_pwrite_stream &os,
                            ArtifactSummary *summary) {
  Plan plan;
  if (failed(buildPlan(module, plan)))
    return failure();
  static const char zeros[format::kSegmentAlignment] = {};
  const uint8_t *payload = plan.builder.GetBufferPointer();
  format::Layout layout;
  layout.payloadSize = plan.builder.GetSize();
  layout.payloadChecksum = format::checksum(payload, layout.payloadSize);
  format::weightsOffsetFor(layout.payloadSize, &layout.weightsOffset);
  layout.weightsSize = plan.weightsSize;

  // The header's weights checksum is known only at the end: write zeros
  // first and the real header over them last.
  uint64_t start = os.tell();
  os.write(zeros, format::kHeaderSize);
  os.write(reinterpret_cast<const char *>(payload), layout.payloadSize);
  os.write(zeros, layout.weightsOffset - format::kHeaderSize - layout.payloadSize);

  // Padding bytes are part of the segment and of its checksum.
  format::Checksum weightsSum;
  uint64_t written = 0;
  auto put = [&](ArrayRef<char> bytes) {
    os.write(bytes.data(), bytes.size());
    weightsSum.update(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    written += bytes.size();
  };
  auto padTo = [&](uint64_t offset) {
    while (written < offset)
      put(ArrayRef<char>(zeros, std::min<uint64_t>(offset - written, sizeof(zeros))));
  };
  for (const PlannedWeight &weight : plan.weights) {
    padTo(weight.offset);
    if (failed(withWeightBytes(weight, put)))
      return failure();
  }
  padTo(plan.weightsSize);
  layout.weightsChecksum = weightsSum.value();
  auto header = format::encodeHeader(layout);
  os.pwrite(reinterpret_cast<const char *>(header.data()), header.size(), start);

  if (summary) {
    *summary = plan.summary;
    summary->fileBytes = layout.weightsOffset + layout.weightsSize;
  }
  return success();
}

LogicalResult writeArtifact(ModuleOp module, StringRef path, ArtifactSummary *summary) {
  SmallString<128> temp(path);
  temp += ".tmp";
  std::error_code ec;
  llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
  if (ec)
    return emitError(module.getLoc()) << "cannot write " << path << ": " << ec.message();
  LogicalResult written = writeArtifact(module, os, summary);
  os.close();
  // A stream with a pending error aborts in its destructor: take it first.
  std::string writeError = os.has_error() ? os.error().message() : "";
  os.clear_error();
  if (failed(written) || !writeError.empty()) {
    llvm::sys::fs::remove(temp);
    if (!writeError.empty())
      return emitError(module.getLoc()) << "cannot write " << path << ": " << writeError;
    return failure();
  }
  if (auto renameError = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return emitError(module.getLoc()) << "cannot write " << path << ": " << renameError.message();
  }
  return success();
}

} // namespace moec
