//===- AwqScale.cpp - activation-aware scales before weight quantization ----===//
//
// Round-to-nearest spends the same precision on every input channel, but a
// few channels of x carry most of the output (outliers). Scaling those
// channels' weights up before rounding (and their activations down by the
// same factor, which the producer absorbs exactly) protects them. The error
// of one weight W [N, K] (rows reduced along K, as the quantizer sees it)
// with input rows X [R, K] is
//   ||X W^T - (X/s) Q(W diag(s))^T||^2 = sum_n ||X d_n||^2 = sum_n d_n^T G d_n,
//   d_n = w_n - Q(w_n diag(s)) / s,  G = X^T X
// Each weight row costs min(R, K) * K: through G (computed once, in double)
// when there are at least as many rows as channels, else through the rows
// themselves, which also keeps a K^2 matrix out of memory (an expert's fc2
// has K = I, 14336 for Mixtral: 1.6 GB as a double G). And the sum over n
// is estimated on at most kMaxErrorRows output rows spread evenly over N:
// s is one vector for all rows, so a few hundred of them choose it as well
// as all 14336, at a fraction of the cost. Rows are quantized independently,
// so the sampled rows' errors are exact.
//
// The rounding is WeightQuant.h's, with the format moec-quantize-weights
// will choose for the op, so the errors predicted here are the ones the
// artifact has (on these rows). The errors recorded for the report are
// measured on the final folded weights against the original ones (on the
// same sampled output rows).
//
//===----------------------------------------------------------------------===//
#include "compiler/calibration/CalibrationData.h"
#include "compiler/calibration/ExpertMath.h"
#include "compiler/utils/ConstantData.h"
#include "compiler/utils/OnnxOpAccess.h"
#include "dialects/moe/MoEDialect.h"
#include "dialects/onnx/ONNXDialect.h"
#include "passes/quant/Passes.h"
#include "passes/quant/WeightQuant.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"

#include <cmath>
#include <limits>
#include <memory>

namespace moec {
#define GEN_PASS_DEF_MOECAWQSCALE
#include "passes/quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;
namespace quant = moec::quant;
namespace calib = moec::calibration;

namespace {

constexpr int kGridSteps = 20; // alpha = 0, 0.05, ..., 1

// Output rows the errors are measured on, at most this many per weight.
constexpr int64_t kMaxErrorRows = 256;

// The quadratic form d -> ||X d||^2 = d^T G d of one set of input rows X.
struct InputForm {
  int64_t K = 0;
  std::vector<double> gram;            // [K, K] when the rows outnumber K
  const calib::RowSet *rows = nullptr; // otherwise the rows themselves

  explicit InputForm(const calib::RowSet &set) : K(set.cols) {
    if (set.rows < K) {
      rows = &set;
      return;
    }
    gram.assign(static_cast<size_t>(K * K), 0.0);
    for (int64_t r = 0; r < set.rows; ++r) {
      const float *x = set.row(r);
      for (int64_t i = 0; i < K; ++i) {
        double xi = x[i];
        for (int64_t j = i; j < K; ++j)
          gram[i * K + j] += xi * x[j];
      }
    }
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < i; ++j)
        gram[i * K + j] = gram[j * K + i];
  }

