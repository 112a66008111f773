//===- LowerToKernel.cpp - moe/onnx ops to kernel launches -----------------===//
//
// After this pass the function is a straight list of kernel.launch ops (plus
// the kernel.constant weights they read), in execution order. Three things
// happen on the way:
//   1. Only what the outputs need survives. Operands that are compile-time
//      information (a Reshape's target shape, a TopK's K, Slice bounds) are
//      not data: the subgraphs computing them (Shape -> Gather -> Concat ...)
//      are folded into the specialization and removed, never run.
//   2. Each remaining op becomes one launch of a kernel template, with the
//      ONNX attributes normalized (negative axes resolved, defaults filled,
//      opset differences removed) into the launch's `spec`.
//   3. Every graph output becomes the result of its own launch, so the
//      kernel producing it can write it straight into the caller's buffer.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/DataFlow.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/kernel/KernelDialect.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "moec_host_kernels.h"
#include "passes/lower/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#include <array>
#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOECLOWERTOKERNEL
#include "passes/lower/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace kernel = moec::kernel;
namespace moe = moec::moe;

namespace {

int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

// Erases every op that is not a kernel op or the terminator: after lowering,
// what remains only computed compile-time operands, now folded into specs.
void eraseCompileTimeOps(func::FuncOp func) {
  SmallVector<Operation *> dead;
  for (Operation &op : func.getBody().front().without_terminator())
    if (!isa<kernel::LaunchOp, kernel::ConstantOp>(op))
      dead.push_back(&op);
  for (Operation *op : dead)
    op->dropAllUses();
  for (Operation *op : llvm::reverse(dead))
    op->erase();
}

int64_t normalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

int64_t defaultOpset(Operation *op) {
  // For messages only: the importer has already normalized opset differences.
  auto module = op->getParentOfType<ModuleOp>();
  if (auto opsets = module ? module->getAttrOfType<DictionaryAttr>("onnx.opset_import")
                           : DictionaryAttr())
    if (auto v = opsets.getAs<IntegerAttr>("ai.onnx"))
      return v.getInt();
  return 17;
}

// The 2-D constant `v` transposed, as a kernel.constant placed before
// `before` (resource key "<key>.nk"), or null if `v` is not a constant.
// Kernels reduce along contiguous rows, so [K, N] weights become [N, K] once,
// at compile time.
Value transposedConstant(Operation *before, Value v) {
  ElementsAttr elements = moec::getConstantElements(v);
  auto bytes = elements ? moec::getConstantBytes(elements) : std::nullopt;
  if (!bytes)
    return {};
  auto type = cast<RankedTensorType>(v.getType());
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  int64_t width = moec::storageBytes(type.getElementType());
  std::vector<char> out(bytes->size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(&out[(c * rows + r) * width], &(*bytes)[(r * cols + c) * width], width);
  auto newType = RankedTensorType::get({cols, rows}, type.getElementType());
  std::string key = "weight_nk";
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(elements))
    key = resource.getRawHandle().getKey().str() + ".nk";
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(out));
  StringAttr name;
  if (auto loc = dyn_cast<NameLoc>(v.getLoc()))
    name = loc.getName();
  OpBuilder b(before);
  return kernel::ConstantOp::create(b, v.getLoc(), newType,
                                    DenseResourceElementsAttr::get(newType, key, std::move(blob)),
                                    name);
}

// An int8 weight a host kernel reads directly: a moe.dequantize along the
// weight's last (reduction) axis, symmetric, with float32 scales.
struct QuantWeight {
  Value q, scale;
  int64_t group;
  int64_t bits = 8; // 4: packed two per byte along the reduction axis
};
std::optional<QuantWeight> quantWeight(Value w) {
  auto dq = w ? w.getDefiningOp<moe::DequantizeOp>() : moe::DequantizeOp();
  if (!dq || dq.getZeroPoint())
    return std::nullopt;
  auto qType = cast<RankedTensorType>(dq.getInput().getType());
  // int8 / packed int4 codes, or fp8 E4M3FN values (8 bits; the host
  // emitter tells them apart by this element type).
  Type element = qType.getElementType();
  bool codes = element.isInteger(8) || isa<Float8E4M3FNType>(element);
  if (!codes || dq.getAxis() != qType.getRank() - 1 ||
      !cast<ShapedType>(dq.getScale().getType()).getElementType().isF32())
    return std::nullopt;
  return QuantWeight{dq.getInput(), dq.getScale(), static_cast<int64_t>(dq.getBlockSize()),
                     static_cast<int64_t>(dq.getBits())};
}

class Lowering {
public:
  Lowering(func::FuncOp func, bool cuda) : func(func), cuda(cuda) {}

  LogicalResult run() {
    if (cuda && failed(foldDequantize()))
      return failure();
    SmallVector<Operation *> ordered = moec::dataOps(func);
    for (Operation *op : ordered)
      if (failed(lower(op)))
        return failure();
    if (failed(materializeDequantize()))
      return failure();
    materializeConstants();
    eraseCompileTimeOps(func);
    separateOutputs();
    return success();
  }

private:
  func::FuncOp func;
  bool cuda;

  kernel::LaunchOp launch(Operation *op, StringRef name, ValueRange inputs,
                          TypeRange results, ArrayRef<NamedAttribute> spec) {
    OpBuilder b(op);
    return kernel::LaunchOp::create(b, op->getLoc(), results, inputs, b.getStringAttr(name),
                                      b.getDictionaryAttr(spec));
  }

  void replace(Operation *op, kernel::LaunchOp l) {
    op->replaceAllUsesWith(l->getResults());
    op->erase();
  }

  NamedAttribute attr(StringRef name, Attribute value) {
    return NamedAttribute(StringAttr::get(func.getContext(), name), value);
  }
  NamedAttribute i64(StringRef name, int64_t value) {
    return attr(name, IntegerAttr::get(IntegerType::get(func.getContext(), 64), value));
  }
  NamedAttribute ints(StringRef name, ArrayRef<int64_t> values) {
    return attr(name, DenseI64ArrayAttr::get(func.getContext(), values));
  }
  NamedAttribute boolean(StringRef name, bool value) {
    return attr(name, BoolAttr::get(func.getContext(), value));
  }
  NamedAttribute str(StringRef name, StringRef value) {
    return attr(name, StringAttr::get(func.getContext(), value));
  }
  NamedAttribute f32(StringRef name, double value) {
    return attr(name, FloatAttr::get(Float32Type::get(func.getContext()), value));
  }

