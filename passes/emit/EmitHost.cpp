//===- EmitHost.cpp - generate and build the host kernels ------------------===//
#include "compiler/host/HostEmitter.h"
#include "dialects/kernel/KernelDialect.h"
#include "passes/emit/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/raw_ostream.h"

namespace moec {
#define GEN_PASS_DEF_MOECEMITHOST
#include "passes/emit/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace {

struct EmitHostPass : moec::impl::MoecEmitHostBase<EmitHostPass> {
  using MoecEmitHostBase::MoecEmitHostBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto source = moec::emitHostSource(module);
    if (failed(source))
      return signalPassFailure();
    module->setAttr(moec::kernel::kHostSourceAttr, StringAttr::get(&getContext(), *source));
    if (printSource)
      llvm::outs() << *source;
    if (!compile)
      return;
    moec::HostCompileOptions options;
    options.cxx = cxx;
    options.keepSourcesDir = keepSourcesDir;
    options.hostCpu = moec::hostCpuOf(module);
    auto binary = moec::compileHostSource(module.getLoc(), *source, options);
    if (failed(binary))
      return signalPassFailure();
    // The shared object travels to the artifact writer as a blob resource,
    // so printing the module does not inline megabytes of escaped bytes.
    auto type = RankedTensorType::get({static_cast<int64_t>(binary->size())},
                                      IntegerType::get(&getContext(), 8));
    auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<char>(*binary));
    module->setAttr(moec::kernel::kHostBinaryAttr,
                    DenseResourceElementsAttr::get(type, "moec_host_binary", std::move(blob)));
  }
};

} // namespace
