//===- MathOps.cpp - verifiers and shape inference: math ops ---------------===//
#include "dialects/onnx/ONNXDialect.h"
#include "dialects/onnx/ShapeHelpers.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace moec::onnx::detail;

namespace moec::onnx {

//===----------------------------------------------------------------------===//
// MatMul / Gemm
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::verify() {
  for (Value operand : {getA(), getB()})
    if (auto type = getRankedType(operand); type && type.getRank() == 0)
      return emitOpError() << "operands must have rank 1 or more";
  return success();
}

LogicalResult MatMulOp::inferShapes() {
  auto a = requireRanked(*this, getA(), "A");
  auto b = requireRanked(*this, getB(), "B");
  if (failed(a) || failed(b))
    return failure();
  SmallVector<int64_t> lhs(a->getShape()), rhs(b->getShape());
  // numpy.matmul: a rank-1 A is a row vector, a rank-1 B a column vector;
  // the added dim is dropped from the result.
  bool rowVector = lhs.size() == 1, columnVector = rhs.size() == 1;
  if (rowVector)
    lhs.insert(lhs.begin(), 1);
  if (columnVector)
    rhs.push_back(1);
  int64_t k1 = lhs.back(), k2 = rhs[rhs.size() - 2];
  if (k1 != k2 && k1 != kTokens && k2 != kTokens)
    return emitOpError() << "inner dimensions differ: " << k1 << " and " << k2;
  SmallVector<SmallVector<int64_t>> batches = {
      SmallVector<int64_t>(lhs.begin(), lhs.end() - 2),
      SmallVector<int64_t>(rhs.begin(), rhs.end() - 2)};
  auto shape = broadcastShapes(*this, batches);
  if (failed(shape))
    return failure();
  if (!rowVector)
    shape->push_back(lhs[lhs.size() - 2]);
  if (!columnVector)
    shape->push_back(rhs.back());
  return setResultType(*this, 0, *shape, a->getElementType());
}

LogicalResult GemmOp::verify() {
  for (auto [name, operand] : {std::pair<StringRef, Value>{"A", getA()}, {"B", getB()}})
    if (auto type = getRankedType(operand); type && type.getRank() != 2)
      return emitOpError() << "operand " << name << " must have rank 2, got " << type.getRank();
  if (auto type = getRankedType(getC()); type && type.getRank() > 2)
    return emitOpError() << "operand C must have rank 2 or less, got " << type.getRank();
  if (failed(verifyFlag(*this, "transA", getTransA())) ||
      failed(verifyFlag(*this, "transB", getTransB())))
    return failure();
  return success();
}

LogicalResult GemmOp::inferShapes() {
  auto a = requireRanked(*this, getA(), "A");
  auto b = requireRanked(*this, getB(), "B");
  if (failed(a) || failed(b))
    return failure();
  if (a->getRank() != 2 || b->getRank() != 2)
    return emitOpError() << "operands A and B must have rank 2";
  int64_t m = a->getDimSize(getTransA() ? 1 : 0), k1 = a->getDimSize(getTransA() ? 0 : 1);
  int64_t k2 = b->getDimSize(getTransB() ? 1 : 0), n = b->getDimSize(getTransB() ? 0 : 1);
  if (k1 != k2 && k1 != kTokens && k2 != kTokens)
    return emitOpError() << "inner dimensions differ: " << k1 << " and " << k2;
  SmallVector<int64_t> shape = {m, n};
  if (Value c = getC()) {
    auto cType = requireRanked(*this, c, "C");
    if (failed(cType))
      return failure();
    SmallVector<SmallVector<int64_t>> shapes = {shape, SmallVector<int64_t>(cType->getShape())};
    auto broadcast = broadcastShapes(*this, shapes);
    if (failed(broadcast))
      return failure();
    if (*broadcast != shape)
      return emitOpError() << "operand C does not broadcast to (M, N)";
  }
  return setResultType(*this, 0, shape, a->getElementType());
}

//===----------------------------------------------------------------------===//
// Broadcasting elementwise ops
//===----------------------------------------------------------------------===//

#define MOEC_BROADCAST_OP(Op)                                                                      \
  LogicalResult Op::inferShapes() { return inferBroadcast(*this, getOperands()); }
MOEC_BROADCAST_OP(AddOp)
MOEC_BROADCAST_OP(SubOp)
MOEC_BROADCAST_OP(MulOp)
MOEC_BROADCAST_OP(DivOp)
MOEC_BROADCAST_OP(PowOp)
MOEC_BROADCAST_OP(MaxOp)
MOEC_BROADCAST_OP(MinOp)
#undef MOEC_BROADCAST_OP

// Comparisons need equal operand element types; And/Or need bools.
static LogicalResult verifyComparison(Operation *op, bool logical) {
  Type lhs = getElementType(op->getOperand(0)), rhs = getElementType(op->getOperand(1));
  if (lhs != rhs)
    return op->emitOpError() << "operands must have the same element type, got " << lhs
                             << " and " << rhs;
  if (logical && !lhs.isInteger(1))
    return op->emitOpError() << "operands must be bool (i1) tensors, got " << lhs;
  if (Type result = getElementType(op->getResult(0));
      result && !result.isInteger(1) && isa<RankedTensorType>(op->getResult(0).getType()))
    return op->emitOpError() << "result must be a bool (i1) tensor, got " << result;
  return success();
}

#define MOEC_COMPARE_OP(Op, logical)                                                               \
  LogicalResult Op::verify() { return verifyComparison(*this, logical); }                         \
  LogicalResult Op::inferShapes() {                                                                \
    return inferBroadcast(*this, getOperands(), IntegerType::get(getContext(), 1));               \
  }                                                                                                \
  SmallVector<Type> Op::inferElementTypes() { return {IntegerType::get(getContext(), 1)}; }
MOEC_COMPARE_OP(EqualOp, false)
MOEC_COMPARE_OP(LessOp, false)
MOEC_COMPARE_OP(GreaterOp, false)
MOEC_COMPARE_OP(LessOrEqualOp, false)
MOEC_COMPARE_OP(GreaterOrEqualOp, false)
MOEC_COMPARE_OP(AndOp, true)
MOEC_COMPARE_OP(OrOp, true)
#undef MOEC_COMPARE_OP

static LogicalResult verifyVariadic(Operation *op) {
  if (op->getNumOperands() == 0)
    return op->emitOpError() << "needs at least one input";
  Type first = getElementType(op->getOperand(0));
  for (Value operand : op->getOperands().drop_front())
    if (getElementType(operand) != first)
      return op->emitOpError() << "inputs must have the same element type";
  return success();
}
LogicalResult MaxOp::verify() { return verifyVariadic(*this); }
LogicalResult MinOp::verify() { return verifyVariadic(*this); }

LogicalResult WhereOp::verify() {
  if (!getElementType(getCondition()).isInteger(1))
    return emitOpError() << "condition must be a bool (i1) tensor";
  if (getElementType(getX()) != getElementType(getY()))
    return emitOpError() << "X and Y must have the same element type";
  return success();
}

LogicalResult WhereOp::inferShapes() {
  return inferBroadcast(*this, getOperands(), getElementType(getX()));
}

SmallVector<Type> WhereOp::inferElementTypes() { return {getElementType(getX())}; }

LogicalResult ClipOp::verify() {
  Type element = getElementType(getInput());
  for (Value bound : {getMin(), getMax()}) {
    if (!bound)
      continue;
    if (getElementType(bound) != element)
      return emitOpError() << "min and max must have the input's element type " << element
                           << ", got " << getElementType(bound);
    auto type = getRankedType(bound);
    if (type && (!type.hasStaticShape() || type.getNumElements() != 1))
      return emitOpError() << "min and max must be scalars, got " << type;
  }
  return success();
}

LogicalResult ClipOp::inferShapes() { return inferSameAsOperand(*this, getInput()); }

//===----------------------------------------------------------------------===//
// Unary elementwise ops
//===----------------------------------------------------------------------===//

#define MOEC_UNARY_OP(Op)                                                                          \
  LogicalResult Op::inferShapes() { return inferSameAsOperand(*this, getX()); }
MOEC_UNARY_OP(SqrtOp)
MOEC_UNARY_OP(NegOp)
MOEC_UNARY_OP(ExpOp)
MOEC_UNARY_OP(SigmoidOp)
MOEC_UNARY_OP(ReluOp)
MOEC_UNARY_OP(TanhOp)
MOEC_UNARY_OP(ErfOp)
MOEC_UNARY_OP(CosOp)
MOEC_UNARY_OP(SinOp)
MOEC_UNARY_OP(GeluOp)
MOEC_UNARY_OP(AbsOp)
MOEC_UNARY_OP(LogOp)
MOEC_UNARY_OP(ReciprocalOp)
MOEC_UNARY_OP(NotOp)
#undef MOEC_UNARY_OP

LogicalResult IsNaNOp::inferShapes() {
  auto type = requireRanked(*this, getX(), "X");
  if (failed(type))
    return failure();
  return setResultType(*this, 0, type->getShape(), IntegerType::get(getContext(), 1));
}

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError() << "approximate must be \"none\" or \"tanh\", got \""
                         << getApproximate() << "\"";
  return success();
}