  // A compile-time int operand, or an error at the op.
  FailureOr<std::vector<int64_t>> knownInts(Operation *op, Value v, StringRef what) {
    auto values = moec::getKnownInts(v);
    if (!values)
      return op->emitError() << "op '" << moec::onnxOpType(op) << "': " << what
                             << " must be known at compile time";
    return *values;
  }

  LogicalResult lower(Operation *op) {
    if (auto ew = dyn_cast<moe::ElementwiseOp>(op))
      return lowerElementwise(ew);
    if (isa<moe::DequantizeOp>(op))
      return success(); // consumed by its users' kernels, or materializeDequantize
    if (auto linear = dyn_cast<moe::LinearOp>(op)) {
      if (cuda)
        return lowerLinearCuda(linear);
      auto quant = quantWeightNK(linear);
      if (quant) {
        SmallVector<Value> inputs{linear.getInput(), quant->q};
        if (linear.getBias())
          inputs.push_back(linear.getBias());
        inputs.push_back(quant->scale);
        replace(op, launch(op, "linear", inputs, op->getResultTypes(),
                           {boolean("transpose_weight", true),
                            boolean("has_bias", static_cast<bool>(linear.getBias())),
                            i64("quant_group", quant->group), i64("quant_bits", quant->bits)}));
        return success();
      }
      SmallVector<Value> inputs{linear.getInput(), linear.getWeight()};
      if (linear.getBias())
        inputs.push_back(linear.getBias());
      replace(op, launch(op, "linear", inputs, op->getResultTypes(),
                         {boolean("transpose_weight", linear.getTransposeWeight()),
                          boolean("has_bias", static_cast<bool>(linear.getBias()))}));
      return success();
    }
    if (auto norm = dyn_cast<moe::RmsNormOp>(op)) {
      SmallVector<Value> inputs{norm.getInput()};
      if (norm.getScale())
        inputs.push_back(norm.getScale());
      replace(op, launch(op, "rms_norm", inputs, op->getResultTypes(),
                         {i64("axis", norm.getAxis()),
                          f32("epsilon", norm.getEpsilon().convertToDouble()),
                          boolean("has_scale", static_cast<bool>(norm.getScale()))}));
      return success();
    }
    if (auto attention = dyn_cast<moe::AttentionOp>(op))
      return lowerAttention(attention);
    if (auto selfAttention = dyn_cast<moe::SelfAttentionOp>(op))
      return lowerSelfAttention(selfAttention);
    if (auto rotary = dyn_cast<moe::RotaryOp>(op)) {
      bool perToken = rankOf(rotary.getPositions()) == 2;
      replace(op, launch(op, "rotary", op->getOperands(), op->getResultTypes(),
                         {i64("head_size", rotary.getHeadSize()),
                          i64("rotary_dim", rotary.getRotaryDim()),
                          boolean("interleaved", rotary.getInterleaved()),
                          boolean("heads_first", rotary.getHeadsFirst()),
                          boolean("per_token", perToken)}));
      return success();
    }
    if (isa<moe::MatMulOp>(op)) {
      replace(op, launch(op, "batch_matmul", op->getOperands(), op->getResultTypes(), {}));
      return success();
    }
    if (auto router = dyn_cast<moe::RouterOp>(op)) {
      if (router.getScoring() == "sigmoid")
        return lowerSigmoidRouter(router);
      if (router.getScaling().convertToFloat() != 1.0f)
        return op->emitError("a scaled softmax router is not supported yet");
      if (cuda)
        return lowerRouterCuda(router);
      replace(op, launch(op, "moe_route", op->getOperands(), op->getResultTypes(),
                         {i64("k", router.getK()), boolean("normalize", router.getNormalize())}));
      return success();
    }
    if (auto experts = dyn_cast<moe::ExpertsOp>(op))
      return cuda ? lowerExpertsCuda(experts) : lowerExperts(experts);
    if (op->getDialect()->getNamespace() == "onnx")
      return lowerOnnx(op);
    if (isa<kernel::LaunchOp, kernel::ConstantOp>(op))
      return success();
    return op->emitError() << "op '" << op->getName() << "' cannot be lowered to kernels";
  }

