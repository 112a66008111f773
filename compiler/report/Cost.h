//===- Cost.h - FLOPs and bytes of a kernel launch, affine in T -*- C++ -*-===//
//
// The compile report's cost model, shared by moec-record-unfused (which
// prices the graph before fusion) and moec-write-report (which prices the
// planned kernel launches), so that "before" and "after" use one rule:
//
//   bytes moved by a launch = every data input read once in full
//                           + every result written once in full
//   (weights, i.e. kernel.constant operands, at their stored size: all
//    experts of an expert weight, int8 as 1 byte and packed int4 as 0.5
//    byte per value plus their f32 scales)
//
// and FLOPs as documented per kind in Cost.cpp. Both are a*T + b in the
// token count T, the one dynamic dimension moec keeps.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_REPORT_COST_H
#define MOEC_COMPILER_REPORT_COST_H

#include "dialects/kernel/KernelDialect.h"

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace moec::report {

// base + perToken * T + perTokenSquared * T^2. Sizes are affine in T; only
// the FLOPs of attention over the prompt itself (moe.self_attention: T(T+1)/2
// query-key pairs per head) are quadratic.
struct Affine {
  int64_t base = 0;
  int64_t perToken = 0;
  int64_t perTokenSquared = 0;

  int64_t at(int64_t tokens) const {
    return base + perToken * tokens + perTokenSquared * tokens * tokens;
  }
  Affine &operator+=(const Affine &o) {
    base += o.base;
    perToken += o.perToken;
    perTokenSquared += o.perTokenSquared;
    return *this;
  }
  friend Affine operator+(Affine a, const Affine &b) { return a += b; }
  friend Affine operator*(Affine a, int64_t k) {
    return {a.base * k, a.perToken * k, a.perTokenSquared * k};
  }
  // Exact when `k` divides every coefficient (callers divide element counts
  // by a static dimension of the same tensor).
  Affine divExact(int64_t k) const {
    return k ? Affine{base / k, perToken / k, perTokenSquared / k} : Affine{};
  }
  bool operator==(const Affine &o) const {
    return base == o.base && perToken == o.perToken && perTokenSquared == o.perTokenSquared;
  }
};

// Elements of a ranked tensor type; failure when it has more than one
// dynamic dimension (its size would not be affine in T) or is not ranked.
mlir::FailureOr<Affine> elementCount(mlir::Type type);
// Bytes moec stores the tensor in (elements * storageBytes); failure for
// the cases above and for element types moec does not store.
mlir::FailureOr<Affine> tensorBytes(mlir::Type type);

// The names of moec::nodeNames(loc) joined by " + ", or "" when there is none.
std::string nodeLabel(mlir::Location loc);
// "layers.N" when a name holds a decoder layer ("/model/layers.3/attn/..."
// or "model.layers.3.mlp..."), else "".
std::string layerOf(llvm::ArrayRef<std::string> names);

// What one kernel launch costs.
struct LaunchCost {
  Affine flops;
  Affine activationBytes; // inputs read + results written, weights excluded
  Affine resultBytes;     // the written part of activationBytes
  int64_t weightBytes = 0; // kernel.constant operands, counted at full size
  bool flopsModelled = true; // false for a kind Cost.cpp does not know
};

// The cost of `launch`; failure (after a diagnostic at the launch) for a
// tensor whose size is not affine in T.
mlir::FailureOr<LaunchCost> costOf(kernel::LaunchOp launch);

// Whether `value` is a weight: produced by kernel.constant, onnx.Constant or
// arith.constant.
bool isWeight(mlir::Value value);

// The in-place rule of the artifact writer: result `index` of `launch`
// shares the buffer of the input its `inplace_operands` names when that
// input is a graph input read by nothing else and the result is a graph
// output. Returns that input's position, or -1.
int64_t inplaceInput(mlir::Operation *launch, unsigned index);

} // namespace moec::report

#endif // MOEC_COMPILER_REPORT_COST_H
