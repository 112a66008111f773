//===- PruneExperts.cpp - remove experts calibration rarely routes to -------===//
//
// An expert that the router almost never selects still costs its weights'
// bytes in the artifact and on the device. With the routing counts of a
// calibration run (how many routed slots chose each expert), this pass
// removes the experts whose share of the slots is below `threshold`, least
// routed first, at most `max-pruned` of them and never so many that fewer
// than k remain. E shrinks; k does not.
//
// What the pruned block computes. Every variant selects, per token, the top
// k of the KEPT experts by the same score the original router used, so a
// token whose original top k held no pruned expert gets exactly the original
// output; a token that chose a pruned expert gets the next-best kept one
// instead. The routing weights are the original ones for the selected:
//
//   - sigmoid scoring: s_e = sigmoid(logit_e) does not depend on other
//     experts; the selection bias loses the pruned entries. Dropping columns
//     is exact.
//   - softmax, normalize = true (also k = 1): the k weights are rescaled to
//     sum to one, which cancels the softmax denominator. Dropping columns is
//     exact.
//   - softmax, normalize = false: p_e = exp(l_e) / sum over ALL experts.
//     Dropping the pruned logits would shrink that denominator and scale up
//     every token's weights by 1 / (1 - pruned mass), tokens that never
//     chose a pruned expert included. With 64 experts and 8 pruned at ~1.5%
//     of the mass each, every token's output grows by ~14%, far more than
//     the pruning itself changes (in test/e2e/test_prune_experts.py
//     dropping the denominator moves the output by 13% of its scale).
//     So the original denominator is kept
//     exactly: the router runs on the kept columns (q_e = exp(l_e) / Z_kept)
//     and its weights are multiplied by Z_kept / Z_all = sum of the kept
//     entries of softmax(all logits), computed by the original logits linear,
//     an onnx.Softmax and a [E, 1] 0/1 mask linear. The extra work is one
//     router-sized GEMM and a GEMV per token, small beside one expert.
//   - `scaling` multiplies after all of this and is unchanged.
//
// Left alone, each with a one-line remark (nothing is ever half-pruned; all
// operands are checked before anything changes):
//   - group-limited routers (groups > 1): a group's score is the sum of its
//     two best biased scores, so pruning even a never-selected expert can
//     change which groups compete, and the groups must stay equal
//     consecutive blocks. Refused rather than silently changing selections.
//   - a moe.experts not fed directly by a moe.router, or a router whose
//     results have other users (expert ids would change meaning for them);
//   - router logits that are not a moe.linear, and weights or biases that
//     are neither constants nor moe.dequantize of constants (quantized
//     weights are pruned in their stored form unless their quantization
//     blocks run along the expert axis);
//   - routers without counts in the calibration data.
//
// Each router with counts gets a remark with its histogram (count and share
// per expert, pruned ones marked), and the function records it for the
// compile report as
//   moec.pruned_experts = [{node = "...", experts = E, k = K, tokens = N,
//                           counts = array<i64: ...>, pruned = array<i64: ...>,
//                           threshold = F, note = "..."}]
// (`pruned` holds original expert ids; `note` is empty when the router was
// pruned as asked, else why not).
//
//===----------------------------------------------------------------------===//

#include "compiler/calibration/CalibrationData.h"
#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/sparsity/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace moec {
#define GEN_PASS_DEF_MOECPRUNEEXPERTS
#include "passes/sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
namespace moe = moec::moe;

namespace {

constexpr llvm::StringLiteral kPrunedAttr = "moec.pruned_experts";

//===----------------------------------------------------------------------===//
// Slicing weights along the expert axis
//===----------------------------------------------------------------------===//

// Why `value` cannot be restricted to some indices along `dim`, or "" if it
// can: a constant, or a moe.dequantize of constants whose blocks do not
// straddle `dim`.
std::string whyNotSliceable(Value value, int64_t dim) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !type.hasStaticShape())
    return "is not a static tensor";
  if (moec::getConstantElements(value))
    return "";
  auto dq = value.getDefiningOp<moe::DequantizeOp>();
  if (!dq)
    return "is not a compile-time constant";
  for (Value v : {dq.getInput(), dq.getScale(), dq.getZeroPoint()})
    if (v && !moec::getConstantElements(v))
      return "is a moe.dequantize of a run-time value";
  // A block shared by a kept and a pruned index has no slice of its own;
  // packed int4 pairs along the last axis likewise.
  if (dim == static_cast<int64_t>(dq.getAxis()) && (dq.getBlockSize() != 1 || dq.getBits() != 8))
    return "is quantized in blocks along the expert axis";
  return "";
}

