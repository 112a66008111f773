//===- CalibrationRun.cpp - the moec-calibrate pass --------------------------===//
//
// See CalibrationRun.h. The steps, each reported as a progress line:
//   1. read and check every batch against the model's inputs (fail fast,
//      before the slow compile);
//   2. clone the module, expose the taps, compile the clone for the host
//      into a temporary artifact;
//   3. run each batch through libmoert and sample the tapped rows;
//   4. compute fc2's input per expert from the float weights; write the
//      activation directory.
//
//===----------------------------------------------------------------------===//
#include "compiler/calibration/CalibrationRun.h"

#include "compiler/calibration/ExpertMath.h"
#include "compiler/calibration/Passes.h"
#include "dialects/moe/MoEDialect.h"
#include "tools/moec-run/Npy.h"

#include "moert/moert.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

using namespace mlir;

namespace moec::calibration {

std::string inputFileName(StringRef inputName) {
  std::string out;
  for (char c : inputName)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')
               ? c
               : '_';
  return out + ".npy";
}

namespace {

std::optional<moert_dtype_t> dtypeOf(Type t) {
  if (t.isF32()) return MOERT_DTYPE_F32;
  if (t.isF16()) return MOERT_DTYPE_F16;
  if (t.isBF16()) return MOERT_DTYPE_BF16;
  if (t.isF64()) return MOERT_DTYPE_F64;
  if (t.isInteger(1)) return MOERT_DTYPE_BOOL;
  if (t.isSignlessInteger(64) || t.isSignedInteger(64)) return MOERT_DTYPE_I64;
  if (t.isSignlessInteger(32) || t.isSignedInteger(32)) return MOERT_DTYPE_I32;
  if (t.isSignlessInteger(8) || t.isSignedInteger(8)) return MOERT_DTYPE_I8;
  if (t.isUnsignedInteger(8)) return MOERT_DTYPE_U8;
  return std::nullopt;
}

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + (ShapedType::isDynamic(d) ? std::string("T") : std::to_string(d));
  return s + "]";
}

struct ModelInput {
  std::string name;
  RankedTensorType type;
  moert_dtype_t dtype;
};

struct Batch {
  std::string dir;
  int64_t tokens = 0;
  std::vector<npy::Array> inputs; // in the model's input order
};

// Sampling that keeps rows with index % stride == 0, doubling the stride
// whenever more than `maxRows` are kept: deterministic and bounded.
struct Sampler {
  int64_t cols = 0, maxRows = kDefaultMaxRows, stride = 1, seen = 0;
  std::vector<float> data;
  void add(const float *row) {
    if (seen++ % stride != 0)
      return;
    data.insert(data.end(), row, row + cols);
    if (static_cast<int64_t>(data.size()) / cols <= maxRows)
      return;
    int64_t kept = static_cast<int64_t>(data.size()) / cols, out = 0;
    for (int64_t r = 0; r < kept; r += 2, ++out)
      std::memmove(&data[out * cols], &data[r * cols], cols * sizeof(float));
    data.resize(out * cols);
    stride *= 2;
  }
  RowSet take() {
    RowSet set;
    set.cols = cols;
    set.rows = cols ? static_cast<int64_t>(data.size()) / cols : 0;
    set.seen = seen;
    set.data = std::move(data);
    return set;
  }
};

class CalibratePass : public PassWrapper<CalibratePass, OperationPass<ModuleOp>> {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CalibratePass)

  CalibratePass(HostPipelineBuilder builder, const CalibrateOptions &options)
      : builder(std::move(builder)) {
    batches = options.batches;
    output = options.output;
    maxRows = options.maxRows;
    progress = options.progress;
  }
  CalibratePass(const CalibratePass &other)
      : PassWrapper(other), builder(other.builder) {}

  StringRef getArgument() const override { return "moec-calibrate"; }
  StringRef getDescription() const override {
    return "Runs the float model on calibration batches and writes the activation directory";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<moe::MoEDialect>();
  }