  double eval(const std::vector<double> &d) const {
    double sum = 0;
    if (rows) {
      for (int64_t r = 0; r < rows->rows; ++r) {
        const float *x = rows->row(r);
        double dot = 0;
        for (int64_t k = 0; k < K; ++k)
          dot += static_cast<double>(x[k]) * d[k];
        sum += dot * dot;
      }
      return sum;
    }
    for (int64_t i = 0; i < K; ++i) {
      double gi = 0;
      for (int64_t j = 0; j < K; ++j)
        gi += gram[i * K + j] * d[j];
      sum += d[i] * gi;
    }
    return sum;
  }
};

// Up to kMaxErrorRows row indices of [0, N), evenly spread, first and last
// included.
std::vector<int64_t> errorRows(int64_t N) {
  std::vector<int64_t> out;
  if (N <= kMaxErrorRows) {
    for (int64_t n = 0; n < N; ++n)
      out.push_back(n);
    return out;
  }
  for (int64_t i = 0; i < kMaxErrorRows; ++i)
    out.push_back(i * (N - 1) / (kMaxErrorRows - 1));
  return out;
}

// One quantized weight seen on one set of rows: a linear, or one expert's
// fc1/fc2/fc3. `w` is the original [N, K]; the factors are what the folds
// applied so far (w_stored = (w / rowDiv_n) * colScale_k, in that order).
struct Term {
  std::vector<float> w;
  int64_t N = 0, K = 0;
  std::shared_ptr<InputForm> form;
  std::vector<int64_t> sample; // the output rows errors are measured on
  std::shared_ptr<std::vector<double>> stats; // mean |x| per input channel
  std::vector<float> colScale, rowDiv;        // empty: all ones
  quant::QuantChoice choice;
  unsigned entry = 0;
};

// ||X (W - effective W)^T||^2 over the sampled output rows, where the
// effective weight is `stored` quantized, in the original coordinates.
double errorOf(const Term &t, const std::vector<float> &stored, const std::vector<float> &col,
               const std::vector<float> &row) {
  int64_t group = t.choice.group > 0 ? std::min(t.choice.group, t.K) : t.K;
  int64_t S = static_cast<int64_t>(t.sample.size());
  std::vector<float> picked(static_cast<size_t>(S * t.K));
  for (int64_t i = 0; i < S; ++i)
    std::copy_n(stored.begin() + t.sample[i] * t.K, t.K, picked.begin() + i * t.K);
  quant::QuantizedRows q = quant::quantizeRows(picked, S, t.K, group, t.choice.format);
  std::vector<float> deq = quant::dequantizeRows(q, S, t.K, group, t.choice.format);
  double err = 0;
  std::vector<double> d(t.K);
  for (int64_t i = 0; i < S; ++i) {
    int64_t n = t.sample[i];
    double r = row.empty() ? 1.0 : row[n];
    for (int64_t k = 0; k < t.K; ++k)
      d[k] = t.w[n * t.K + k] - deq[i * t.K + k] * r / (col.empty() ? 1.0 : col[k]);
    err += t.form->eval(d);
  }
  return err;
}

// The stored weight the folds produce from the original for these factors.
std::vector<float> storedOf(const Term &t, const std::vector<float> &col,
                            const std::vector<float> &row) {
  std::vector<float> out(t.w);
  for (int64_t n = 0; n < t.N; ++n)
    for (int64_t k = 0; k < t.K; ++k) {
      float v = out[n * t.K + k];
      if (!row.empty())
        v = v / row[n];
      if (!col.empty())
        v = v * col[k];
      out[n * t.K + k] = v;
    }
  return out;
}

// ||X W^T||^2 over the sampled output rows: what the errors are relative to.
double outputNorm(const Term &t) {
  double sum = 0;
  std::vector<double> w(t.K);
  for (int64_t n : t.sample) {
    for (int64_t k = 0; k < t.K; ++k)
      w[k] = t.w[n * t.K + k];
    sum += t.form->eval(w);
  }
  return sum;
}

// s = m^alpha normalized to geometric mean 1; channels never active get the
// smallest active mean, so s stays finite.
std::vector<float> scalesFor(const std::vector<double> &m, double alpha) {
  std::vector<float> s(m.size(), 1.f);
  if (alpha == 0)
    return s;
  double maxM = 0;
  for (double v : m)
    maxM = std::max(maxM, v);
  if (maxM <= 0)
    return s;
  double floorM = maxM * 1e-6, logSum = 0;
  std::vector<double> l(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    l[i] = alpha * std::log(std::max(m[i], floorM));
    logSum += l[i];
  }
  double mean = logSum / static_cast<double>(m.size());
  for (size_t i = 0; i < m.size(); ++i)
    s[i] = static_cast<float>(std::exp(l[i] - mean));
  return s;
}

std::shared_ptr<std::vector<double>> meanAbs(ArrayRef<const calib::RowSet *> sets, int64_t K) {
  auto m = std::make_shared<std::vector<double>>(K, 0.0);
  int64_t count = 0;
  for (const calib::RowSet *set : sets) {
    for (int64_t r = 0; r < set->rows; ++r)
      for (int64_t k = 0; k < K; ++k)
        (*m)[k] += std::fabs(set->row(r)[k]);
    count += set->rows;
  }
  for (double &v : *m)
    v /= std::max<int64_t>(count, 1);
  return m;
}

// A line of the report: one quantized weight of one op.
struct Entry {
  Operation *op;
  std::string key, weight; // weight: "weight", "fc1", "fc2", "fc3"
  quant::QuantChoice choice;
  int64_t bytesBefore = 0, bytesAfter = 0, rows = 0;
  double alpha = 0;
  bool scaled = false;
};

class AwqScale {
public:
  AwqScale(func::FuncOp func, const calib::CalibrationData &data, quant::WeightFormat format,
           int64_t group, ArrayRef<quant::QuantRule> rules)
      : func(func), data(data), format(format), group(group), rules(rules) {}