// The rows `kept` (in order) of the constant behind `value` along `dim`.
Value sliceConstant(OpBuilder &b, Value value, int64_t dim, ArrayRef<int64_t> kept) {
  ElementsAttr elements = moec::getConstantElements(value);
  auto type = cast<RankedTensorType>(value.getType());
  std::optional<std::vector<char>> bytes = moec::getConstantBytes(elements);
  if (!bytes)
    return Value();
  int64_t width = moec::storageBytes(type.getElementType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t outer = 1, inner = width;
  for (int64_t d = 0; d < dim; ++d)
    outer *= shape[d];
  for (int64_t d = dim + 1; d < type.getRank(); ++d)
    inner *= shape[d];
  int64_t along = shape[dim];
  std::vector<char> out;
  out.reserve(outer * kept.size() * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t e : kept) {
      const char *row = bytes->data() + (o * along + e) * inner;
      out.insert(out.end(), row, row + inner);
    }
  SmallVector<int64_t> newShape(shape);
  newShape[dim] = static_cast<int64_t>(kept.size());
  std::string key = "pruned";
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(elements))
    key = resource.getRawHandle().getKey().str() + ".pruned";
  else if (auto name = dyn_cast<NameLoc>(value.getLoc()))
    key = name.getName().str() + ".pruned";
  return moec::createBlobConstant(b, value.getLoc(),
                                  RankedTensorType::get(newShape, type.getElementType()), out,
                                  key);
}

// `value` restricted to the indices `kept` along `dim`; whyNotSliceable must
// have said yes.
Value sliceAlong(OpBuilder &b, Value value, int64_t dim, ArrayRef<int64_t> kept) {
  if (moec::getConstantElements(value))
    return sliceConstant(b, value, dim, kept);
  auto dq = value.getDefiningOp<moe::DequantizeOp>();
  Value q = sliceConstant(b, dq.getInput(), dim, kept);
  Value scale = sliceConstant(b, dq.getScale(), dim, kept);
  Value zero = dq.getZeroPoint() ? sliceConstant(b, dq.getZeroPoint(), dim, kept) : Value();
  if (!q || !scale || (dq.getZeroPoint() && !zero))
    return Value();
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = static_cast<int64_t>(kept.size());
  return moe::DequantizeOp::create(b, dq.getLoc(),
                                   RankedTensorType::get(shape, type.getElementType()), q, scale,
                                   zero, dq.getAxisAttr(), dq.getBlockSizeAttr(),
                                   dq.getBitsAttr());
}

// Erases whatever in `roots` and their constant, dequantize and linear
// producers has no use left (the weights pruning replaced). The candidates
// are gathered before anything is erased, and an op leaves the set when it
// is erased, so no pointer is used after its op is gone.
void eraseDead(ArrayRef<Operation *> roots) {
  llvm::SetVector<Operation *> candidates;
  SmallVector<Operation *> work(roots.begin(), roots.end());
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!op || !isa<moe::DequantizeOp, moec::onnx::ConstantOp, moe::LinearOp>(op) ||
        !candidates.insert(op))
      continue;
    for (Value operand : op->getOperands())
      work.push_back(operand.getDefiningOp());
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (Operation *op : candidates.takeVector()) {
      if (op->use_empty()) {
        op->erase();
        changed = true;
      } else {
        candidates.insert(op);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Choosing the experts
//===----------------------------------------------------------------------===//

struct Decision {
  std::vector<int64_t> pruned; // ascending original ids
  std::vector<int64_t> kept;   // ascending original ids
  int64_t slots = 0;           // routed slots counted
  int64_t below = 0;           // experts under the threshold
};

Decision choose(ArrayRef<int64_t> counts, double threshold, int64_t maxPruned, int64_t k) {
  Decision d;
  int64_t experts = static_cast<int64_t>(counts.size());
  d.slots = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  std::vector<int64_t> order(experts);
  std::iota(order.begin(), order.end(), 0);
  // Least routed first; ties go to the lower id, so the choice is stable.
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return counts[a] < counts[b]; });
  int64_t limit = experts - k;
  if (maxPruned >= 0)
    limit = std::min(limit, maxPruned);
  for (int64_t e : order) {
    // share < F, compared exactly: count < F * slots.
    if (static_cast<double>(counts[e]) >= threshold * static_cast<double>(d.slots))
      break;
    ++d.below;
    if (static_cast<int64_t>(d.pruned.size()) < limit)
      d.pruned.push_back(e);
  }
  std::sort(d.pruned.begin(), d.pruned.end());
  for (int64_t e = 0; e < experts; ++e)
    if (!std::binary_search(d.pruned.begin(), d.pruned.end(), e))
      d.kept.push_back(e);
  return d;
}

