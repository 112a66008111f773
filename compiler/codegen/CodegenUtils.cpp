//===- CodegenUtils.cpp - shared by the host and CUDA emitters --------------===//
#include "compiler/codegen/CodegenUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <cstdio>

using namespace mlir;

namespace moec::codegen {

SizeExpr dimExpr(int64_t d) {
  return ShapedType::isDynamic(d) ? SizeExpr{1, true} : SizeExpr{d, false};
}

SizeExpr product(ArrayRef<int64_t> dims) {
  SizeExpr e;
  for (int64_t d : dims) {
    if (ShapedType::isDynamic(d))
      e.perToken = true; // at most one token dim (checked by the planner)
    else
      e.coefficient *= d;
  }
  return e;
}

FailureOr<std::string> cxxType(Operation *op, Type t, CodeFlavor flavor) {
  if (flavor == CodeFlavor::Cuda && t.isBF16())
    return std::string("__nv_bfloat16");
  if (flavor == CodeFlavor::Cuda && t.isF16())
    return std::string("__half");
  if (t.isF32())
    return std::string("float");
  if (t.isF64())
    return std::string("double");
  if (t.isInteger(1))
    return std::string("bool");
  if (auto i = dyn_cast<IntegerType>(t); i && flavor == CodeFlavor::Cuda) {
    // Builtin names: NVRTC has no <cstdint>, and nvcc's int64_t is `long`.
    bool isUnsigned = i.isUnsigned();
    switch (i.getWidth()) {
    case 8: return std::string(isUnsigned ? "unsigned char" : "signed char");
    case 16: return std::string(isUnsigned ? "unsigned short" : "short");
    case 32: return std::string(isUnsigned ? "unsigned int" : "int");
    case 64: return std::string(isUnsigned ? "unsigned long long" : "long long");
    }
  }
  if (auto i = dyn_cast<IntegerType>(t)) {
    bool isUnsigned = i.isUnsigned();
    switch (i.getWidth()) {
    case 8: return std::string(isUnsigned ? "uint8_t" : "int8_t");
    case 16: return std::string(isUnsigned ? "uint16_t" : "int16_t");
    case 32: return std::string(isUnsigned ? "uint32_t" : "int32_t");
    case 64: return std::string(isUnsigned ? "uint64_t" : "int64_t");
    }
  }
  return op->emitError() << "element type " << t << " is not supported by the "
                          << (flavor == CodeFlavor::Cuda ? "cuda" : "host") << " target yet",
         failure();
}

std::string arrayLiteral(ArrayRef<std::string> items) {
  if (items.empty())
    return "{0}"; // C++ has no zero-length arrays; callers pass a count of 0
  return "{" + llvm::join(items, ", ") + "}";
}

std::vector<std::string> shapeExprs(ArrayRef<int64_t> shape) {
  std::vector<std::string> out;
  for (int64_t d : shape)
    out.push_back(dimExpr(d).str());
  return out;
}

std::string floatLiteral(double v, Type t) {
  // 16-bit constants are written as float and converted where used.
  if (!t.isF64())
    t = Float32Type::get(t.getContext());
  // moec_nan/moec_inf are defined by each emitter's prelude (host: <limits>;
  // CUDA: bit patterns, NVRTC has no standard library).
  if (std::isnan(v))
    return t.isF32() ? "moec_nan<float>()" : "moec_nan<double>()";
  if (std::isinf(v)) {
    std::string inf = t.isF32() ? "moec_inf<float>()" : "moec_inf<double>()";
    return v < 0 ? "-" + inf : inf;
  }
  // Hex float: exact, no decimal rounding.
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%a", v);
  return std::string(buffer) + (t.isF32() ? "f" : "");
}


FailureOr<std::string> emitScalarBody(Block &block, llvm::DenseMap<Value, std::string> &names,
                                      llvm::raw_ostream &os, const std::string &indent,
                                      CodeFlavor flavor) {
  std::string yielded;
  unsigned counter = 0;
  for (Operation &inner : block) {
    if (inner.hasTrait<OpTrait::IsTerminator>()) {
      yielded = names[inner.getOperand(0)];
      continue;
    }
    if (inner.getNumResults() != 1)
      return inner.emitError("unexpected op in an elementwise body");
    Value result = inner.getResult(0);
    auto ty = cxxType(&inner, result.getType(), flavor);
    if (failed(ty))
      return failure();
    auto operand = [&](unsigned i) { return names[inner.getOperand(i)]; };
    std::string expr;
    StringRef name = inner.getName().getStringRef();
    if (auto c = dyn_cast<arith::ConstantOp>(inner)) {
      if (auto f = dyn_cast<FloatAttr>(c.getValue()))
        expr = floatLiteral(f.getValueAsDouble(), f.getType());
      else if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
        expr = i.getType().isInteger(1) ? (i.getValue().isZero() ? "false" : "true")
                                        : "static_cast<" + *ty + ">(" +
                                              std::to_string(i.getValue().getSExtValue()) + "LL)";
    } else if (name == "arith.addf" || name == "arith.addi") {
      expr = operand(0) + " + " + operand(1);
    } else if (name == "arith.subf" || name == "arith.subi") {
      expr = operand(0) + " - " + operand(1);
    } else if (name == "arith.mulf" || name == "arith.muli") {
      expr = operand(0) + " * " + operand(1);
    } else if (name == "arith.divf") {
      expr = operand(0) + " / " + operand(1);
    } else if (name == "arith.divsi") {
      // Integer division by zero is undefined behaviour in C++ (a crash on
      // x86); ONNX leaves it unspecified, moec defines it as 0.
      expr = operand(1) + " == 0 ? " + *ty + "(0) : " + *ty + "(" + operand(0) + " / " +
             operand(1) + ")";
    } else if (name == "arith.maximumf") {
      expr = "moec_fmax(" + operand(0) + ", " + operand(1) + ")";
    } else if (name == "arith.minimumf") {
      expr = "moec_fmin(" + operand(0) + ", " + operand(1) + ")";
    } else if (name == "arith.maxsi") {
      expr = "moec_imax(" + operand(0) + ", " + operand(1) + ")";
    } else if (name == "arith.minsi") {
      expr = "moec_imin(" + operand(0) + ", " + operand(1) + ")";
    } else if (name == "arith.negf") {
      expr = "-" + operand(0);
    } else if (auto cmp = dyn_cast<arith::CmpFOp>(inner)) {
      StringRef sym;
      switch (cmp.getPredicate()) {
      case arith::CmpFPredicate::OEQ: sym = "=="; break;
      case arith::CmpFPredicate::UNE: sym = "!="; break;
      case arith::CmpFPredicate::OLT: sym = "<"; break;
      case arith::CmpFPredicate::OGT: sym = ">"; break;
      case arith::CmpFPredicate::OLE: sym = "<="; break;
      case arith::CmpFPredicate::OGE: sym = ">="; break;
      default: return inner.emitError("unsupported float comparison");
      }
      expr = operand(0) + " " + sym.str() + " " + operand(1);
    } else if (auto cmp = dyn_cast<arith::CmpIOp>(inner)) {
      StringRef sym;
      switch (cmp.getPredicate()) {
      case arith::CmpIPredicate::eq: sym = "=="; break;
      case arith::CmpIPredicate::ne: sym = "!="; break;
      case arith::CmpIPredicate::slt: sym = "<"; break;
      case arith::CmpIPredicate::sgt: sym = ">"; break;
      case arith::CmpIPredicate::sle: sym = "<="; break;
      case arith::CmpIPredicate::sge: sym = ">="; break;
      default: return inner.emitError("unsupported integer comparison");
      }
      expr = operand(0) + " " + sym.str() + " " + operand(1);
    } else if (name == "arith.select") {
      expr = operand(0) + " ? " + operand(1) + " : " + operand(2);
    } else if (name == "arith.andi") {
      expr = operand(0) + " & " + operand(1);
    } else if (name == "arith.ori") {
      expr = operand(0) + " | " + operand(1);
    } else if (name == "arith.xori") {
      expr = operand(0) + " ^ " + operand(1);
    } else if (name == "math.sqrt" || name == "math.exp" || name == "math.tanh" ||
               name == "math.erf" || name == "math.log" || name == "math.cos" ||
               name == "math.sin") {
      expr = "moec_" + name.drop_front(5).str() + "(" + operand(0) + ")";
    } else if (name == "math.powf") {
      expr = "moec_pow(" + operand(0) + ", " + operand(1) + ")";
    } else if (name == "math.absf") {
      expr = "moec_fabs(" + operand(0) + ")";
    } else if (name == "math.absi") {
      expr = operand(0) + " < 0 ? -" + operand(0) + " : " + operand(0);
    } else if (isa<arith::SIToFPOp, arith::UIToFPOp, arith::FPToSIOp, arith::ExtFOp,
                   arith::TruncFOp, arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp>(inner)) {
      expr = operand(0);
    } else {
      return inner.emitError() << "op '" << name
                               << "' in an elementwise body has no host translation";
    }
    std::string var = "v" + std::to_string(counter++);
    os << indent << "const " << *ty << " " << var << " = static_cast<" << *ty << ">(" << expr
       << ");\n";
    names[result] = var;
  }
  return yielded;
}

} // namespace moec::codegen
