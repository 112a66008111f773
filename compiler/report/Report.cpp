//===- Report.cpp - the compile report of a planned module ------------------===//
#include "compiler/report/Report.h"

#include "compiler/utils/OnnxOpAccess.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

#include <map>
#include <set>

using namespace mlir;

namespace moec::report {

namespace {

// The entries moec-record-unfused stored on `func`; failure on a malformed
// attribute (hand-written IR).
LogicalResult readUnfused(func::FuncOp func, DictionaryAttr unfused,
                          std::vector<UnfusedOp> &into) {
  auto ops = unfused.getAs<ArrayAttr>("ops");
  auto bad = [&]() {
    return func.emitError("compile report: malformed 'moec.unfused' attribute (expected the "
                          "form moec-record-unfused writes)");
  };
  if (!ops)
    return bad();
  for (Attribute a : ops) {
    auto entry = dyn_cast<DictionaryAttr>(a);
    auto node = entry ? entry.getAs<StringAttr>("node") : StringAttr();
    auto op = entry ? entry.getAs<StringAttr>("op") : StringAttr();
    auto launches = entry ? entry.getAs<IntegerAttr>("launches") : IntegerAttr();
    auto bytes = entry ? entry.getAs<DenseI64ArrayAttr>("activation_bytes") : DenseI64ArrayAttr();
    auto weights = entry ? entry.getAs<IntegerAttr>("weight_bytes") : IntegerAttr();
    if (!node || !op || !launches || !bytes || bytes.size() != 2 || !weights)
      return bad();
    UnfusedOp u;
    u.node = node.str();
    u.op = op.str();
    u.launches = launches.getInt();
    u.activationBytes = {bytes[0], bytes[1]};
    u.weightBytes = weights.getInt();
    into.push_back(std::move(u));
  }
  return success();
}

std::vector<std::string> splitLabel(StringRef label) {
  SmallVector<StringRef> parts;
  label.split(parts, " + ", -1, /*KeepEmpty=*/false);
  return {parts.begin(), parts.end()};
}

void addLaunch(Totals &t, const LaunchRow &row) {
  ++t.launches;
  t.flops += row.cost.flops;
  t.bytesMoved += row.bytesMoved();
  t.resultBytes += row.cost.resultBytes;
  t.weightBytesRead += row.cost.weightBytes;
}

void addUnfused(Totals &t, const UnfusedOp &op) {
  t.launchesBefore = t.launchesBefore.value_or(0) + op.launches;
  t.bytesMovedBefore = t.bytesMovedBefore.value_or(Affine{}) + op.bytesMoved();
}

} // namespace

FailureOr<Report> buildReport(ModuleOp module, StringRef target) {
  Report r;
  if (auto source = module->getAttrOfType<StringAttr>("moec.source"))
    r.source = source.str();
  r.target = target.str();
  if (r.target.empty())
    if (auto t = module->getAttrOfType<StringAttr>(kernel::kTargetAttr))
      r.target = t.str();
  std::set<std::string> unmodelled;
  for (auto func : module.getOps<func::FuncOp>()) {
    for (auto c : func.getOps<kernel::ConstantOp>()) {
      auto bytes = tensorBytes(c.getType());
      if (failed(bytes))
        return c.emitError("compile report: a weight must have a static shape"), failure();
      r.weightBytesStored += bytes->base;
      ++r.weightCount;
    }
    for (auto launch : func.getOps<kernel::LaunchOp>()) {
      auto cost = costOf(launch);
      if (failed(cost))
        return failure();
      LaunchRow row;
      row.kernel = launch.getKernel().str();
      row.nodes = moec::nodeNames(launch.getLoc());
      row.group = layerOf(row.nodes);
      row.cost = *cost;
      if (!cost->flopsModelled)
        unmodelled.insert(row.kernel);
      r.launches.push_back(std::move(row));
    }
    if (auto unfused = func->getAttrOfType<DictionaryAttr>("moec.unfused")) {
      if (failed(readUnfused(func, unfused, r.unfused)))
        return failure();
      r.hasUnfused = true;
    }
    if (failed(readQuantization(func, r)) || failed(readPruning(func, r)))
      return failure();
  }
  r.unmodelledKinds.assign(unmodelled.begin(), unmodelled.end());

  // Layers: "layers.N" where the node names tell it; the rest is "other",
  // or "model" when no name tells a layer.
  for (UnfusedOp &op : r.unfused)
    op.group = layerOf(splitLabel(op.node));
  bool anyLayer = llvm::any_of(r.launches, [](const LaunchRow &l) { return !l.group.empty(); }) ||
                  llvm::any_of(r.unfused, [](const UnfusedOp &u) { return !u.group.empty(); });
  std::string rest = anyLayer ? "other" : "model";
  std::map<std::string, unsigned> groupIndex;
  auto groupOf = [&](std::string &name) -> Group & {
    if (name.empty())
      name = rest;
    auto [it, inserted] = groupIndex.try_emplace(name, r.groups.size());
    if (inserted)
      r.groups.push_back(Group{name, {}, {}, {}});
    return r.groups[it->second];
  };
  llvm::StringSet<> launchedNodes; // nodes with a launch of their own
  for (auto [i, row] : llvm::enumerate(r.launches)) {
    Group &g = groupOf(row.group);
    g.launches.push_back(static_cast<unsigned>(i));
    addLaunch(g.totals, row);
    addLaunch(r.totals, row);
    if (row.nodes.size() == 1)
      launchedNodes.insert(row.nodes.front());
  }
  for (UnfusedOp &op : r.unfused) {
    Group &g = groupOf(op.group);
    addUnfused(g.totals, op);
    addUnfused(r.totals, op);
    // A node that had a launch before fusion and has none of its own after
    // it (no launch, or only launches that carry several nodes' names) was
    // merged into another launch.
    std::vector<std::string> names = splitLabel(op.node);
    if (!names.empty() && llvm::none_of(names, [&](const std::string &n) {
          return launchedNodes.contains(n);
        }) && !llvm::is_contained(g.fusedNodes, op.node))
      g.fusedNodes.push_back(op.node);
  }
  if (r.hasUnfused)
    for (Group &g : r.groups) {
      // A layer whose every op was recorded has its before-fusion numbers.
      g.totals.launchesBefore = g.totals.launchesBefore.value_or(0);
      g.totals.bytesMovedBefore = g.totals.bytesMovedBefore.value_or(Affine{});
    }
  if (r.hasUnfused) {
    r.totals.launchesBefore = r.totals.launchesBefore.value_or(0);
    r.totals.bytesMovedBefore = r.totals.bytesMovedBefore.value_or(Affine{});
  }
  return r;
}

} // namespace moec::report
