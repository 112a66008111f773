//===- CodegenUtils.h - shared by the host and CUDA emitters -----*- C++ -*-===//
//
// Both emitters write C++ (host) or CUDA C++ specialized on static sizes,
// with the token count T as the one run-time size. These are the pieces
// they share: size expressions, literals, types, and the translation of an
// elementwise body (scalar arith/math ops) to expressions.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CODEGEN_CODEGENUTILS_H
#define MOEC_COMPILER_CODEGEN_CODEGENUTILS_H

#include "mlir/IR/Block.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace moec::codegen {

enum class CodeFlavor { Host, Cuda };

// A size known as an expression of T: coefficient * T^power, power ∈ {0, 1}.
struct SizeExpr {
  int64_t coefficient = 1;
  bool perToken = false;
  std::string str() const {
    if (!perToken)
      return std::to_string(coefficient);
    return coefficient == 1 ? "T" : std::to_string(coefficient) + " * T";
  }
};

// A static dim or T.
SizeExpr dimExpr(int64_t d);
// The product of dims (at most one of them T).
SizeExpr product(llvm::ArrayRef<int64_t> dims);
// The C++ type of one element.
mlir::FailureOr<std::string> cxxType(mlir::Operation *op, mlir::Type t, CodeFlavor flavor);
// "{a, b, c}" ("{0}" when empty: callers pass a count of 0).
std::string arrayLiteral(llvm::ArrayRef<std::string> items);
std::vector<std::string> shapeExprs(llvm::ArrayRef<int64_t> shape);
// Exact (hex) float literal; inf/nan spelled with numeric_limits.
std::string floatLiteral(double v, mlir::Type t);

// Writes one `const <type> vN = ...;` line per op of an elementwise body.
// `names` maps the block arguments to the C++ names of the loaded scalars
// and is extended with every result. Returns the name of the yielded value.
mlir::FailureOr<std::string> emitScalarBody(mlir::Block &block,
                                            llvm::DenseMap<mlir::Value, std::string> &names,
                                            llvm::raw_ostream &os, const std::string &indent,
                                            CodeFlavor flavor);

// Concatenates the chunks of a text embedded by cmake/EmbedText.cmake.
template <size_t N> std::string joinEmbeddedChunks(const char *const (&chunks)[N]) {
  std::string text;
  for (const char *chunk : chunks)
    text += chunk;
  return text;
}

} // namespace moec::codegen

#endif // MOEC_COMPILER_CODEGEN_CODEGENUTILS_H
