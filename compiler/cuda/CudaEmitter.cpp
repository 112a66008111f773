//===- CudaEmitter.cpp - CUDA C++ for every kernel launch -------------------===//
//
// Each kernel.launch becomes one wrapper with the GPU ABI
//   extern "C" __global__ void <symbol>(moec_cuda_args args);
// that names its arguments, computes sizes from the token count and calls a
// device template from moec_cuda_kernels.cuh / moec_cuda_gemm.cuh, or, for
// elementwise launches, holds the fused loop itself. Every template is
// correct for any grid (grid-stride loops), so the launch geometry recorded
// here — an affine-ceil function of T per grid axis — is chosen for speed
// alone: enough blocks to cover the work, never a correctness condition.
//
//===----------------------------------------------------------------------===//

#include "compiler/cuda/CudaEmitter.h"
#include "compiler/cuda/GemmConfig.h"

#include "compiler/codegen/CodegenUtils.h"
#include "compiler/codegen/LaunchView.h"
#include "compiler/utils/ConstantData.h"
#include "dialects/kernel/KernelDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace moec::codegen;
namespace kernel = moec::kernel;

namespace {

// Threads per block of the SIMT templates; warp-per-row templates handle
// kSimtBlock / 32 rows per block.
constexpr int kSimtBlock = 256;
constexpr int kRowsPerBlock = kSimtBlock / 32;

// blocks = ceil((base + perToken * T) / divisor)
struct GridAxis {
  int64_t base = 1, perToken = 0, divisor = 1;
};

// Enough blocks for `work` items at `perBlock` items each.
GridAxis cover(SizeExpr work, int64_t perBlock) {
  GridAxis g;
  g.base = work.perToken ? 0 : work.coefficient;
  g.perToken = work.perToken ? work.coefficient : 0;
  g.divisor = perBlock;
  return g;
}

class CudaFunctionWriter : LaunchView {
public:
  CudaFunctionWriter(kernel::LaunchOp op, std::string symbol, const moec::CudaTarget &target,
                     moec::GemmImpl gemmImpl, llvm::raw_string_ostream &os)
      : LaunchView(op), symbol(std::move(symbol)), target(target), gemmImpl(gemmImpl), os(os) {}

  // Writes the wrapper(s) of the launch. A token-dependent 16-bit GEMM gets
  // two variants, a decode tile (T <= kDecodeMaxTokens) and a prefill tile,
  // recorded in the launch's `variants`; every other launch gets one.
  LogicalResult write() {
    StringRef k = op.getKernel();
    bool gemmKind = k == "linear" || k == "moe_gemm_up" || k == "moe_gemm_down";
    Value out = op.getOutputs()[0];
    bool sixteenBit = moec::storageBytes(cast<ShapedType>(out.getType()).getElementType()) == 2;
    // (A launch may have no inputs: an elementwise fill.)
    bool tokenDependent =
        !op.getInputs().empty() &&
        llvm::any_of(cast<ShapedType>(op.getInputs()[0].getType()).getShape(),
                     ShapedType::isDynamic);
    if (!(gemmKind && sixteenBit && tokenDependent))
      return writeVariant(symbol, /*prefill=*/false, 0, -1, nullptr);
    SmallVector<Attribute> variants;
    if (failed(writeVariant(symbol + "_decode", false, 0, moec_cuda::kDecodeMaxTokens,
                            &variants)) ||
        failed(writeVariant(symbol + "_prefill", true, moec_cuda::kDecodeMaxTokens + 1, -1,
                            &variants)))
      return failure();
    op->setAttr("variants", ArrayAttr::get(op.getContext(), variants));
    return success();
  }

private:
  std::string symbol;
  const moec::CudaTarget &target;
  moec::GemmImpl gemmImpl;
  llvm::raw_string_ostream &os;
  int64_t block = kSimtBlock;
  int64_t sharedBytes = 0;
  GridAxis gridX, gridY;
  bool prefill = false;

