//===- ReportFormat.cpp - the compile report as Markdown or JSON ------------===//
//
// Markdown for people (numbers with thousands separators, a table per
// layer), JSON for scripts (plain integers; schema in docs/user-guide.md,
// "Compile report"). Both carry the same numbers.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Report.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"

namespace moec::report {

namespace {

std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// "c*T^2 + a*T + b", "a*T + b", "a*T" or "b" (zero terms left out).
std::string affine(const Affine &a) {
  std::string s;
  auto term = [&](int64_t coefficient, const char *unit) {
    if (!coefficient)
      return;
    s += (s.empty() ? "" : " + ") + grouped(coefficient) + unit;
  };
  term(a.perTokenSquared, "*T^2");
  term(a.perToken, "*T");
  term(a.base, "");
  return s.empty() ? "0" : s;
}

// A table cell: '|' would end it.
std::string cell(llvm::StringRef text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += '\\';
    out += c;
  }
  return out;
}

std::string bytesAt(const Totals &t, int64_t tokens, bool before) {
  if (!before)
    return grouped(t.bytesMoved.at(tokens));
  return t.bytesMovedBefore ? grouped(t.bytesMovedBefore->at(tokens)) : "not recorded";
}

std::string launchesBefore(const Totals &t) {
  return t.launchesBefore ? grouped(*t.launchesBefore) : "not recorded";
}

void writeGroup(const Report &r, const Group &g, llvm::raw_ostream &os) {
  const Totals &t = g.totals;
  os << "\n## " << g.name << "\n\n"
     << t.launches << " launches (" << launchesBefore(t) << " before fusion); bytes moved at T = 1: "
     << bytesAt(t, 1, false) << " (" << bytesAt(t, 1, true) << " before fusion); FLOPs: "
     << affine(t.flops) << "\n\n"
     << "| # | kernel | node | FLOPs at T=1 | FLOPs | bytes at T=1 | weight bytes |\n"
     << "| ---: | --- | --- | ---: | ---: | ---: | ---: |\n";
  for (unsigned i : g.launches) {
    const LaunchRow &row = r.launches[i];
    std::string flops1 = row.cost.flopsModelled ? grouped(row.cost.flops.at(1)) : "?";
    std::string flops = row.cost.flopsModelled ? affine(row.cost.flops) : "?";
    // Launches the compiler adds (boundary casts, output copies) have no node.
    std::string node = row.nodes.empty() ? "—" : cell(llvm::join(row.nodes, " + "));
    os << "| " << i << " | " << row.kernel << " | " << node
       << " | " << flops1 << " | " << flops << " | " << grouped(row.bytesMoved().at(1)) << " | "
       << grouped(row.cost.weightBytes) << " |\n";
  }
  if (!g.fusedNodes.empty()) {
    // Long lists (a large model's casts) stay readable; the JSON has all.
    constexpr size_t kShown = 12;
    os << "\nFused into other launches (no launch of their own): ";
    for (size_t i = 0; i < g.fusedNodes.size() && i < kShown; ++i)
      os << (i ? ", " : "") << "`" << g.fusedNodes[i] << "`";
    if (g.fusedNodes.size() > kShown)
      os << " and " << g.fusedNodes.size() - kShown << " more";
    os << "\n";
  }
}

} // namespace

void writeMarkdown(const Report &r, llvm::raw_ostream &os) {
  const Totals &t = r.totals;
  os << "# moec compile report: " << (r.source.empty() ? "module" : r.source);
  if (!r.target.empty())
    os << " (target " << r.target << ")";
  os << "\n\n";
  os << "Summary: " << t.launches << " kernel launches after fusion, " << launchesBefore(t)
     << " before; bytes moved at T = 1: " << bytesAt(t, 1, false) << " after fusion, "
     << bytesAt(t, 1, true) << " before; at T = 256: " << bytesAt(t, 256, false)
     << " after, " << bytesAt(t, 256, true) << " before.\n\n";
  os << "| | after fusion | before fusion |\n| --- | ---: | ---: |\n"
     << "| kernel launches | " << t.launches << " | " << launchesBefore(t) << " |\n"
     << "| bytes moved | " << affine(t.bytesMoved) << " | "
     << (t.bytesMovedBefore ? affine(*t.bytesMovedBefore) : "not recorded") << " |\n";
  for (int64_t tokens : kReportTokens)
    os << "| bytes moved at T = " << tokens << " | " << bytesAt(t, tokens, false) << " | "
       << bytesAt(t, tokens, true) << " |\n";
  os << "| FLOPs | " << affine(t.flops) << " | |\n";
  for (int64_t tokens : kReportTokens)
    os << "| FLOPs at T = " << tokens << " | " << grouped(t.flops.at(tokens)) << " | |\n";
  os << "| weights stored | " << grouped(r.weightBytesStored) << " bytes in " << r.weightCount
     << " tensors | |\n";
  for (const Group &g : r.groups)
    writeGroup(r, g, os);
  os << "\nFLOPs count a multiply-add as 2 and only matrix products for GEMM-like kernels; "
        "the expert kernels count the k experts each token is routed to (2*T*k*(H*F1 [+ H*I] "
        "+ I*H)); attention counts every query over the whole cache capacity (an upper "
        "bound). Bytes moved: every data input read and every result written once, "
        "weights at their stored size (all experts; quantized weights as stored, plus "
        "scales), counted at each launch that reads them. See docs/user-guide.md.\n";
  if (!r.unmodelledKinds.empty())
    os << "FLOPs not modelled (shown as ?): " << llvm::join(r.unmodelledKinds, ", ") << ".\n";
  writeQuantizationMarkdown(r, os);
  writePruningMarkdown(r, os);
}