  // Sigmoid routing is one launch on both targets; the selection bias becomes
  // a weight the kernel reads.
  LogicalResult lowerSigmoidRouter(moe::RouterOp router) {
    // The GPU kernel keeps a token's scores in one warp's registers (8 per
    // lane) and one chosen expert per lane.
    int64_t experts = cast<RankedTensorType>(router.getLogits().getType()).getDimSize(1);
    if (cuda && (experts > 256 || router.getK() > 32))
      return router.emitError() << "sigmoid routing over " << experts << " experts with k = "
                                << router.getK()
                                << " is not supported on the GPU (at most 256 experts, k <= 32)";
    SmallVector<Value> inputs{router.getLogits()};
    if (auto bias = router.getBias()) {
      auto type = RankedTensorType::get({static_cast<int64_t>(bias->size())},
                                        Float32Type::get(func.getContext()));
      ArrayRef<float> values = *bias;
      auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(
          ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                         values.size() * sizeof(float)));
      OpBuilder b(router);
      inputs.push_back(kernel::ConstantOp::create(
          b, router.getLoc(), type,
          DenseResourceElementsAttr::get(type, "router_bias", std::move(blob)),
          StringAttr::get(func.getContext(), "router.bias")));
    }
    replace(router, launch(router, "moe_route_sigmoid", inputs, router->getResultTypes(),
                           {i64("k", router.getK()), boolean("normalize", router.getNormalize()),
                            i64("groups", router.getGroups()),
                            i64("topk_groups", router.getTopkGroups()),
                            f32("scaling", router.getScaling().convertToDouble()),
                            boolean("has_bias", static_cast<bool>(router.getBias()))}));
    return success();
  }

  // Two launches: the cache append (present = past + the new, rotated keys
  // and values) and the attention proper, which reads the queries and the
  // present cache. Splitting them is what lets every query see every key of
  // its step without a grid-wide barrier on the GPU.
  LogicalResult lowerAttention(moe::AttentionOp attention) {
    bool packed = !attention.getKey();
    SmallVector<NamedAttribute> spec{
        i64("num_heads", attention.getNumHeads()),
        i64("kv_heads", attention.getKvHeads()),
        f32("scale", attention.getScale().convertToDouble()),
        f32("softcap", attention.getSoftcap().convertToDouble()),
        i64("window", attention.getWindow()),
        i64("rotary_dim", attention.getRotaryDim()),
        boolean("rotary_interleaved", attention.getRotaryInterleaved()),
        boolean("packed", packed)};
    SmallVector<Value> rotary;
    if (attention.getCosCache())
      rotary = {attention.getCosCache(), attention.getSinCache()};
    SmallVector<Value> appendInputs;
    if (packed)
      appendInputs = {attention.getQuery()};
    else
      appendInputs = {attention.getKey(), attention.getValue()};
    appendInputs.append({attention.getPastKey(), attention.getPastValue(),
                         attention.getSeqlensK(), attention.getTotalSequenceLength()});
    appendInputs.append(rotary);
    auto append = launch(attention, "attention_kv_append", appendInputs,
                         {attention.getPresentKey().getType(),
                          attention.getPresentValue().getType()},
                         spec);
    // The append writes only the new rows when present is past's buffer.
    int64_t past = packed ? 1 : 2;
    append->setAttr(kernel::kInplaceOperandsAttr,
                    DenseI64ArrayAttr::get(func.getContext(), {past, past + 1}));
    SmallVector<Value> inputs{attention.getQuery(), append.getResult(0), append.getResult(1),
                              attention.getSeqlensK(), attention.getTotalSequenceLength()};
    inputs.append(rotary);
    auto attend = launch(attention, "attention", inputs, attention.getOutput().getType(), spec);
    attention.getOutput().replaceAllUsesWith(attend.getResult(0));
    attention.getPresentKey().replaceAllUsesWith(append.getResult(0));
    attention.getPresentValue().replaceAllUsesWith(append.getResult(1));
    attention.erase();
    return success();
  }

  // One launch: the kernel walks each query row's allowed keys with an
  // online (GPU) or per-row (host) softmax, so the [S, S] scores and the
  // causal mask never exist in memory. Operands: query, key, value[, sinks].
  LogicalResult lowerSelfAttention(moe::SelfAttentionOp op) {
    // The kernels are specialized on every size but the token count.
    auto query = cast<RankedTensorType>(op.getQuery().getType());
    auto value = cast<RankedTensorType>(op.getValue().getType());
    if (query.isDynamicDim(3) || value.isDynamicDim(3) ||
        (query.isDynamicDim(0) && query.isDynamicDim(2)))
      return op.emitError() << "self-attention needs static head sizes and at most one dynamic "
                               "dimension (batch or sequence), got query "
                            << query << " and value " << value;
    replace(op, launch(op, "self_attention", op->getOperands(), op->getResultTypes(),
                       {f32("scale", op.getScale().convertToDouble()),
                        f32("softcap", op.getSoftcap().convertToDouble()),
                        i64("window", op.getWindow()),
                        boolean("has_sinks", static_cast<bool>(op.getSinks()))}));
    return success();
  }

  LogicalResult lowerElementwise(moe::ElementwiseOp ew) {
    auto l = launch(ew, "elementwise", ew.getInputs(), ew->getResultTypes(), {});
    IRMapping mapping;
    ew.getBody().cloneInto(&l.getBody(), mapping);
    Block &block = l.getBody().front();
    auto yield = cast<moe::YieldOp>(block.getTerminator());
    OpBuilder b(yield);
    kernel::YieldOp::create(b, yield.getLoc(), yield.getValue());
    yield.erase();
    replace(ew, l);
    return success();
  }

  LogicalResult lowerExperts(moe::ExpertsOp experts) {
    // Int8 weights go to the kernel as (q, scales) when all of them are
    // quantized; a mix reads the dequantized floats (materializeDequantize).
    auto q1 = quantWeight(experts.getFc1()), q2 = quantWeight(experts.getFc2());
    auto q3 = quantWeight(experts.getFc3());
    bool quantized = q1 && q2 && (!experts.getFc3() || q3) && q1->bits == q2->bits &&
                     (!q3 || q3->bits == q1->bits);
    auto weight = [&](Value v, const std::optional<QuantWeight> &q) {
      return quantized && q ? q->q : v;
    };
    SmallVector<Value> inputs{experts.getInput(), experts.getWeights(),
                              experts.getExpertIds(), weight(experts.getFc1(), q1)};
    auto addOptional = [&](Value v) {
      if (v)
        inputs.push_back(v);
    };
    addOptional(experts.getFc1Bias());
    inputs.push_back(weight(experts.getFc2(), q2));
    addOptional(experts.getFc2Bias());
    if (experts.getFc3())
      inputs.push_back(weight(experts.getFc3(), q3));
    addOptional(experts.getFc3Bias());
    SmallVector<NamedAttribute> spec = expertSpec(experts);
    if (quantized) {
      inputs.push_back(q1->scale);
      inputs.push_back(q2->scale);
      if (q3)
        inputs.push_back(q3->scale);
      spec.push_back(ints("quant_groups", {q1->group, q2->group, q3 ? q3->group : 0}));
      spec.push_back(i64("quant_bits", q1->bits));
      // Packed int4 weights hide the inner size in their shape.
      spec.push_back(i64("inter", experts.getInterSize()));
    }

    // The host kernel needs a workspace whose size it defines; it is affine
    // in the token count, so two evaluations give both coefficients.
    moec_hk::MoEParams params;
    params.hidden = experts.getHiddenSize();
    params.inter = experts.getInterSize();
    params.experts = experts.getNumExperts();
    params.k = experts.getTopK();
    params.swiglu_fusion = static_cast<int>(experts.getSwigluFusion());
    StringRef act = experts.getActivation();
    params.act = act == "relu"     ? moec_hk::Activation::Relu
                 : act == "gelu"   ? moec_hk::Activation::Gelu
                 : act == "silu"   ? moec_hk::Activation::Silu
                 : act == "swiglu" ? moec_hk::Activation::SwiGLU
                                   : moec_hk::Activation::Identity;
    params.normalize = false;
    auto scratchAt = [&](int64_t tokens) {
      return static_cast<int64_t>(moec_hk::moe_experts_scratch_bytes<float>(tokens, params));
    };
    int64_t base = scratchAt(0), perToken = scratchAt(1) - base;
    if (scratchAt(1000) > base + 1000 * perToken)
      return experts.emitError("internal error: the expert kernel's workspace is not affine "
                               "in the token count");
    // A static token count (e.g. bound with --bind-dim) is what the kernel
    // is specialized on, whatever T the runtime passes.
    int64_t staticTokens = cast<RankedTensorType>(experts.getInput().getType()).getDimSize(0);
    if (!ShapedType::isDynamic(staticTokens)) {
      base = scratchAt(staticTokens);
      perToken = 0;
    }

    auto l = launch(experts, "moe_experts", inputs, experts->getResultTypes(), spec);
    l->setAttr(kernel::kScratchBytesAttr,
               DenseI64ArrayAttr::get(func.getContext(), {base, perToken}));
    replace(experts, l);
    return success();
  }

  LogicalResult materializeDequantize();
  LogicalResult foldDequantize();
  LogicalResult foldToConstant(moe::DequantizeOp op);
  bool cudaReadsQuantized(Operation *user);
  std::optional<QuantWeight> cudaQuantLinear(moe::LinearOp linear);
  std::optional<std::array<QuantWeight, 3>> cudaQuantExperts(moe::ExpertsOp experts);
  std::optional<QuantWeight> quantWeightNK(moe::LinearOp linear);
  LogicalResult lowerLinearCuda(moe::LinearOp linear);
  LogicalResult lowerRouterCuda(moe::RouterOp router);
  FailureOr<Value> weightNK(moe::LinearOp linear);
  LogicalResult lowerExpertsCuda(moe::ExpertsOp experts);
  SmallVector<NamedAttribute> expertSpec(moe::ExpertsOp experts);
  LogicalResult lowerOnnx(Operation *op);
  LogicalResult lowerReduce(Operation *op, StringRef kind);
  LogicalResult lowerSlice(Operation *op);
  LogicalResult lowerSplit(Operation *op);

  // Weights become kernel.constant ops right before their first use.
  void materializeConstants() {
    SmallVector<Operation *> constants;
    func.walk([&](Operation *op) {
      bool isConstant = op->getName().getStringRef() == "onnx.Constant" ||
                        op->getName().getStringRef() == "arith.constant";
      // A constant that is itself a graph output is data too (it gets a
      // copy launch into the output's buffer in separateOutputs).
      bool feedsKernel = llvm::any_of(op->getUsers(), [](Operation *user) {
        return isa<kernel::LaunchOp, func::ReturnOp>(user);
      });
      if (isConstant && feedsKernel && op->getParentOp() == func)
        constants.push_back(op);
    });
    for (Operation *op : constants) {
      auto value = op->getAttrOfType<ElementsAttr>("value");
      OpBuilder b(op);
      StringAttr name;
      if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
        name = loc.getName();
      auto c = kernel::ConstantOp::create(b, op->getLoc(), op->getResult(0).getType(), value, name);
      op->getResult(0).replaceAllUsesWith(c.getOutput());
      op->erase();
    }
  }

  // Each returned value must be the result of a launch that no other output
  // shares, so the launch can write into that output's buffer.
  void separateOutputs() {
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    llvm::DenseSet<Value> seen;
    for (OpOperand &operand : ret->getOpOperands()) {
      Value v = operand.get();
      bool producedByLaunch = isa_and_nonnull<kernel::LaunchOp>(v.getDefiningOp());
      if (producedByLaunch && seen.insert(v).second)
        continue;
      OpBuilder b(ret);
      auto copy = kernel::LaunchOp::create(b, ret.getLoc(), TypeRange{v.getType()}, ValueRange{v},
                                             b.getStringAttr("copy"), b.getDictionaryAttr({}));
      operand.set(copy.getResult(0));
    }
  }
};

