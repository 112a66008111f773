//===- FuseResidualNorm.cpp - residual add + RMSNorm in one kernel ----------===//
//
// Every decoder layer adds a branch into its residual stream and normalizes
// the sum for the next branch (SkipSimplifiedLayerNormalization, or
// Add + RMSNorm in torch exports): after lowering, an elementwise launch
// writing s = a + b and an rms_norm launch reading s back. Fused, one kernel
// reads a and b, writes s (the residual stream still needs it) and the
// normalized rows: one launch and one read of s fewer per norm.
//
// Runs on kernel launches, after moec-lower-to-kernel and before memory
// planning. It fuses an rms_norm whose input is an elementwise launch that
// is exactly one addf of two inputs of the sum's type (no broadcast, no
// cast, nothing else in the body) when every other reader of the sum comes
// after the norm (the fused launch takes the norm's place). Anything else is
// left alone.
//
//===----------------------------------------------------------------------===//

#include "dialects/kernel/KernelDialect.h"
#include "passes/fusion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace moec {
#define GEN_PASS_DEF_MOECFUSERESIDUALNORM
#include "passes/fusion/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace kernel = moec::kernel;

namespace {

// `v` seen through an f32 extension (16-bit storage computes elementwise
// bodies in f32).
Value throughExtension(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  return v;
}

// An elementwise launch computing exactly in0 + in1, both of its result
// type: `a + b` in the storage type, or `trunc(ext(a) + ext(b))` for 16-bit
// storage (what rms_norm_residual computes: the sum in f32, rounded once).
bool isPlainAdd(kernel::LaunchOp add) {
  if (add.getKernel() != "elementwise" || add.getInputs().size() != 2 ||
      add.getNumResults() != 1 || add.getBody().empty())
    return false;
  Type type = add.getResult(0).getType();
  if (add.getInputs()[0].getType() != type || add.getInputs()[1].getType() != type)
    return false;
  Block &body = add.getBody().front();
  auto yield = dyn_cast<kernel::YieldOp>(body.getTerminator());
  if (body.getNumArguments() != 2 || !yield)
    return false;
  Value result = yield.getValue();
  size_t expectedOps = 2; // addf, yield
  if (auto trunc = result.getDefiningOp<arith::TruncFOp>()) {
    result = trunc.getIn();
    expectedOps = 5; // extf, extf, addf, truncf, yield
  }
  auto sum = result.getDefiningOp<arith::AddFOp>();
  if (!sum || body.getOperations().size() != expectedOps)
    return false;
  Value lhs = sum.getLhs(), rhs = sum.getRhs();
  if (expectedOps == 5) {
    lhs = throughExtension(lhs);
    rhs = throughExtension(rhs);
    if (lhs == sum.getLhs() || rhs == sum.getRhs() || !sum.getType().isF32())
      return false;
  }
  Value a = body.getArgument(0), b = body.getArgument(1);
  return (lhs == a && rhs == b) || (lhs == b && rhs == a);
}

struct FuseResidualNormPass : moec::impl::MoecFuseResidualNormBase<FuseResidualNormPass> {
  void runOnOperation() override {
    SmallVector<kernel::LaunchOp> norms;
    getOperation().walk([&](kernel::LaunchOp op) {
      if (op.getKernel() == "rms_norm" && !op.getSpec().get("has_residual"))
        norms.push_back(op);
    });
    for (kernel::LaunchOp norm : norms) {
      auto add = norm.getInputs()[0].getDefiningOp<kernel::LaunchOp>();
      if (!add || !isPlainAdd(add))
        continue;
      Value sum = add.getResult(0);
      // The fused launch replaces the norm where it is; the sum's other
      // readers must come after it.
      if (llvm::any_of(sum.getUsers(), [&](Operation *user) {
            return user != norm && user->getBlock() == norm->getBlock() &&
                   user->isBeforeInBlock(norm);
          }))
        continue;
      OpBuilder b(norm);
      SmallVector<Value> inputs{add.getInputs()[0], add.getInputs()[1]};
      inputs.append(std::next(norm.getInputs().begin()), norm.getInputs().end());
      NamedAttrList spec(norm.getSpec());
      spec.set("has_residual", b.getBoolAttr(true));
      auto fused = kernel::LaunchOp::create(
          b, norm.getLoc(), TypeRange{norm.getResult(0).getType(), sum.getType()}, inputs,
          norm.getKernelAttr(), spec.getDictionary(b.getContext()));
      norm.getResult(0).replaceAllUsesWith(fused.getResult(0));
      sum.replaceAllUsesWith(fused.getResult(1));
      norm.erase();
      add.erase();
    }
  }
};

} // namespace
