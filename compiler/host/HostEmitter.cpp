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

class FunctionWriter {
public:
  FunctionWriter(kernel::LaunchOp op, std::string symbol, llvm::raw_string_ostream &os)
      : op(op), symbol(std::move(symbol)), os(os) {}

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
  kernel::LaunchOp op;
  std::string symbol;
  llvm::raw_string_ostream &os;

  std::string describe() {
    std::string text;
    llvm::raw_string_ostream s(text);
    s << op.getKernel();
    if (auto name = dyn_cast<NameLoc>(op.getLoc()))
      s << " for node '" << name.getName().getValue() << "'";
    s << ": (";
    llvm::interleaveComma(op.getInputs().getTypes(), s);
    s << ") -> (";
    llvm::interleaveComma(op.getOutputs().getTypes(), s);
    s << ")";
    return text;
  }

  FailureOr<std::string> elementType(Value v) {
    return cxxType(op, cast<ShapedType>(v.getType()).getElementType());
  }
  ArrayRef<int64_t> shapeOf(Value v) { return cast<ShapedType>(v.getType()).getShape(); }
  DictionaryAttr spec() { return op.getSpec(); }
  int64_t specInt(StringRef name) { return spec().getAs<IntegerAttr>(name).getInt(); }
  bool specBool(StringRef name) {
    auto b = spec().getAs<BoolAttr>(name);
    return b && b.getValue();
  }
  ArrayRef<int64_t> specInts(StringRef name) {
    return spec().getAs<DenseI64ArrayAttr>(name).asArrayRef();
  }
  std::string specStr(StringRef name) { return spec().getAs<StringAttr>(name).str(); }
  double specFloat(StringRef name) { return spec().getAs<FloatAttr>(name).getValueAsDouble(); }

  // [outer, axis_len, inner] view of `shape` around `axis`.
  std::string outerInnerAround(ArrayRef<int64_t> shape, int64_t axis) {
    return product(shape.take_front(axis)).str() + ", " + dimExpr(shape[axis]).str() + ", " +
           product(shape.drop_front(axis + 1)).str();
  }

  LogicalResult missingSpec() {
    return op.emitError() << "kernel '" << op.getKernel() << "' has an incomplete spec "
                          << spec();
  }