// One byte per weight, read directly by the kernels: int8 or fp8 E4M3FN.
static bool isByteWeight(Value q) {
  Type t = cast<ShapedType>(q.getType()).getElementType();
  return t.isInteger(8) || isa<Float8E4M3FNType>(t);
}

// The int8 or fp8 weight of a linear as the host kernel reads it: [N, K] with
// blocks along K. A [K, N] weight blocked along K (per-output-channel QDQ
// weights) is transposed here, once; other layouts are read as floats.
std::optional<QuantWeight> Lowering::quantWeightNK(moe::LinearOp linear) {
  if (linear.getTransposeWeight())
    return quantWeight(linear.getWeight());
  auto dq = linear.getWeight().getDefiningOp<moe::DequantizeOp>();
  if (!dq || dq.getAxis() != 0 || dq.getZeroPoint() || dq.getBits() != 8 ||
      !isByteWeight(dq.getInput()) ||
      !cast<ShapedType>(dq.getScale().getType()).getElementType().isF32())
    return std::nullopt;
  auto quant = std::optional<QuantWeight>(
      QuantWeight{dq.getInput(), dq.getScale(), static_cast<int64_t>(dq.getBlockSize())});
  Value q = transposedConstant(linear, quant->q), scale = transposedConstant(linear, quant->scale);
  if (!q || !scale)
    return std::nullopt;
  return QuantWeight{q, scale, quant->group};
}

// A linear layer whose only user is a softmax router is fused into the
// router's launch (see lowerRouterCuda): leave it for the router.
static bool feedsOnlyARouter(moe::LinearOp linear) {
  return linear->hasOneUse() && isa<moe::RouterOp>(*linear->getUsers().begin()) &&
         cast<moe::RouterOp>(*linear->getUsers().begin()).getScoring() == "softmax";
}

// The GPU GEMMs read int8, packed int4 and fp8 weights with their scales
// (moec_cuda_gemm_quant.cuh); every other moe.dequantize of constants (zero
// points, other element types, a mix of formats in one experts op, a router's
// or any non-GEMM consumer) becomes the constant of its exact values, rounded
// once to the result's element type (as any float weight is for the GPU).
// Folding one weight of an experts op makes the op read floats, so its other
// weights fold too: repeat until nothing changes.
LogicalResult Lowering::foldDequantize() {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<moe::DequantizeOp> ops;
    func.walk([&](moe::DequantizeOp op) {
      if (!llvm::all_of(op->getUsers(), [&](Operation *user) { return cudaReadsQuantized(user); }) ||
          op->use_empty())
        ops.push_back(op);
    });
    for (moe::DequantizeOp op : ops)
      if (failed(foldToConstant(op)))
        return failure();
    changed = !ops.empty();
  }
  return success();
}