  void runOnOperation() override;

private:
  LogicalResult fail(const Twine &message) {
    getOperation().emitError() << "calibration: " << message;
    return failure();
  }
  void step(const Twine &what) {
    if (progress)
      llvm::errs() << "moec: calibration: " << what << "\n";
  }
  LogicalResult readBatches(ArrayRef<ModelInput> inputs, std::vector<Batch> &out);
  LogicalResult compileClone(std::string &artifact, std::vector<DictionaryAttr> &taps);
  LogicalResult run(const std::string &artifact, ArrayRef<ModelInput> inputs,
                    ArrayRef<Batch> batchList, ArrayRef<DictionaryAttr> taps,
                    CalibrationData &data, std::map<std::string, std::vector<Sampler>> &rows);

  HostPipelineBuilder builder;
  Option<std::string> batches{*this, "data", llvm::cl::desc("Directory of .npy input batches")};
  Option<std::string> output{*this, "output",
                             llvm::cl::desc("Activation directory to write")};
  Option<int64_t> maxRows{*this, "max-rows", llvm::cl::desc("Rows kept per row set"),
                          llvm::cl::init(kDefaultMaxRows)};
  Option<bool> progress{*this, "progress", llvm::cl::desc("Progress lines on stderr"),
                        llvm::cl::init(false)};
};

LogicalResult CalibratePass::readBatches(ArrayRef<ModelInput> inputs, std::vector<Batch> &out) {
  std::string root = batches;
  if (!llvm::sys::fs::is_directory(root))
    return fail(root + ": not a directory (expected .npy batches of the model's inputs)");
  // One batch in root, or one per subdirectory.
  std::vector<std::string> dirs;
  bool hasNpy = false;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec)) {
    if (llvm::sys::fs::is_directory(it->path()))
      dirs.push_back(it->path());
    else if (StringRef(it->path()).ends_with(".npy"))
      hasNpy = true;
  }
  if (ec)
    return fail(root + ": cannot list it (" + ec.message() + ")");
  if (hasNpy || dirs.empty())
    dirs = {root};
  std::sort(dirs.begin(), dirs.end());
  llvm::StringMap<std::string> fileToInput;
  for (const ModelInput &in : inputs) {
    std::string file = inputFileName(in.name);
    auto [it, fresh] = fileToInput.try_emplace(file, in.name);
    if (!fresh)
      return fail("model inputs '" + it->second + "' and '" + in.name + "' both map to " + file +
                  "; rename one");
  }
  for (const std::string &dir : dirs) {
    Batch batch;
    batch.dir = dir;
    batch.tokens = -1;
    std::string tokenInput;
    for (const ModelInput &in : inputs) {
      llvm::SmallString<256> path(dir);
      llvm::sys::path::append(path, inputFileName(in.name));
      std::string p(path);
      if (!llvm::sys::fs::exists(p))
        return fail(p + ": missing (model input '" + in.name + "', " +
                    moert_dtype_name(in.dtype) + " " + shapeText(in.type.getShape()) + ")");
      npy::Array array;
      std::string why;
      if (!npy::read(p, &array, &why))
        return fail(p + ": input '" + in.name + "': " + why);
      if (array.dtype() != in.dtype)
        return fail(p + ": input '" + in.name + "' is " + moert_dtype_name(in.dtype) +
                    " in the model, the file holds " + moert_dtype_name(array.dtype()));
      ArrayRef<int64_t> want = in.type.getShape();
      const std::vector<int64_t> &got = array.shape();
      bool ok = got.size() == want.size();
      for (size_t d = 0; ok && d < want.size(); ++d) {
        if (!ShapedType::isDynamic(want[d])) {
          ok = got[d] == want[d];
        } else if (batch.tokens < 0) {
          batch.tokens = got[d];
          tokenInput = in.name;
        } else if (got[d] != batch.tokens) {
          return fail(p + ": input '" + in.name + "' has T = " + std::to_string(got[d]) +
                      " but input '" + tokenInput + "' has T = " + std::to_string(batch.tokens));
        }
      }
      if (!ok) {
        std::vector<int64_t> g(got.begin(), got.end());
        return fail(p + ": input '" + in.name + "' must be " + shapeText(want) + ", the file is " +
                    shapeText(g));
      }
      batch.inputs.push_back(std::move(array));
    }
    // Stray files are most likely misnamed inputs.
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
      StringRef name = llvm::sys::path::filename(it->path());
      if (name.ends_with(".npy") && !fileToInput.count(name))
        return fail(it->path() + ": does not name a model input (expected <input>.npy for the "
                                 "inputs: " +
                    llvm::join(llvm::map_range(inputs, [](const ModelInput &i) { return i.name; }),
                               ", ") +
                    ")");
    }
    if (batch.tokens == 0)
      return fail(dir + ": a batch needs at least one token (T = 0)");
    out.push_back(std::move(batch));
  }
  return success();
}

