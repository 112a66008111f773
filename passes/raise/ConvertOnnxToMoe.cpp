//===- ConvertOnnxToMoe.cpp - onnx dialect to moe dialect -------------------===//
//
// The rewrite that gives the optimizing passes something to work on:
//   - com.microsoft.MoE       -> moe.router + moe.experts
//   - com.microsoft.GroupQueryAttention -> moe.attention
//   - com.microsoft.RotaryEmbedding -> moe.rotary
//   - MatMul/Gemm by a constant matrix -> moe.linear (other MatMuls: moe.matmul)
//   - elementwise ops         -> single-op moe.elementwise regions
//   - Identity                -> its input
// Every other op stays in the onnx dialect; the lowering to kernels handles
// it directly. Forms moec cannot run are reported here, at the node.
//
//===----------------------------------------------------------------------===//

#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/raise/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <cmath>
#include <limits>

namespace moec {
#define GEN_PASS_DEF_MOECCONVERTONNXTOMOE
#include "passes/raise/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

Type elementTypeOf(Value v) { return cast<ShapedType>(v.getType()).getElementType(); }

bool isFloat(Type t) { return isa<FloatType>(t); }

// Scalar constant of `type` holding `value`.
Value scalarConstant(OpBuilder &b, Location loc, Type type, double value) {
  if (isFloat(type))
    return arith::ConstantOp::create(b, loc, FloatAttr::get(type, value));
  return arith::ConstantOp::create(b, loc, IntegerAttr::get(type, static_cast<int64_t>(value)));
}

// Builds the scalar computation of one ONNX elementwise op. Returns null
// (after reporting) if the op/type combination is not supported.
Value buildScalar(Operation *op, OpBuilder &b, ValueRange args, Type resultType) {
  Location loc = op->getLoc();
  StringRef type = moec::onnxOpType(op);
  Type argType = args.empty() ? resultType : args[0].getType();
  bool fp = isFloat(argType);
  auto unsupported = [&]() -> Value {
    op->emitError() << "op '" << type << "' on " << argType
                    << " elements is not supported";
    return {};
  };
  auto binary = [&](auto makeFloat, auto makeInt) -> Value {
    Value acc = args[0];
    for (Value next : args.drop_front())
      acc = fp ? makeFloat(acc, next) : makeInt(acc, next);
    return acc;
  };

  if (type == "Add")
    return binary([&](Value x, Value y) -> Value { return arith::AddFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::AddIOp::create(b, loc, x, y); });
  if (type == "Sub")
    return binary([&](Value x, Value y) -> Value { return arith::SubFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::SubIOp::create(b, loc, x, y); });
  if (type == "Mul")
    return binary([&](Value x, Value y) -> Value { return arith::MulFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::MulIOp::create(b, loc, x, y); });
  if (type == "Div")
    return binary([&](Value x, Value y) -> Value { return arith::DivFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::DivSIOp::create(b, loc, x, y); });
  if (type == "Max")
    return binary([&](Value x, Value y) -> Value { return arith::MaximumFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::MaxSIOp::create(b, loc, x, y); });
  if (type == "Min")
    return binary([&](Value x, Value y) -> Value { return arith::MinimumFOp::create(b, loc, x, y); },
                  [&](Value x, Value y) -> Value { return arith::MinSIOp::create(b, loc, x, y); });
  if (type == "Pow") {
    if (!fp)
      return unsupported();
    if (args[1].getType() != argType) {
      op->emitError() << "op 'Pow' with a " << args[1].getType() << " exponent on " << argType
                      << " elements is not supported (the exponent must have the base's type)";
      return {};
    }
    return math::PowFOp::create(b, loc, args[0], args[1]);
  }
  if (type == "Equal" || type == "Less" || type == "Greater" || type == "LessOrEqual" ||
      type == "GreaterOrEqual") {
    // Ordered float predicates: a comparison with NaN is false, as in ONNX.
    if (fp) {
      auto pred = type == "Equal"         ? arith::CmpFPredicate::OEQ
                  : type == "Less"        ? arith::CmpFPredicate::OLT
                  : type == "Greater"     ? arith::CmpFPredicate::OGT
                  : type == "LessOrEqual" ? arith::CmpFPredicate::OLE
                                          : arith::CmpFPredicate::OGE;
      return arith::CmpFOp::create(b, loc, pred, args[0], args[1]);
    }
    auto pred = type == "Equal"         ? arith::CmpIPredicate::eq
                : type == "Less"        ? arith::CmpIPredicate::slt
                : type == "Greater"     ? arith::CmpIPredicate::sgt
                : type == "LessOrEqual" ? arith::CmpIPredicate::sle
                                        : arith::CmpIPredicate::sge;
    return arith::CmpIOp::create(b, loc, pred, args[0], args[1]);
  }
  if (type == "And")
    return arith::AndIOp::create(b, loc, args[0], args[1]);
  if (type == "Or")
    return arith::OrIOp::create(b, loc, args[0], args[1]);
  if (type == "Not")
    return arith::XOrIOp::create(b, loc, args[0], scalarConstant(b, loc, argType, 1));
  // Unordered "not equal" of x with itself: true exactly for NaN.
  if (type == "IsNaN")
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, args[0], args[0]);
  if (type == "Where")
    return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
  if (type == "Clip") {
    // min(max(x, lo), hi) as ONNX defines it (hi wins when lo > hi; NaN stays
    // NaN); the body's inputs are x and the bounds that are present.
    Value acc = args[0];
    unsigned next = 1;
    for (unsigned slot : {1u, 2u}) {
      if (!moec::getOnnxInput(op, slot))
        continue;
      Value bound = args[next++];
      bool lower = slot == 1;
      acc = fp ? (lower ? Value(arith::MaximumFOp::create(b, loc, acc, bound))
                        : Value(arith::MinimumFOp::create(b, loc, acc, bound)))
               : (lower ? Value(arith::MaxSIOp::create(b, loc, acc, bound))
                        : Value(arith::MinSIOp::create(b, loc, acc, bound)));
    }
    return acc;
  }
  if (type == "Expand")
    return args[0];

