//===- LaunchView.cpp - what both emitters read off a kernel.launch ---------===//
#include "compiler/codegen/LaunchView.h"

#include "compiler/codegen/CodegenUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace moec::codegen {

std::string LaunchView::describe() {
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

int64_t LaunchView::specInt(StringRef name) {
  return op.getSpec().getAs<IntegerAttr>(name).getInt();
}
bool LaunchView::specBool(StringRef name) {
  auto b = op.getSpec().getAs<BoolAttr>(name);
  return b && b.getValue();
}
ArrayRef<int64_t> LaunchView::specInts(StringRef name) {
  return op.getSpec().getAs<DenseI64ArrayAttr>(name).asArrayRef();
}
std::string LaunchView::specStr(StringRef name) {
  return op.getSpec().getAs<StringAttr>(name).str();
}
double LaunchView::specFloat(StringRef name) {
  return op.getSpec().getAs<FloatAttr>(name).getValueAsDouble();
}

std::string LaunchView::outerInnerAround(ArrayRef<int64_t> shape, int64_t axis) {
  return product(shape.take_front(axis)).str() + ", " + dimExpr(shape[axis]).str() + ", " +
         product(shape.drop_front(axis + 1)).str();
}

namespace {
std::string declare(StringRef type, StringRef name, ArrayRef<std::string> items) {
  return ("  const " + type + " " + name + "[] = " + arrayLiteral(items) + ";\n").str();
}
} // namespace

LaunchView::ArrayArgs LaunchView::sliceArgs(StringRef indexType) {
  auto s = inputShape(0), y = outputShape(0);
  auto value = [](int64_t v) {
    return v == ShapedType::kDynamic ? std::string("T") : std::to_string(v) + "LL";
  };
  std::vector<std::string> starts, steps;
  for (auto [i, start] : llvm::enumerate(specInts("starts"))) {
    int64_t step = specInts("steps")[i];
    // ONNX: negative starts count from the end, then clamp to the range the
    // step direction allows (moec_slice_start, in each emitter's prelude).
    starts.push_back(llvm::formatv("moec_slice_start({0}, {1}, {2})", value(start),
                                   dimExpr(s[i]).str(), step));
    steps.push_back(std::to_string(step));
  }
  ArrayArgs a;
  a.declarations = declare(indexType, "in_shape", shapeExprs(s)) +
                   declare(indexType, "starts", starts) + declare(indexType, "steps", steps) +
                   declare(indexType, "out_shape", shapeExprs(y));
  a.arguments = std::to_string(s.size()) + ", in_shape, starts, steps, out_shape";
  return a;
}

LaunchView::ArrayArgs LaunchView::batchMatmulArgs(StringRef indexType) {
  auto y = outputShape(0);
  // numpy promotion of vectors: [K] is [1, K] on the left, [K, 1] on the right.
  SmallVector<int64_t> as(inputShape(0)), bs(inputShape(1));
  if (as.size() == 1)
    as.insert(as.begin(), 1);
  if (bs.size() == 1)
    bs.push_back(1);
  size_t batchRank = std::max(as.size(), bs.size()) - 2;
  // Element stride of each (right-aligned) batch dim; 0 where broadcast.
  auto strides = [&](ArrayRef<int64_t> s) {
    std::vector<std::string> out(batchRank, "0");
    SizeExpr stride = product(s.take_back(2));
    size_t own = s.size() - 2;
    for (size_t i = 0; i < own; ++i) {
      size_t dim = own - 1 - i;
      if (s[dim] != 1)
        out[batchRank - 1 - i] = "(" + stride.str() + ")";
      SizeExpr d = dimExpr(s[dim]);
      stride.coefficient *= d.perToken ? 1 : d.coefficient;
      stride.perToken |= d.perToken;
    }
    return out;
  };
  std::vector<std::string> batchShape;
  for (size_t i = 0; i < batchRank; ++i)
    batchShape.push_back(dimExpr(y[i]).str());
  ArrayArgs a;
  a.declarations = declare(indexType, "batch_shape", batchShape) +
                   declare(indexType, "a_strides", strides(as)) +
                   declare(indexType, "b_strides", strides(bs));
  a.arguments = std::to_string(batchRank) + ", batch_shape, a_strides, b_strides, " +
                dimExpr(as[as.size() - 2]).str() + ", " + dimExpr(as.back()).str() + ", " +
                dimExpr(bs.back()).str();
  return a;
}

LaunchView::ArrayArgs LaunchView::reduceArgs(StringRef indexType) {
  auto s = inputShape(0);
  std::vector<std::string> reduced;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    reduced.push_back(llvm::is_contained(specInts("axes"), d) ? "true" : "false");
  ArrayArgs a;
  a.declarations = declare(indexType, "shape", shapeExprs(s)) + declare("bool", "reduced", reduced);
  a.arguments = std::to_string(s.size()) + ", shape, reduced";
  return a;
}

LaunchView::ArrayArgs LaunchView::transposeArgs(StringRef indexType) {
  auto s = inputShape(0);
  std::vector<std::string> perm;
  for (int64_t p : specInts("perm"))
    perm.push_back(std::to_string(p));
  ArrayArgs a;
  a.declarations = declare(indexType, "shape", shapeExprs(s)) + declare("int", "perm", perm);
  a.arguments = std::to_string(s.size()) + ", shape, perm";
  return a;
}

LaunchView::ArrayArgs LaunchView::elementsArgs(StringRef indexType) {
  auto s = inputShape(0);
  ArrayArgs a;
  a.declarations = declare(indexType, "data_shape", shapeExprs(s)) +
                   declare(indexType, "idx_shape", shapeExprs(inputShape(1)));
  a.arguments = std::to_string(s.size()) + ", data_shape, idx_shape, " +
                std::to_string(specInt("axis"));
  return a;
}

LaunchView::ArrayArgs LaunchView::concatArgs(StringRef elementType, StringRef indexType) {
  int64_t axis = specInt("axis");
  std::vector<std::string> inputs, lens;
  for (auto [i, v] : llvm::enumerate(op.getInputs())) {
    inputs.push_back("in" + std::to_string(i));
    lens.push_back(dimExpr(shapeOf(v)[axis]).str());
  }
  auto y = outputShape(0);
  ArrayArgs a;
  a.declarations = ("  const " + elementType + "* const inputs[] = " + arrayLiteral(inputs) +
                    ";\n").str() +
                   declare(indexType, "lens", lens);
  a.arguments = "inputs, lens, " + std::to_string(inputs.size()) + ", out0, " +
                product(y.take_front(axis)).str() + ", " + product(y.drop_front(axis + 1)).str();
  return a;
}

std::string LaunchView::reduceKind() {
  std::string kind = specStr("kind");
  return kind == "sum"    ? "Sum"
         : kind == "mean" ? "Mean"
         : kind == "max"  ? "Max"
         : kind == "min"  ? "Min"
                          : "Prod";
}

FailureOr<std::string> LaunchView::scatterReduction() {
  std::string r = specStr("reduction");
  if (r == "none") return std::string("None");
  if (r == "add") return std::string("Add");
  if (r == "mul") return std::string("Mul");
  if (r == "max") return std::string("Max");
  if (r == "min") return std::string("Min");
  return op.emitError()
             << "ScatterElements reduction '" << r << "' is not supported",
         failure();
}

FailureOr<LaunchView::RmsNormArgs> LaunchView::rmsNormArgs(bool cuda) {
  CodeFlavor flavor = cuda ? CodeFlavor::Cuda : CodeFlavor::Host;
  auto x = shapeOf(op.getInputs()[0]);
  int64_t axis = specInt("axis");
  bool hasScale = specBool("has_scale");
  // With a residual (moec-fuse-residual-norm): inputs x, residual [, scale],
  // outputs y, x + residual.
  bool residual = op.getSpec().get("has_residual") && specBool("has_residual");
  unsigned scaleIndex = residual ? 2 : 1;
  auto type = [&](Value v) {
    return cxxType(op, cast<ShapedType>(v.getType()).getElementType(), flavor);
  };
  auto in = type(op.getInputs()[0]), out = type(op.getOutputs()[0]);
  auto scale = hasScale ? type(op.getInputs()[scaleIndex]) : in;
  if (failed(in) || failed(out) || failed(scale))
    return failure();
  RmsNormArgs args;
  args.residual = residual;
  args.types = *in + ", " + *scale + ", " + *out;
  std::string scaleArg = hasScale ? "in" + std::to_string(scaleIndex)
                                  : "static_cast<const " + *scale + "*>(nullptr)";
  args.arguments = (residual ? "in0, in1, " : "in0, ") + scaleArg + ", out0, " +
                   (residual ? "out1, " : "") + product(x.take_front(axis)).str() + ", " +
                   product(x.drop_front(axis)).str() + ", " +
                   floatLiteral(specFloat("epsilon"), Float32Type::get(op.getContext()));
  return args;
}

// Operands (see LowerToKernel's lowerAttention):
//   attention_kv_append: key, value | packed qkv; past_key, past_value,
//     seqlens_k, total_len [, cos, sin] -> present_key, present_value
//   attention: query, present_key, present_value, seqlens_k, total_len
//     [, cos, sin] -> output
FailureOr<LaunchView::AttentionArgs> LaunchView::attentionArgs(bool cuda) {
  CodeFlavor flavor = cuda ? CodeFlavor::Cuda : CodeFlavor::Host;
  std::string ns = cuda ? "moec_ck" : "moec_hk";
  bool append = op.getKernel() == "attention_kv_append";
  bool packed = specBool("packed");
  int64_t heads = specInt("num_heads"), kvHeads = specInt("kv_heads");
  int64_t rotaryDim = specInt("rotary_dim");
  // The cache operand fixes batch, capacity and head size.
  Value cache = append ? op.getOutputs()[0] : op.getInputs()[1];
  auto cacheShape = shapeOf(cache);
  int64_t batch = cacheShape[0], capacity = cacheShape[2], headSize = cacheShape[3];
  Value tokens = op.getInputs()[0]; // [B, S, width]: query or key
  auto dataType = cxxType(op, cast<ShapedType>(cache.getType()).getElementType(), flavor);
  if (failed(dataType))
    return failure();
  std::string rotaryType = *dataType;
  unsigned firstRotary = append ? (packed ? 5 : 6) : 5;
  if (rotaryDim > 0) {
    auto t = cxxType(op, cast<ShapedType>(op.getInputs()[firstRotary].getType()).getElementType(),
                     flavor);
    if (failed(t))
      return failure();
    rotaryType = *t;
  }
  int64_t qWidth = heads * headSize, kvWidth = kvHeads * headSize;
  int64_t stride = packed ? qWidth + 2 * kvWidth : 0;
  AttentionArgs args;
  args.types = *dataType + ", " + rotaryType;
  llvm::raw_string_ostream d(args.declarations);
  d << "  " << ns << "::AttentionShape shape{};\n"
    << "  shape.batch = " << batch << ";\n"
    << "  shape.seq = " << dimExpr(shapeOf(tokens)[1]).str() << ";\n"
    << "  shape.num_heads = " << heads << ";\n"
    << "  shape.kv_heads = " << kvHeads << ";\n"
    << "  shape.head_dim = " << headSize << ";\n"
    << "  shape.capacity = " << capacity << ";\n"
    << "  shape.q_stride = " << (packed ? stride : qWidth) << ";\n"
    << "  shape.k_stride = " << (packed ? stride : kvWidth) << ";\n"
    << "  shape.v_stride = " << (packed ? stride : kvWidth) << ";\n"
    << "  shape.rotary_dim = " << rotaryDim << ";\n"
    << "  shape.rotary_rows = "
    << (rotaryDim > 0 ? shapeOf(op.getInputs()[firstRotary])[0] : 0) << ";\n"
    << "  shape.interleaved = " << (specBool("rotary_interleaved") ? "true" : "false") << ";\n"
    << "  shape.scale = " << floatLiteral(specFloat("scale"), Float32Type::get(op.getContext()))
    << ";\n"
    << "  shape.softcap = "
    << floatLiteral(specFloat("softcap"), Float32Type::get(op.getContext())) << ";\n"
    << "  shape.window = " << specInt("window") << ";\n";
  std::string nullRotary = "static_cast<const " + rotaryType + "*>(nullptr)";
  auto rotaryArgs = [&](unsigned first) {
    return rotaryDim > 0 ? "in" + std::to_string(first) + ", in" + std::to_string(first + 1)
                         : nullRotary + ", " + nullRotary;
  };
  if (append) {
    // Packed: key and value live in the query rows, after the N query heads.
    std::string key = packed ? "in0 + " + std::to_string(qWidth) : "in0";
    std::string value = packed ? "in0 + " + std::to_string(qWidth + kvWidth) : "in1";
    unsigned past = packed ? 1 : 2;
    args.arguments = key + ", " + value + ", in" + std::to_string(past) + ", in" +
                     std::to_string(past + 1) + ", in" + std::to_string(past + 2) + ", in" +
                     std::to_string(past + 3) + ", " + rotaryArgs(firstRotary) +
                     ", out0, out1, shape";
  } else {
    args.arguments = "in0, in1, in2, in3, in4, " + rotaryArgs(firstRotary) + ", out0, shape";
  }
  return args;
}

// Operands: input, positions, cos, sin -> output (see LowerToKernel).
FailureOr<LaunchView::AttentionArgs> LaunchView::rotaryArgs(bool cuda) {
  CodeFlavor flavor = cuda ? CodeFlavor::Cuda : CodeFlavor::Host;
  auto x = shapeOf(op.getInputs()[0]);
  auto data = cxxType(op, cast<ShapedType>(op.getInputs()[0].getType()).getElementType(), flavor);
  auto table = cxxType(op, cast<ShapedType>(op.getInputs()[2].getType()).getElementType(), flavor);
  if (failed(data) || failed(table))
    return failure();
  bool headsFirst = specBool("heads_first");
  int64_t head = specInt("head_size");
  AttentionArgs args;
  args.types = *data + ", " + *table;
  llvm::raw_string_ostream d(args.declarations);
  d << "  " << (cuda ? "moec_ck" : "moec_hk") << "::RotaryShape shape{};\n"
    << "  shape.batch = " << x[0] << ";\n"
    << "  shape.seq = " << dimExpr(x[headsFirst ? 2 : 1]).str() << ";\n"
    << "  shape.heads = " << (headsFirst ? x[1] : x[2] / head) << ";\n"
    << "  shape.head_size = " << head << ";\n"
    << "  shape.rotary_dim = " << specInt("rotary_dim") << ";\n"
    << "  shape.rows = " << shapeOf(op.getInputs()[2])[0] << ";\n"
    << "  shape.interleaved = " << (specBool("interleaved") ? "true" : "false") << ";\n"
    << "  shape.heads_first = " << (headsFirst ? "true" : "false") << ";\n"
    << "  shape.per_token = " << (specBool("per_token") ? "true" : "false") << ";\n";
  args.arguments = "in0, in1, in2, in3, out0, shape";
  return args;
}

} // namespace moec::codegen
