//===- PlanMemory.cpp - liveness-based arena planning -----------------------===//
//
// Every intermediate tensor gets a fixed place in one arena that the runtime
// allocates once, at session creation, for its maximum token count; running
// the model then allocates nothing. Tensor sizes depend on the token count T,
// so sizes and offsets are affine (base + per_token * T bytes) and the plan is
// valid for every T at once: no re-planning per batch.
//
// Step i is the i-th kernel.launch. A result lives from its launch to its
// last reader; a launch's scratch workspace lives during the launch only.
// Graph outputs live in the caller's buffers and are not planned.
//
//===----------------------------------------------------------------------===//

#include "compiler/memory/ArenaPlanner.h"
#include "compiler/utils/ConstantData.h"
#include "dialects/kernel/KernelDialect.h"
#include "passes/lower/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

namespace moec {
#define GEN_PASS_DEF_MOECPLANMEMORY
#include "passes/lower/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace kernel = moec::kernel;

namespace {

// Bytes of a tensor as an affine function of T. Every dynamic dim is T, so a
// tensor with a dynamic dim is (product of static dims) * T elements; two
// dynamic dims would be T^2, which the token-dimension invariant excludes.
FailureOr<moec::AffineBytes> tensorBytes(Operation *op, Type type) {
  auto tensor = cast<RankedTensorType>(type);
  int64_t staticElements = 1;
  int dynamicDims = 0;
  for (int64_t d : tensor.getShape()) {
    if (ShapedType::isDynamic(d))
      ++dynamicDims;
    else
      staticElements *= d;
  }
  if (dynamicDims > 1)
    return op->emitError() << "tensor " << type
                           << " has more than one token dimension; its size would be "
                              "quadratic in the token count";
  int64_t bytes = staticElements * moec::storageBytes(tensor.getElementType());
  moec::AffineBytes size;
  (dynamicDims ? size.perToken : size.base) = bytes;
  return size;
}

struct PlanMemoryPass : moec::impl::MoecPlanMemoryBase<PlanMemoryPass> {
  using MoecPlanMemoryBase::MoecPlanMemoryBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<kernel::LaunchOp> launches;
    llvm::DenseMap<Operation *, int64_t> stepOf;
    func.walk([&](kernel::LaunchOp l) {
      stepOf[l] = launches.size();
      launches.push_back(l);
    });
    Operation *ret = func.getBody().front().getTerminator();
    llvm::DenseSet<Value> outputs(ret->operand_begin(), ret->operand_end());

    // One request per planned result and per scratch workspace.
    std::vector<moec::BufferRequest> requests;
    struct Owner {
      kernel::LaunchOp launch;
      int result; // -1: the scratch workspace
    };
    std::vector<Owner> owners;
    for (auto [step, l] : llvm::enumerate(launches)) {
      for (OpResult result : l->getResults()) {
        if (outputs.contains(result))
          continue;
        auto size = tensorBytes(l, result.getType());
        if (failed(size))
          return signalPassFailure();
        int64_t last = step;
        for (Operation *user : result.getUsers())
          if (auto it = stepOf.find(user); it != stepOf.end())
            last = std::max(last, it->second);
        requests.push_back({*size, static_cast<int64_t>(step), last});
        owners.push_back({l, static_cast<int>(result.getResultNumber())});
      }
      if (auto scratch = l->getAttrOfType<DenseI64ArrayAttr>(kernel::kScratchBytesAttr)) {
        requests.push_back({{scratch[0], scratch[1]},
                            static_cast<int64_t>(step),
                            static_cast<int64_t>(step)});
        owners.push_back({l, -1});
      }
    }

    moec::ArenaPlan plan = moec::planArena(requests, alignment);

    // Results that are graph outputs keep (-1, -1): "the caller's buffer".
    llvm::DenseMap<Operation *, SmallVector<int64_t>> offsets;
    for (kernel::LaunchOp l : launches)
      offsets[l].assign(2 * l->getNumResults(), -1);
    for (auto [owner, offset] : llvm::zip(owners, plan.offsets)) {
      if (owner.result < 0) {
        owner.launch->setAttr(kernel::kScratchOffsetAttr,
                              DenseI64ArrayAttr::get(&getContext(),
                                                     {offset.base, offset.perToken}));
        continue;
      }
      auto &entry = offsets[owner.launch];
      entry[2 * owner.result] = offset.base;
      entry[2 * owner.result + 1] = offset.perToken;
    }
    for (kernel::LaunchOp l : launches)
      l->setAttr(kernel::kArenaOffsetsAttr, DenseI64ArrayAttr::get(&getContext(), offsets[l]));
    func->setAttr(kernel::kArenaSizeAttr,
                  DenseI64ArrayAttr::get(&getContext(),
                                         {plan.arenaSize.base, plan.arenaSize.perToken}));

    if (report) {
      moec::AffineBytes unplanned;
      for (const auto &r : requests) {
        unplanned.base += r.size.base;
        unplanned.perToken += r.size.perToken;
      }
      emitRemark(func.getLoc())
          << "arena peak " << moec::describe(plan.arenaSize) << " for "
          << requests.size() << " buffers (" << moec::describe(unplanned)
          << " without reuse)";
    }
  }
};

} // namespace