std::string histogram(ArrayRef<int64_t> counts, const Decision &d) {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (auto [e, count] : llvm::enumerate(counts)) {
    double share = d.slots ? 100.0 * static_cast<double>(count) / static_cast<double>(d.slots) : 0;
    os << (e ? ", " : "") << e << ": " << count << " (" << llvm::format("%.2f", share) << "%)";
    if (std::binary_search(d.pruned.begin(), d.pruned.end(), static_cast<int64_t>(e)))
      os << " pruned";
  }
  return text;
}

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

struct MoeBlock {
  moe::RouterOp router;
  moe::ExpertsOp experts;
  moe::LinearOp logits;
};

// The operands pruning slices, with the axis the experts sit on.
SmallVector<std::pair<OpOperand *, int64_t>> slicedOperands(const MoeBlock &block) {
  SmallVector<std::pair<OpOperand *, int64_t>> operands;
  moe::LinearOp linear = block.logits;
  operands.push_back({&linear->getOpOperand(1), linear.getTransposeWeight() ? 0 : 1});
  if (linear.getBias())
    operands.push_back({&linear->getOpOperand(2), 0});
  moe::ExpertsOp experts = block.experts;
  for (OpOperand &operand : experts->getOpOperands())
    if (operand.getOperandNumber() >= 3) // fc1, fc1_bias, fc2, fc2_bias, fc3, fc3_bias
      operands.push_back({&operand, 0});
  return operands;
}

// A [E, 1] tensor of `type`'s element type, 1 for kept experts and 0 for
// pruned ones.
Value keptMask(OpBuilder &b, Location loc, Type element, int64_t experts,
               ArrayRef<int64_t> kept) {
  auto type = RankedTensorType::get({experts, 1}, element);
  SmallVector<Attribute> values(experts, FloatAttr::get(element, 0.0));
  for (int64_t e : kept)
    values[e] = FloatAttr::get(element, 1.0);
  return moec::onnx::ConstantOp::create(b, loc, type, DenseElementsAttr::get(type, values))
      .getOutput();
}

// Rewrites `block` to the kept experts. Every operand was checked sliceable.
LogicalResult prune(const MoeBlock &block, ArrayRef<int64_t> kept) {
  moe::RouterOp router = block.router;
  moe::LinearOp linear = block.logits;
  moe::ExpertsOp experts = block.experts;
  int64_t numExperts = experts.getNumExperts();
  int64_t numKept = static_cast<int64_t>(kept.size());
  OpBuilder b(router);
  // Slice everything first, so a failure (an unreadable blob) leaves the IR
  // as it was apart from unused new constants.
  SmallVector<std::pair<OpOperand *, Value>> replacements;
  for (auto [operand, dim] : slicedOperands(block)) {
    Value sliced = sliceAlong(b, operand->get(), dim, kept);
    if (!sliced) {
      SmallVector<Operation *> fresh;
      for (auto &[_, v] : replacements)
        fresh.push_back(v.getDefiningOp());
      eraseDead(fresh);
      return router.emitError("moec-prune-experts: cannot read the data of a weight to prune");
    }
    replacements.push_back({operand, sliced});
  }
  auto logitsType = cast<RankedTensorType>(linear.getOutput().getType());
  auto keptLogitsType =
      RankedTensorType::get({logitsType.getDimSize(0), numKept}, logitsType.getElementType());
  Value weight = replacements[0].second;
  Value bias = linear.getBias() ? replacements[1].second : Value();
  size_t firstExpertOperand = linear.getBias() ? 2 : 1;
  auto keptLinear = moe::LinearOp::create(b, linear.getLoc(), keptLogitsType, linear.getInput(),
                                          weight, bias, linear.getTransposeWeightAttr());
  auto keptRouter = cast<moe::RouterOp>(b.clone(*router));
  keptRouter.getLogitsMutable().assign(keptLinear.getOutput());
  if (auto selectionBias = router.getBias()) {
    SmallVector<float> values;
    for (int64_t e : kept)
      values.push_back((*selectionBias)[e]);
    keptRouter.setBiasAttr(b.getDenseF32ArrayAttr(values));
  }
  Value weights = keptRouter.getWeights();
  if (router.getScoring() == "softmax" && !router.getNormalize()) {
    // Keep the original denominator: weights *= sum over kept of
    // softmax(all logits). The full logits stay computed by `linear`.
    Location loc = router.getLoc();
    Type element = logitsType.getElementType();
    Value probs = moec::onnx::SoftmaxOp::create(b, loc, logitsType, linear.getOutput(),
                                                b.getI64IntegerAttr(-1))
                      .getOutput();
    auto massType = RankedTensorType::get({logitsType.getDimSize(0), 1}, element);
    Value mass = moe::LinearOp::create(b, loc, massType, probs,
                                       keptMask(b, loc, element, numExperts, kept), Value(),
                                       false)
                     .getOutput();
    auto rescaled = moe::ElementwiseOp::create(b, loc, weights.getType(), ValueRange{weights, mass});
    mlir::Block &body = rescaled.getBody().front();
    OpBuilder inBody = OpBuilder::atBlockEnd(&body);
    Value product = arith::MulFOp::create(inBody, loc, body.getArgument(0), body.getArgument(1));
    moe::YieldOp::create(inBody, loc, product);
    weights = rescaled.getOutput();
  }
  experts.getWeightsMutable().assign(weights);
  experts.getExpertIdsMutable().assign(keptRouter.getExpertIds());
  // The old router linear and expert weights go unless something else
  // still reads them.
  SmallVector<Operation *> replaced{linear};
  for (size_t i = firstExpertOperand; i < replacements.size(); ++i) {
    replaced.push_back(replacements[i].first->get().getDefiningOp());
    replacements[i].first->set(replacements[i].second);
  }
  router.erase();
  eraseDead(replaced);
  return mlir::verify(experts);
}