  // Unary float ops.
  if (type == "Neg")
    return fp ? Value(arith::NegFOp::create(b, loc, args[0]))
              : Value(arith::SubIOp::create(b, loc, scalarConstant(b, loc, argType, 0), args[0]));
  if (type == "Abs")
    return fp ? Value(math::AbsFOp::create(b, loc, args[0]))
              : Value(math::AbsIOp::create(b, loc, args[0]));
  if (type == "Relu")
    return fp ? Value(arith::MaximumFOp::create(b, loc, args[0], scalarConstant(b, loc, argType, 0)))
              : Value(arith::MaxSIOp::create(b, loc, args[0], scalarConstant(b, loc, argType, 0)));
  if (!fp && (type == "Sqrt" || type == "Exp" || type == "Sigmoid" || type == "Tanh" ||
              type == "Erf" || type == "Gelu" || type == "Log" || type == "Reciprocal" ||
              type == "Cos" || type == "Sin"))
    return unsupported();
  if (type == "Gelu") {
    // x * Phi(x) in the form the node asks for; 0.5 * x * (1 + inner).
    Value x = args[0], inner;
    if (moec::getStringAttr(op, "approximate", "none") == "tanh") {
      Value cube = arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, x, x), x);
      Value poly = arith::AddFOp::create(
          b, loc, x,
          arith::MulFOp::create(b, loc, scalarConstant(b, loc, argType, 0.044715), cube));
      inner = math::TanhOp::create(
          b, loc,
          arith::MulFOp::create(b, loc,
                                scalarConstant(b, loc, argType, 0.7978845608028654), poly));
    } else {
      inner = math::ErfOp::create(
          b, loc,
          arith::MulFOp::create(b, loc, x,
                                scalarConstant(b, loc, argType, 0.7071067811865476)));
    }
    Value onePlus = arith::AddFOp::create(b, loc, scalarConstant(b, loc, argType, 1), inner);
    Value half = arith::MulFOp::create(b, loc, scalarConstant(b, loc, argType, 0.5), x);
    return arith::MulFOp::create(b, loc, half, onePlus);
  }
  if (type == "Sqrt")
    return math::SqrtOp::create(b, loc, args[0]);
  if (type == "Exp")
    return math::ExpOp::create(b, loc, args[0]);
  if (type == "Tanh")
    return math::TanhOp::create(b, loc, args[0]);
  if (type == "Erf")
    return math::ErfOp::create(b, loc, args[0]);
  if (type == "Cos")
    return math::CosOp::create(b, loc, args[0]);
  if (type == "Sin")
    return math::SinOp::create(b, loc, args[0]);
  if (type == "Log")
    return math::LogOp::create(b, loc, args[0]);
  if (type == "Reciprocal")
    return arith::DivFOp::create(b, loc, scalarConstant(b, loc, argType, 1), args[0]);
  if (type == "Sigmoid") {
    // 1 / (1 + exp(-x)); the emitters may pick a faster equivalent form.
    Value negated = arith::NegFOp::create(b, loc, args[0]);
    Value e = math::ExpOp::create(b, loc, negated);
    Value denom = arith::AddFOp::create(b, loc, scalarConstant(b, loc, argType, 1), e);
    return arith::DivFOp::create(b, loc, scalarConstant(b, loc, argType, 1), denom);
  }
  if (type == "Cast") {
    Value x = args[0];
    Type from = argType, to = resultType;
    if (from == to)
      return x;
    if (to.isInteger(1)) // nonzero -> true
      return fp ? Value(arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x,
                                                scalarConstant(b, loc, from, 0)))
                : Value(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x,
                                                scalarConstant(b, loc, from, 0)));
    if (isFloat(from) && isFloat(to))
      return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
                 ? Value(arith::ExtFOp::create(b, loc, to, x))
                 : Value(arith::TruncFOp::create(b, loc, to, x));
    if (isFloat(from))
      return arith::FPToSIOp::create(b, loc, to, x);
    bool fromBool = from.isInteger(1);
    if (isFloat(to))
      return fromBool ? Value(arith::UIToFPOp::create(b, loc, to, x))
                      : Value(arith::SIToFPOp::create(b, loc, to, x));
    unsigned fromBits = from.getIntOrFloatBitWidth(), toBits = to.getIntOrFloatBitWidth();
    if (fromBits < toBits)
      return fromBool ? Value(arith::ExtUIOp::create(b, loc, to, x))
                      : Value(arith::ExtSIOp::create(b, loc, to, x));
    return arith::TruncIOp::create(b, loc, to, x);
  }
  return {};
}

