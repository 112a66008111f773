//===- CalibrationData.cpp - read and write the activation directory --------===//
//
// The format is described in CalibrationData.h. The .npy files go through
// moec-run's reader and writer (tools/moec-run/Npy.h), so both tools accept
// exactly the same files.
//
//===----------------------------------------------------------------------===//
#include "compiler/calibration/CalibrationData.h"

#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "tools/moec-run/Npy.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace moec::calibration {

namespace {

std::string joinPath(StringRef dir, StringRef file) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, file);
  return std::string(p);
}

// Reads one {"file", "seen"} row set; `where` names it in messages.
LogicalResult readRowSet(StringRef dir, const llvm::json::Object *obj, const std::string &where,
                         bool loadRows, RowSet &out, std::string &error) {
  auto file = obj ? obj->getString("file") : std::nullopt;
  auto seen = obj ? obj->getInteger("seen") : std::nullopt;
  if (!file || !seen || *seen < 0) {
    error = where + ": expected {\"file\": string, \"seen\": integer >= 0}";
    return failure();
  }
  out.seen = *seen;
  std::string path = joinPath(dir, *file);
  npy::Array array;
  std::string why;
  if (!npy::read(path, &array, &why)) {
    error = path + ": " + why;
    return failure();
  }
  if (array.dtype() != MOERT_DTYPE_F32 || array.shape().size() != 2) {
    error = path + ": expected a float32 [rows, cols] array";
    return failure();
  }
  out.rows = array.shape()[0];
  out.cols = array.shape()[1];
  if (out.rows > out.seen) {
    error = path + ": " + std::to_string(out.rows) + " rows but \"seen\" is " +
            std::to_string(out.seen);
    return failure();
  }
  if (loadRows) {
    out.data.resize(array.elementCount());
    if (!out.data.empty())
      std::memcpy(out.data.data(), array.data(), array.byteSize());
  }
  return success();
}

} // namespace

FailureOr<CalibrationData> readCalibrationData(StringRef dir, std::string &error,
                                               bool loadRows) {
  std::string indexPath = joinPath(dir, "index.json");
  auto buffer = llvm::MemoryBuffer::getFile(indexPath);
  if (!buffer) {
    error = indexPath + ": cannot read it (" + buffer.getError().message() + ")";
    return failure();
  }
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    error = indexPath + ": not valid JSON: " + llvm::toString(json.takeError());
    return failure();
  }
  auto bad = [&](const Twine &what) -> FailureOr<CalibrationData> {
    error = (indexPath + ": " + what).str();
    return failure();
  };
  const llvm::json::Object *root = json->getAsObject();
  if (!root || root->getString("format") != "moec-calibration")
    return bad("not a moec calibration index (\"format\": \"moec-calibration\")");
  if (root->getInteger("version") != 1)
    return bad("unsupported version (this moec reads version 1)");
  CalibrationData data;
  data.batches = root->getInteger("batches").value_or(0);
  data.tokens = root->getInteger("tokens").value_or(0);
  data.maxRows = root->getInteger("max_rows").value_or(kDefaultMaxRows);
  const llvm::json::Array *ops = root->getArray("ops");
  const llvm::json::Array *routers = root->getArray("routers");
  if (!ops || !routers)
    return bad("expected \"ops\" and \"routers\" arrays");
  for (auto [i, value] : llvm::enumerate(*ops)) {
    const llvm::json::Object *op = value.getAsObject();
    auto key = op ? op->getString("key") : std::nullopt;
    auto kind = op ? op->getString("op") : std::nullopt;
    std::string where = indexPath + ": ops[" + std::to_string(i) + "]";
    if (!key || !kind)
      return bad("ops[" + Twine(i) + "]: expected string \"key\" and \"op\"");
    OpRows rows;
    rows.op = kind->str();
    if (*kind == "moe.linear") {
      if (failed(readRowSet(dir, op->getObject("input"), where + ".input", loadRows, rows.input,
                            error)))
        return failure();
    } else if (*kind == "moe.experts") {
      const llvm::json::Array *experts = op->getArray("experts");
      if (!experts)
        return bad("ops[" + Twine(i) + "]: expected an \"experts\" array");
      for (auto [e, ev] : llvm::enumerate(*experts)) {
        const llvm::json::Object *expert = ev.getAsObject();
        std::string ewhere = where + ".experts[" + std::to_string(e) + "]";
        ExpertRows er;
        if (failed(readRowSet(dir, expert ? expert->getObject("input") : nullptr,
                              ewhere + ".input", loadRows, er.input, error)) ||
            failed(readRowSet(dir, expert ? expert->getObject("fc2_input") : nullptr,
                              ewhere + ".fc2_input", loadRows, er.fc2Input, error)))
          return failure();
        rows.experts.push_back(std::move(er));
      }
    } else {
      return bad("ops[" + Twine(i) + "]: unknown op '" + *kind + "'");
    }
    if (!data.ops.emplace(key->str(), std::move(rows)).second)
      return bad("ops[" + Twine(i) + "]: key '" + *key + "' appears twice");
  }
  for (auto [i, value] : llvm::enumerate(*routers)) {
    const llvm::json::Object *r = value.getAsObject();
    auto key = r ? r->getString("key") : std::nullopt;
    const llvm::json::Array *counts = r ? r->getArray("counts") : nullptr;
    if (!key || !counts)
      return bad("routers[" + Twine(i) + "]: expected string \"key\" and a \"counts\" array");
    RouterCounts rc;
    rc.experts = r->getInteger("experts").value_or(-1);
    rc.k = r->getInteger("k").value_or(-1);
    rc.tokens = r->getInteger("tokens").value_or(-1);
    for (const llvm::json::Value &c : *counts) {
      auto n = c.getAsInteger();
      if (!n || *n < 0)
        return bad("routers[" + Twine(i) + "]: counts must be integers >= 0");
      rc.counts.push_back(*n);
    }
    if (rc.experts != static_cast<int64_t>(rc.counts.size()) || rc.k < 0 || rc.tokens < 0)
      return bad("routers[" + Twine(i) + "]: expected \"experts\" = len(counts), \"k\" and "
                 "\"tokens\" >= 0");
    if (!data.routers.emplace(key->str(), std::move(rc)).second)
      return bad("routers[" + Twine(i) + "]: key '" + *key + "' appears twice");
  }
  return data;
}