  LogicalResult run();

private:
  quant::QuantChoice choiceFor(Operation *op) {
    return quant::chooseQuantization(op, format, group, rules);
  }
  LogicalResult collect();
  LogicalResult addEntry(Operation *op, StringRef weight, int64_t N, int64_t K,
                         int64_t copies);
  LogicalResult checkCols(const calib::RowSet &set, int64_t K, StringRef key);
  // Picks alpha for `terms` (per-term stats) and returns the scales per
  // term; alpha 0 (all ones) when nothing improves.
  double search(ArrayRef<Term *> terms, std::vector<std::vector<float>> &scales);
  void searchFc2();
  void searchInputs();
  void foldWeight(OpOperand &operand, ArrayRef<std::vector<float>> col,
                  ArrayRef<std::vector<float>> row, int64_t experts, bool kFirst);
  void foldVector(OpOperand &operand, ArrayRef<float> div);
  void replaceConstant(OpOperand &operand, const std::vector<float> &values);
  std::vector<float> storedNK(const Entry &entry, const Term &t, int64_t e);
  void record();

  func::FuncOp func;
  const calib::CalibrationData &data;
  quant::WeightFormat format;
  int64_t group;
  ArrayRef<quant::QuantRule> rules;
  llvm::DenseMap<Operation *, std::string> keys;
  std::vector<Entry> entries;
  std::vector<std::unique_ptr<Term>> terms;
  // Terms per (op, weight name), one per expert (nullptr: no rows).
  std::map<std::pair<Operation *, std::string>, std::vector<Term *>> termsOf;
  int blobCount = 0;
};

LogicalResult AwqScale::checkCols(const calib::RowSet &set, int64_t K, StringRef key) {
  if (set.cols == K || set.rows == 0)
    return success();
  return func.emitError() << "moec-awq-scale: activations for '" << key << "' have "
                          << set.cols << " columns but the op reads " << K
                          << " (a calibration run of another model?)";
}

LogicalResult AwqScale::addEntry(Operation *op, StringRef weight, int64_t N, int64_t K,
                                 int64_t copies) {
  Entry e{op, keys[op], weight.str(), choiceFor(op)};
  int64_t g = e.choice.group > 0 ? std::min(e.choice.group, K) : K;
  int64_t scales = copies * N * ((K + g - 1) / g);
  e.bytesBefore = copies * N * K * 4;
  e.bytesAfter = copies * N * (e.choice.format == quant::WeightFormat::Int4 ? (K + 1) / 2 : K) +
                 scales * 4;
  entries.push_back(std::move(e));
  return success();
}

LogicalResult AwqScale::collect() {
  for (auto &[op, key] : calib::calibrationKeys(func))
    keys[op] = key;
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (isa<moe::LinearOp, moe::ExpertsOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    quant::QuantChoice choice = choiceFor(op);
    if (choice.format == quant::WeightFormat::None)
      continue;
    const calib::OpRows *rows = data.findOp(keys[op]);
    if (auto linear = dyn_cast<moe::LinearOp>(op)) {
      auto w = moec::getConstantFloats(linear.getWeight());
      if (!w || quant::onlyRoutes(linear.getOutput()))
        continue;
      auto type = cast<RankedTensorType>(linear.getWeight().getType());
      bool tr = linear.getTransposeWeight();
      int64_t N = type.getDimSize(tr ? 0 : 1), K = type.getDimSize(tr ? 1 : 0);
      (void)addEntry(op, "weight", N, K, 1);
      if (!rows || rows->input.rows == 0)
        continue;
      if (failed(checkCols(rows->input, K, keys[op])))
        return failure();
      entries.back().rows = rows->input.rows;
      auto t = std::make_unique<Term>();
      t->N = N;
      t->K = K;
      t->w.resize(N * K);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          t->w[n * K + k] = tr ? (*w)[n * K + k] : (*w)[k * N + n];
      t->form = std::make_shared<InputForm>(rows->input);
      t->sample = errorRows(N);
      t->stats = meanAbs({&rows->input}, K);
      t->choice = choice;
      t->entry = entries.size() - 1;
      termsOf[{op, "weight"}].push_back(t.get());
      terms.push_back(std::move(t));
      continue;
    }
    auto experts = cast<moe::ExpertsOp>(op);
    int64_t E = experts.getNumExperts(), H = experts.getHiddenSize(), I = experts.getInterSize();
    struct W {
      const char *name;
      Value v;
      int64_t N, K;
    };
    int64_t F1 = cast<RankedTensorType>(experts.getFc1().getType()).getDimSize(1);
    SmallVector<W> weights = {{"fc1", experts.getFc1(), F1, H}, {"fc2", experts.getFc2(), H, I}};
    if (experts.getFc3())
      weights.push_back({"fc3", experts.getFc3(), I, H});
    for (const W &wt : weights) {
      auto w = moec::getConstantFloats(wt.v);
      if (!w)
        continue;
      (void)addEntry(op, wt.name, wt.N, wt.K, E);
      bool fc2 = StringRef(wt.name) == "fc2";
      std::vector<Term *> &list = termsOf[{op, wt.name}];
      list.assign(E, nullptr);
      if (!rows || rows->experts.size() != static_cast<size_t>(E))
        continue;
      for (int64_t e = 0; e < E; ++e) {
        const calib::RowSet &set = fc2 ? rows->experts[e].fc2Input : rows->experts[e].input;
        if (failed(checkCols(set, wt.K, keys[op])))
          return failure();
        if (set.rows == 0)
          continue;
        entries.back().rows += set.rows;
        auto t = std::make_unique<Term>();
        t->N = wt.N;
        t->K = wt.K;
        t->w.assign(w->begin() + e * wt.N * wt.K, w->begin() + (e + 1) * wt.N * wt.K);
        // fc1 and fc3 of one expert read the same rows: share the form.
        Term *sibling = nullptr;
        if (!fc2)
          for (const char *other : {"fc1", "fc3"})
            if (auto it = termsOf.find({op, other});
                it != termsOf.end() && other != StringRef(wt.name) && it->second.size() > (size_t)e)
              sibling = it->second[e] ? it->second[e] : sibling;
        t->form = sibling ? sibling->form : std::make_shared<InputForm>(set);
        t->sample = errorRows(wt.N);
        t->stats = sibling ? sibling->stats : meanAbs({&set}, wt.K);
        t->choice = choiceFor(op);
        t->entry = entries.size() - 1;
        list[e] = t.get();
        terms.push_back(std::move(t));
      }
    }
  }
  return success();
}

double AwqScale::search(ArrayRef<Term *> group, std::vector<std::vector<float>> &best) {
  // Baseline: alpha 0 with the folds applied so far; no entry may end worse.
  std::map<unsigned, double> base;
  double bestTotal = 0, bestAlpha = 0;
  best.assign(group.size(), {});
  for (Term *t : group) {
    double e = errorOf(*t, storedOf(*t, t->colScale, t->rowDiv), t->colScale, t->rowDiv);
    base[t->entry] += e;
    bestTotal += e;
  }
  for (int step = 1; step <= kGridSteps; ++step) {
    double alpha = static_cast<double>(step) / kGridSteps;
    std::map<unsigned, double> perEntry;
    std::vector<std::vector<float>> cand(group.size());
    double total = 0;
    std::map<const std::vector<double> *, std::vector<float>> cache;
    for (auto [i, t] : llvm::enumerate(group)) {
      auto [it, fresh] = cache.try_emplace(t->stats.get());
      if (fresh)
        it->second = scalesFor(*t->stats, alpha);
      std::vector<float> col = it->second;
      if (!t->colScale.empty())
        for (size_t k = 0; k < col.size(); ++k)
          col[k] = t->colScale[k] * col[k];
      double e = errorOf(*t, storedOf(*t, col, t->rowDiv), col, t->rowDiv);
      perEntry[t->entry] += e;
      total += e;
      cand[i] = it->second;
    }
    bool noWorse = llvm::all_of(perEntry, [&](auto &p) { return p.second <= base[p.first]; });
    if (noWorse && total < bestTotal) {
      bestTotal = total;
      bestAlpha = alpha;
      best = std::move(cand);
    }
  }
  return bestAlpha;
}

// Writes `operand`'s constant back as v / row[n] * col[k] per [N, K] block
// (one block per expert; `kFirst`: an untransposed linear weight [K, N]).
// `row`/`col` hold one vector per expert, or one for all, or none.
void AwqScale::foldWeight(OpOperand &operand, ArrayRef<std::vector<float>> col,
                          ArrayRef<std::vector<float>> row, int64_t experts, bool kFirst) {
  auto values = moec::getConstantFloats(operand.get());
  auto type = cast<RankedTensorType>(operand.get().getType());
  int64_t last = type.getShape().back();
  int64_t rowsPer = static_cast<int64_t>(values->size()) / experts / last;
  for (int64_t e = 0; e < experts; ++e) {
    const std::vector<float> *rv = row.empty() ? nullptr : &row[row.size() == 1 ? 0 : e];
    const std::vector<float> *cv = col.empty() ? nullptr : &col[col.size() == 1 ? 0 : e];
    for (int64_t r = 0; r < rowsPer; ++r)
      for (int64_t c = 0; c < last; ++c) {
        float &v = (*values)[(e * rowsPer + r) * last + c];
        int64_t n = kFirst ? c : r, k = kFirst ? r : c;
        if (rv && !rv->empty())
          v = v / (*rv)[n];
        if (cv && !cv->empty())
          v = v * (*cv)[k];
      }
  }
  replaceConstant(operand, *values);
}

// A per-channel vector (norm scale, bias) divided element-wise by `div`
// (repeated when shorter).
void AwqScale::foldVector(OpOperand &operand, ArrayRef<float> div) {
  auto values = moec::getConstantFloats(operand.get());
  for (size_t i = 0; i < values->size(); ++i)
    (*values)[i] = (*values)[i] / div[i % div.size()];
  replaceConstant(operand, *values);
}

// A new constant for the operand alone (an initializer may be shared).
void AwqScale::replaceConstant(OpOperand &operand, const std::vector<float> &values) {
  OpBuilder b(operand.getOwner());
  Value c = moec::createBlobConstant(
      b, operand.get().getLoc(), cast<RankedTensorType>(operand.get().getType()),
      ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4),
      "awq." + std::to_string(blobCount++));
  operand.set(c);
}