bool isElementwiseType(StringRef type) {
  static const char *const kTypes[] = {
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Clip", "Equal", "Less",
      "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "IsNaN", "Where", "Expand",
      "Neg", "Abs", "Relu", "Sqrt", "Exp", "Tanh", "Erf", "Cos", "Sin", "Gelu", "Log",
      "Reciprocal", "Sigmoid", "Cast"};
  return llvm::is_contained(kTypes, type);
}

// An onnx.Constant with the value of `op`'s integer result when the onnx
// dialect knows it at compile time (all static, no T), else null.
Value foldKnownInts(OpBuilder &b, Operation *op) {
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  auto element = type ? dyn_cast<IntegerType>(type.getElementType()) : IntegerType();
  if (!element || element.getWidth() < 8 || !type.hasStaticShape() ||
      op->getNumOperands() == 0)
    return {};
  auto known = moec::getKnownInts(op->getResult(0));
  if (!known || static_cast<int64_t>(known->size()) != type.getNumElements() ||
      llvm::any_of(*known, ShapedType::isDynamic))
    return {};
  SmallVector<APInt> values;
  for (int64_t v : *known)
    values.push_back(APInt(element.getWidth(), static_cast<uint64_t>(v), /*isSigned=*/true));
  return moec::onnx::ConstantOp::create(b, op->getLoc(), type, DenseElementsAttr::get(type, values))
      .getOutput();
}