LogicalResult CalibratePass::compileClone(std::string &artifact,
                                          std::vector<DictionaryAttr> &taps) {
  OwningOpRef<ModuleOp> clone = cast<ModuleOp>(getOperation()->clone());
  PassManager tapPm(&getContext(), ModuleOp::getOperationName());
  tapPm.nest<func::FuncOp>().addPass(createMoecExposeCalibrationTaps());
  if (failed(tapPm.run(*clone)))
    return failure();
  clone->walk([&](func::FuncOp f) {
    if (auto list = f->getAttrOfType<ArrayAttr>("moec.calibration_taps"))
      for (Attribute a : list)
        taps.push_back(cast<DictionaryAttr>(a));
  });
  llvm::SmallString<256> path;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("moec-calibration", "moe", path))
    return fail("cannot create a temporary file (" + ec.message() + ")");
  artifact = std::string(path);
  PassManager pm(&getContext(), ModuleOp::getOperationName());
  builder(pm, artifact);
  return pm.run(*clone);
}

LogicalResult CalibratePass::run(const std::string &artifact, ArrayRef<ModelInput> inputs,
                                 ArrayRef<Batch> batchList, ArrayRef<DictionaryAttr> taps,
                                 CalibrationData &data,
                                 std::map<std::string, std::vector<Sampler>> &rows) {
  auto check = [&](moert_status status) -> LogicalResult {
    if (!status)
      return success();
    std::string message = moert_status_message(status);
    moert_status_free(status);
    return fail("running the float model: " + message);
  };
  moert_model_t *model = nullptr;
  if (failed(check(moert_model_load_file(artifact.c_str(), &model))))
    return failure();
  std::unique_ptr<moert_model_t, void (*)(moert_model_t *)> modelOwner(model,
                                                                       moert_model_release);
  moert_session_options_t sessionOptions;
  moert_session_options_initialize(&sessionOptions);
  sessionOptions.max_tokens = 1;
  for (const Batch &b : batchList)
    sessionOptions.max_tokens = std::max(sessionOptions.max_tokens, b.tokens);
  moert_session_t *session = nullptr;
  if (failed(check(moert_session_create(model, &sessionOptions, &session))))
    return failure();
  std::unique_ptr<moert_session_t, void (*)(moert_session_t *)> sessionOwner(
      session, moert_session_release);

  size_t outputCount = moert_model_output_count(model);
  std::vector<size_t> inputIndex;
  for (const ModelInput &in : inputs) {
    size_t index = 0;
    if (failed(check(moert_model_find_input(model, in.name.c_str(), &index))))
      return failure();
    inputIndex.push_back(index);
  }
  for (auto [b, batch] : llvm::enumerate(batchList)) {
    step("batch " + Twine(b + 1) + "/" + Twine(batchList.size()) + " (" + batch.dir + ", T = " +
         Twine(batch.tokens) + ")");
    std::vector<moert_tensor_t> in(inputs.size());
    for (auto [i, array] : llvm::enumerate(batch.inputs)) {
      moert_tensor_t &t = in[inputIndex[i]];
      t.data = const_cast<uint8_t *>(array.data());
      t.dtype = array.dtype();
      t.rank = static_cast<int32_t>(array.shape().size());
      t.dims = array.shape().data();
      t.byte_size = array.byteSize();
    }
    std::vector<npy::Array> outArrays(outputCount);
    std::vector<moert_tensor_t> out(outputCount);
    for (size_t o = 0; o < outputCount; ++o) {
      moert_tensor_info_t info;
      int64_t dims[16];
      int32_t rank = 0;
      if (failed(check(moert_model_output_info(model, o, &info))) ||
          failed(check(moert_session_output_dims(session, o, batch.tokens, dims, 16, &rank))))
        return failure();
      if (!outArrays[o].allocate(info.dtype, std::vector<int64_t>(dims, dims + rank)))
        return fail("out of memory for output '" + Twine(info.name) + "'");
      out[o] = {outArrays[o].data(), info.dtype, rank, outArrays[o].shape().data(),
                outArrays[o].byteSize()};
    }
    if (failed(check(moert_session_run(session, in.data(), in.size(), out.data(), out.size()))))
      return failure();
    auto tapArray = [&](DictionaryAttr tap) -> const npy::Array * {
      size_t index = 0;
      std::string name = tap.getAs<StringAttr>("output").str();
      if (moert_status s = moert_model_find_output(model, name.c_str(), &index)) {
        moert_status_free(s);
        return nullptr;
      }
      return &outArrays[index];
    };
    // Group the taps of one key: an experts op needs its input and ids.
    std::map<std::string, std::map<std::string, const npy::Array *>> byKey;
    std::map<std::string, std::string> opOf;
    for (DictionaryAttr tap : taps) {
      std::string key = tap.getAs<StringAttr>("key").str();
      std::string op = tap.getAs<StringAttr>("op").str();
      std::string fullKey = (op == "moe.router" ? "router:" : "op:") + key;
      byKey[fullKey][tap.getAs<StringAttr>("value").str()] = tapArray(tap);
      opOf[fullKey] = op;
    }
    for (auto &[fullKey, values] : byKey) {
      std::string op = opOf[fullKey];
      std::string key = fullKey.substr(fullKey.find(':') + 1);
      for (auto &[what, array] : values)
        if (!array || (what == "input" && array->dtype() != MOERT_DTYPE_F32) ||
            (what == "expert_ids" && array->dtype() != MOERT_DTYPE_I64))
          return fail("tap '" + what + "' of '" + key + "' is missing from the float model");
      if (op == "moe.linear") {
        const npy::Array *x = values["input"];
        int64_t cols = x->shape().empty() ? 1 : x->shape().back();
        std::vector<Sampler> &s = rows[key];
        if (s.empty())
          s.push_back({cols, maxRows});
        const float *p = reinterpret_cast<const float *>(x->data());
        for (size_t r = 0; cols && r < x->elementCount() / cols; ++r)
          s[0].add(p + r * cols);
        continue;
      }
      const npy::Array *ids = values["expert_ids"];
      int64_t k = ids->shape().back(), tokens = ids->shape()[0];
      const int64_t *idp = reinterpret_cast<const int64_t *>(ids->data());
      if (op == "moe.router") {
        RouterCounts &rc = data.routers[key];
        rc.k = k;
        rc.tokens += tokens;
        for (int64_t i = 0; i < tokens * k; ++i) {
          if (idp[i] < 0)
            continue;
          if (idp[i] >= static_cast<int64_t>(rc.counts.size()))
            rc.counts.resize(idp[i] + 1, 0);
          ++rc.counts[idp[i]];
        }
        continue;
      }
      const npy::Array *x = values["input"];
      int64_t cols = x->shape().back();
      std::vector<Sampler> &s = rows[key];
      const float *p = reinterpret_cast<const float *>(x->data());
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t j = 0; j < k; ++j) {
          int64_t e = idp[t * k + j];
          if (e < 0)
            continue;
          while (static_cast<int64_t>(s.size()) <= e)
            s.push_back({cols, maxRows});
          s[e].add(p + t * cols);
        }
    }
  }
  return success();
}

void CalibratePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (std::string(output).empty()) {
    (void)fail("no output directory for the activations (output=DIR)");
    return signalPassFailure();
  }
  func::FuncOp func;
  module.walk([&](func::FuncOp f) {
    if (!f.isExternal() && !func)
      func = f;
  });
  if (!func) {
    (void)fail("the module has no function to run");
    return signalPassFailure();
  }
  std::vector<ModelInput> inputs;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto type = dyn_cast<RankedTensorType>(func.getArgument(i).getType());
    auto name = func.getArgAttrOfType<StringAttr>(i, "onnx.name");
    auto dtype = type ? dtypeOf(type.getElementType()) : std::nullopt;
    if (!type || !dtype) {
      (void)fail("model input " + Twine(i) + " has a type .npy cannot hold");
      return signalPassFailure();
    }
    inputs.push_back({name ? name.str() : "input" + std::to_string(i), type, *dtype});
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<Batch> batchList;
  if (failed(readBatches(inputs, batchList)))
    return signalPassFailure();
  step("compiling the float model with taps for the host");
  std::string artifact;
  std::vector<DictionaryAttr> taps;
  LogicalResult compiled = compileClone(artifact, taps);
  CalibrationData data;
  std::map<std::string, std::vector<Sampler>> rows;
  LogicalResult ran =
      succeeded(compiled) ? run(artifact, inputs, batchList, taps, data, rows) : failure();
  if (!artifact.empty())
    llvm::sys::fs::remove(artifact);
  if (failed(ran))
    return signalPassFailure();

  step("computing the expert intermediates and writing " + std::string(output));
  data.batches = static_cast<int64_t>(batchList.size());
  for (const Batch &b : batchList)
    data.tokens += b.tokens;
  data.maxRows = maxRows;
  for (auto &[op, key] : calibrationKeys(func)) {
    if (auto router = dyn_cast<moe::RouterOp>(op)) {
      RouterCounts &rc = data.routers[key];
      rc.experts = cast<RankedTensorType>(router.getLogits().getType()).getShape().back();
      rc.counts.resize(std::max<size_t>(rc.counts.size(), rc.experts), 0);
      rc.experts = static_cast<int64_t>(rc.counts.size());
      continue;
    }
    auto it = rows.find(key);
    if (it == rows.end())
      continue;
    OpRows opRows;
    opRows.op = op->getName().getStringRef().str();
    if (isa<moe::LinearOp>(op)) {
      opRows.input = it->second[0].take();
    } else {
      auto experts = cast<moe::ExpertsOp>(op);
      int64_t count = experts.getNumExperts(), hidden = experts.getHiddenSize();
      it->second.resize(std::max<size_t>(it->second.size(), count), Sampler{hidden, maxRows});
      std::optional<ExpertWeights> weights = ExpertWeights::read(experts);
      for (int64_t e = 0; e < count; ++e) {
        ExpertRows er;
        er.input = it->second[e].take();
        er.fc2Input.cols = experts.getInterSize();
        er.fc2Input.seen = er.input.seen;
        // Pre-quantized experts are not requantized: no fc2 rows needed.
        if (weights) {
          er.fc2Input.rows = er.input.rows;
          er.fc2Input.data = weights->intermediate(e, er.input.data, er.input.rows);
        }
        opRows.experts.push_back(std::move(er));
      }
    }
    data.ops[key] = std::move(opRows);
  }
  std::string error;
  if (failed(writeCalibrationData(output, data, error))) {
    (void)fail(error);
    return signalPassFailure();
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  step("done: " + Twine(batchList.size()) + " batches, " + Twine(data.tokens) + " tokens, " +
       Twine(data.ops.size()) + " ops sampled in " + Twine(static_cast<int64_t>(seconds * 1000)) +
       " ms");
  markAllAnalysesPreserved();
}

} // namespace

std::unique_ptr<Pass> createCalibratePass(HostPipelineBuilder buildHostPipeline,
                                          const CalibrateOptions &options) {
  return std::make_unique<CalibratePass>(std::move(buildHostPipeline), options);
}

} // namespace moec::calibration