// fc2 of a gated expert: act(g) * (l / s) = h / s exactly when the linear
// half enters as (l + beta) with beta = 0 and no clamp, so 1/s folds into
// the rows (and bias) producing l, s into fc2's columns.
void AwqScale::searchFc2() {
  for (auto &[where, list] : termsOf) {
    auto experts = dyn_cast<moe::ExpertsOp>(where.first);
    if (!experts || where.second != "fc2")
      continue;
    float limit = experts.getLimit().convertToFloat();
    bool fused = experts.getSwigluFusion() != 0;
    auto isFloat = [](Value v) { return !v || moec::getConstantFloats(v).has_value(); };
    if (experts.getActivation() != "swiglu" || experts.getBeta().convertToFloat() != 0.f ||
        !(std::isinf(limit) && limit > 0) || !isFloat(experts.getFc1Bias()) ||
        !isFloat(experts.getFc3Bias()) ||
        !moec::getConstantFloats(fused ? experts.getFc1() : experts.getFc3()))
      continue;
    SmallVector<Term *> group;
    for (Term *t : list)
      if (t)
        group.push_back(t);
    if (group.empty())
      continue;
    std::vector<std::vector<float>> scales;
    double alpha = search(group, scales);
    if (alpha == 0)
      continue;
    int64_t E = experts.getNumExperts(), I = experts.getInterSize();
    std::vector<std::vector<float>> s2(E, std::vector<float>(I, 1.f));
    for (auto [i, t] : llvm::enumerate(group)) {
      t->colScale = scales[i];
      for (int64_t e = 0; e < E; ++e)
        if (list[e] == t)
          s2[e] = scales[i];
    }
    // The row divisors of the producing weight, per expert: fc3 [I, H], or
    // fc1's linear rows (interleaved, or the second half).
    int64_t F1 = cast<RankedTensorType>(experts.getFc1().getType()).getDimSize(1);
    std::vector<std::vector<float>> rowDiv(E);
    std::vector<float> biasDiv;
    for (int64_t e = 0; e < E; ++e) {
      if (!fused) {
        rowDiv[e] = s2[e];
      } else {
        rowDiv[e].assign(F1, 1.f);
        for (int64_t j = 0; j < I; ++j)
          rowDiv[e][experts.getSwigluFusion() == 1 ? 2 * j + 1 : I + j] = s2[e][j];
      }
      biasDiv.insert(biasDiv.end(), rowDiv[e].begin(), rowDiv[e].end());
      if (auto it = termsOf.find({experts, fused ? "fc1" : "fc3"}); it != termsOf.end())
        if (Term *t = it->second.size() > static_cast<size_t>(e) ? it->second[e] : nullptr)
          t->rowDiv = rowDiv[e];
    }
    foldWeight(experts.getFc2Mutable(), s2, {}, E, false);
    if (fused) {
      foldWeight(experts.getFc1Mutable(), {}, rowDiv, E, false);
      if (experts.getFc1Bias())
        foldVector(experts.getFc1BiasMutable()[0], biasDiv);
    } else {
      foldWeight(experts.getFc3Mutable()[0], {}, rowDiv, E, false);
      if (experts.getFc3Bias())
        foldVector(experts.getFc3BiasMutable()[0], biasDiv);
    }
    for (Entry &entry : entries)
      if (entry.op == experts.getOperation() && entry.weight == "fc2") {
        entry.alpha = alpha;
        entry.scaled = true;
      }
  }
}