  // One wrapper. Without `variants`, its geometry goes onto the launch;
  // with it, into a variant dictionary with its token range.
  LogicalResult writeVariant(const std::string &name, bool prefillTile, int64_t minTokens,
                             int64_t maxTokens, SmallVectorImpl<Attribute> *variants) {
    prefill = prefillTile;
    block = kSimtBlock;
    sharedBytes = 0;
    gridX = gridY = GridAxis{};
    // The body first (into a buffer): it decides the block size.
    std::string bodyText;
    llvm::raw_string_ostream body(bodyText);
    if (failed(emitBody(body)))
      return failure();

    os << "// " << describe();
    if (variants)
      os << " [" << (prefill ? "prefill" : "decode") << " tile, T in [" << minTokens << ", "
         << (maxTokens < 0 ? std::string("inf") : std::to_string(maxTokens)) << "]]";
    os << "\n";
    os << "extern \"C\" __global__ void __launch_bounds__(" << block << ") " << name
       << "(moec_cuda_args args) {\n";
    os << "  const long long T = args.tokens;\n";
    os << "  int* status = static_cast<int*>(args.ptr[23]);\n";
    os << "  (void)T; (void)status;\n";
    unsigned arg = 0;
    for (auto [i, v] : llvm::enumerate(op.getInputs())) {
      auto t = elementType(v);
      if (failed(t))
        return failure();
      os << "  const " << *t << "* in" << i << " = static_cast<const " << *t << "*>(args.ptr["
         << arg++ << "]);\n";
    }
    for (auto [i, v] : llvm::enumerate(op.getOutputs())) {
      auto t = elementType(v);
      if (failed(t))
        return failure();
      os << "  " << *t << "* out" << i << " = static_cast<" << *t << "*>(args.ptr[" << arg++
         << "]);\n";
    }
    if (arg > 23)
      return op.emitError("a launch with more than 23 arguments does not fit the GPU ABI");
    os << bodyText << "}\n\n";
    if (sharedBytes > target.smemLimit)
      return op.emitError() << "kernel needs " << sharedBytes << " bytes of shared memory; "
                            << target.arch << " allows " << target.smemLimit;

    MLIRContext *ctx = op.getContext();
    Builder b(ctx);
    auto grid = b.getDenseI64ArrayAttr({gridX.base, gridX.perToken, gridX.divisor, gridY.base,
                                        gridY.perToken, gridY.divisor});
    if (!variants) {
      op->setAttr("grid", grid);
      op->setAttr("block", b.getI64IntegerAttr(block));
      op->setAttr("shared_bytes", b.getI64IntegerAttr(sharedBytes));
      return success();
    }
    variants->push_back(b.getDictionaryAttr(
        {b.getNamedAttr("symbol", b.getStringAttr(name)), b.getNamedAttr("grid", grid),
         b.getNamedAttr("block", b.getI64IntegerAttr(block)),
         b.getNamedAttr("shared_bytes", b.getI64IntegerAttr(sharedBytes)),
         b.getNamedAttr("min_tokens", b.getI64IntegerAttr(minTokens)),
         b.getNamedAttr("max_tokens", b.getI64IntegerAttr(maxTokens))}));
    return success();
  }

  FailureOr<std::string> elementType(Value v) {
    Type t = cast<ShapedType>(v.getType()).getElementType();
    // fp8 weights travel as their bytes; only the quantized GEMMs read them.
    if (isa<Float8E4M3FNType>(t) && isGemmKind(op.getKernel()))
      return std::string("unsigned char");
    return cxxType(op, t, CodeFlavor::Cuda);
  }
  static bool isGemmKind(StringRef k) {
    return k == "linear" || k == "moe_gemm_up" || k == "moe_gemm_down";
  }
  // The QuantKind (moec_cuda_gemm.cuh) of a GEMM launch's weights: from the
  // element type of the weight operand the launch reads (i8 with quant_bits
  // 8 or 4, f8E4M3FN), 0 for float weights; an error for anything else.
  FailureOr<int> quantKind(StringRef kind);
  std::string f32Literal(double v) { return floatLiteral(v, Float32Type::get(op.getContext())); }

  // Rows of a [outer, axis, inner] view handled one warp each.
  SizeExpr rowsAround(ArrayRef<int64_t> shape, int64_t axis) {
    SmallVector<int64_t> rest(shape.take_front(axis));
    rest.append(shape.begin() + axis + 1, shape.end());
    return product(rest);
  }
  std::string B() { return std::to_string(kSimtBlock); }

