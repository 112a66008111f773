//===- HostEmitter.cpp - C++ for every kernel launch ------------------------===//
//
// Each kernel.launch becomes one function with the host kernel ABI
//   extern "C" int32_t <symbol>(void* const* args, int64_t T);
// args = the launch's inputs, then its results, then its scratch workspace.
// Sizes are written as expressions of T, specialized on every static size.
// Elementwise launches are emitted as loops with the fused body inlined; all
// other launches call a template from moec_host_kernels.h.
//
//===----------------------------------------------------------------------===//

#include "compiler/host/HostEmitter.h"

#include "compiler/codegen/CodegenUtils.h"
#include "compiler/codegen/LaunchView.h"
#include "dialects/kernel/KernelDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
namespace kernel = moec::kernel;
namespace codegen = moec::codegen;

namespace {

using namespace moec::codegen;

FailureOr<std::string> cxxType(Operation *op, Type t) { return codegen::cxxType(op, t, CodeFlavor::Host); }

// fp8 E4M3FN weights are read only by the kernels that decode them (quantized
// linear and experts, dequantize); anywhere else an f8 tensor stays an error.
bool readsFp8(kernel::LaunchOp op) {
  StringRef k = op.getKernel();
  return k == "linear" || k == "moe_experts" || k == "dequantize";
}

bool isFp8(Value v) {
  return isa<Float8E4M3FNType>(cast<ShapedType>(v.getType()).getElementType());
}

class FunctionWriter : LaunchView {
public:
  FunctionWriter(kernel::LaunchOp op, std::string symbol, llvm::raw_string_ostream &os)
      : LaunchView(op), symbol(std::move(symbol)), os(os) {}

  LogicalResult write() {
    os << "// " << describe() << "\n";
    os << "extern \"C\" int32_t " << symbol << "(void* const* args, int64_t T) {\n";
    os << "  (void)T;\n";
    unsigned arg = 0;
    for (auto [i, v] : llvm::enumerate(op.getInputs())) {
      auto t = elementType(v);
      if (failed(t))
        return failure();
      os << "  const " << *t << "* in" << i << " = static_cast<const " << *t << "*>(args["
         << arg++ << "]);\n";
    }
    for (auto [i, v] : llvm::enumerate(op.getOutputs())) {
      auto t = elementType(v);
      if (failed(t))
        return failure();
      os << "  " << *t << "* out" << i << " = static_cast<" << *t << "*>(args[" << arg++
         << "]);\n";
    }
    if (op->hasAttr(kernel::kScratchBytesAttr))
      os << "  void* scratch = args[" << arg++ << "];\n";
    if (failed(body()))
      return failure();
    os << "}\n\n";
    return success();
  }

private:
  std::string symbol;
  llvm::raw_string_ostream &os;

  FailureOr<std::string> elementType(Value v) {
    if (isFp8(v) && readsFp8(op))
      return std::string("moec_hk::fp8_e4m3");
    return cxxType(op, cast<ShapedType>(v.getType()).getElementType());
  }