// A quantized weight the GPU GEMMs decode: int8 (8 bits), packed int4, or fp8
// E4M3, symmetric, with float32 scales along the reduction axis.
static bool cudaReadable(const std::optional<QuantWeight> &q) {
  if (!q || q->group < 1)
    return false;
  Type t = cast<ShapedType>(q->q.getType()).getElementType();
  return (t.isInteger(8) && (q->bits == 8 || q->bits == 4)) ||
         (isa<Float8E4M3FNType>(t) && q->bits == 8);
}

// A linear's quantized weight as the GPU reads it ([N, K]); without
// creating anything (quantWeightNK transposes a [K, N] weight when lowering).
std::optional<QuantWeight> Lowering::cudaQuantLinear(moe::LinearOp linear) {
  if (feedsOnlyARouter(linear))
    return std::nullopt; // moe_route_linear reads float weights
  if (linear.getTransposeWeight()) {
    auto q = quantWeight(linear.getWeight());
    return cudaReadable(q) ? q : std::nullopt;
  }
  auto dq = linear.getWeight().getDefiningOp<moe::DequantizeOp>();
  if (!dq || dq.getAxis() != 0 || dq.getZeroPoint() || dq.getBits() != 8 ||
      !isByteWeight(dq.getInput()) ||
      !cast<ShapedType>(dq.getScale().getType()).getElementType().isF32() ||
      !moec::getConstantElements(dq.getInput()) || !moec::getConstantElements(dq.getScale()))
    return std::nullopt;
  return QuantWeight{dq.getInput(), dq.getScale(), static_cast<int64_t>(dq.getBlockSize()), 8};
}

// The experts' quantized weights when the GPU GEMMs read all of them: one
// format (element type and bits) for fc1, fc2 and fc3, and one group for fc1
// and fc3 (the up-projection reads both in one tile).
std::optional<std::array<QuantWeight, 3>> Lowering::cudaQuantExperts(moe::ExpertsOp experts) {
  auto q1 = quantWeight(experts.getFc1()), q2 = quantWeight(experts.getFc2());
  auto q3 = experts.getFc3() ? quantWeight(experts.getFc3()) : std::nullopt;
  if (!cudaReadable(q1) || !cudaReadable(q2) || (experts.getFc3() && !cudaReadable(q3)))
    return std::nullopt;
  auto sameFormat = [&](const QuantWeight &a, const QuantWeight &b) {
    return a.bits == b.bits && cast<ShapedType>(a.q.getType()).getElementType() ==
                                   cast<ShapedType>(b.q.getType()).getElementType();
  };
  if (!sameFormat(*q1, *q2) || (q3 && (!sameFormat(*q1, *q3) || q3->group != q1->group)))
    return std::nullopt;
  return std::array<QuantWeight, 3>{*q1, *q2, q3 ? *q3 : *q1};
}

// Whether `user` reads the moe.dequantize results it has as quantized weights.
bool Lowering::cudaReadsQuantized(Operation *user) {
  if (auto linear = dyn_cast<moe::LinearOp>(user))
    return linear.getInput().getDefiningOp<moe::DequantizeOp>() == nullptr &&
           (!linear.getBias() || !linear.getBias().getDefiningOp<moe::DequantizeOp>()) &&
           cudaQuantLinear(linear).has_value();
  if (auto experts = dyn_cast<moe::ExpertsOp>(user)) {
    for (Value v : {experts.getInput(), experts.getFc1Bias(), experts.getFc2Bias(),
                    experts.getFc3Bias(), experts.getWeights()})
      if (v && v.getDefiningOp<moe::DequantizeOp>())
        return false;
    return cudaQuantExperts(experts).has_value();
  }
  return false;
}

LogicalResult Lowering::foldToConstant(moe::DequantizeOp op) {
  {
    auto qType = cast<RankedTensorType>(op.getInput().getType());
    auto yType = cast<RankedTensorType>(op.getOutput().getType());
    ElementsAttr qe = moec::getConstantElements(op.getInput());
    ElementsAttr se = moec::getConstantElements(op.getScale());
    auto qb = qe ? moec::getConstantBytes(qe) : std::nullopt;
    auto sb = se ? moec::getConstantBytes(se) : std::nullopt;
    auto floatType = dyn_cast<FloatType>(yType.getElementType());
    bool fp8 = isa<Float8E4M3FNType>(qType.getElementType());
    if (!qb || !sb || op.getZeroPoint() || !(qType.getElementType().isInteger(8) || fp8) ||
        !cast<ShapedType>(op.getScale().getType()).getElementType().isF32() || !floatType)
      return op.emitError("this quantized weight cannot be read by the cuda target");
    ArrayRef<int64_t> shape = yType.getShape();
    int64_t axis = op.getAxis(), block = op.getBlockSize(), rank = yType.getRank();
    int64_t count = yType.getNumElements();
    bool int4 = op.getBits() == 4;
    int64_t packedCols = (shape.back() + 1) / 2;
    // Element i of the logical q (int4: unpacked from its nibble).
    // Element i of the logical q as a float (fp8: its exact E4M3 value).
    auto qAt = [&](int64_t i) -> float {
      if (fp8)
        return APFloat(APFloat::Float8E4M3FN(), APInt(8, static_cast<uint8_t>((*qb)[i])))
            .convertToFloat();
      if (!int4)
        return static_cast<int8_t>((*qb)[i]);
      int64_t row = i / shape.back(), col = i % shape.back();
      int8_t byte = static_cast<int8_t>((*qb)[row * packedCols + col / 2]);
      return col % 2 == 0 ? static_cast<int8_t>(static_cast<int8_t>(byte << 4) >> 4)
                          : static_cast<int8_t>(byte >> 4);
    };
    SmallVector<int64_t> strides(rank, 1), sShape(shape);
    for (int64_t d = rank - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * shape[d + 1];
    sShape[axis] = (shape[axis] + block - 1) / block;
    int64_t width = moec::storageBytes(floatType);
    std::vector<char> out(static_cast<size_t>(count * width));
    for (int64_t i = 0; i < count; ++i) {
      int64_t slot = 0;
      for (int64_t d = 0; d < rank; ++d) {
        int64_t c = (i / strides[d]) % shape[d];
        slot = slot * sShape[d] + (d == axis ? c / block : c);
      }
      float scale;
      std::memcpy(&scale, sb->data() + slot * 4, 4);
      float value = static_cast<float>(qAt(i)) * scale;
      APFloat f(value);
      bool lost;
      f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      uint64_t bits = f.bitcastToAPInt().getZExtValue();
      std::memcpy(&out[i * width], &bits, width); // little-endian low bytes
    }
    OpBuilder b(op);
    auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(out));
    Value folded = moec::onnx::ConstantOp::create(
        b, op.getLoc(), yType, DenseResourceElementsAttr::get(yType, "dequantized", std::move(blob)));
    op.getOutput().replaceAllUsesWith(folded);
    op.erase();
  }
  return success();
}