// What an operand of the block is called in a remark.
std::string operandName(const MoeBlock &block, OpOperand *operand) {
  moe::LinearOp linear = block.logits;
  if (operand->getOwner() == linear.getOperation())
    return operand->getOperandNumber() == 1 ? "the router's weight" : "the router's bias";
  moe::ExpertsOp e = block.experts;
  Value v = operand->get();
  std::pair<Value, const char *> names[] = {
      {e.getFc1(), "fc1"}, {e.getFc1Bias(), "fc1_bias"}, {e.getFc2(), "fc2"},
      {e.getFc2Bias(), "fc2_bias"}, {e.getFc3(), "fc3"}, {e.getFc3Bias(), "fc3_bias"}};
  for (auto [value, name] : names)
    if (value == v)
      return std::string("the experts' ") + name;
  return "an expert weight";
}

// Why the block cannot be pruned at all, or "" if it can.
std::string whyNotPrunable(const MoeBlock &block) {
  moe::RouterOp router = block.router;
  if (router.getGroups() > 1)
    return "group-limited routing (groups = " + std::to_string(router.getGroups()) +
           ") is not pruned: a group's score sums its best experts, so removing one changes "
           "which groups compete even for tokens that never chose it";
  if (!router.getWeights().hasOneUse() || !router.getExpertIds().hasOneUse())
    return "its routing weights or expert ids have users besides the moe.experts";
  if (!block.logits)
    return "its logits are not computed by a moe.linear";
  for (auto [operand, dim] : slicedOperands(block)) {
    std::string reason = whyNotSliceable(operand->get(), dim);
    if (!reason.empty())
      return operandName(block, operand) + " " + reason;
  }
  return "";
}

