//===- QuantReport.cpp - the compile report's quantization section ----------===//
//
// With `moec compile --calibration DIR --quantize ...`, moec-awq-scale
// measures every quantized weight on the calibration rows and stores the
// result on the function (`moec.quantization`); this reads it into the report
// and writes it as Markdown and JSON with the same numbers.
//
//===----------------------------------------------------------------------===//
#include "compiler/report/Report.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/Format.h"

using namespace mlir;

namespace moec::report {

LogicalResult readQuantization(Operation *func, Report &r) {
  auto list = func->getAttrOfType<ArrayAttr>("moec.quantization");
  if (!list)
    return success();
  auto bad = [&]() {
    return func->emitError("compile report: malformed 'moec.quantization' attribute (expected "
                           "the dictionaries moec-awq-scale writes)");
  };
  r.hasQuantization = true;
  for (Attribute a : list) {
    auto d = dyn_cast<DictionaryAttr>(a);
    auto str = [&](StringRef key) { return d ? d.getAs<StringAttr>(key) : StringAttr(); };
    auto integer = [&](StringRef key) { return d ? d.getAs<IntegerAttr>(key) : IntegerAttr(); };
    auto real = [&](StringRef key) { return d ? d.getAs<FloatAttr>(key) : FloatAttr(); };
    if (!str("node") || !str("op") || !str("weight") || !str("format") || !integer("group_size") ||
        !integer("bytes_before") || !integer("bytes_after") || !integer("rows") ||
        !real("alpha") || !d.getAs<BoolAttr>("awq"))
      return bad();
    QuantRow row;
    row.node = str("node").str();
    row.op = str("op").str();
    row.weight = str("weight").str();
    row.format = str("format").str();
    row.groupSize = integer("group_size").getInt();
    row.bytesBefore = integer("bytes_before").getInt();
    row.bytesAfter = integer("bytes_after").getInt();
    row.rows = integer("rows").getInt();
    row.alpha = real("alpha").getValueAsDouble();
    row.awq = d.getAs<BoolAttr>("awq").getValue();
    if (FloatAttr e = real("error_rtn"))
      row.errorRtn = e.getValueAsDouble();
    if (FloatAttr e = real("error_awq"))
      row.errorAwq = e.getValueAsDouble();
    r.quantization.push_back(std::move(row));
  }
  return success();
}

namespace {
std::string errorText(const std::optional<double> &e) {
  if (!e)
    return "—";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.3e", *e);
  return s;
}
} // namespace

void writeQuantizationMarkdown(const Report &r, llvm::raw_ostream &os) {
  if (!r.hasQuantization)
    return;
  int64_t before = 0, after = 0;
  for (const QuantRow &q : r.quantization) {
    before += q.bytesBefore;
    after += q.bytesAfter;
  }
  os << "\n## quantization\n\n"
     << r.quantization.size() << " quantized weights, " << before << " bytes as float32, "
     << after << " quantized (values + scales). Relative output error ||Y - Ŷ|| / ||Y|| on "
     << "the calibration rows, for round-to-nearest and with the AWQ scales chosen "
        "(alpha 0: none helped).\n\n"
     << "| node | weight | format | group | bytes before | bytes after | rows | error RTN | "
        "error AWQ | alpha |\n"
     << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const QuantRow &q : r.quantization) {
    std::string node;
    for (char c : q.node)
      node += c == '|' ? std::string("\\|") : std::string(1, c);
    os << "| " << (node.empty() ? "—" : node) << " | " << q.weight << " | " << q.format << " | "
       << (q.groupSize ? std::to_string(q.groupSize) : std::string("row")) << " | "
       << q.bytesBefore << " | " << q.bytesAfter << " | " << q.rows << " | "
       << errorText(q.errorRtn) << " | " << errorText(q.errorAwq) << " | "
       << llvm::format("%.2f", q.alpha) << " |\n";
  }
}

void writeQuantizationJson(const Report &r, llvm::json::OStream &j) {
  if (!r.hasQuantization) {
    j.attribute("quantization", nullptr);
    return;
  }
  j.attributeArray("quantization", [&] {
    for (const QuantRow &q : r.quantization)
      j.object([&] {
        j.attribute("node", q.node);
        j.attribute("op", q.op);
        j.attribute("weight", q.weight);
        j.attribute("format", q.format);
        j.attribute("group_size", q.groupSize);
        j.attribute("bytes_before", q.bytesBefore);
        j.attribute("bytes_after", q.bytesAfter);
        j.attribute("rows", q.rows);
        if (q.errorRtn)
          j.attribute("error_rtn", *q.errorRtn);
        else
          j.attribute("error_rtn", nullptr);
        if (q.errorAwq)
          j.attribute("error_awq", *q.errorAwq);
        else
          j.attribute("error_awq", nullptr);
        j.attribute("alpha", q.alpha);
        j.attribute("awq", q.awq);
      });
  });
}

} // namespace moec::report