void writeJson(const Report &r, llvm::raw_ostream &os) {
  llvm::json::OStream j(os, 1);
  auto affineValue = [&](llvm::StringRef key, const Affine &a) {
    j.attributeObject(key, [&] {
      j.attribute("base", a.base);
      j.attribute("per_token", a.perToken);
      if (a.perTokenSquared)
        j.attribute("per_token_squared", a.perTokenSquared);
    });
  };
  auto totals = [&](const Totals &t) {
    j.attribute("launches", t.launches);
    if (t.launchesBefore)
      j.attribute("launches_before_fusion", *t.launchesBefore);
    else
      j.attribute("launches_before_fusion", nullptr);
    affineValue("flops", t.flops);
    affineValue("bytes_moved", t.bytesMoved);
    if (t.bytesMovedBefore)
      affineValue("bytes_moved_before_fusion", *t.bytesMovedBefore);
    else
      j.attribute("bytes_moved_before_fusion", nullptr);
    affineValue("result_bytes", t.resultBytes);
    j.attribute("weight_bytes_read", t.weightBytesRead);
    j.attributeArray("at", [&] {
      for (int64_t tokens : kReportTokens)
        j.object([&] {
          j.attribute("tokens", tokens);
          j.attribute("flops", t.flops.at(tokens));
          j.attribute("bytes_moved", t.bytesMoved.at(tokens));
          if (t.bytesMovedBefore)
            j.attribute("bytes_moved_before_fusion", t.bytesMovedBefore->at(tokens));
          else
            j.attribute("bytes_moved_before_fusion", nullptr);
        });
    });
  };
  j.object([&] {
    j.attribute("format", "moec-compile-report");
    j.attribute("version", 1);
    j.attribute("source", r.source);
    j.attribute("target", r.target);
    j.attribute("weight_bytes_stored", r.weightBytesStored);
    j.attribute("weight_count", r.weightCount);
    j.attributeObject("totals", [&] { totals(r.totals); });
    j.attributeArray("layers", [&] {
      for (const Group &g : r.groups)
        j.object([&] {
          j.attribute("name", g.name);
          totals(g.totals);
          j.attributeArray("launch_indices", [&] {
            for (unsigned i : g.launches)
              j.value(static_cast<int64_t>(i));
          });
          j.attributeArray("fused_nodes", [&] {
            for (const std::string &n : g.fusedNodes)
              j.value(n);
          });
        });
    });
    j.attributeArray("launches", [&] {
      for (auto [i, row] : llvm::enumerate(r.launches))
        j.object([&] {
          j.attribute("index", static_cast<int64_t>(i));
          j.attribute("kernel", row.kernel);
          j.attributeArray("nodes", [&] {
            for (const std::string &n : row.nodes)
              j.value(n);
          });
          j.attribute("layer", row.group);
          if (row.cost.flopsModelled)
            affineValue("flops", row.cost.flops);
          else
            j.attribute("flops", nullptr);
          affineValue("activation_bytes", row.cost.activationBytes);
          affineValue("result_bytes", row.cost.resultBytes);
          j.attribute("weight_bytes", row.cost.weightBytes);
          affineValue("bytes_moved", row.bytesMoved());
        });
    });
    writeQuantizationJson(r, j);
    writePruningJson(r, j);
    if (!r.hasUnfused) {
      j.attribute("before_fusion", nullptr);
      return;
    }
    j.attributeArray("before_fusion", [&] {
      for (const UnfusedOp &u : r.unfused)
        j.object([&] {
          j.attribute("node", u.node);
          j.attribute("op", u.op);
          j.attribute("layer", u.group);
          j.attribute("launches", u.launches);
          affineValue("activation_bytes", u.activationBytes);
          j.attribute("weight_bytes", u.weightBytes);
        });
    });
  });
  os << "\n";
}

} // namespace moec::report