struct PruneExpertsPass : moec::impl::MoecPruneExpertsBase<PruneExpertsPass> {
  using MoecPruneExpertsBase::MoecPruneExpertsBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (activations.empty()) {
      func.emitError("moec-prune-experts: activations=DIR (a calibration directory) is required");
      return signalPassFailure();
    }
    if (!(threshold >= 0.0 && threshold < 1.0)) {
      func.emitError() << "moec-prune-experts: threshold must be in [0, 1), got " << threshold;
      return signalPassFailure();
    }
    if (maxPruned < -1) {
      func.emitError() << "moec-prune-experts: max-pruned must be >= 0 (or -1: no cap), got "
                       << maxPruned;
      return signalPassFailure();
    }
    SmallVector<moe::ExpertsOp> blocks;
    func.walk([&](moe::ExpertsOp op) { blocks.push_back(op); });
    if (blocks.empty())
      return;
    std::string error;
    FailureOr<moec::calibration::CalibrationData> data =
        moec::calibration::readCalibrationData(activations, error, /*loadRows=*/false);
    if (failed(data)) {
      func.emitError() << "moec-prune-experts: " << error;
      return signalPassFailure();
    }
    // Keys of the routers as the calibration run named them, taken before
    // any router is replaced.
    llvm::DenseMap<Operation *, std::string> keys;
    for (auto &[op, key] : moec::calibration::calibrationKeys(func))
      if (isa<moe::RouterOp>(op))
        keys[op] = key;
    SmallVector<Attribute> records;
    if (auto existing = func->getAttrOfType<ArrayAttr>(kPrunedAttr))
      records.append(existing.begin(), existing.end());
    for (moe::ExpertsOp experts : blocks)
      if (failed(visit(experts, *data, keys, records)))
        return signalPassFailure();
    if (!records.empty())
      func->setAttr(kPrunedAttr, ArrayAttr::get(func.getContext(), records));
  }

  LogicalResult visit(moe::ExpertsOp experts, const moec::calibration::CalibrationData &data,
                      const llvm::DenseMap<Operation *, std::string> &keys,
                      SmallVectorImpl<Attribute> &records) {
    auto remark = [](Operation *op) {
      return op->emitRemark() << "moec-prune-experts: ";
    };
    auto router = experts.getWeights().getDefiningOp<moe::RouterOp>();
    if (!router || experts.getExpertIds().getDefiningOp() != router.getOperation()) {
      remark(experts) << "left alone: its weights and expert ids do not come from one moe.router";
      return success();
    }
    std::string name = keys.lookup(router.getOperation());
    const moec::calibration::RouterCounts *found = data.findRouter(name);
    if (!found) {
      remark(router) << "router '" << name << "' left alone: the calibration data in '"
                     << activations << "' has no routing counts for it";
      return success();
    }
    const std::vector<int64_t> &perExpert = found->counts;
    int64_t numExperts = experts.getNumExperts();
    if (static_cast<int64_t>(perExpert.size()) != numExperts)
      return router.emitError() << "moec-prune-experts: " << activations << ": router '" << name
                                << "' has counts for " << perExpert.size()
                                << " experts but the model has " << numExperts
                                << " (calibration data from another model?)";
    int64_t k = router.getK();
    Decision decision = choose(perExpert, threshold, maxPruned, k);

    // Why this router cannot be pruned at all ("" if it can), checked only
    // when some expert is below the threshold.
    std::string refusal;
    MoeBlock block{router, experts, router.getLogits().getDefiningOp<moe::LinearOp>()};
    if (!decision.pruned.empty())
      refusal = whyNotPrunable(block);
    std::vector<int64_t> pruned = refusal.empty() ? decision.pruned : std::vector<int64_t>{};
    // Why fewer than all experts below the threshold go.
    std::string cap;
    if (refusal.empty() && decision.below > static_cast<int64_t>(pruned.size()))
      cap = std::to_string(decision.below) + " are below the threshold; " +
            (static_cast<int64_t>(pruned.size()) == maxPruned
                 ? std::string("max-pruned = ") + std::to_string(maxPruned)
                 : "at least k = " + std::to_string(k) + " must remain");
    Decision shown = decision;
    shown.pruned = pruned;
    {
      InFlightDiagnostic diag = remark(router);
      diag << "router '" << name << "'";
      if (!refusal.empty())
        diag << " left alone: " << refusal;
      else if (pruned.empty())
        diag << (decision.below ? ": nothing pruned" : ": no expert below the threshold");
      else
        diag << ": pruned " << pruned.size() << " of " << numExperts << " experts";
      if (!cap.empty())
        diag << " (" << cap << ")";
      char text[32];
      std::snprintf(text, sizeof(text), "%g", static_cast<double>(threshold));
      diag << "; threshold " << text << " of " << decision.slots << " routed slots ("
           << found->tokens << " tokens, k = " << k << "): " << histogram(perExpert, shown);
    }
    std::string why = refusal.empty() ? cap : refusal;

    MLIRContext *ctx = experts.getContext();
    Builder b(ctx);
    records.push_back(b.getDictionaryAttr({
        b.getNamedAttr("node", b.getStringAttr(name)),
        b.getNamedAttr("experts", b.getI64IntegerAttr(numExperts)),
        b.getNamedAttr("k", b.getI64IntegerAttr(k)),
        b.getNamedAttr("tokens", b.getI64IntegerAttr(found->tokens)),
        b.getNamedAttr("counts", b.getDenseI64ArrayAttr(perExpert)),
        b.getNamedAttr("pruned", b.getDenseI64ArrayAttr(pruned)),
        b.getNamedAttr("threshold", b.getF64FloatAttr(threshold)),
        b.getNamedAttr("note", b.getStringAttr(why)),
    }));
    if (pruned.empty())
      return success();
    return prune(block, decision.kept);
  }
};

} // namespace