// Lowers an elementwise onnx op; Expand's shape input is compile-time and
// dropped, ConstantOfShape becomes a body with no inputs.
LogicalResult convertElementwise(Operation *op) {
  StringRef type = moec::onnxOpType(op);
  Type resultType = op->getResult(0).getType();
  Type resultElement = cast<ShapedType>(resultType).getElementType();
  SmallVector<Value> inputs;
  if (type == "Expand")
    inputs.push_back(op->getOperand(0));
  else if (type != "ConstantOfShape")
    inputs.append(op->operand_begin(), op->operand_end());

  // arith's integer ops work on signless integers only and moec has no
  // unsigned arithmetic yet: refuse it here, with moec's message, rather
  // than build IR that fails verification.
  auto isUnsigned = [](Type t) {
    auto i = dyn_cast<IntegerType>(getElementTypeOrSelf(t));
    return i && i.isUnsigned();
  };
  for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
    if (isUnsigned(v.getType()))
      return op->emitError() << "op '" << type << "' on " << getElementTypeOrSelf(v.getType())
                             << " elements is not supported (unsigned integers)";

  OpBuilder builder(op);
  // Integer arithmetic on compile-time values (shape computations such as
  // head_dim / 2 feeding a Slice) stays a constant, so the lowering can still
  // read the value where it is a compile-time operand.
  if (auto folded = foldKnownInts(builder, op)) {
    op->getResult(0).replaceAllUsesWith(folded);
    op->erase();
    return success();
  }
  auto ew = moe::ElementwiseOp::create(builder, op->getLoc(), resultType, inputs);
  Block &block = ew.getBody().front();
  OpBuilder body = OpBuilder::atBlockEnd(&block);
  Value scalar;
  if (type == "ConstantOfShape") {
    double fill = 0.0;
    if (auto value = op->getAttrOfType<ElementsAttr>("value"))
      fill = moec::getElementAsDouble(value, 0).value_or(0.0);
    scalar = scalarConstant(body, op->getLoc(), resultElement, fill);
  } else {
    scalar = buildScalar(op, body, block.getArguments(), resultElement);
  }
  if (!scalar) {
    ew.erase();
    return failure();
  }
  moe::YieldOp::create(body, op->getLoc(), scalar);
  op->getResult(0).replaceAllUsesWith(ew.getOutput());
  op->erase();
  return success();
}

// A weight: a constant, or a quantized constant (moe.dequantize).
bool isWeight(Value v) {
  return moec::getConstantElements(v) || v.getDefiningOp<moe::DequantizeOp>();
}

// The constant [N, K] matrix whose transpose `v` is (torch exports a
// Linear's weight as Transpose(W) feeding MatMul), or null.
Value transposedWeight(Value v) {
  Operation *transpose = v.getDefiningOp();
  if (!transpose || !transpose->getDialect() ||
      transpose->getDialect()->getNamespace() != "onnx" ||
      moec::onnxOpType(transpose) != "Transpose")
    return {};
  Value w = transpose->getOperand(0);
  auto type = dyn_cast<RankedTensorType>(w.getType());
  auto perm = moec::getIntsAttr(transpose, "perm");
  bool swaps = !perm || (perm->size() == 2 && (*perm)[0] == 1 && (*perm)[1] == 0);
  return isWeight(w) && type && type.getRank() == 2 && swaps ? w : Value();
}