  LogicalResult body();
  LogicalResult elementwise();
  LogicalResult batchMatmul();
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
  if (k == "linear") {
    auto x = shapeOf(op.getInputs()[0]);
    auto y = shapeOf(op.getOutputs()[0]);
    os << "  moec_hk::linear<" << T << ">(in0, in1, " << (specBool("has_bias") ? "in2" : "nullptr")
       << ", out0, " << product(x.drop_back()).str() << ", " << x.back() << ", " << y.back()
       << ", " << (specBool("transpose_weight") ? "true" : "false") << ");\n  return 0;\n";
    return success();
  }
  if (k == "batch_matmul")
    return batchMatmul();
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
    auto s = shapeOf(op.getInputs()[0]);
    std::vector<std::string> reduced;
    for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
      reduced.push_back(llvm::is_contained(specInts("axes"), d) ? "true" : "false");
    std::string kind = specStr("kind");
    std::string kindEnum = kind == "sum"    ? "Sum"
                           : kind == "mean" ? "Mean"
                           : kind == "max"  ? "Max"
                           : kind == "min"  ? "Min"
                                            : "Prod";
    os << "  const moec_hk::index_t shape[] = " << arrayLiteral(shapeExprs(s)) << ";\n"
       << "  const bool reduced[] = " << arrayLiteral(reduced) << ";\n"
       << "  moec_hk::reduce<" << T << ">(in0, out0, " << s.size()
       << ", shape, reduced, moec_hk::ReduceKind::" << kindEnum << ");\n  return 0;\n";
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
    auto s = shapeOf(op.getInputs()[0]);
    auto idxShape = shapeOf(op.getInputs()[1]);
    auto idx = elementType(op.getInputs()[1]);
    if (failed(idx))
      return failure();
    os << "  const moec_hk::index_t data_shape[] = " << arrayLiteral(shapeExprs(s)) << ";\n"
       << "  const moec_hk::index_t idx_shape[] = " << arrayLiteral(shapeExprs(idxShape)) << ";\n";
    if (k == "gather_elements") {
      os << "  return moec_hk::gather_elements<" << T << ", " << *idx
         << ">(in0, in1, out0, " << s.size() << ", data_shape, idx_shape, " << specInt("axis")
         << ");\n";
      return success();
    }
    std::string r = specStr("reduction");
    std::string rEnum = r == "add" ? "Add" : r == "mul" ? "Mul" : r == "max" ? "Max" : r == "min" ? "Min" : "None";
    if (r != "none" && rEnum == "None")
      return op.emitError() << "ScatterElements reduction '" << r << "' is not supported";
    os << "  return moec_hk::scatter_elements<" << T << ", " << *idx
       << ">(in0, in1, in2, out0, " << s.size() << ", data_shape, idx_shape, "
       << specInt("axis") << ", moec_hk::ScatterReduction::" << rEnum << ");\n";
    return success();
  }
  if (k == "transpose") {
    auto s = shapeOf(op.getInputs()[0]);
    std::vector<std::string> perm;
    for (int64_t p : specInts("perm"))
      perm.push_back(std::to_string(p));
    os << "  const moec_hk::index_t shape[] = " << arrayLiteral(shapeExprs(s)) << ";\n"
       << "  const int perm[] = " << arrayLiteral(perm) << ";\n"
       << "  moec_hk::transpose<" << T << ">(in0, out0, " << s.size()
       << ", shape, perm);\n  return 0;\n";
    return success();
  }
  if (k == "concat") {
    int64_t axis = specInt("axis");
    std::vector<std::string> inputs, lens;
    for (auto [i, v] : llvm::enumerate(op.getInputs())) {
      inputs.push_back("in" + std::to_string(i));
      lens.push_back(dimExpr(shapeOf(v)[axis]).str());
    }
    auto y = shapeOf(op.getOutputs()[0]);
    os << "  const " << T << "* const inputs[] = " << arrayLiteral(inputs) << ";\n"
       << "  const moec_hk::index_t lens[] = " << arrayLiteral(lens) << ";\n"
       << "  moec_hk::concat<" << T << ">(inputs, lens, " << inputs.size() << ", out0, "
       << product(y.take_front(axis)).str() << ", " << product(y.drop_front(axis + 1)).str()
       << ");\n  return 0;\n";
    return success();
  }
  if (k == "slice") {
    auto s = shapeOf(op.getInputs()[0]);
    auto y = shapeOf(op.getOutputs()[0]);
    auto value = [](int64_t v) {
      return v == ShapedType::kDynamic ? std::string("T") : std::to_string(v) + "LL";
    };
    std::vector<std::string> starts, steps;
    for (auto [i, start] : llvm::enumerate(specInts("starts"))) {
      int64_t step = specInts("steps")[i];
      // ONNX: negative starts count from the end, then clamp to the range
      // the step direction allows.
      starts.push_back(llvm::formatv("moec_slice_start({0}, {1}, {2})", value(start),
                                     dimExpr(s[i]).str(), step));
      steps.push_back(std::to_string(step));
    }
    os << "  const moec_hk::index_t in_shape[] = " << arrayLiteral(shapeExprs(s)) << ";\n"
       << "  const moec_hk::index_t starts[] = " << arrayLiteral(starts) << ";\n"
       << "  const moec_hk::index_t steps[] = " << arrayLiteral(steps) << ";\n"
       << "  const moec_hk::index_t out_shape[] = " << arrayLiteral(shapeExprs(y)) << ";\n"
       << "  moec_hk::slice<" << T << ">(in0, out0, " << s.size()
       << ", in_shape, starts, steps, out_shape);\n  return 0;\n";
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
  if (k == "moe_experts")
    return moeExperts();
  return op.emitError() << "kernel '" << k << "' has no host implementation";
}

