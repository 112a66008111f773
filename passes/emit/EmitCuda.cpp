//===- EmitCuda.cpp - generate and build the CUDA kernels -------------------===//
#include "compiler/cuda/CudaEmitter.h"
#include "dialects/kernel/KernelDialect.h"
#include "passes/emit/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/raw_ostream.h"

namespace moec {
#define GEN_PASS_DEF_MOECEMITCUDA
#include "passes/emit/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace kernel = moec::kernel;

namespace {

struct EmitCudaPass : moec::impl::MoecEmitCudaBase<EmitCudaPass> {
  using MoecEmitCudaBase::MoecEmitCudaBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const moec::CudaTarget *target = moec::lookupCudaTarget(arch);
    if (!target) {
      module.emitError() << "unknown CUDA architecture '" << arch
                         << "' (supported: " << moec::supportedCudaTargets() << ")";
      return signalPassFailure();
    }
    auto source = moec::emitCudaSource(module, *target);
    if (failed(source))
      return signalPassFailure();
    module->setAttr(kernel::kCudaSourceAttr, StringAttr::get(&getContext(), *source));
    module->setAttr(kernel::kTargetAttr, StringAttr::get(&getContext(), arch));
    if (printSource)
      llvm::outs() << *source;
    if (!compile)
      return;
    auto result = moec::compileCudaSource(module.getLoc(), *source, *target, keepSourcesDir);
    if (failed(result))
      return signalPassFailure();

    // Per-kernel resources onto the launches, for reports and tests.
    llvm::StringMap<const moec::KernelResources *> bySymbol;
    for (const auto &r : result->resources)
      bySymbol[r.kernel] = &r;
    bool spilled = false;
    module.walk([&](kernel::LaunchOp launch) {
      auto symbol = launch->getAttrOfType<StringAttr>(kernel::kSymbolAttr);
      auto it = symbol ? bySymbol.find(symbol.getValue()) : bySymbol.end();
      if (it == bySymbol.end())
        return;
      const moec::KernelResources &r = *it->second;
      Builder b(&getContext());
      launch->setAttr("registers", b.getI64IntegerAttr(r.registers));
      launch->setAttr("spill_bytes", b.getI64IntegerAttr(r.spillStores + r.spillLoads));
      if (r.spillStores + r.spillLoads > 0 && failOnSpills) {
        launch.emitError() << "kernel '" << r.kernel << "' spills registers on " << arch << " ("
                           << r.spillStores << " bytes stored, " << r.spillLoads
                           << " bytes loaded, " << r.registers << " registers)";
        spilled = true;
      }
    });
    if (spilled)
      return signalPassFailure();

    auto type = RankedTensorType::get({static_cast<int64_t>(result->cubin.size())},
                                      IntegerType::get(&getContext(), 8));
    auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(result->cubin));
    module->setAttr(kernel::kCudaBinaryAttr,
                    DenseResourceElementsAttr::get(type, "moec_cubin", std::move(blob)));
  }
};

} // namespace