// A moe.dequantize that some launch still reads as floats becomes a launch
// computing them (host), placed where the op was, before its users.
LogicalResult Lowering::materializeDequantize() {
  SmallVector<moe::DequantizeOp> ops;
  func.walk([&](moe::DequantizeOp op) {
    if (!op->use_empty())
      ops.push_back(op);
  });
  for (moe::DequantizeOp op : ops) {
    if (cuda)
      return op.emitError("internal error: a quantized weight that the cuda GEMMs neither read "
                          "nor had folded");
    SmallVector<Value> inputs{op.getInput(), op.getScale()};
    if (op.getZeroPoint())
      return op.emitError("a dequantize with a zero point is not supported yet");
    auto l = launch(op, "dequantize", inputs, op->getResultTypes(),
                    {i64("axis", op.getAxis()), i64("block_size", op.getBlockSize()),
                     i64("bits", op.getBits())});
    op->replaceAllUsesWith(l->getResults());
  }
  return success();
}

// The tensor-core GEMM reads W as [N, K] (K contiguous, like the MoE expert
// weights), so a [K, N] ONNX weight is transposed here, once, at compile time.
FailureOr<Value> Lowering::weightNK(moe::LinearOp linear) {
  Value weight = linear.getWeight();
  if (linear.getTransposeWeight())
    return weight;
  Value transposed = transposedConstant(linear, weight);
  if (!transposed)
    return linear.emitError("the cuda target needs a linear layer's weight at compile time");
  return transposed;
}

// The tensor-core GEMM reads W as [N, K] (K contiguous, like the MoE expert
// weights), so a [K, N] ONNX weight is transposed here, once, at compile time.
LogicalResult Lowering::lowerLinearCuda(moe::LinearOp linear) {
  if (feedsOnlyARouter(linear))
    return success();
  // Quantized weights (kept by foldDequantize): x, q [N, K], [bias], scales,
  // as on the host; the GEMM dequantizes in registers.
  if (cudaQuantLinear(linear)) {
    auto quant = quantWeightNK(linear);
    if (!quant)
      return linear.emitError("internal error: a quantized weight the cuda GEMM reads could "
                              "not be laid out as [N, K]");
    SmallVector<Value> inputs{linear.getInput(), quant->q};
    if (linear.getBias())
      inputs.push_back(linear.getBias());
    inputs.push_back(quant->scale);
    replace(linear, launch(linear, "linear", inputs, linear->getResultTypes(),
                           {boolean("transpose_weight", true),
                            boolean("has_bias", static_cast<bool>(linear.getBias())),
                            i64("quant_group", quant->group), i64("quant_bits", quant->bits)}));
    return success();
  }
  auto weight = weightNK(linear);
  if (failed(weight))
    return failure();
  SmallVector<Value> inputs{linear.getInput(), *weight};
  if (linear.getBias())
    inputs.push_back(linear.getBias());
  replace(linear, launch(linear, "linear", inputs, linear->getResultTypes(),
                         {boolean("transpose_weight", true),
                          boolean("has_bias", static_cast<bool>(linear.getBias()))}));
  return success();
}

// On the GPU a router whose logits come from its own linear layer is one
// launch: logits GEMM, softmax, top-k and renormalization, with the logits
// kept in shared memory.
LogicalResult Lowering::lowerRouterCuda(moe::RouterOp router) {
  auto linear = router.getLogits().getDefiningOp<moe::LinearOp>();
  if (!linear || !feedsOnlyARouter(linear)) {
    replace(router, launch(router, "moe_route", router->getOperands(), router->getResultTypes(),
                           {i64("k", router.getK()), boolean("normalize", router.getNormalize())}));
    return success();
  }
  auto weight = weightNK(linear);
  if (failed(weight))
    return failure();
  SmallVector<Value> inputs{linear.getInput(), *weight};
  if (linear.getBias())
    inputs.push_back(linear.getBias());
  replace(router, launch(router, "moe_route_linear", inputs, router->getResultTypes(),
                         {i64("k", router.getK()), boolean("normalize", router.getNormalize()),
                          boolean("has_bias", static_cast<bool>(linear.getBias()))}));
  linear.erase();
  return success();
}

SmallVector<NamedAttribute> Lowering::expertSpec(moe::ExpertsOp experts) {
  return {str("activation", experts.getActivation()),
          i64("swiglu_fusion", experts.getSwigluFusion()),
          f32("alpha", experts.getAlpha().convertToFloat()),
          f32("beta", experts.getBeta().convertToFloat()),
          f32("limit", experts.getLimit().convertToFloat()),
          boolean("has_fc1_bias", static_cast<bool>(experts.getFc1Bias())),
          boolean("has_fc2_bias", static_cast<bool>(experts.getFc2Bias())),
          boolean("has_fc3", static_cast<bool>(experts.getFc3())),
          boolean("has_fc3_bias", static_cast<bool>(experts.getFc3Bias()))};
}