// MatMul(A, B): a constant rank-2 B is a linear layer's weight, and so is
// the transpose of one (read as [N, K], no transpose at run time).
void convertMatMul(Operation *op) {
  OpBuilder builder(op);
  Value a = op->getOperand(0), b = op->getOperand(1);
  auto bType = cast<ShapedType>(b.getType());
  Value result;
  if (isWeight(b) && bType.getRank() == 2)
    result = moe::LinearOp::create(builder, op->getLoc(), op->getResult(0).getType(),
                                           a, b, Value(), false);
  else if (Value w = transposedWeight(b))
    result = moe::LinearOp::create(builder, op->getLoc(), op->getResult(0).getType(), a, w,
                                   Value(), true);
  else
    result = moe::MatMulOp::create(builder, op->getLoc(), op->getResult(0).getType(), a, b);
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

// Gemm(A, B, C) = alpha·A'·B' + beta·C with a constant B: moe.linear, then
// an elementwise op for alpha/beta/C unless C is a plain [N] bias.
LogicalResult convertGemm(Operation *op) {
  Value a = moec::getOnnxInput(op, 0), b = moec::getOnnxInput(op, 1),
        c = moec::getOnnxInput(op, 2);
  double alpha = moec::getFloatAttr(op, "alpha", 1.0);
  double beta = moec::getFloatAttr(op, "beta", 1.0);
  bool transA = moec::getIntAttr(op, "transA", 0) != 0;
  bool transB = moec::getIntAttr(op, "transB", 0) != 0;
  if (transA || !isWeight(b))
    return op->emitError() << "op 'Gemm' with transA = 1 or a non-constant B is "
                              "not supported yet";
  OpBuilder builder(op);
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t n = resultType.getDimSize(1);
  Value bias;
  if (c && alpha == 1.0 && beta == 1.0 &&
      cast<ShapedType>(c.getType()).getShape() == ArrayRef<int64_t>{n})
    bias = c;
  Value y = moe::LinearOp::create(builder, op->getLoc(), resultType, a, b, bias, transB);
  if (!bias && (alpha != 1.0 || c)) {
    SmallVector<Value> inputs{y};
    if (c && beta != 0.0)
      inputs.push_back(c);
    auto ew = moe::ElementwiseOp::create(builder, op->getLoc(), resultType, inputs);
    Block &block = ew.getBody().front();
    OpBuilder body = OpBuilder::atBlockEnd(&block);
    Type et = resultType.getElementType();
    Value acc = block.getArgument(0);
    if (alpha != 1.0)
      acc = arith::MulFOp::create(body, op->getLoc(), acc, scalarConstant(body, op->getLoc(), et, alpha));
    if (inputs.size() == 2) {
      Value cv = block.getArgument(1);
      if (beta != 1.0)
        cv = arith::MulFOp::create(body, op->getLoc(), cv, scalarConstant(body, op->getLoc(), et, beta));
      acc = arith::AddFOp::create(body, op->getLoc(), acc, cv);
    }
    moe::YieldOp::create(body, op->getLoc(), acc);
    y = ew.getOutput();
  }
  op->getResult(0).replaceAllUsesWith(y);
  op->erase();
  return success();
}

// router_probs = ScatterElements(fill <= -1e30, ids, Log(w)) over the rows
// of a moe.router's (w, ids): how a graph hands precomputed routing (e.g.
// DeepSeek's sigmoid router, raised by moec-raise-sigmoid-router) to
// com.microsoft.MoE, whose softmax then yields w / sum(w) on the k experts
// and exactly 0 elsewhere. Returns that router, or null.
moe::RouterOp routerBehindLogScatter(Value logits, int64_t k) {
  Operation *scatter = logits.getDefiningOp();
  if (!scatter || moec::onnxOpType(scatter) != "ScatterElements" ||
      scatter->getDialect()->getNamespace() != "onnx")
    return {};
  int64_t axis = moec::getIntAttr(scatter, "axis", 0);
  if ((axis != 1 && axis != -1) || moec::getStringAttr(scatter, "reduction", "none") != "none")
    return {};
  auto router = scatter->getOperand(1).getDefiningOp<moe::RouterOp>();
  Operation *log = scatter->getOperand(2).getDefiningOp();
  if (!router || router.getK() != k || scatter->getOperand(1) != router.getExpertIds() || !log ||
      moec::onnxOpType(log) != "Log" || log->getOperand(0) != router.getWeights())
    return {};
  // The fill: ConstantOfShape of, or a constant of, values <= -1e30.
  Operation *fill = scatter->getOperand(0).getDefiningOp();
  bool fromShape = fill && moec::onnxOpType(fill) == "ConstantOfShape";
  ElementsAttr value = fromShape ? fill->getAttrOfType<ElementsAttr>("value")
                                 : moec::getConstantElements(scatter->getOperand(0));
  if (!value || value.getNumElements() < 1)
    return {};
  for (int64_t i = 0; i < value.getNumElements(); ++i) {
    auto x = moec::getElementAsDouble(value, i);
    if (!x || !(*x <= -1e30))
      return {};
  }
  return router;
}

// com.microsoft.MoE -> moe.router + moe.experts.
LogicalResult convertMoE(Operation *op) {
  auto fail = [&](const Twine &what) { return op->emitError() << "op 'MoE': " << what; };
  Value input = moec::getOnnxInput(op, 0), logits = moec::getOnnxInput(op, 1);
  Value fc1 = moec::getOnnxInput(op, 2), fc1Bias = moec::getOnnxInput(op, 3);
  Value fc2 = moec::getOnnxInput(op, 4), fc2Bias = moec::getOnnxInput(op, 5);
  Value fc3 = moec::getOnnxInput(op, 6), fc3Bias = moec::getOnnxInput(op, 7);
  if (!input || !logits || !fc1 || !fc2)
    return fail("input, router_probs, fc1_experts_weights and fc2_experts_weights are required");
  if (moec::getIntAttr(op, "use_sparse_mixer", 0) != 0)
    return fail("use_sparse_mixer = 1 is not supported yet");
  if (moec::getIntAttr(op, "swiglu_limit_after_activation", 0) != 0)
    return fail("swiglu_limit_after_activation = 1 is not supported yet");
  auto inputType = cast<RankedTensorType>(input.getType());
  // (batch, seq, hidden), as decoders export it, is (batch * seq, hidden)
  // rows; with one batch row that is (T, hidden) and the reshape is free of
  // token arithmetic.
  RankedTensorType rank3Type;
  if (inputType.getRank() == 3 && inputType.getDimSize(0) == 1) {
    rank3Type = inputType;
    inputType = RankedTensorType::get({inputType.getDimSize(1), inputType.getDimSize(2)},
                                      inputType.getElementType());
  }
  if (inputType.getRank() != 2) {
    std::string type;
    llvm::raw_string_ostream(type) << input.getType();
    return fail("an input of type " + type +
                " is not supported; moec expects (tokens, hidden) or (1, tokens, hidden)");
  }
  for (Value w : {fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias})
    if (w && !isWeight(w))
      return fail("expert weights and biases must be initializers (compile-time constants)");
  int64_t hidden = inputType.getDimSize(1);
  auto fc1Type = cast<RankedTensorType>(fc1.getType());
  if (fc1Type.getRank() == 3 && fc1Type.getDimSize(2) != hidden &&
      fc1Type.getDimSize(1) == hidden)
    return fail("fc1_experts_weights is in the older (experts, hidden, inter) layout; "
                "moec reads the (experts, inter, hidden) layout of current onnxruntime");

  std::string activation = moec::getStringAttr(op, "activation_type", "relu");
  int64_t k = moec::getIntAttr(op, "k", 1);
  bool normalize = moec::getIntAttr(op, "normalize_routing_weights", 0) != 0;
  int64_t fusion = moec::getIntAttr(op, "swiglu_fusion", 0);
  double alpha = moec::getFloatAttr(op, "activation_alpha", 1.0);
  double beta = moec::getFloatAttr(op, "activation_beta", 0.0);
  double limit = moec::getFloatAttr(op, "swiglu_limit", std::numeric_limits<double>::infinity());
  if (activation != "swiglu")
    fusion = 0;

  auto logitsType = cast<RankedTensorType>(logits.getType());
  if (logitsType.getRank() != 2 || logitsType.getDimSize(1) != fc1Type.getDimSize(0))
    return fail("router_probs must be (tokens, experts) with experts = " +
                Twine(fc1Type.getDimSize(0)));
  if (k < 1 || k > logitsType.getDimSize(1))
    return fail("k = " + Twine(k) + " is outside [1, experts]");

  OpBuilder builder(op);
  Location loc = op->getLoc();
  MLIRContext *ctx = op->getContext();
  auto reshape = [&](Value value, RankedTensorType to) -> Value {
    auto shapeType = RankedTensorType::get({to.getRank()}, builder.getI64Type());
    SmallVector<int64_t> dims(to.getShape());
    for (int64_t &d : dims)
      if (ShapedType::isDynamic(d))
        d = -1;
    Value shape = moec::onnx::ConstantOp::create(builder, loc, shapeType,
                                                 DenseIntElementsAttr::get(shapeType, dims));
    return moec::onnx::ReshapeOp::create(builder, loc, to, value, shape).getReshaped();
  };
  if (rank3Type)
    input = reshape(input, inputType);
  int64_t tokens = inputType.getDimSize(0);
  auto weightsType = RankedTensorType::get({tokens, k}, inputType.getElementType());
  auto idsType = RankedTensorType::get({tokens, k}, IntegerType::get(ctx, 64));
  moe::RouterOp router;
  if (auto routed = routerBehindLogScatter(logits, k)) {
    // The MoE's softmax renormalizes the routed weights (any scale cancels):
    // the same router with normalize and no scaling.
    router = cast<moe::RouterOp>(builder.clone(*routed));
    router.setNormalize(true);
    router.setScalingAttr(builder.getF32FloatAttr(1.0f));
    weightsType = cast<RankedTensorType>(router.getWeights().getType());
  } else {
    router = moe::RouterOp::create(builder, loc, weightsType, idsType, logits,
                                   builder.getI64IntegerAttr(k), builder.getBoolAttr(normalize),
                                   builder.getStringAttr("softmax"));
  }
  auto experts = moe::ExpertsOp::create(builder, 
      loc, inputType, input, router.getWeights(), router.getExpertIds(),
      fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias, builder.getStringAttr(activation),
      builder.getI64IntegerAttr(fusion), builder.getF32FloatAttr(alpha),
      builder.getF32FloatAttr(beta), builder.getF32FloatAttr(static_cast<float>(limit)));
  if (failed(mlir::verify(experts)))
    return failure();
  Value output = experts.getOutput();
  if (rank3Type)
    output = reshape(output, rank3Type);
  op->getResult(0).replaceAllUsesWith(output);
  op->erase();
  return success();
}

// com.microsoft.GroupQueryAttention (fixed-capacity cache form; the op's
// verifier refused every other form at import) -> moe.attention.
LogicalResult convertGroupQueryAttention(Operation *op) {
  auto gqa = cast<moec::onnx::MsGroupQueryAttentionOp>(op);
  int64_t headSize = gqa.getHeadSizeOrDynamic();
  if (ShapedType::isDynamic(headSize))
    return op->emitError() << "op 'GroupQueryAttention': the head size is not known";
  // onnxruntime treats a scale of 0 as "not given".
  double scale = gqa.getScale() ? gqa.getScale()->convertToDouble() : 0.0;
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(headSize));
  int64_t window = static_cast<int64_t>(gqa.getLocalWindowSize());
  auto pastType = cast<RankedTensorType>(gqa.getPastKey().getType());
  auto queryType = cast<RankedTensorType>(gqa.getQuery().getType());
  int64_t heads = static_cast<int64_t>(gqa.getNumHeads());
  OpBuilder builder(op);
  auto outputType = RankedTensorType::get(
      {queryType.getDimSize(0), queryType.getDimSize(1), heads * headSize},
      queryType.getElementType());
  auto attention = moe::AttentionOp::create(
      builder, op->getLoc(), outputType, pastType, pastType, gqa.getQuery(), gqa.getKey(),
      gqa.getValue(), gqa.getPastKey(), gqa.getPastValue(), gqa.getSeqlensK(),
      gqa.getTotalSequenceLength(), gqa.getCosCache(), gqa.getSinCache(),
      builder.getI64IntegerAttr(heads),
      builder.getI64IntegerAttr(static_cast<int64_t>(gqa.getKvNumHeads())),
      builder.getF32FloatAttr(static_cast<float>(scale)),
      builder.getF32FloatAttr(gqa.getSoftcap().convertToFloat()),
      builder.getI64IntegerAttr(window > 0 ? window : 0),
      builder.getBoolAttr(static_cast<int64_t>(gqa.getRotaryInterleaved()) != 0));
  if (failed(mlir::verify(attention)))
    return failure();
  for (unsigned i = 0; i < op->getNumResults(); ++i)
    op->getResult(i).replaceAllUsesWith(attention->getResult(i));
  op->erase();
  return success();
}