LogicalResult writeCalibrationData(StringRef dir, const CalibrationData &data,
                                   std::string &error) {
  std::string rowsDir = joinPath(dir, "rows");
  if (std::error_code ec = llvm::sys::fs::create_directories(rowsDir)) {
    error = rowsDir + ": cannot create it (" + ec.message() + ")";
    return failure();
  }
  int fileCount = 0;
  // Writes one row set and returns its {"file", "seen"} object.
  auto writeRows = [&](const RowSet &set, llvm::json::Object &out) -> LogicalResult {
    std::string name = "rows/" + std::to_string(fileCount++) + ".npy";
    npy::Array array;
    if (!array.allocate(MOERT_DTYPE_F32, {set.rows, set.cols})) {
      error = joinPath(dir, name) + ": out of memory";
      return failure();
    }
    if (array.byteSize())
      std::memcpy(array.data(), set.data.data(), array.byteSize());
    std::string why;
    if (!npy::write(joinPath(dir, name), array, &why)) {
      error = joinPath(dir, name) + ": " + why;
      return failure();
    }
    out["file"] = name;
    out["seen"] = set.seen;
    return success();
  };
  llvm::json::Array ops;
  for (const auto &[key, rows] : data.ops) {
    llvm::json::Object op{{"key", key}, {"op", rows.op}};
    if (rows.op == "moe.linear") {
      llvm::json::Object input;
      if (failed(writeRows(rows.input, input)))
        return failure();
      op["input"] = std::move(input);
    } else {
      llvm::json::Array experts;
      for (const ExpertRows &er : rows.experts) {
        llvm::json::Object input, fc2;
        if (failed(writeRows(er.input, input)) || failed(writeRows(er.fc2Input, fc2)))
          return failure();
        experts.push_back(llvm::json::Object{{"input", std::move(input)},
                                             {"fc2_input", std::move(fc2)}});
      }
      op["experts"] = std::move(experts);
    }
    ops.push_back(std::move(op));
  }
  llvm::json::Array routers;
  for (const auto &[key, rc] : data.routers) {
    llvm::json::Array counts;
    for (int64_t c : rc.counts)
      counts.push_back(c);
    routers.push_back(llvm::json::Object{{"key", key},
                                         {"experts", rc.experts},
                                         {"k", rc.k},
                                         {"tokens", rc.tokens},
                                         {"counts", std::move(counts)}});
  }
  llvm::json::Object root{{"format", "moec-calibration"}, {"version", 1},
                          {"batches", data.batches},     {"tokens", data.tokens},
                          {"max_rows", data.maxRows},    {"ops", std::move(ops)},
                          {"routers", std::move(routers)}};
  std::string indexPath = joinPath(dir, "index.json");
  std::error_code ec;
  llvm::raw_fd_ostream os(indexPath, ec, llvm::sys::fs::OF_Text);
  if (!ec) {
    os << llvm::formatv("{0:1}", llvm::json::Value(std::move(root))) << "\n";
    os.close();
    ec = os.error();
    os.clear_error();
  }
  if (ec) {
    error = indexPath + ": cannot write it (" + ec.message() + ")";
    return failure();
  }
  return success();
}

std::vector<std::pair<Operation *, std::string>> calibrationKeys(func::FuncOp func) {
  std::vector<std::pair<Operation *, std::string>> out;
  llvm::StringSet<> opKeys, routerKeys;
  func.walk([&](Operation *op) {
    bool router = isa<moe::RouterOp>(op);
    if (!router && !isa<moe::LinearOp, moe::ExpertsOp>(op))
      return;
    std::vector<std::string> names = moec::nodeNames(op->getLoc());
    std::string base = names.empty() ? "" : names.front();
    llvm::StringSet<> &taken = router ? routerKeys : opKeys;
    std::string key = base;
    for (int n = 1; taken.contains(key); ++n)
      key = base + "#" + std::to_string(n);
    taken.insert(key);
    out.emplace_back(op, key);
  });
  return out;
}

} // namespace moec::calibration