// On the GPU the MoE block is four launches, so each can be shaped for the
// hardware: group the (token, slot) pairs by expert; one grouped GEMM for
// fc1 (+fc3) with the activation in its epilogue; one for fc2 that scales by
// the routing weight; a deterministic sum over the k slots.
LogicalResult Lowering::lowerExpertsCuda(moe::ExpertsOp experts) {
  MLIRContext *ctx = func.getContext();
  auto x = cast<RankedTensorType>(experts.getInput().getType());
  int64_t tokens = x.getDimSize(0), k = experts.getTopK(), e = experts.getNumExperts();
  Type i32 = IntegerType::get(ctx, 32), element = x.getElementType();
  auto offsetsType = RankedTensorType::get({e + 1}, i32);
  auto slotsType = RankedTensorType::get({tokens, k}, i32);
  auto hiddenType = RankedTensorType::get({tokens, k, experts.getInterSize()}, element);
  auto partialType = RankedTensorType::get({tokens, k, experts.getHiddenSize()}, element);

  auto permute = launch(experts, "moe_permute", ValueRange{experts.getExpertIds()},
                        TypeRange{offsetsType, slotsType}, {i64("experts", e)});
  Value offsets = permute.getResult(0), slots = permute.getResult(1);

  // Quantized weights (kept by foldDequantize) go in as stored, their scales
  // after the other operands; the spec carries the host's quant_groups
  // {fc1, fc2, fc3} and quant_bits.
  auto quant = cudaQuantExperts(experts);
  auto weight = [&](Value v, int which) { return quant && v ? (*quant)[which].q : v; };
  SmallVector<NamedAttribute> spec = expertSpec(experts);
  if (quant) {
    spec.push_back(ints("quant_groups", {(*quant)[0].group, (*quant)[1].group,
                                         experts.getFc3() ? (*quant)[2].group : 0}));
    spec.push_back(i64("quant_bits", (*quant)[0].bits));
  }
  SmallVector<Value> upInputs{experts.getInput(), slots, offsets, weight(experts.getFc1(), 0)};
  for (Value v : {Value(experts.getFc1Bias()), weight(experts.getFc3(), 2), Value(experts.getFc3Bias())})
    if (v)
      upInputs.push_back(v);
  if (quant) {
    upInputs.push_back((*quant)[0].scale);
    if (experts.getFc3())
      upInputs.push_back((*quant)[2].scale);
  }
  auto up = launch(experts, "moe_gemm_up", upInputs, TypeRange{hiddenType}, spec);

  SmallVector<Value> downInputs{up.getResult(0), slots, offsets, weight(experts.getFc2(), 1)};
  if (experts.getFc2Bias())
    downInputs.push_back(experts.getFc2Bias());
  downInputs.push_back(experts.getWeights());
  if (quant)
    downInputs.push_back((*quant)[1].scale);
  auto down = launch(experts, "moe_gemm_down", downInputs, TypeRange{partialType}, spec);

  replace(experts, launch(experts, "moe_combine", ValueRange{down.getResult(0)},
                          experts->getResultTypes(), {}));
  return success();
}

