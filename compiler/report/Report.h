//===- Report.h - the compile report of a planned module --------*- C++ -*-===//
//
// What `moec compile --report` shows: per kernel launch its kind, ONNX node,
// FLOPs and bytes moved (Cost.h), grouped per decoder layer, with totals and
// the same numbers before fusion (moec-record-unfused's `moec.unfused`).
// buildReport() reads the IR; the writers format it (ReportFormat.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_REPORT_REPORT_H
#define MOEC_COMPILER_REPORT_REPORT_H

#include "compiler/report/Cost.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::report {

struct LaunchRow {
  std::string kernel;
  std::vector<std::string> nodes;
  std::string group;
  LaunchCost cost;
  Affine bytesMoved() const { return cost.activationBytes + Affine{cost.weightBytes, 0}; }
};

// One op of the graph before fusion, as moec-record-unfused priced it.
struct UnfusedOp {
  std::string node, op, group;
  int64_t launches = 0;
  Affine activationBytes;
  int64_t weightBytes = 0;
  Affine bytesMoved() const { return activationBytes + Affine{weightBytes, 0}; }
};

// Totals of a set of launches, after fusion and (when recorded) before.
struct Totals {
  int64_t launches = 0;
  Affine flops, bytesMoved, resultBytes;
  int64_t weightBytesRead = 0;
  std::optional<int64_t> launchesBefore;
  std::optional<Affine> bytesMovedBefore;
};

struct Group {
  std::string name; // "layers.N", "other" (outside any layer) or "model"
  std::vector<unsigned> launches; // indices into Report::launches
  Totals totals;
  // Nodes with launches before fusion and none of their own after: no
  // launch, or only launches whose location names several nodes.
  std::vector<std::string> fusedNodes;
};

// One quantized weight as moec-awq-scale measured it on the calibration
// rows (`moec.quantization` on the function; only with --calibration).
struct QuantRow {
  std::string node, op, weight, format; // weight: weight | fc1 | fc2 | fc3
  int64_t groupSize = 0;                // 0: one scale per output row
  int64_t bytesBefore = 0, bytesAfter = 0, rows = 0;
  double alpha = 0;
  bool awq = false; // scales were folded (alpha > 0)
  std::optional<double> errorRtn, errorAwq; // relative; absent without rows
};

// One router's routing histogram as moec-prune-experts recorded it
// (`moec.pruned_experts` on the function; only with --prune-experts).
struct PruneRow {
  std::string node, note; // note: empty when pruned as asked, else why not
  int64_t experts = 0, k = 0, tokens = 0;
  double threshold = 0;
  std::vector<int64_t> counts; // routed slots per original expert
  std::vector<int64_t> pruned; // original expert ids removed
};

struct Report {
  std::string source, target;
  std::vector<LaunchRow> launches;
  std::vector<Group> groups;
  Totals totals;
  int64_t weightBytesStored = 0; // every kernel.constant once
  int64_t weightCount = 0;
  bool hasUnfused = false;
  std::vector<UnfusedOp> unfused;
  std::vector<std::string> unmodelledKinds; // kinds whose FLOPs show as 0
  bool hasQuantization = false;
  std::vector<QuantRow> quantization;
  bool hasPruning = false;
  std::vector<PruneRow> pruning;
};

// The report of `module` (kernel.launch / kernel.constant functions, after
// moec-plan-memory). Failure after a diagnostic at the offending op.
mlir::FailureOr<Report> buildReport(mlir::ModuleOp module, llvm::StringRef target);

// The token counts the summaries evaluate at.
inline constexpr int64_t kReportTokens[] = {1, 256};

// The quantization section (QuantReport.cpp).
mlir::LogicalResult readQuantization(mlir::Operation *func, Report &report);
void writeQuantizationMarkdown(const Report &report, llvm::raw_ostream &os);
void writeQuantizationJson(const Report &report, llvm::json::OStream &j);
// The expert-pruning section (PruneReport.cpp).
mlir::LogicalResult readPruning(mlir::Operation *func, Report &report);
void writePruningMarkdown(const Report &report, llvm::raw_ostream &os);
void writePruningJson(const Report &report, llvm::json::OStream &j);

void writeMarkdown(const Report &report, llvm::raw_ostream &os);
void writeJson(const Report &report, llvm::raw_ostream &os);

} // namespace moec::report

#endif // MOEC_COMPILER_REPORT_REPORT_H
