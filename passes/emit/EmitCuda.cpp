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
    if (gemm != "mma" && gemm != "wgmma") {
      module.emitError() << "moec-emit-cuda: gemm must be mma or wgmma, got '" << gemm << "'";
      return signalPassFailure();
    }
    auto source = moec::emitCudaSource(
        module, *target, gemm == "wgmma" ? moec::GemmImpl::Wgmma : moec::GemmImpl::Mma);
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

    // Every kernel in the cubin (variants included) is checked for spills;
    // registers and spills are recorded on the launch for reports and tests.
    llvm::StringMap<kernel::LaunchOp> launchOf;
    module.walk([&](kernel::LaunchOp launch) {
      if (auto variants = launch->getAttrOfType<ArrayAttr>("variants"))
        for (auto v : variants.getAsRange<DictionaryAttr>())
          launchOf[v.getAs<StringAttr>("symbol").getValue()] = launch;
      else if (auto symbol = launch->getAttrOfType<StringAttr>(kernel::kSymbolAttr))
        launchOf[symbol.getValue()] = launch;
    });
    bool spilled = false;
    Builder b(&getContext());
    for (const moec::KernelResources &r : result->resources) {
      auto it = launchOf.find(r.kernel);
      if (it == launchOf.end())
        continue;
      kernel::LaunchOp launch = it->second;
      int64_t spills = r.spillStores + r.spillLoads;
      auto previous = launch->getAttrOfType<IntegerAttr>("spill_bytes");
      launch->setAttr("registers", b.getI64IntegerAttr(r.registers));
      launch->setAttr("spill_bytes",
                      b.getI64IntegerAttr(spills + (previous ? previous.getInt() : 0)));
      if (spills > 0 && failOnSpills) {
        launch.emitError() << "kernel '" << r.kernel << "' spills registers on " << arch << " ("
                           << r.spillStores << " bytes stored, " << r.spillLoads
                           << " bytes loaded, " << r.registers << " registers)";
        spilled = true;
      }
    }
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