namespace {
bool isShapeOnly(Operation *op) {
  StringRef name = op->getName().getStringRef();
  return name == "onnx.Reshape" || name == "onnx.Squeeze" || name == "onnx.Unsqueeze" ||
         name == "onnx.Flatten";
}

int64_t lastDim(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getRank() ? type.getShape().back() : ShapedType::kDynamic;
}
} // namespace

// Every op reading `v` as its data input (through reshapes keeping the last
// axis) whose float weights can take s; false if any use is something else.
static bool consumersOf(Value v, int64_t K, SmallVectorImpl<Operation *> &out) {
  if (v.use_empty())
    return false;
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (auto linear = dyn_cast<moe::LinearOp>(user)) {
      if (use.getOperandNumber() != 0 || !moec::getConstantFloats(linear.getWeight()))
        return false;
      out.push_back(user);
    } else if (auto experts = dyn_cast<moe::ExpertsOp>(user)) {
      if (use.getOperandNumber() != 0 || !moec::getConstantFloats(experts.getFc1()) ||
          (experts.getFc3() && !moec::getConstantFloats(experts.getFc3())))
        return false;
      out.push_back(user);
    } else if (isShapeOnly(user) && use.getOperandNumber() == 0 &&
               lastDim(user->getResult(0)) == K) {
      if (!consumersOf(user->getResult(0), K, out))
        return false;
    } else {
      return false;
    }
  }
  return true;
}