  LogicalResult emitBody(llvm::raw_ostream &os);
  LogicalResult elementwise(llvm::raw_ostream &os);
  LogicalResult gemm(llvm::raw_ostream &os, StringRef kind);
};

LogicalResult CudaFunctionWriter::emitBody(llvm::raw_ostream &os) {
  StringRef k = op.getKernel();
  std::string T;
  if (op.getNumResults()) {
    auto t0 = elementType(op.getOutputs()[0]);
    if (failed(t0))
      return failure();
    T = *t0;
  }
  if (k == "elementwise")
    return elementwise(os);
  if (k == "linear" || k == "moe_gemm_up" || k == "moe_gemm_down")
    return gemm(os, k);
  if (k == "copy") {
    SizeExpr bytes = product(shapeOf(op.getInputs()[0]));
    bytes.coefficient *= moec::storageBytes(cast<ShapedType>(op.getInputs()[0].getType()).getElementType());
    os << "  moec_ck::copy_bytes<" << B() << ">(in0, out0, " << bytes.str() << ");\n";
    gridX = cover(bytes, kSimtBlock * 16);
    return success();
  }
  if (k == "rotary") {
    auto args = rotaryArgs(/*cuda=*/true);
    if (failed(args))
      return failure();
    os << args->declarations << "  moec_ck::rotary<" << args->types << ", " << B() << ">("
       << args->arguments << ", status);\n";
    gridX = cover(product(inputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "attention_kv_append" || k == "attention") {
    auto args = attentionArgs(/*cuda=*/true);
    if (failed(args))
      return failure();
    auto cache = shapeOf(k == "attention" ? op.getInputs()[1] : op.getOutputs()[0]);
    int64_t headSize = cache[3];
    os << args->declarations;
    if (k == "attention_kv_append") {
      os << "  moec_ck::attention_kv_append<" << args->types << ", " << B() << ">("
         << args->arguments << ", status);\n";
      // One warp per cache row (batch, kv head, position); the cache is static.
      gridX = cover(product(cache.drop_back()), kRowsPerBlock);
      return success();
    }
    // One warp per (batch, token, head) row; the row of q lives in registers,
    // so the head size is a template parameter.
    if (headSize > 256)
      return op.emitError() << "attention with head size " << headSize
                            << " is not supported on the GPU (at most 256)";
    os << "  moec_ck::attention<" << args->types << ", " << B() << ", " << headSize << ">("
       << args->arguments << ", status);\n";
    auto query = shapeOf(op.getInputs()[0]);
    gridX = cover(product({query[0], query[1], specInt("num_heads")}), kRowsPerBlock);
    return success();
  }
  if (k == "self_attention") {
    // query [B, N, S, D], key [B, KV, S, D], value [B, KV, S, Dv] [, sinks f32 [N]].
    auto q = shapeOf(op.getInputs()[0]), v = shapeOf(op.getInputs()[2]);
    int64_t headSize = q[3], valueSize = v[3];
    // The query row and the output accumulator live in registers.
    if (headSize < 1 || headSize > 256 || valueSize < 1 || valueSize > 256)
      return op.emitError() << "self-attention with head size " << headSize << " and value size "
                            << valueSize << " is not supported on the GPU (each in [1, 256])";
    os << "  moec_ck::SelfAttentionShape shape{};\n"
       << "  shape.batch = " << dimExpr(q[0]).str() << ";\n"
       << "  shape.seq = " << dimExpr(q[2]).str() << ";\n"
       << "  shape.num_heads = " << q[1] << ";\n"
       << "  shape.kv_heads = " << v[1] << ";\n"
       << "  shape.head_dim = " << headSize << ";\n"
       << "  shape.value_dim = " << valueSize << ";\n"
       << "  shape.scale = " << f32Literal(specFloat("scale")) << ";\n"
       << "  shape.softcap = " << f32Literal(specFloat("softcap")) << ";\n"
       << "  shape.window = " << specInt("window") << ";\n"
       << "  moec_ck::self_attention<" << T << ", " << B() << ", " << headSize << ", " << valueSize
       << ">(in0, in1, in2, "
       << (specBool("has_sinks") ? "in3" : "static_cast<const float*>(nullptr)")
       << ", out0, shape, status);\n";
    // One block per tile of kRowsPerBlock query rows of one (batch, head):
    // B * N * ceil(S / kRowsPerBlock) blocks. With S = T that is at most
    // ceil((B N T + B N (kRowsPerBlock - 1)) / kRowsPerBlock).
    if (ShapedType::isDynamic(q[2])) {
      int64_t heads = product({q[0], q[1]}).coefficient; // B static when S is T
      gridX = GridAxis{heads * (kRowsPerBlock - 1), heads, kRowsPerBlock};
    } else {
      SizeExpr tiles = product({q[0], q[1]});
      tiles.coefficient *= (q[2] + kRowsPerBlock - 1) / kRowsPerBlock;
      gridX = cover(tiles, 1);
    }
    return success();
  }
  if (k == "rms_norm") {
    auto args = rmsNormArgs(/*cuda=*/true);
    if (failed(args))
      return failure();
    os << "  moec_ck::" << (args->residual ? "rms_norm_residual<" : "rms_norm<") << args->types
       << ", " << B() << ">(" << args->arguments << ");\n";
    gridX = cover(product(inputShape(0).take_front(specInt("axis"))), kRowsPerBlock);
    return success();
  }
  if (k == "softmax" || k == "topk") {
    auto s = shapeOf(op.getInputs()[0]);
    int64_t axis = specInt("axis");
    if (k == "softmax")
      os << "  moec_ck::softmax<" << T << ", " << B() << ">(in0, out0, " << outerInnerAround(s, axis)
         << ");\n";
    else
      os << "  moec_ck::topk<" << T << ", " << B() << ">(in0, out0, out1, "
         << outerInnerAround(s, axis) << ", " << specInt("k") << ", "
         << (specBool("largest") ? "true" : "false") << ");\n";
    gridX = cover(rowsAround(s, axis), kRowsPerBlock);
    return success();
  }
  if (k == "reduce") {
    auto args = reduceArgs("long long");
    os << args.declarations << "  moec_ck::reduce<" << T << ", " << B() << ">(in0, out0, "
       << args.arguments << ", moec_ck::ReduceKind::" << reduceKind() << ");\n";
    gridX = cover(product(outputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "gather") {
    auto s = shapeOf(op.getInputs()[0]);
    auto idx = elementType(op.getInputs()[1]);
    if (failed(idx))
      return failure();
    os << "  moec_ck::gather<" << T << ", " << *idx << ", " << B() << ">(in0, in1, out0, "
       << outerInnerAround(s, specInt("axis")) << ", "
       << product(shapeOf(op.getInputs()[1])).str() << ", status);\n";
    gridX = cover(product(shapeOf(op.getOutputs()[0])), kSimtBlock);
    return success();
  }
  if (k == "gather_elements" || k == "scatter_elements") {
    auto idx = elementType(op.getInputs()[1]);
    if (failed(idx))
      return failure();
    auto args = elementsArgs("long long");
    os << args.declarations;
    if (k == "gather_elements") {
      os << "  moec_ck::gather_elements<" << T << ", " << *idx << ", " << B()
         << ">(in0, in1, out0, " << args.arguments << ", status);\n";
      gridX = cover(product(inputShape(1)), kSimtBlock);
      return success();
    }
    auto reduction = scatterReduction();
    if (failed(reduction))
      return failure();
    os << "  moec_ck::scatter_elements<" << T << ", " << *idx << ", " << B()
       << ">(in0, in1, in2, out0, " << args.arguments << ", moec_ck::ScatterReduction::"
       << *reduction << ", status);\n";
    gridX = cover(product(inputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "range") {
    SizeExpr n = dimExpr(outputShape(0)[0]);
    os << "  moec_ck::range<" << T << ", " << B() << ">(in0, in1, in2, out0, " << n.str()
       << ", status);\n";
    // At least one block even for an empty range: the length check must run.
    gridX = cover(n, kSimtBlock);
    gridX.base += 1;
    return success();
  }
  if (k == "cumsum") {
    auto s = shapeOf(op.getInputs()[0]);
    int64_t axis = specInt("axis");
    os << "  moec_ck::cumsum<" << T << ", " << B() << ">(in0, out0, "
       << outerInnerAround(s, axis) << ", " << (specBool("exclusive") ? "true" : "false")
       << ", " << (specBool("reverse") ? "true" : "false") << ");\n";
    gridX = cover(rowsAround(s, axis), kSimtBlock); // one thread per line along the axis
    return success();
  }
  if (k == "scatter_nd") {
    auto idx = elementType(op.getInputs()[1]);
    auto reduction = scatterReduction();
    if (failed(idx) || failed(reduction))
      return failure();
    auto data = shapeOf(op.getInputs()[0]), indices = shapeOf(op.getInputs()[1]);
    // One block: the template needs a barrier between the copy and the updates.
    block = 1024;
    os << "  const long long data_shape[] = " << arrayLiteral(shapeExprs(data)) << ";\n"
       << "  moec_ck::scatter_nd<" << T << ", " << *idx << ", 1024>(in0, in1, in2, out0, "
       << data.size() << ", data_shape, " << product(indices.drop_back()).str() << ", "
       << indices.back() << ", moec_ck::ScatterReduction::" << *reduction << ", status);\n";
    gridX = GridAxis{};
    return success();
  }
  if (k == "transpose") {
    auto args = transposeArgs("long long");
    os << args.declarations << "  moec_ck::transpose<" << T << ", " << B() << ">(in0, out0, "
       << args.arguments << ");\n";
    gridX = cover(product(inputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "concat") {
    auto args = concatArgs(T, "long long");
    os << args.declarations << "  moec_ck::concat<" << T << ", " << B() << ">(" << args.arguments
       << ");\n";
    gridX = cover(product(outputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "slice") {
    auto args = sliceArgs("long long");
    os << args.declarations << "  moec_ck::slice<" << T << ", " << B() << ">(in0, out0, "
       << args.arguments << ");\n";
    gridX = cover(product(outputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "shape_of") {
    os << "  if (blockIdx.x == 0 && threadIdx.x == 0) {\n";
    for (auto [i, d] : llvm::enumerate(specInts("dims")))
      os << "    out0[" << i << "] = " << (d < 0 ? std::string("T") : std::to_string(d)) << ";\n";
    os << "  }\n";
    gridX = GridAxis{};
    return success();
  }
  if (k == "batch_matmul") {
    // Rare in MoE graphs (both operands computed at run time): SIMT, one
    // thread per output element.
    auto args = batchMatmulArgs("long long");
    os << args.declarations << "  moec_ck::batch_matmul<" << T << ", " << B()
       << ">(in0, in1, out0, " << args.arguments << ");\n";
    gridX = cover(product(outputShape(0)), kSimtBlock);
    return success();
  }
  if (k == "moe_route") {
    auto s = shapeOf(op.getInputs()[0]);
    os << "  moec_ck::moe_route_softmax_topk<" << T << ", " << B() << ">(in0, out0, out1, "
       << dimExpr(s[0]).str() << ", " << s[1] << ", " << specInt("k") << ", "
       << (specBool("normalize") ? "true" : "false") << ");\n";
    gridX = cover(dimExpr(s[0]), kRowsPerBlock);
    return success();
  }
  if (k == "moe_route_sigmoid") {
    // One warp per token, like the softmax router.
    auto s = shapeOf(op.getInputs()[0]);
    os << "  moec_ck::moe_route_sigmoid<" << T << ", " << B() << ">(in0, "
       << (specBool("has_bias") ? "in1" : "static_cast<const " + T + "*>(nullptr)")
       << ", out0, out1, " << dimExpr(s[0]).str() << ", " << s[1] << ", " << specInt("k") << ", "
       << specInt("groups") << ", " << specInt("topk_groups") << ", "
       << (specBool("normalize") ? "true" : "false") << ", "
       << floatLiteral(specFloat("scaling"), Float32Type::get(op.getContext())) << ");\n";
    gridX = cover(dimExpr(s[0]), kRowsPerBlock);
    return success();
  }
  if (k == "moe_route_linear") {
    // Router GEMM + softmax + top-k in one launch; one warp per token, the
    // warp's logits in dynamic shared memory.
    auto x = inputShape(0), w = inputShape(1);
    auto xType = elementType(op.getInputs()[0]);
    auto wType = elementType(op.getInputs()[1]);
    if (failed(xType) || failed(wType))
      return failure();
    if (*xType != T)
      return op.emitError("the fused router needs its input and its weights output in one type");
    int64_t experts = w[0], hidden = w[1];
    os << "  extern __shared__ float moec_route_logits[];\n"
       << "  moec_ck::moe_route_linear<" << T << ", " << *wType << ", " << B() << ">(in0, in1, "
       << (specBool("has_bias") ? "in2" : "nullptr") << ", out0, out1, " << dimExpr(x[0]).str()
       << ", " << hidden << ", " << experts << ", " << specInt("k") << ", "
       << (specBool("normalize") ? "true" : "false") << ", moec_route_logits);\n";
    sharedBytes = kRowsPerBlock * experts * 4;
    gridX = cover(dimExpr(x[0]), kRowsPerBlock);
    return success();
  }
  if (k == "moe_permute") {
    auto ids = shapeOf(op.getInputs()[0]);
    // One block does the whole count/scan/scatter (it needs a block-wide
    // barrier between the phases); the work is T*k integers.
    block = 1024;
    os << "  moec_ck::moe_permute<1024>(in0, " << dimExpr(ids[0]).str() << ", " << ids[1] << ", "
       << specInt("experts") << ", out0, out1, status);\n";
    gridX = GridAxis{};
    return success();
  }
  if (k == "moe_combine") {
    auto p = shapeOf(op.getInputs()[0]);
    os << "  moec_ck::moe_combine<" << T << ", " << B() << ">(in0, out0, " << dimExpr(p[0]).str()
       << ", " << p[1] << ", " << p[2] << ");\n";
    gridX = cover(product(shapeOf(op.getOutputs()[0])), kSimtBlock);
    return success();
  }
  return op.emitError() << "kernel '" << k << "' has no CUDA implementation";
}

FailureOr<int> CudaFunctionWriter::quantKind(StringRef kind) {
  bool quantized = op.getSpec().get(kind == "linear" ? "quant_group" : "quant_groups") != nullptr;
  if (!quantized)
    return 0;
  Type w = cast<ShapedType>(op.getInputs()[kind == "linear" ? 1 : 3].getType()).getElementType();
  int64_t bits = op.getSpec().get("quant_bits") ? specInt("quant_bits") : 8;
  if (isa<Float8E4M3FNType>(w) && bits == 8) {
    // Decoded with cvt.rn.f16x2.e4m3x2, which sm_80/sm_86 do not have.
    if (target.arch == "sm_80" || target.arch == "sm_86")
      return op.emitError() << "fp8 weights need --target sm_89 or newer (the target is "
                            << target.arch << ")",
             failure();
    return 3;
  }
  if (w.isInteger(8) && (bits == 8 || bits == 4))
    return bits == 8 ? 1 : 2;
  return op.emitError() << "the cuda GEMMs cannot read " << bits << "-bit weights of type " << w,
         failure();
}

// Tensor-core GEMMs: the tile configuration comes from the architecture's
// table; the grid is an upper bound on the number of output tiles.
// Quantized weights (spec quant_group / quant_groups) run the *_q templates
// of moec_cuda_gemm_quant.cuh, always on mma.sync (also with wgmma).
LogicalResult CudaFunctionWriter::gemm(llvm::raw_ostream &os, StringRef kind) {
  Value out = op.getOutputs()[0];
  std::string T = *elementType(out);
  int elemBytes = static_cast<int>(moec::storageBytes(cast<ShapedType>(out.getType()).getElementType()));
  bool isMoe = kind != "linear";
  bool swigluUp = kind == "moe_gemm_up" && specStr("activation") == "swiglu";
  auto quant = quantKind(kind);
  if (failed(quant))
    return failure();
  int wbits = *quant == 0 ? 0 : *quant == 2 ? 4 : 8;
  bool wgmma = gemmImpl == moec::GemmImpl::Wgmma && elemBytes == 2 && *quant == 0;
  moec_cuda::GemmConfig cfg = wgmma ? moec_cuda::sm90GemmConfigFor(swigluUp, prefill)
                                    : moec_cuda::gemmConfigFor(isMoe, swigluUp, elemBytes, prefill, wbits);
  std::string tparams =
      *quant ? std::string(llvm::formatv("<{0}, {1}, {2}, {3}, {4}, {5}, {6}>", T, *quant, cfg.tm,
                                         cfg.tn, cfg.tk, cfg.warps, cfg.stages))
             : std::string(llvm::formatv("<{0}, {1}, {2}, {3}, {4}, {5}>", T, cfg.tm, cfg.tn,
                                         cfg.tk, cfg.warps, cfg.stages));
  if (wgmma)
    tparams = "sm90::" + kind.str() + tparams;
  else
    tparams = kind.str() + (*quant ? "_q" : "") + tparams;
  block = cfg.warps * 32;
  sharedBytes = wgmma ? moec_cuda::sm90SmemBytes(cfg, swigluUp)
                : isMoe ? moec_cuda::moeGemmSmemBytes(cfg, elemBytes, swigluUp, wbits)
                        : moec_cuda::linearSmemBytes(cfg, elemBytes, wbits);
  if (kind == "linear") {
    auto x = shapeOf(op.getInputs()[0]);
    auto y = shapeOf(out);
    SizeExpr m = product(x.drop_back());
    int64_t n = y.back();
    bool bias = specBool("has_bias");
    // Quantized operands: x, q, [bias], scale (the host lowering's order).
    std::string weight = *quant ? llvm::formatv("in1, in{0}, {1}", bias ? 3 : 2,
                                                specInt("quant_group"))
                                      .str()
                                : std::string("in1");
    os << "  moec_ck::" << tparams << "(in0, " << weight << ", " << (bias ? "in2" : "nullptr")
       << ", out0, " << m.str() << ", " << x.back() << ", " << n << ");\n";
    int64_t colTiles = (n + cfg.tn - 1) / cfg.tn;
    // ceil(M / TM) * colTiles <= ceil((M * colTiles + (TM - 1) * colTiles) / TM)
    gridX.base = (m.perToken ? 0 : m.coefficient * colTiles) + (cfg.tm - 1) * colTiles;
    gridX.perToken = m.perToken ? m.coefficient * colTiles : 0;
    gridX.divisor = cfg.tm;
    return success();
  }
  // Grouped: x/hidden, slots, offsets, weights..., routing weights (down).
  auto slots = shapeOf(op.getInputs()[1]);
  SizeExpr tokens = dimExpr(slots[0]);
  int64_t k = slots[1];
  auto offsets = shapeOf(op.getInputs()[2]);
  int64_t experts = offsets[0] - 1;
  // Sizes from the activations: a packed int4 weight's last dimension is
  // ceil(K / 2). Up: x [T, H] -> out [T, k, I]; down: h [T, k, I] -> [T, k, H].
  int64_t hidden = kind == "moe_gemm_up" ? shapeOf(op.getInputs()[0]).back() : shapeOf(out)[2];
  int64_t inter = kind == "moe_gemm_up" ? shapeOf(out)[2] : shapeOf(op.getInputs()[0])[2];
  int64_t cols = kind == "moe_gemm_up" ? inter : hidden;
  unsigned next = 4;
  auto take = [&](bool present) {
    return present ? "in" + std::to_string(next++) : std::string("nullptr");
  };
  if (kind == "moe_gemm_up") {
    std::string act = specStr("activation");
    int actCode = act == "relu" ? 0 : act == "gelu" ? 1 : act == "silu" ? 2 : act == "swiglu" ? 3 : 4;
    std::string b1 = take(specBool("has_fc1_bias")), fc3 = take(specBool("has_fc3")),
                b3 = take(specBool("has_fc3_bias"));
    std::string tail = ", " + std::to_string(hidden) + ", " + std::to_string(inter);
    if (*quant) {
      // Scales follow the other operands: fc1's, then fc3's.
      std::string s1 = take(true), s3 = take(specBool("has_fc3"));
      os << "  moec_ck::" << tparams << "(in0, in1, in2, in3, " << s1 << ", " << b1 << ", "
         << fc3 << ", " << s3 << ", " << b3;
      tail += ", " + std::to_string(specInts("quant_groups")[0]);
    } else {
      os << "  moec_ck::" << tparams << "(in0, in1, in2, in3, " << b1 << ", " << fc3 << ", "
         << b3;
    }
    os << ", out0, " << tokens.str() << ", " << k << ", " << experts << tail << ", " << actCode
       << ", " << specInt("swiglu_fusion") << ", " << f32Literal(specFloat("alpha")) << ", "
       << f32Literal(specFloat("beta")) << ", " << f32Literal(specFloat("limit")) << ");\n";
  } else {
    std::string b2 = take(specBool("has_fc2_bias"));
    std::string rw = take(true);
    if (*quant)
      os << "  moec_ck::" << tparams << "(in0, in1, in2, in3, " << take(true) << ", " << b2
         << ", " << rw << ", out0, " << tokens.str() << ", " << k << ", " << experts << ", "
         << hidden << ", " << inter << ", " << specInts("quant_groups")[1] << ");\n";
    else
      os << "  moec_ck::" << tparams << "(in0, in1, in2, in3, " << b2 << ", " << rw
         << ", out0, " << tokens.str() << ", " << k << ", " << experts << ", " << hidden << ", "
         << inter << ");\n";
  }
  // Row tiles over all experts <= ceil((T*k + E*(TM-1)) / TM).
  int64_t colTiles = (cols + cfg.tn - 1) / cfg.tn;
  int64_t rowsPerToken = tokens.perToken ? tokens.coefficient * k : 0;
  int64_t rowsStatic = tokens.perToken ? 0 : tokens.coefficient * k;
  gridX.base = (rowsStatic + experts * (cfg.tm - 1)) * colTiles;
  gridX.perToken = rowsPerToken * colTiles;
  gridX.divisor = cfg.tm;
  return success();
}

// Elementwise: one thread per output element (grid-stride); broadcast
// inputs are indexed through the coordinates of the output element.
LogicalResult CudaFunctionWriter::elementwise(llvm::raw_ostream &os) {
  auto y = shapeOf(op.getOutputs()[0]);
  int64_t rank = y.size();
  Block &block = op.getBody().front();
  SizeExpr n = product(y);
  os << "  const long long n = " << n.str() << ";\n"
     << "  for (long long i = static_cast<long long>(blockIdx.x) * " << kSimtBlock
     << " + threadIdx.x; i < n; i += static_cast<long long>(gridDim.x) * " << kSimtBlock
     << ") {\n";
  bool needCoords = false;
  for (Value in : op.getInputs()) {
    auto s = shapeOf(in);
    if (s != y && product(s).str() != "1")
      needCoords = true;
  }
  if (needCoords) {
    os << "    long long rest = i;\n";
    for (int64_t d = rank - 1; d >= 0; --d) {
      os << "    const long long i" << d << " = rest % (" << dimExpr(y[d]).str() << ");\n";
      if (d > 0)
        os << "    rest /= (" << dimExpr(y[d]).str() << ");\n";
    }
  }
  llvm::DenseMap<Value, std::string> names;
  for (auto [idx, in] : llvm::enumerate(op.getInputs())) {
    auto s = shapeOf(in);
    std::string index;
    if (product(s).str() == "1")
      index = "0";
    else if (s == y)
      index = "i";
    else {
      index = "0";
      int64_t offset = rank - static_cast<int64_t>(s.size());
      for (size_t d = 0; d < s.size(); ++d)
        index = "(" + index + ") * (" + dimExpr(s[d]).str() + ") + " +
                (s[d] == 1 ? std::string("0") : "i" + std::to_string(d + offset));
    }
    std::string name = "a" + std::to_string(idx);
    os << "    const auto " << name << " = in" << idx << "[" << index << "];\n";
    names[block.getArgument(idx)] = name;
  }
  auto yielded = emitScalarBody(block, names, os, "    ", CodeFlavor::Cuda);
  if (failed(yielded))
    return failure();
  os << "    out0[i] = " << *yielded << ";\n  }\n";
  gridX = cover(n, kSimtBlock * 4);
  return success();
}

constexpr const char *kPrelude = R"cuda(#include "moec_cuda_gemm.cuh"
#include "moec_cuda_norm.cuh"
#include "moec_cuda_attention.cuh"

#ifndef MOEC_CUDA_ARGS_DEFINED
#define MOEC_CUDA_ARGS_DEFINED
// The one kernel parameter (by value): the step's pointers and the token count.
struct moec_cuda_args { void* ptr[24]; long long tokens; };
#endif

// Scalar functions used by elementwise bodies (the host emitter's prelude
// defines the same names with the C++ library).
template <class F> __device__ inline F moec_inf();
template <> __device__ inline float moec_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ inline double moec_inf<double>() { return __longlong_as_double(0x7ff0000000000000LL); }
template <class F> __device__ inline F moec_nan();
template <> __device__ inline float moec_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ inline double moec_nan<double>() { return __longlong_as_double(0x7ff8000000000000LL); }
template <class F> __device__ inline F moec_fmax(F a, F b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
template <class F> __device__ inline F moec_fmin(F a, F b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
template <class I> __device__ inline I moec_imax(I a, I b) { return a > b ? a : b; }
template <class I> __device__ inline I moec_imin(I a, I b) { return a < b ? a : b; }
__device__ inline float moec_sqrt(float x) { return sqrtf(x); }
__device__ inline double moec_sqrt(double x) { return sqrt(x); }
__device__ inline float moec_exp(float x) { return expf(x); }
__device__ inline double moec_exp(double x) { return exp(x); }
__device__ inline float moec_tanh(float x) { return tanhf(x); }
__device__ inline double moec_tanh(double x) { return tanh(x); }
__device__ inline float moec_erf(float x) { return erff(x); }
__device__ inline double moec_erf(double x) { return erf(x); }
__device__ inline float moec_log(float x) { return logf(x); }
__device__ inline double moec_log(double x) { return log(x); }
__device__ inline float moec_cos(float x) { return cosf(x); }
__device__ inline double moec_cos(double x) { return cos(x); }
__device__ inline float moec_sin(float x) { return sinf(x); }
__device__ inline double moec_sin(double x) { return sin(x); }
__device__ inline float moec_pow(float x, float y) { return powf(x, y); }
__device__ inline double moec_pow(double x, double y) { return pow(x, y); }
__device__ inline float moec_fabs(float x) { return fabsf(x); }
__device__ inline double moec_fabs(double x) { return fabs(x); }

// ONNX Slice start normalization for one dim of size `dim`.
__device__ inline long long moec_slice_start(long long start, long long dim, long long step) {
  if (start < 0) start = start < -dim ? 0 : start + dim;
  return step > 0 ? (start < dim ? start : dim) : (start < dim - 1 ? start : dim - 1);
}

)cuda";

} // namespace

namespace {
#include "moec_cuda_gemm_header.inc"
#include "moec_cuda_gemm_quant_header.inc"
#include "moec_cuda_gemm_sm90_header.inc"
#include "moec_cuda_kernels_header.inc"
#include "moec_cuda_norm_header.inc"
#include "moec_cuda_attention_header.inc"

} // namespace


namespace moec {

const std::vector<EmbeddedHeader> &cudaKernelHeaders() {
  static const std::vector<EmbeddedHeader> headers = {
      {"moec_cuda_kernels.cuh", joinEmbeddedChunks(kCudaKernelsHeader)},
      {"moec_cuda_gemm.cuh", joinEmbeddedChunks(kCudaGemmHeader)},
      {"moec_cuda_gemm_quant.cuh", joinEmbeddedChunks(kCudaGemmQuantHeader)},
      {"moec_cuda_gemm_sm90.cuh", joinEmbeddedChunks(kCudaGemmSm90Header)},
      {"moec_cuda_norm.cuh", joinEmbeddedChunks(kCudaNormHeader)},
      {"moec_cuda_attention.cuh", joinEmbeddedChunks(kCudaAttentionHeader)},
  };
  return headers;
}

LogicalResult writeCudaSources(Location loc, const std::string &source, llvm::StringRef dir) {
  if (auto ec = llvm::sys::fs::create_directories(dir))
    return emitError(loc) << "cannot create " << dir << ": " << ec.message();
  auto write = [&](llvm::StringRef name, llvm::StringRef text) -> LogicalResult {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return emitError(loc) << "cannot write " << path << ": " << ec.message();
    os << text;
    return success();
  };
  if (failed(write("kernels.cu", source)))
    return failure();
  for (const auto &h : cudaKernelHeaders())
    if (failed(write(h.name, h.text)))
      return failure();
  return success();
}

const CudaTarget *lookupCudaTarget(llvm::StringRef arch) {
  // Dynamic shared memory per block (opt-in maximum).
  static const CudaTarget targets[] = {
      {"sm_80", 163 * 1024, false},
      {"sm_86", 99 * 1024, false},
      {"sm_89", 99 * 1024, false},
      {"sm_90a", 227 * 1024, true}};
  for (const CudaTarget &t : targets)
    if (t.arch == arch)
      return &t;
  return nullptr;
}

std::string supportedCudaTargets() { return "sm_80, sm_86, sm_89, sm_90a"; }

FailureOr<std::string> emitCudaSource(ModuleOp module, const CudaTarget &target,
                                      GemmImpl gemm) {
  if (gemm == GemmImpl::Wgmma && !target.hasWgmma)
    return module.emitError() << "the wgmma GEMM kernels need sm_90a, not " << target.arch,
           failure();
  std::string source;
  llvm::raw_string_ostream os(source);
  std::string origin = "a model";
  if (auto src = module->getAttrOfType<StringAttr>("moec.source"))
    origin = src.str();
  os << "// Kernels for " << origin << ", target " << target.arch
     << ". Generated by moec; do not edit.\n"
     << (gemm == GemmImpl::Wgmma ? "#include \"moec_cuda_gemm_sm90.cuh\"\n" : "") << kPrelude;
  unsigned step = 0;
  bool ok = true;
  module.walk([&](kernel::LaunchOp launch) {
    std::string symbol = "moec_k" + std::to_string(step++) + "_" + launch.getKernel().str();
    launch->setAttr(kernel::kSymbolAttr, StringAttr::get(module.getContext(), symbol));
    if (failed(CudaFunctionWriter(launch, symbol, target, gemm, os).write()))
      ok = false;
  });
  if (!ok)
    return failure();
  return source;
}

} // namespace moec