  LogicalResult body();
  LogicalResult elementwise();
  LogicalResult moeExperts();
};

LogicalResult FunctionWriter::body() {
  StringRef k = op.getKernel();
  auto t0 = op.getNumResults() ? elementType(op.getOutputs()[0]) : FailureOr<std::string>(std::string());
  if (failed(t0))
    return failure();
  std::string T = *t0;
  if (k == "elementwise")
    return elementwise();
  if (k == "copy") {
    Value in = op.getInputs()[0];
    os << "  moec_hk::copy_bytes(in0, out0, static_cast<size_t>(" << product(shapeOf(in)).str()
       << ") * sizeof(*in0));\n  return 0;\n";
    return success();
  }
  if (k == "linear" && op.getSpec().get("quant_group")) {
    // Weight-only int8 / int4 / fp8 (told apart by the weight's element
    // type): in1 is the [N, K] weight, the scales come last.
    auto x = shapeOf(op.getInputs()[0]);
    auto y = shapeOf(op.getOutputs()[0]);
    bool bias = specBool("has_bias");
    bool int4 = op.getSpec().get("quant_bits") && specInt("quant_bits") == 4;
    bool fp8 = isFp8(op.getInputs()[1]);
    os << "  moec_hk::" << (int4 ? "linear_q4" : fp8 ? "linear_f8" : "linear_q8") << "<" << T
       << ">(in0, "
       << (int4 ? "reinterpret_cast<const moec_hk::int4x2*>(in1)" : "in1") << ", in"
       << (bias ? 3 : 2) << ", "
       << specInt("quant_group") << ", " << (bias ? "in2" : "nullptr") << ", out0, "
       << product(x.drop_back()).str() << ", " << x.back() << ", " << y.back()
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "dequantize") {
    auto q = shapeOf(op.getInputs()[0]);
    int64_t axis = specInt("axis");
    auto qt = elementType(op.getInputs()[0]);
    auto st = elementType(op.getInputs()[1]);
    if (failed(qt) || failed(st))
      return failure();
    if (op.getSpec().get("bits") && specInt("bits") == 4) {
      auto y = shapeOf(op.getOutputs()[0]);
      os << "  moec_hk::dequantize_int4<" << *st << ", " << T
         << ">(reinterpret_cast<const moec_hk::int4x2*>(in0), in1, out0, "
         << product(y.drop_back()).str() << ", " << y.back() << ", " << specInt("block_size")
         << ");\n  return 0;\n";
      return success();
    }
    os << "  moec_hk::dequantize<" << *qt << ", " << *st << ", " << T << ">(in0, in1, out0, "
       << outerInnerAround(q, axis) << ", " << specInt("block_size") << ");\n  return 0;\n";
    return success();
  }
  if (k == "linear") {
    auto x = shapeOf(op.getInputs()[0]);
    auto y = shapeOf(op.getOutputs()[0]);
    os << "  moec_hk::linear<" << T << ">(in0, in1, " << (specBool("has_bias") ? "in2" : "nullptr")
       << ", out0, " << product(x.drop_back()).str() << ", " << x.back() << ", " << y.back()
       << ", " << (specBool("transpose_weight") ? "true" : "false") << ");\n  return 0;\n";
    return success();
  }
  if (k == "rms_norm") {
    auto args = rmsNormArgs(/*cuda=*/false);
    if (failed(args))
      return failure();
    os << "  moec_hk::" << (args->residual ? "rms_norm_residual<" : "rms_norm<") << args->types
       << ">(" << args->arguments << ");\n  return 0;\n";
    return success();
  }
  if (k == "rotary") {
    auto args = rotaryArgs(/*cuda=*/false);
    if (failed(args))
      return failure();
    os << args->declarations << "  return moec_hk::rotary<" << args->types << ">("
       << args->arguments << ");\n";
    return success();
  }
  if (k == "attention_kv_append" || k == "attention") {
    auto args = attentionArgs(/*cuda=*/false);
    if (failed(args))
      return failure();
    os << args->declarations << "  return moec_hk::" << k << "<" << args->types << ">("
       << args->arguments << ");\n";
    return success();
  }
  if (k == "self_attention") {
    // query [B, N, S, D], key [B, KV, S, D], value [B, KV, S, Dv] [, sinks f32 [N]].
    auto q = shapeOf(op.getInputs()[0]), v = shapeOf(op.getInputs()[2]);
    auto f32 = Float32Type::get(op.getContext());
    os << "  moec_hk::SelfAttentionShape shape{};\n"
       << "  shape.batch = " << dimExpr(q[0]).str() << ";\n"
       << "  shape.seq = " << dimExpr(q[2]).str() << ";\n"
       << "  shape.num_heads = " << q[1] << ";\n"
       << "  shape.kv_heads = " << v[1] << ";\n"
       << "  shape.head_dim = " << q[3] << ";\n"
       << "  shape.value_dim = " << v[3] << ";\n"
       << "  shape.scale = " << floatLiteral(specFloat("scale"), f32) << ";\n"
       << "  shape.softcap = " << floatLiteral(specFloat("softcap"), f32) << ";\n"
       << "  shape.window = " << specInt("window") << ";\n"
       << "  return moec_hk::self_attention<" << T << ">(in0, in1, in2, "
       << (specBool("has_sinks") ? "in3" : "static_cast<const float*>(nullptr)")
       << ", out0, shape);\n";
    return success();
  }
  if (k == "softmax") {
    auto s = shapeOf(op.getInputs()[0]);
    int64_t axis = specInt("axis");
    os << "  moec_hk::softmax<" << T << ">(in0, out0, " << outerInnerAround(s, axis)
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "topk") {
    auto s = shapeOf(op.getInputs()[0]);
    os << "  moec_hk::topk<" << T << ">(in0, out0, out1, " << outerInnerAround(s, specInt("axis"))
       << ", " << specInt("k") << ", " << (specBool("largest") ? "true" : "false")
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "reduce") {
    auto args = reduceArgs("moec_hk::index_t");
    os << args.declarations << "  moec_hk::reduce<" << T << ">(in0, out0, " << args.arguments
       << ", moec_hk::ReduceKind::" << reduceKind() << ");\n  return 0;\n";
    return success();
  }
  if (k == "gather") {
    auto s = shapeOf(op.getInputs()[0]);
    auto idx = elementType(op.getInputs()[1]);
    if (failed(idx))
      return failure();
    os << "  return moec_hk::gather<" << T << ", " << *idx << ">(in0, in1, out0, "
       << outerInnerAround(s, specInt("axis")) << ", " << product(shapeOf(op.getInputs()[1])).str()
       << ");\n";
    return success();
  }
  if (k == "gather_elements" || k == "scatter_elements") {
    auto idx = elementType(op.getInputs()[1]);
    if (failed(idx))
      return failure();
    auto args = elementsArgs("moec_hk::index_t");
    os << args.declarations;
    if (k == "gather_elements") {
      os << "  return moec_hk::gather_elements<" << T << ", " << *idx << ">(in0, in1, out0, "
         << args.arguments << ");\n";
      return success();
    }
    auto reduction = scatterReduction();
    if (failed(reduction))
      return failure();
    os << "  return moec_hk::scatter_elements<" << T << ", " << *idx << ">(in0, in1, in2, out0, "
       << args.arguments << ", moec_hk::ScatterReduction::" << *reduction << ");\n";
    return success();
  }
  if (k == "range") {
    os << "  return moec_hk::range<" << T << ">(in0, in1, in2, out0, "
       << dimExpr(shapeOf(op.getOutputs()[0])[0]).str() << ");\n";
    return success();
  }
  if (k == "cumsum") {
    os << "  moec_hk::cumsum<" << T << ">(in0, out0, "
       << outerInnerAround(shapeOf(op.getInputs()[0]), specInt("axis")) << ", "
       << (specBool("exclusive") ? "true" : "false") << ", "
       << (specBool("reverse") ? "true" : "false") << ");\n  return 0;\n";
    return success();
  }
  if (k == "scatter_nd") {
    auto idx = elementType(op.getInputs()[1]);
    auto reduction = scatterReduction();
    if (failed(idx) || failed(reduction))
      return failure();
    auto data = shapeOf(op.getInputs()[0]), indices = shapeOf(op.getInputs()[1]);
    os << "  const moec_hk::index_t data_shape[] = " << arrayLiteral(shapeExprs(data)) << ";\n"
       << "  return moec_hk::scatter_nd<" << T << ", " << *idx << ">(in0, in1, in2, out0, "
       << data.size() << ", data_shape, " << product(indices.drop_back()).str() << ", "
       << indices.back() << ", moec_hk::ScatterReduction::" << *reduction << ");\n";
    return success();
  }
  if (k == "transpose") {
    auto args = transposeArgs("moec_hk::index_t");
    os << args.declarations << "  moec_hk::transpose<" << T << ">(in0, out0, " << args.arguments
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "concat") {
    auto args = concatArgs(T, "moec_hk::index_t");
    os << args.declarations << "  moec_hk::concat<" << T << ">(" << args.arguments
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "slice") {
    auto args = sliceArgs("moec_hk::index_t");
    os << args.declarations << "  moec_hk::slice<" << T << ">(in0, out0, " << args.arguments
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "batch_matmul") {
    auto args = batchMatmulArgs("moec_hk::index_t");
    os << args.declarations << "  moec_hk::batch_matmul<" << T << ">(in0, in1, out0, "
       << args.arguments << ");\n  return 0;\n";
    return success();
  }
  if (k == "shape_of") {
    for (auto [i, d] : llvm::enumerate(specInts("dims")))
      os << "  out0[" << i << "] = " << (d < 0 ? std::string("T") : std::to_string(d)) << ";\n";
    os << "  return 0;\n";
    return success();
  }
  if (k == "moe_route") {
    auto s = shapeOf(op.getInputs()[0]);
    os << "  moec_hk::moe_route_softmax_topk<" << T << ">(in0, out0, out1, "
       << dimExpr(s[0]).str() << ", " << s[1] << ", " << specInt("k") << ", "
       << (specBool("normalize") ? "true" : "false") << ");\n  return 0;\n";
    return success();
  }
  if (k == "moe_route_sigmoid") {
    auto s = shapeOf(op.getInputs()[0]);
    os << "  moec_hk::moe_route_sigmoid<" << T << ">(in0, "
       << (specBool("has_bias") ? "in1" : "static_cast<const " + T + "*>(nullptr)")
       << ", out0, out1, " << dimExpr(s[0]).str() << ", " << s[1] << ", " << specInt("k") << ", "
       << specInt("groups") << ", " << specInt("topk_groups") << ", "
       << (specBool("normalize") ? "true" : "false") << ", "
       << floatLiteral(specFloat("scaling"), Float32Type::get(op.getContext())) << ");\n"
       << "  return 0;\n";
    return success();
  }
  if (k == "moe_experts")
    return moeExperts();
  return op.emitError() << "kernel '" << k << "' has no host implementation";
}

LogicalResult FunctionWriter::moeExperts() {
  std::string T = *elementType(op.getOutputs()[0]);
  auto fc2 = shapeOf(op.getInputs()[specBool("has_fc1_bias") ? 5 : 4]);
  auto ids = shapeOf(op.getInputs()[2]);
  std::string act = specStr("activation");
  std::string actEnum = act == "relu"     ? "Relu"
                        : act == "gelu"   ? "Gelu"
                        : act == "silu"   ? "Silu"
                        : act == "swiglu" ? "SwiGLU"
                                          : "Identity";
  // Inputs: x, weights, ids, fc1, [fc1_bias], fc2, [fc2_bias], [fc3], [fc3_bias].
  unsigned next = 3;
  auto take = [&](bool present) {
    return present ? "in" + std::to_string(next++) : std::string("nullptr");
  };
  std::string fc1 = take(true), fc1b = take(specBool("has_fc1_bias")), fc2p = take(true),
              fc2b = take(specBool("has_fc2_bias")), fc3 = take(specBool("has_fc3")),
              fc3b = take(specBool("has_fc3_bias"));
  // Quantized weights: the scales of fc1, fc2 (and fc3) follow the biases.
  std::string weightType = T, quantArgs;
  if (op.getSpec().get("quant_groups")) {
    ArrayRef<int64_t> groups = specInts("quant_groups");
    std::string s1 = take(true), s2 = take(true), s3 = take(specBool("has_fc3"));
    bool int4 = op.getSpec().get("quant_bits") && specInt("quant_bits") == 4;
    // The weights' element type tells fp8 from int8; one kernel reads one
    // format, so a mix (possible in a hand-made QDQ graph) is refused.
    unsigned fc2Index = 4 + specBool("has_fc1_bias");
    unsigned fc3Index = fc2Index + 1 + specBool("has_fc2_bias");
    bool fp8 = isFp8(op.getInputs()[3]);
    if (isFp8(op.getInputs()[fc2Index]) != fp8 ||
        (specBool("has_fc3") && isFp8(op.getInputs()[fc3Index]) != fp8))
      return op.emitError("expert weights mixing fp8 and int8 are not supported");
    weightType = int4 ? "moec_hk::int4x2" : fp8 ? "moec_hk::fp8_e4m3" : "int8_t";
    if (int4)
      for (std::string *w : {&fc1, &fc2p, &fc3})
        if (*w != "nullptr")
          *w = "reinterpret_cast<const moec_hk::int4x2*>(" + *w + ")";
    quantArgs = ", " + s1 + ", " + s2 + ", " + s3 + ", " + std::to_string(groups[0]) + ", " +
                std::to_string(groups[1]) + ", " + std::to_string(groups[2]);
  }
  os << "  moec_hk::MoEParams p;\n"
     << "  p.hidden = " << fc2[1] << ";\n  p.inter = "
     << (op.getSpec().get("inter") ? specInt("inter") : fc2[2]) << ";\n"
     << "  p.experts = " << fc2[0] << ";\n  p.k = " << ids[1] << ";\n"
     << "  p.act = moec_hk::Activation::" << actEnum << ";\n"
     << "  p.swiglu_fusion = " << specInt("swiglu_fusion") << ";\n"
     << "  p.alpha = " << floatLiteral(specFloat("alpha"), Float32Type::get(op.getContext()))
     << ";\n  p.beta = " << floatLiteral(specFloat("beta"), Float32Type::get(op.getContext()))
     << ";\n  p.limit = " << floatLiteral(specFloat("limit"), Float32Type::get(op.getContext()))
     << ";\n  p.normalize = false;\n"
     << "  return moec_hk::moe_experts<" << T << ", " << weightType << ">(in0, in1, in2, " << fc1
     << ", " << fc1b << ", " << fc2p << ", " << fc2b << ", " << fc3 << ", " << fc3b
     << ", out0, scratch, " << dimExpr(ids[0]).str() << ", p" << quantArgs << ");\n";
  return success();
}

// Elementwise: nested loops over the result shape, each input read through
// broadcast strides; when every input has the result's shape or one element,
// a single flat loop.
LogicalResult FunctionWriter::elementwise() {
  auto y = shapeOf(op.getOutputs()[0]);
  int64_t rank = y.size();
  Block &block = op.getBody().front();
  bool flat = true;
  for (Value in : op.getInputs()) {
    auto s = shapeOf(in);
    if (s != y && product(s).str() != "1")
      flat = false;
  }
  std::string indent = "  ";
  if (flat) {
    os << "  const int64_t n = " << product(y).str() << ";\n"
       << "  for (int64_t i = 0; i < n; ++i) {\n";
    indent = "    ";
  } else {
    for (int64_t d = 0; d < rank; ++d) {
      os << indent << "for (int64_t i" << d << " = 0; i" << d << " < " << dimExpr(y[d]).str()
         << "; ++i" << d << ") {\n";
      indent += "  ";
    }
    // Flat output index.
    std::string outIndex = "0";
    for (int64_t d = 0; d < rank; ++d)
      outIndex = "(" + outIndex + ") * (" + dimExpr(y[d]).str() + ") + i" + std::to_string(d);
    os << indent << "const int64_t i = " << (rank ? outIndex : "0") << ";\n";
  }
  llvm::DenseMap<Value, std::string> names;
  for (auto [idx, in] : llvm::enumerate(op.getInputs())) {
    auto s = shapeOf(in);
    std::string index;
    if (product(s).str() == "1")
      index = "0";
    else if (flat)
      index = "i";
    else {
      // Broadcast index: dims aligned from the right; size-1 dims do not move.
      index = "0";
      int64_t offset = rank - static_cast<int64_t>(s.size());
      for (size_t d = 0; d < s.size(); ++d)
        index = "(" + index + ") * (" + dimExpr(s[d]).str() + ") + " +
                (s[d] == 1 ? std::string("0") : "i" + std::to_string(d + offset));
    }
    std::string name = "a" + std::to_string(idx);
    os << indent << "const auto " << name << " = in" << idx << "[" << index << "];\n";
    names[block.getArgument(idx)] = name;
  }
  auto yielded = emitScalarBody(block, names, os, indent, CodeFlavor::Host);
  if (failed(yielded))
    return failure();
  os << indent << "out0[i] = " << *yielded << ";\n";
  if (flat) {
    os << "  }\n";
  } else {
    for (int64_t d = rank - 1; d >= 0; --d) {
      indent.resize(indent.size() - 2);
      os << indent << "}\n";
    }
  }
  os << "  return 0;\n";
  return success();
}

constexpr const char *kPrelude = R"cpp(#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

// Scalar functions used by elementwise bodies (the CUDA emitter's prelude
// defines the same names with device intrinsics).
template <class F> static inline F moec_inf() { return std::numeric_limits<F>::infinity(); }
template <class F> static inline F moec_nan() { return std::numeric_limits<F>::quiet_NaN(); }
// NaN-propagating max/min, as ONNX Max/Min/Relu require.
template <class F> static inline F moec_fmax(F a, F b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
template <class F> static inline F moec_fmin(F a, F b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
template <class I> static inline I moec_imax(I a, I b) { return a > b ? a : b; }
template <class I> static inline I moec_imin(I a, I b) { return a < b ? a : b; }
template <class F> static inline F moec_sqrt(F x) { return std::sqrt(x); }
template <class F> static inline F moec_exp(F x) { return std::exp(x); }
template <class F> static inline F moec_tanh(F x) { return std::tanh(x); }
template <class F> static inline F moec_erf(F x) { return std::erf(x); }
template <class F> static inline F moec_log(F x) { return std::log(x); }
template <class F> static inline F moec_cos(F x) { return std::cos(x); }
template <class F> static inline F moec_sin(F x) { return std::sin(x); }
template <class F> static inline F moec_pow(F x, F y) { return std::pow(x, y); }
template <class F> static inline F moec_fabs(F x) { return std::fabs(x); }

// ONNX Slice start normalization for one dim of size `dim`.
static inline int64_t moec_slice_start(int64_t start, int64_t dim, int64_t step) {
  if (start < 0) start = start < -dim ? 0 : start + dim;
  return step > 0 ? std::min(start, dim) : std::min(start, dim - 1);
}

)cpp";

} // namespace

namespace moec {

FailureOr<std::string> emitHostSource(ModuleOp module) {
  std::string source;
  llvm::raw_string_ostream os(source);
  std::string origin = "a model";
  if (auto src = module->getAttrOfType<StringAttr>("moec.source"))
    origin = src.str();
  os << "// Kernels for " << origin << ", target host. Generated by moec; do not edit.\n"
     << "#include \"" << kHostKernelHeaderName << "\"\n"
     << kPrelude;
  unsigned step = 0;
  bool ok = true;
  module.walk([&](kernel::LaunchOp launch) {
    std::string symbol = "moec_k" + std::to_string(step++) + "_" + launch.getKernel().str();
    launch->setAttr(kernel::kSymbolAttr, StringAttr::get(module.getContext(), symbol));
    if (failed(FunctionWriter(launch, symbol, os).write()))
      ok = false;
  });
  if (!ok)
    return failure();
  return source;
}

} // namespace moec