LogicalResult Lowering::lowerOnnx(Operation *op) {
  StringRef type = moec::onnxOpType(op);
  TypeRange results = op->getResultTypes();
  if (type == "Constant")
    return success(); // handled by materializeConstants
  if (type == "Softmax") {
    // The importer rewrites older opsets' Softmax into the opset-13 meaning
    // (a softmax along one axis), refusing the forms that differ.
    int64_t rank = rankOf(op->getOperand(0));
    replace(op, launch(op, "softmax", op->getOperand(0), results,
                       {i64("axis", normalizeAxis(moec::getIntAttr(op, "axis", -1), rank))}));
    return success();
  }
  if (type == "TopK") {
    int64_t rank = rankOf(op->getOperand(0));
    auto k = knownInts(op, moec::getOnnxInput(op, 1), "K");
    if (failed(k))
      return failure();
    replace(op, launch(op, "topk", op->getOperand(0), results,
                       {i64("axis", normalizeAxis(moec::getIntAttr(op, "axis", -1), rank)),
                        i64("k", k->at(0)),
                        boolean("largest", moec::getIntAttr(op, "largest", 1) != 0)}));
    return success();
  }
  if (type == "ReduceSum")
    return lowerReduce(op, "sum");
  if (type == "ReduceMean")
    return lowerReduce(op, "mean");
  if (type == "ReduceMax")
    return lowerReduce(op, "max");
  if (type == "ReduceMin")
    return lowerReduce(op, "min");
  if (type == "Gather" || type == "GatherElements" || type == "ScatterElements") {
    int64_t rank = rankOf(op->getOperand(0));
    SmallVector<NamedAttribute> spec{
        i64("axis", normalizeAxis(moec::getIntAttr(op, "axis", 0), rank))};
    if (type == "ScatterElements")
      spec.push_back(str("reduction", moec::getStringAttr(op, "reduction", "none")));
    StringRef name = type == "Gather"           ? "gather"
                     : type == "GatherElements" ? "gather_elements"
                                                : "scatter_elements";
    replace(op, launch(op, name, op->getOperands(), results, spec));
    return success();
  }
  if (type == "ScatterND") {
    // The index tuples' length q decides which data axes a slice spans.
    if (ShapedType::isDynamic(cast<RankedTensorType>(op->getOperand(1).getType()).getShape().back()))
      return op->emitError("op 'ScatterND': index tuples of token-count length are not supported");
    replace(op, launch(op, "scatter_nd", op->getOperands(), results,
                       {str("reduction", moec::getStringAttr(op, "reduction", "none"))}));
    return success();
  }
  if (type == "CumSum") {
    int64_t rank = rankOf(op->getOperand(0));
    auto axis = knownInts(op, moec::getOnnxInput(op, 1), "axis");
    if (failed(axis))
      return failure();
    if (axis->size() != 1 || axis->at(0) < -rank || axis->at(0) >= rank)
      return op->emitError() << "op 'CumSum': axis must be one value in [" << -rank << ", "
                             << rank << ")";
    replace(op, launch(op, "cumsum", op->getOperand(0), results,
                       {i64("axis", normalizeAxis(axis->at(0), rank)),
                        boolean("exclusive", moec::getIntAttr(op, "exclusive", 0) != 0),
                        boolean("reverse", moec::getIntAttr(op, "reverse", 0) != 0)}));
    return success();
  }
  // The scalars are read at run time; the kernel checks that they give the
  // length planned here (the result's static size, or T).
  if (type == "Range") {
    replace(op, launch(op, "range", op->getOperands(), results, {}));
    return success();
  }
  if (type == "Transpose") {
    int64_t rank = rankOf(op->getOperand(0));
    std::vector<int64_t> perm;
    if (auto p = moec::getIntsAttr(op, "perm"))
      perm = *p;
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    replace(op, launch(op, "transpose", op->getOperand(0), results, {ints("perm", perm)}));
    return success();
  }
  if (type == "Concat") {
    int64_t rank = rankOf(op->getResult(0));
    replace(op, launch(op, "concat", op->getOperands(), results,
                       {i64("axis", normalizeAxis(moec::getIntAttr(op, "axis", 0), rank))}));
    return success();
  }
  if (type == "Slice")
    return lowerSlice(op);
  if (type == "Split")
    return lowerSplit(op);
  if (type == "Reshape" || type == "Squeeze" || type == "Unsqueeze" || type == "Flatten") {
    replace(op, launch(op, "copy", op->getOperand(0), results, {}));
    return success();
  }
  if (type == "Shape") {
    auto shape = cast<RankedTensorType>(op->getOperand(0).getType()).getShape();
    int64_t rank = shape.size();
    int64_t start = moec::getIntAttr(op, "start", 0), end = moec::getIntAttr(op, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    std::vector<int64_t> dims;
    for (int64_t i = start; i < end; ++i)
      dims.push_back(ShapedType::isDynamic(shape[i]) ? -1 : shape[i]);
    replace(op, launch(op, "shape_of", {}, results, {ints("dims", dims)}));
    return success();
  }
  return op->emitError() << "op '" << type << "' (opset " << defaultOpset(op)
                         << ") is not supported by the host target"
                         << (type == "Add" || type == "Mul" || type == "MatMul"
                                 ? " (run moec-convert-onnx-to-moe first)"
                                 : "");
}

LogicalResult Lowering::lowerReduce(Operation *op, StringRef kind) {
  int64_t rank = rankOf(op->getOperand(0));
  std::vector<int64_t> axes;
  if (Value axesInput = moec::getOnnxInput(op, 1)) {
    auto known = knownInts(op, axesInput, "axes");
    if (failed(known))
      return failure();
    axes = *known;
  } else if (auto attrAxes = moec::getIntsAttr(op, "axes")) {
    axes = *attrAxes;
  }
  bool noopWithEmptyAxes = moec::getIntAttr(op, "noop_with_empty_axes", 0) != 0;
  if (axes.empty()) {
    if (noopWithEmptyAxes) {
      replace(op, launch(op, "copy", op->getOperand(0), op->getResultTypes(), {}));
      return success();
    }
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes)
    a = normalizeAxis(a, rank);
  llvm::sort(axes);
  replace(op, launch(op, "reduce", op->getOperand(0), op->getResultTypes(),
                     {str("kind", kind), ints("axes", axes)}));
  return success();
}

LogicalResult Lowering::lowerSlice(Operation *op) {
  Value data = op->getOperand(0);
  int64_t rank = rankOf(data);
  auto starts = knownInts(op, moec::getOnnxInput(op, 1), "starts");
  auto ends = knownInts(op, moec::getOnnxInput(op, 2), "ends");
  if (failed(starts) || failed(ends))
    return failure();
  std::vector<int64_t> axes, steps(starts->size(), 1);
  if (Value a = moec::getOnnxInput(op, 3)) {
    auto known = knownInts(op, a, "axes");
    if (failed(known))
      return failure();
    axes = *known;
  } else {
    for (size_t i = 0; i < starts->size(); ++i)
      axes.push_back(i);
  }
  if (Value s = moec::getOnnxInput(op, 4)) {
    auto known = knownInts(op, s, "steps");
    if (failed(known))
      return failure();
    steps = *known;
  }
  for (int64_t &a : axes)
    a = normalizeAxis(a, rank);
  // Per-dimension start/end/step over all dims; T-dependent values stay as
  // ShapedType::kDynamic and are resolved by the generated code at run time.
  std::vector<int64_t> allStarts(rank, 0), allEnds(rank, INT64_MAX), allSteps(rank, 1);
  for (size_t i = 0; i < axes.size(); ++i) {
    allStarts[axes[i]] = (*starts)[i];
    allEnds[axes[i]] = (*ends)[i];
    allSteps[axes[i]] = steps[i];
    if (steps[i] == 0)
      return op->emitError("op 'Slice': steps must be nonzero");
  }
  replace(op, launch(op, "slice", data, op->getResultTypes(),
                     {ints("starts", allStarts), ints("ends", allEnds), ints("steps", allSteps)}));
  return success();
}

LogicalResult Lowering::lowerSplit(Operation *op) {
  Value data = op->getOperand(0);
  auto type = cast<RankedTensorType>(data.getType());
  int64_t rank = type.getRank();
  int64_t axis = normalizeAxis(moec::getIntAttr(op, "axis", 0), rank);
  SmallVector<Value> results;
  std::vector<int64_t> starts(rank, 0), ends(rank, INT64_MAX), steps(rank, 1);
  int64_t offset = 0;
  for (Value result : op->getResults()) {
    int64_t size = cast<RankedTensorType>(result.getType()).getDimSize(axis);
    if (ShapedType::isDynamic(size))
      return op->emitError("op 'Split' along the token dimension is not supported");
    starts[axis] = offset;
    ends[axis] = offset + size;
    offset += size;
    results.push_back(launch(op, "slice", data, result.getType(),
                             {ints("starts", starts), ints("ends", ends), ints("steps", steps)})
                          .getResult(0));
  }
  op->replaceAllUsesWith(results);
  op->erase();
  return success();
}

struct LowerToKernelPass : moec::impl::MoecLowerToKernelBase<LowerToKernelPass> {
  using MoecLowerToKernelBase::MoecLowerToKernelBase;
  void runOnOperation() override {
    if (target != "host" && target != "cuda") {
      getOperation().emitError() << "moec-lower-to-kernel: unknown target '" << target << "'";
      return signalPassFailure();
    }
    if (failed(Lowering(getOperation(), target == "cuda").run()))
      signalPassFailure();
  }
};

} // namespace