// com.microsoft.RotaryEmbedding -> moe.rotary (the head size resolved from
// num_heads or the cos cache, as onnxruntime does).
LogicalResult convertRotaryEmbedding(Operation *op) {
  auto rope = cast<moec::onnx::MsRotaryEmbeddingOp>(op);
  auto dims = rope.getHeadAndRotaryDims();
  if (failed(dims))
    return failure();
  auto inputType = cast<RankedTensorType>(rope.getInput().getType());
  OpBuilder builder(op);
  auto rotary = moe::RotaryOp::create(
      builder, op->getLoc(), inputType, rope.getInput(), rope.getPositionIds(),
      rope.getCosCache(), rope.getSinCache(), builder.getI64IntegerAttr(dims->first),
      builder.getI64IntegerAttr(dims->second),
      builder.getBoolAttr(static_cast<int64_t>(rope.getInterleaved()) != 0),
      builder.getBoolAttr(inputType.getRank() == 4));
  if (failed(mlir::verify(rotary)))
    return failure();
  op->getResult(0).replaceAllUsesWith(rotary.getOutput());
  op->erase();
  return success();
}

struct ConvertOnnxToMoePass
    : moec::impl::MoecConvertOnnxToMoeBase<ConvertOnnxToMoePass> {
  void runOnOperation() override {
    // MoE nodes first: their router inputs are matched on onnx ops (a
    // routing handed over as a log-scatter) before those become elementwise.
    SmallVector<Operation *> moes, ops;
    getOperation().walk([&](Operation *op) {
      if (!op->getDialect() || op->getDialect()->getNamespace() != "onnx")
        return;
      (op->getName().getStringRef() == "onnx.ms.MoE" ? moes : ops).push_back(op);
    });
    bool failedAny = false;
    for (Operation *op : moes)
      failedAny |= failed(convertMoE(op));
    for (Operation *op : ops) {
      StringRef type = moec::onnxOpType(op);
      StringRef name = op->getName().getStringRef();
      LogicalResult result = success();
      if (name == "onnx.ms.GroupQueryAttention")
        result = convertGroupQueryAttention(op);
      else if (name == "onnx.ms.RotaryEmbedding")
        result = convertRotaryEmbedding(op);
      else if (type == "MatMul")
        convertMatMul(op);
      else if (type == "Gemm")
        result = convertGemm(op);
      else if (type == "Identity") {
        op->getResult(0).replaceAllUsesWith(op->getOperand(0));
        op->erase();
      } else if (isElementwiseType(type) || type == "ConstantOfShape")
        result = convertElementwise(op);
      failedAny |= failed(result);
    }
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