// Producers that absorb 1/s exactly: an RMSNorm's per-channel scale, a float
// linear's output columns.
void AwqScale::searchInputs() {
  SmallVector<Operation *> producers;
  func.walk([&](Operation *op) {
    if (auto norm = dyn_cast<moe::RmsNormOp>(op)) {
      auto type = cast<RankedTensorType>(norm.getInput().getType());
      int64_t axis = static_cast<int64_t>(norm.getAxis());
      bool lastAxisOnly = axis == type.getRank() - 1 || axis == -1;
      if (lastAxisOnly && (!norm.getScale() || moec::getConstantFloats(norm.getScale())) &&
          cast<RankedTensorType>(norm.getOutput().getType()).getElementType().isF32())
        producers.push_back(op);
    } else if (auto linear = dyn_cast<moe::LinearOp>(op)) {
      if (moec::getConstantFloats(linear.getWeight()) &&
          (!linear.getBias() || moec::getConstantFloats(linear.getBias())))
        producers.push_back(op);
    }
  });
  for (Operation *producer : producers) {
    Value out = producer->getResult(0);
    int64_t K = lastDim(out);
    SmallVector<Operation *> consumers;
    if (ShapedType::isDynamic(K) || !consumersOf(out, K, consumers))
      continue;
    SmallVector<Term *> group;
    SmallVector<const calib::RowSet *> sets;
    for (Operation *c : consumers) {
      for (const char *w : {"weight", "fc1", "fc3"})
        if (auto it = termsOf.find({c, w}); it != termsOf.end())
          for (Term *t : it->second)
            if (t)
              group.push_back(t);
      if (const calib::OpRows *rows = data.findOp(keys[c])) {
        if (isa<moe::LinearOp>(c))
          sets.push_back(&rows->input);
        for (const calib::ExpertRows &er : rows->experts)
          sets.push_back(&er.input);
      }
    }
    if (group.empty())
      continue;
    // One s for the shared input: statistics over every consumer's rows.
    auto stats = meanAbs(sets, K);
    for (Term *t : group)
      t->stats = stats;
    std::vector<std::vector<float>> scales;
    double alpha = search(group, scales);
    if (alpha == 0)
      continue;
    std::vector<float> s = scales.front();
    for (Term *t : group) {
      if (t->colScale.empty())
        t->colScale = s;
      else
        for (int64_t k = 0; k < K; ++k)
          t->colScale[k] *= s[k];
    }
    if (auto norm = dyn_cast<moe::RmsNormOp>(producer)) {
      if (norm.getScale()) {
        foldVector(norm.getScaleMutable()[0], s);
      } else {
        std::vector<float> inv(K);
        for (int64_t k = 0; k < K; ++k)
          inv[k] = 1.f / s[k];
        OpBuilder b(norm);
        auto type = RankedTensorType::get({K}, b.getF32Type());
        norm.getScaleMutable().assign(moec::createBlobConstant(
            b, norm.getLoc(), type,
            ArrayRef<char>(reinterpret_cast<const char *>(inv.data()), inv.size() * 4),
            "awq." + std::to_string(blobCount++)));
      }
    } else {
      auto linear = cast<moe::LinearOp>(producer);
      foldWeight(linear.getWeightMutable(), {}, {s}, 1, !linear.getTransposeWeight());
      if (linear.getBias())
        foldVector(linear.getBiasMutable()[0], s);
      if (auto it = termsOf.find({producer, "weight"}); it != termsOf.end())
        for (Term *t : it->second)
          if (t) {
            if (t->rowDiv.empty())
              t->rowDiv = s;
            else
              for (size_t n = 0; n < s.size(); ++n)
                t->rowDiv[n] *= s[n];
          }
    }
    for (Operation *c : consumers) {
      if (auto linear = dyn_cast<moe::LinearOp>(c)) {
        foldWeight(linear.getWeightMutable(), {s}, {}, 1, !linear.getTransposeWeight());
      } else {
        auto experts = cast<moe::ExpertsOp>(c);
        int64_t E = experts.getNumExperts();
        foldWeight(experts.getFc1Mutable(), {s}, {}, E, false);
        if (experts.getFc3())
          foldWeight(experts.getFc3Mutable()[0], {s}, {}, E, false);
      }
      for (Entry &entry : entries)
        if (entry.op == c && entry.weight != "fc2") {
          entry.alpha = alpha;
          entry.scaled = true;
        }
    }
  }
}