SmallVector<Type> NotOp::inferElementTypes() { return {IntegerType::get(getContext(), 1)}; }

SmallVector<Type> IsNaNOp::inferElementTypes() { return {IntegerType::get(getContext(), 1)}; }

LogicalResult IsNaNOp::verify() {
  if (!isa<FloatType>(getElementType(getX())))
    return emitOpError() << "operand must be a float tensor";
  return success();
}

LogicalResult NotOp::verify() {
  if (!getElementType(getX()).isInteger(1))
    return emitOpError() << "operand must be a bool (i1) tensor";
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

static LogicalResult verifyReduce(Operation *op, Value axes, int64_t keepdims,
                                  int64_t noopWithEmptyAxes) {
  if (failed(verifyFlag(op, "keepdims", keepdims)) ||
      failed(verifyFlag(op, "noop_with_empty_axes", noopWithEmptyAxes)))
    return failure();
  if (auto type = getRankedType(axes); type && type.getRank() != 1)
    return op->emitOpError() << "axes must be a 1-D tensor, got rank " << type.getRank();
  return success();
}

static LogicalResult inferReduce(Operation *op, Value data, Value axesValue, bool keepdims,
                                 bool noopWithEmptyAxes) {
  auto type = requireRanked(op, data, "data");
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  SmallVector<bool> reduced(rank, false);
  SmallVector<int64_t> axes;
  if (axesValue) {
    auto known = getKnownIntValues(axesValue);
    if (!known)
      return op->emitOpError() << "cannot infer shape: the axes are not known at compile time";
    axes = *known;
  }
  if (axes.empty() && noopWithEmptyAxes)
    return setResultType(op, 0, type->getShape(), type->getElementType());
  if (axes.empty())
    reduced.assign(rank, true);
  for (int64_t axis : axes) {
    auto normalized = normalizeAxis(axis, rank);
    if (!normalized)
      return op->emitOpError() << "axis " << axis << " is out of range for rank " << rank;
    reduced[*normalized] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      shape.push_back(type->getDimSize(i));
    else if (keepdims)
      shape.push_back(1);
  }
  return setResultType(op, 0, shape, type->getElementType());
}

#define MOEC_REDUCE_OP(Op)                                                                         \
  LogicalResult Op::verify() {                                                                     \
    return verifyReduce(*this, getAxes(), getKeepdims(), getNoopWithEmptyAxes());                  \
  }                                                                                                \
  LogicalResult Op::inferShapes() {                                                                \
    return inferReduce(*this, getData(), getAxes(), getKeepdims() != 0,                            \
                       getNoopWithEmptyAxes() != 0);                                               \
  }
MOEC_REDUCE_OP(ReduceSumOp)
MOEC_REDUCE_OP(ReduceMeanOp)
MOEC_REDUCE_OP(ReduceMaxOp)
MOEC_REDUCE_OP(ReduceMinOp)
#undef MOEC_REDUCE_OP

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

LogicalResult CumSumOp::verify() {
  if (failed(verifyFlag(*this, "exclusive", getExclusive())) ||
      failed(verifyFlag(*this, "reverse", getReverse())))
    return failure();
  if (auto axis = getRankedType(getAxis())) {
    if (!axis.getElementType().isInteger(32) && !axis.getElementType().isInteger(64))
      return emitOpError() << "axis must be an int32 or int64 tensor, got " << axis;
    if (axis.getRank() > 1 || (axis.hasStaticShape() && axis.getNumElements() != 1))
      return emitOpError() << "axis must be a scalar or a one-element tensor, got " << axis;
  }
  return success();
}

// The shape is x's whatever the axis; a known axis is checked here so a bad
// one is reported at the node, an unknown one by the lowering that needs it.
LogicalResult CumSumOp::inferShapes() {
  auto x = requireRanked(*this, getX(), "x");
  if (failed(x))
    return failure();
  if (auto axis = getKnownIntValues(getAxis()); axis && axis->size() == 1)
    if (!normalizeAxis((*axis)[0], x->getRank()))
      return emitOpError() << "axis " << (*axis)[0] << " is out of range for rank "
                           << x->getRank();
  return setResultType(*this, 0, x->getShape(), x->getElementType());
}

} // namespace moec::onnx
