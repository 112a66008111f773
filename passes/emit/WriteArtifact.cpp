//===- WriteArtifact.cpp - package the compiled model -----------------------===//
#include "compiler/artifact/ArtifactWriter.h"
#include "passes/emit/Passes.h"

namespace moec {
#define GEN_PASS_DEF_MOECWRITEARTIFACT
#include "passes/emit/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace {
struct WriteArtifactPass : moec::impl::MoecWriteArtifactBase<WriteArtifactPass> {
  using MoecWriteArtifactBase::MoecWriteArtifactBase;
  void runOnOperation() override {
    if (output.empty()) {
      emitError(getOperation().getLoc()) << "moec-write-artifact needs output=<file.moe>";
      return signalPassFailure();
    }
    if (failed(moec::writeArtifact(getOperation(), output)))
      signalPassFailure();
  }
};
} // namespace
