//===- PruneReport.cpp - the compile report's expert-pruning section --------===//
//
// With `moec compile --calibration DIR --prune-experts F`, moec-prune-experts
// records each router's routing histogram on the function
// (`moec.pruned_experts`); this reads it into the report and writes it as
// Markdown and JSON with the same numbers, so a user sees which experts went
// and how rarely the calibration data chose them.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Report.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/Format.h"

#include <algorithm>

using namespace mlir;

namespace moec::report {

LogicalResult readPruning(Operation *func, Report &r) {
  auto list = func->getAttrOfType<ArrayAttr>("moec.pruned_experts");
  if (!list)
    return success();
  auto bad = [&]() {
    return func->emitError("compile report: malformed 'moec.pruned_experts' attribute "
                           "(expected the dictionaries moec-prune-experts writes)");
  };
  r.hasPruning = true;
  for (Attribute a : list) {
    auto d = dyn_cast<DictionaryAttr>(a);
    if (!d)
      return bad();
    auto node = d.getAs<StringAttr>("node"), note = d.getAs<StringAttr>("note");
    auto experts = d.getAs<IntegerAttr>("experts"), k = d.getAs<IntegerAttr>("k");
    auto tokens = d.getAs<IntegerAttr>("tokens");
    auto threshold = d.getAs<FloatAttr>("threshold");
    auto counts = d.getAs<DenseI64ArrayAttr>("counts");
    auto pruned = d.getAs<DenseI64ArrayAttr>("pruned");
    if (!node || !note || !experts || !k || !tokens || !threshold || !counts || !pruned ||
        static_cast<int64_t>(counts.size()) != experts.getInt())
      return bad();
    PruneRow row;
    row.node = node.str();
    row.note = note.str();
    row.experts = experts.getInt();
    row.k = k.getInt();
    row.tokens = tokens.getInt();
    row.threshold = threshold.getValueAsDouble();
    row.counts.assign(counts.asArrayRef().begin(), counts.asArrayRef().end());
    row.pruned.assign(pruned.asArrayRef().begin(), pruned.asArrayRef().end());
    r.pruning.push_back(std::move(row));
  }
  return success();
}

namespace {
int64_t slotsOf(const PruneRow &p) {
  int64_t total = 0;
  for (int64_t c : p.counts)
    total += c;
  return total;
}
bool isPruned(const PruneRow &p, int64_t e) {
  return std::find(p.pruned.begin(), p.pruned.end(), e) != p.pruned.end();
}
} // namespace

void writePruningMarkdown(const Report &r, llvm::raw_ostream &os) {
  if (!r.hasPruning)
    return;
  os << "\n## expert pruning\n\n"
     << "Routed slots per expert on the calibration batches; an expert whose share is below "
        "the threshold is removed from the router and the expert weights (at least k stay).\n";
  for (const PruneRow &p : r.pruning) {
    int64_t slots = slotsOf(p);
    os << "\n### " << (p.node.empty() ? "(unnamed router)" : p.node) << "\n\n"
       << p.experts << " experts, k = " << p.k << ", " << p.tokens << " tokens, threshold "
       << llvm::format("%.4f", p.threshold) << ": " << p.pruned.size() << " pruned"
       << (p.note.empty() ? "" : " — " + p.note) << ".\n\n"
       << "| expert | routed slots | share | pruned |\n| ---: | ---: | ---: | --- |\n";
    for (int64_t e = 0; e < p.experts; ++e)
      os << "| " << e << " | " << p.counts[e] << " | "
         << llvm::format("%.4f", slots ? static_cast<double>(p.counts[e]) / slots : 0.0) << " | "
         << (isPruned(p, e) ? "yes" : "") << " |\n";
  }
}

void writePruningJson(const Report &r, llvm::json::OStream &j) {
  if (!r.hasPruning) {
    j.attribute("expert_pruning", nullptr);
    return;
  }
  j.attributeArray("expert_pruning", [&] {
    for (const PruneRow &p : r.pruning)
      j.object([&] {
        j.attribute("node", p.node);
        j.attribute("experts", p.experts);
        j.attribute("k", p.k);
        j.attribute("tokens", p.tokens);
        j.attribute("threshold", p.threshold);
        j.attribute("note", p.note);
        j.attributeArray("counts", [&] {
          for (int64_t c : p.counts)
            j.value(c);
        });
        j.attributeArray("pruned", [&] {
          for (int64_t e : p.pruned)
            j.value(e);
        });
      });
  });
}

} // namespace moec::report
