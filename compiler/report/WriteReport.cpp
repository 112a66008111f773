//===- WriteReport.cpp - write the compile report ---------------------------===//
//
// A pass so that the report is written from exactly the planned launches,
// wherever the pipeline stops after planning (artifact, kernel IR, sources,
// standalone project), and before the slow part (NVRTC), so a bad path
// fails fast.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Passes.h"
#include "compiler/report/Report.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace moec {
#define GEN_PASS_DEF_MOECWRITEREPORT
#include "compiler/report/Passes.h.inc"
} // namespace moec

using namespace mlir;

namespace {

struct WriteReportPass : moec::impl::MoecWriteReportBase<WriteReportPass> {
  using MoecWriteReportBase::MoecWriteReportBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string fmt = format;
    if (fmt.empty())
      fmt = llvm::StringRef(output).ends_with_insensitive(".json") ? "json" : "markdown";
    if (fmt != "json" && fmt != "markdown") {
      module.emitError() << "moec-write-report: format must be markdown or json, got '" << fmt
                         << "'";
      return signalPassFailure();
    }
    auto report = moec::report::buildReport(module, target);
    if (failed(report))
      return signalPassFailure();
    std::string text;
    llvm::raw_string_ostream os(text);
    if (fmt == "json")
      moec::report::writeJson(*report, os);
    else
      moec::report::writeMarkdown(*report, os);
    if (output == "-") {
      llvm::outs() << text;
      llvm::outs().flush();
    } else {
      std::error_code ec;
      llvm::raw_fd_ostream file(output, ec, llvm::sys::fs::OF_Text);
      if (!ec) {
        file << text;
        file.close();
        ec = file.error();
        file.clear_error();
      }
      if (ec) {
        module.emitError() << "cannot write the compile report '" << output
                           << "': " << ec.message();
        return signalPassFailure();
      }
    }
    markAllAnalysesPreserved();
  }
};

} // namespace