LogicalResult FunctionWriter::batchMatmul() {
  auto a = shapeOf(op.getInputs()[0]), b = shapeOf(op.getInputs()[1]);
  auto y = shapeOf(op.getOutputs()[0]);
  std::string T = *elementType(op.getOutputs()[0]);
  // numpy promotion of vectors: [K] is [1, K] on the left, [K, 1] on the right.
  SmallVector<int64_t> as(a), bs(b);
  if (as.size() == 1)
    as.insert(as.begin(), 1);
  if (bs.size() == 1)
    bs.push_back(1);
  int64_t m = as[as.size() - 2], kk = as.back(), n = bs.back();
  size_t batchRank = std::max(as.size(), bs.size()) - 2;
  std::vector<std::string> batchShape, aStrides, bStrides;
  auto strides = [&](ArrayRef<int64_t> s, std::vector<std::string> &out) {
    // element stride of each broadcast batch dim (0 where broadcast)
    SizeExpr stride = product(s.take_back(2));
    std::vector<std::string> rev;
    size_t own = s.size() - 2;
    for (size_t i = 0; i < batchRank; ++i) {
      size_t dim = batchRank - 1 - i; // from the innermost batch dim out
      if (dim + own < batchRank) {
        rev.push_back("0");
        continue;
      }
      int64_t size = s[dim - (batchRank - own)];
      rev.push_back(size == 1 ? "0" : "(" + stride.str() + ")");
      SizeExpr d = dimExpr(size);
      stride.coefficient *= d.perToken ? 1 : d.coefficient;
      stride.perToken |= d.perToken;
    }
    out.assign(rev.rbegin(), rev.rend());
  };
  strides(as, aStrides);
  strides(bs, bStrides);
  for (size_t i = 0; i < batchRank; ++i)
    batchShape.push_back(dimExpr(y[i]).str());
  os << "  const moec_hk::index_t batch_shape[] = " << arrayLiteral(batchShape) << ";\n"
     << "  const moec_hk::index_t a_strides[] = " << arrayLiteral(aStrides) << ";\n"
     << "  const moec_hk::index_t b_strides[] = " << arrayLiteral(bStrides) << ";\n"
     << "  moec_hk::batch_matmul<" << T << ">(in0, in1, out0, " << batchRank
     << ", batch_shape, a_strides, b_strides, " << dimExpr(m).str() << ", " << dimExpr(kk).str()
     << ", " << dimExpr(n).str() << ");\n  return 0;\n";
  return success();
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
  os << "  moec_hk::MoEParams p;\n"
     << "  p.hidden = " << fc2[1] << ";\n  p.inter = " << fc2[2] << ";\n"
     << "  p.experts = " << fc2[0] << ";\n  p.k = " << ids[1] << ";\n"
     << "  p.act = moec_hk::Activation::" << actEnum << ";\n"
     << "  p.swiglu_fusion = " << specInt("swiglu_fusion") << ";\n"
     << "  p.alpha = " << floatLiteral(specFloat("alpha"), Float32Type::get(op.getContext()))
     << ";\n  p.beta = " << floatLiteral(specFloat("beta"), Float32Type::get(op.getContext()))
     << ";\n  p.limit = " << floatLiteral(specFloat("limit"), Float32Type::get(op.getContext()))
     << ";\n  p.normalize = false;\n"
     << "  return moec_hk::moe_experts<" << T << ">(in0, in1, in2, " << fc1 << ", " << fc1b
     << ", " << fc2p << ", " << fc2b << ", " << fc3 << ", " << fc3b << ", out0, scratch, "
     << dimExpr(ids[0]).str() << ", p);\n";
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