// The weight as stored now, [N, K] for expert `e` (0 for a linear).
std::vector<float> AwqScale::storedNK(const Entry &entry, const Term &t, int64_t e) {
  Value v;
  bool kFirst = false;
  if (auto linear = dyn_cast<moe::LinearOp>(entry.op)) {
    v = linear.getWeight();
    kFirst = !linear.getTransposeWeight();
  } else {
    auto experts = cast<moe::ExpertsOp>(entry.op);
    v = entry.weight == "fc1" ? experts.getFc1()
        : entry.weight == "fc2" ? experts.getFc2()
                                : experts.getFc3();
  }
  std::vector<float> all = *moec::getConstantFloats(v);
  std::vector<float> out(t.N * t.K);
  for (int64_t n = 0; n < t.N; ++n)
    for (int64_t k = 0; k < t.K; ++k)
      out[n * t.K + k] = kFirst ? all[k * t.N + n] : all[e * t.N * t.K + n * t.K + k];
  return out;
}

// Measured on the weights as they are now stored against the originals:
// what the artifact computes on the calibration rows.
void AwqScale::record() {
  Builder b(func.getContext());
  SmallVector<Attribute> rows;
  for (auto [index, entry] : llvm::enumerate(entries)) {
    double y = 0, rtn = 0, awq = 0;
    auto it = termsOf.find({entry.op, entry.weight});
    if (it != termsOf.end())
      for (auto [e, t] : llvm::enumerate(it->second)) {
        if (!t || t->entry != index)
          continue;
        y += outputNorm(*t);
        rtn += errorOf(*t, t->w, {}, {});
        awq += errorOf(*t, storedNK(entry, *t, e), t->colScale, t->rowDiv);
      }
    SmallVector<NamedAttribute> attrs = {
        b.getNamedAttr("node", b.getStringAttr(entry.key)),
        b.getNamedAttr("op", b.getStringAttr(entry.op->getName().getStringRef())),
        b.getNamedAttr("weight", b.getStringAttr(entry.weight)),
        b.getNamedAttr("format", b.getStringAttr(quant::formatName(entry.choice.format))),
        b.getNamedAttr("group_size", b.getI64IntegerAttr(entry.choice.group)),
        b.getNamedAttr("bytes_before", b.getI64IntegerAttr(entry.bytesBefore)),
        b.getNamedAttr("bytes_after", b.getI64IntegerAttr(entry.bytesAfter)),
        b.getNamedAttr("rows", b.getI64IntegerAttr(entry.rows)),
        b.getNamedAttr("alpha", b.getF64FloatAttr(entry.alpha)),
        b.getNamedAttr("awq", b.getBoolAttr(entry.scaled))};
    if (entry.rows > 0 && y > 0) {
      attrs.push_back(b.getNamedAttr("error_rtn", b.getF64FloatAttr(std::sqrt(rtn / y))));
      attrs.push_back(b.getNamedAttr("error_awq", b.getF64FloatAttr(std::sqrt(awq / y))));
    }
    rows.push_back(b.getDictionaryAttr(attrs));
  }
  func->setAttr("moec.quantization", b.getArrayAttr(rows));
}



LogicalResult AwqScale::run() {
  if (failed(collect()))
    return failure();
  searchFc2();
  searchInputs();
  record();
  return success();
}

struct AwqScalePass : moec::impl::MoecAwqScaleBase<AwqScalePass> {
  using MoecAwqScaleBase::MoecAwqScaleBase;
  void runOnOperation() override {
    auto options =
        quant::readQuantOptions(getOperation(), "moec-awq-scale", format, groupSize, config);
    if (failed(options))
      return signalPassFailure();
    std::string error;
    auto data = calib::readCalibrationData(activations, error);
    if (failed(data)) {
      getOperation().emitError() << "moec-awq-scale: " << error;
      return signalPassFailure();
    }
    AwqScale awq(getOperation(), *data, options->format, groupSize, options->rules);
    if (failed(awq.run()))
      return signalPassFailure();
  }
};

} // namespace
