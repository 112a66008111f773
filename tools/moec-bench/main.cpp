//===- main.cpp - moec-bench: time a .moe artifact against its roofline ---===//
//
// For each token count T: fill --buffers sets of random inputs (and outputs),
// run --warmup times, then --runs timed runs cycling through the buffer
// sets (optionally flushing the cache before each), timed by libmoert itself
// (moert_session_enable_timing: CUDA events on a GPU, the monotonic clock on
// the host). The roofline comes from the device's bandwidth and FLOP rate,
// measured by this tool on the same device (Peak.h, CudaDevice.h), and the
// layer's bytes and FLOPs (ShapeInfo.h).
//
// Exit status: 0 measured, 2 an error (one line on stderr naming the file).
//
//===----------------------------------------------------------------------===//

#include "moert/moert.h"
#include "tools/moec-bench/CudaDevice.h"
#include "tools/moec-bench/Report.h"
#include "tools/moec-run/Npy.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sys/stat.h>

namespace moec::bench {
namespace {

const char kUsage[] =
    "usage: moec-bench MODEL.moe [options]\n"
    "\n"
    "Times a moec artifact for a list of token counts and reports each against\n"
    "the roofline max(bytes / bandwidth, FLOPs / peak) of the device it runs on,\n"
    "with bandwidth and peak measured by this tool on that device.\n"
    "\n"
    "  --tokens LIST       token counts, comma-separated (default 1,16,64,256,4096)\n"
    "  --warmup N          untimed runs per token count (default 5)\n"
    "  --runs N            timed runs per token count (default 50, at least 1)\n"
    "  --buffers N         input/output buffer sets cycled through (default 4)\n"
    "  --seed N            seed of the random inputs (default 1)\n"
    "  --shape-info FILE   the layer's shape file (bench/shapes): FLOPs, and the\n"
    "                      experts the router chooses for the inputs; without it\n"
    "                      all weights count as read and FLOPs are unknown\n"
    "  --json FILE         also write the results as JSON\n"
    "  --dump-inputs DIR   write each input buffer as DIR/NAME.T<T>.r<i>.npy (so\n"
    "                      peers can run on exactly the same inputs)\n"
    "  --flush-bytes N     overwrite N bytes before each timed run so the weights\n"
    "                      are not cached (default: CUDA 2 x L2 or 256 MiB, host 0)\n"
    "  --peak-bytes N      bytes per buffer of the bandwidth test (default: CUDA\n"
    "                      1 GiB, host 256 MiB; 0 skips it)\n"
    "  --gemm-size N       n of the n^3 peak GEMM, a multiple of 32 (default:\n"
    "                      CUDA 8192, host 512; 0 skips it)\n"
    "  --cublas PATH       CUDA: the cuBLAS library for the peak GEMM (default:\n"
    "                      libcublas.so.13, .12, .so)\n"
    "  --max-tokens N      session max_tokens (default: the largest T)\n"
    "  --cuda-device N     CUDA artifacts: device ordinal (default 0)\n"
    "  --no-cuda-graphs    CUDA artifacts: launch every step on every run\n"
    "  --help              print this help\n"
    "\n"
    "Flags taking a value accept '--flag VALUE' and '--flag=VALUE'.\n"
    "Exit status: 0 measured, 2 error.\n";

struct Options {
  std::string model, shapeInfo, json, dumpInputs, cublas;
  std::vector<int64_t> tokens = {1, 16, 64, 256, 4096};
  int64_t warmup = 5, runs = 50, buffers = 4, seed = 1;
  int64_t flushBytes = -1, peakBytes = -1, gemmSize = -1, maxTokens = -1;
  int64_t cudaDevice = 0;
  bool cudaGraphs = true, help = false;
};

int fail(const std::string &where, const std::string &what) {
  std::fprintf(stderr, "moec-bench: error: %s: %s\n", where.c_str(),
               what.c_str());
  return 2;
}

int statusFail(moert_status status) {
  std::fprintf(stderr, "moec-bench: error: %s\n", moert_status_message(status));
  moert_status_free(status);
  return 2;
}

bool parseInt(const std::string &text, int64_t minimum, int64_t *out) {
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < minimum)
    return false;
  *out = value;
  return true;
}

// Returns 0 on success, else the exit status (after printing the error).
int parseArgs(int argc, char **argv, Options *o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      o->help = true;
      return 0;
    }
    if (arg == "--no-cuda-graphs") {
      o->cudaGraphs = false;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o->model.empty())
        return fail(arg, "a second model file (only one is benchmarked)");
      o->model = arg;
      continue;
    }
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail(arg, "needs a value");
    }
    struct IntFlag {
      const char *name;
      int64_t *slot;
      int64_t minimum;
    };
    const IntFlag ints[] = {
        {"--warmup", &o->warmup, 0},       {"--runs", &o->runs, 1},
        {"--buffers", &o->buffers, 1},     {"--seed", &o->seed, 0},
        {"--flush-bytes", &o->flushBytes, 0},
        {"--peak-bytes", &o->peakBytes, 0}, {"--gemm-size", &o->gemmSize, 0},
        {"--max-tokens", &o->maxTokens, 0}, {"--cuda-device", &o->cudaDevice, 0}};
    bool known = false;
    for (const IntFlag &flag : ints)
      if (arg == flag.name) {
        known = true;
        if (!parseInt(value, flag.minimum, flag.slot))
          return fail(arg, "expected an integer >= " +
                               std::to_string(flag.minimum) + ", got '" +
                               value + "'");
      }
    if (known)
      continue;
    if (arg == "--shape-info")
      o->shapeInfo = value;
    else if (arg == "--json")
      o->json = value;
    else if (arg == "--dump-inputs")
      o->dumpInputs = value;
    else if (arg == "--cublas")
      o->cublas = value;
    else if (arg == "--tokens") {
      o->tokens.clear();
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string item = value.substr(
            start, comma == std::string::npos ? std::string::npos : comma - start);
        int64_t t = 0;
        if (!parseInt(item, 0, &t))
          return fail("--tokens", "expected comma-separated integers >= 0, "
                                  "got '" + value + "'");
        o->tokens.push_back(t);
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    } else {
      return fail(arg, "unknown option (see --help)");
    }
  }
  if (o->gemmSize > 0 && o->gemmSize % 32 != 0)
    return fail("--gemm-size", "must be a multiple of 32, got " +
                                   std::to_string(o->gemmSize));
  if (!o->help && o->model.empty())
    return fail("moec-bench", "no model file given (see --help)");
  return 0;
}

std::string hostCpuName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size())
        return line.substr(colon + 2);
    }
  return "unknown CPU";
}

std::string safeName(const std::string &name) {
  std::string out = name;
  for (char &c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' &&
        c != '.')
      c = '_';
  return out;
}

uint16_t floatToHalfBits(float value, bool bfloat) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if (bfloat) // round to nearest even
    return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  // IEEE half for |value| within normal range (inputs are N(0, 1)).
  uint32_t sign = (bits >> 16) & 0x8000;
  int exponent = int((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = bits & 0x7fffff;
  if (exponent <= 0)
    return static_cast<uint16_t>(sign);
  if (exponent >= 31)
    return static_cast<uint16_t>(sign | 0x7c00);
  return static_cast<uint16_t>(sign | (exponent << 10) | (mantissa >> 13));
}

// One set of inputs and outputs for a run at T.
struct BufferSet {
  std::vector<npy::Array> inputs, outputs;
  std::vector<std::vector<int64_t>> inputDims, outputDims;
  std::vector<moert_tensor_t> inputTensors, outputTensors;
};

// Fills every float input with N(0, 1) values (integer/bool inputs stay 0:
// MoE layers take none, and no value range could be guessed for them).
// Returns false with `*error` set.
bool makeBuffers(moert_session_t *session, const moert_model_t *model,
                 int64_t tokens, uint64_t seed, BufferSet *set,
                 std::string *error) {
  auto failed = [&](moert_status status) {
    *error = moert_status_message(status);
    moert_status_free(status);
    return false;
  };
  auto noMemory = [&]() {
    *error = std::string(moert_model_name(model)) +
             ": out of memory for the buffers at T=" + std::to_string(tokens);
    return false;
  };
  size_t inputs = moert_model_input_count(model);
  size_t outputs = moert_model_output_count(model);
  set->inputs.resize(inputs);
  set->inputDims.resize(inputs);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < inputs; ++i) {
    moert_tensor_info_t info;
    if (moert_status status = moert_model_input_info(model, i, &info))
      return failed(status);
    std::vector<int64_t> dims(info.dims, info.dims + info.rank);
    for (int64_t &d : dims)
      if (d < 0)
        d = tokens;
    npy::Array &array = set->inputs[i];
    if (!array.allocate(info.dtype, dims))
      return noMemory();
    for (size_t e = 0; e < array.elementCount(); ++e) {
      float value = normal(rng);
      switch (info.dtype) {
      case MOERT_DTYPE_F32:
        reinterpret_cast<float *>(array.data())[e] = value;
        break;
      case MOERT_DTYPE_F64:
        reinterpret_cast<double *>(array.data())[e] = value;
        break;
      case MOERT_DTYPE_F16:
      case MOERT_DTYPE_BF16:
        reinterpret_cast<uint16_t *>(array.data())[e] =
            floatToHalfBits(value, info.dtype == MOERT_DTYPE_BF16);
        break;
      default:
        e = array.elementCount(); // integers and bools stay 0
        break;
      }
    }
    set->inputDims[i] = dims;
  }
  set->outputs.resize(outputs);
  set->outputDims.resize(outputs);
  for (size_t j = 0; j < outputs; ++j) {
    moert_tensor_info_t info;
    if (moert_status status = moert_model_output_info(model, j, &info))
      return failed(status);
    std::vector<int64_t> dims(static_cast<size_t>(info.rank));
    int32_t rank = 0;
    if (moert_status status = moert_session_output_dims(
            session, j, tokens, dims.data(), info.rank, &rank))
      return failed(status);
    if (!set->outputs[j].allocate(info.dtype, dims))
      return noMemory();
    set->outputDims[j] = dims;
  }
  for (size_t i = 0; i < inputs; ++i)
    set->inputTensors.push_back(
        {set->inputs[i].data(), set->inputs[i].dtype(),
         static_cast<int32_t>(set->inputDims[i].size()),
         set->inputDims[i].data(), set->inputs[i].byteSize()});
  for (size_t j = 0; j < outputs; ++j)
    set->outputTensors.push_back(
        {set->outputs[j].data(), set->outputs[j].dtype(),
         static_cast<int32_t>(set->outputDims[j].size()),
         set->outputDims[j].data(), set->outputs[j].byteSize()});
  return true;
}

// Splits the weights into per-expert tensors (one slice per routed expert:
// dims[0] == E, rank >= 3, or rank 2 with "expert" in the name, e.g. an
// (E, 2I) bias) and the rest, read whole on every run (the router, even as
// a GPU artifact's (E, H) copy, shared experts, scales of those).
WeightSplit splitWeights(const moert_model_t *model, const ShapeInfo *shape) {
  WeightSplit split;
  size_t count = moert_model_weight_count(model);
  for (size_t w = 0; w < count; ++w) {
    moert_weight_info_t info;
    if (moert_status status = moert_model_weight_info(model, w, &info)) {
      moert_status_free(status);
      continue;
    }
    bool perExpert = false;
    if (shape != nullptr && info.rank >= 2 && info.dims[0] == shape->experts &&
        shape->routerName != info.name) {
      std::string name = info.name;
      perExpert = info.rank >= 3 || name.find("expert") != std::string::npos;
    }
    if (perExpert) {
      split.perExpertTotal += double(info.byte_size);
      split.perExpertNames.push_back(info.name);
    } else {
      split.always += double(info.byte_size);
    }
  }
  return split;
}

int run(const Options &o) {
  moert_model_t *modelHandle = nullptr;
  if (moert_status status = moert_model_load_file(o.model.c_str(), &modelHandle))
    return statusFail(status);
  std::unique_ptr<moert_model_t, void (*)(moert_model_t *)> model(
      modelHandle, moert_model_release);

  Report report;
  report.model = o.model;
  report.target = moert_model_target(model.get());
  report.source = moert_model_source(model.get());
  report.modelWeightBytes = double(moert_model_weight_bytes(model.get()));
  report.warmup = o.warmup;
  report.runs = o.runs;
  report.buffers = o.buffers;
  report.cudaGraphs = o.cudaGraphs;
  const bool cuda = report.target != "host";

  if (!o.shapeInfo.empty()) {
    std::string error;
    if (!loadShapeInfo(o.shapeInfo, &report.shape, &error))
      return fail("--shape-info", error);
    report.haveShape = true;
  }
  const ShapeInfo *shape = report.haveShape ? &report.shape : nullptr;
  report.weights = splitWeights(model.get(), shape);

  // The token input: the shape file's, else the first input with T in it.
  size_t tokenInput = SIZE_MAX;
  if (shape != nullptr) {
    if (moert_status status = moert_model_find_input(
            model.get(), shape->input.c_str(), &tokenInput))
      return statusFail(status);
    moert_tensor_info_t info;
    moert_model_input_info(model.get(), tokenInput, &info);
    if (info.dtype != MOERT_DTYPE_F32 || info.rank != 2 ||
        info.dims[1] != shape->hidden)
      return fail(o.shapeInfo, "input '" + shape->input +
                                   "' of the model is not (T, " +
                                   std::to_string(shape->hidden) +
                                   ") float32 as the shape file says");
  }

  // The device and its measured peak.
  std::unique_ptr<CudaDevice> gpu;
  if (cuda) {
    gpu = std::make_unique<CudaDevice>();
    std::string error;
    if (!gpu->open(static_cast<int>(o.cudaDevice), &error))
      return fail(o.model, error);
    report.deviceKind = "cuda";
    report.deviceName = gpu->name();
    report.driver = gpu->driver();
    report.clock = "cuda_events";
    int64_t flush = o.flushBytes >= 0
                        ? o.flushBytes
                        : (gpu->l2Bytes() > 0 ? 2 * gpu->l2Bytes()
                                              : int64_t(256) << 20);
    report.flushBytes = static_cast<uint64_t>(flush);
    if (!gpu->prepareFlush(static_cast<size_t>(flush), &error))
      return fail(o.model, error);
    report.peak = gpu->measurePeak(
        static_cast<size_t>(o.peakBytes >= 0 ? o.peakBytes : int64_t(1) << 30),
        o.gemmSize >= 0 ? o.gemmSize : 8192, o.cublas);
  } else {
    report.deviceKind = "host";
    report.deviceName = hostCpuName();
    report.clock = "steady_clock";
    report.threads = "1 thread (moec's host kernels are single-threaded)";
    report.flushBytes = static_cast<uint64_t>(std::max<int64_t>(o.flushBytes, 0));
    report.peak = measureHostPeak(
        static_cast<size_t>(o.peakBytes >= 0 ? o.peakBytes : int64_t(256) << 20),
        o.gemmSize >= 0 ? o.gemmSize : 512);
  }
  // Host cache flush: a buffer written before each timed run.
  std::vector<uint8_t> hostFlush(cuda ? 0 : report.flushBytes);

  moert_session_options_t options;
  moert_session_options_initialize(&options);
  options.max_tokens =
      o.maxTokens >= 0 ? o.maxTokens
                       : *std::max_element(o.tokens.begin(), o.tokens.end());
  options.cuda_device = static_cast<int32_t>(o.cudaDevice);
  options.cuda_graphs = o.cudaGraphs ? 1 : 0;
  moert_session_t *sessionHandle = nullptr;
  if (moert_status status =
          moert_session_create(model.get(), &options, &sessionHandle))
    return statusFail(status);
  std::unique_ptr<moert_session_t, void (*)(moert_session_t *)> session(
      sessionHandle, moert_session_release);
  if (moert_status status = moert_session_enable_timing(session.get(), 1))
    return statusFail(status);
  if (!o.dumpInputs.empty())
    ::mkdir(o.dumpInputs.c_str(), 0777); // an existing directory is fine

  for (int64_t tokens : o.tokens) {
    TokenResult result;
    result.tokens = tokens;
    std::vector<BufferSet> sets(static_cast<size_t>(o.buffers));
    for (int64_t r = 0; r < o.buffers; ++r) {
      BufferSet &set = sets[static_cast<size_t>(r)];
      uint64_t seed = uint64_t(o.seed) * 1000003u + uint64_t(tokens) * 131u +
                      uint64_t(r);
      std::string error;
      if (!makeBuffers(session.get(), model.get(), tokens, seed, &set, &error))
        return fail("moec-bench", error);
      if (!o.dumpInputs.empty())
        for (size_t i = 0; i < set.inputs.size(); ++i) {
          moert_tensor_info_t info;
          moert_model_input_info(model.get(), i, &info);
          std::string path = o.dumpInputs + "/" + safeName(info.name) + ".T" +
                             std::to_string(tokens) + ".r" +
                             std::to_string(r) + ".npy";
          std::string error;
          if (!npy::write(path, set.inputs[i], &error))
            return fail(path, error);
        }
      if (shape != nullptr && !shape->router.empty())
        result.touched.push_back(expertsTouched(
            *shape,
            reinterpret_cast<const float *>(set.inputs[tokenInput].data()),
            tokens));
    }
    for (const npy::Array &array : sets[0].inputs)
      result.activationBytes += double(array.byteSize());
    for (const npy::Array &array : sets[0].outputs)
      result.activationBytes += double(array.byteSize());
    if (shape != nullptr) {
      result.flops = layerFlops(*shape, tokens);
      double touched = double(shape->experts);
      if (!result.touched.empty()) {
        touched = 0;
        for (int64_t count : result.touched)
          touched += double(count);
        touched /= double(result.touched.size());
      }
      result.weightBytes = report.weights.always +
                           report.weights.perExpertTotal * touched /
                               double(shape->experts);
    } else {
      result.weightBytes = report.modelWeightBytes;
    }

    for (int64_t i = 0; i < o.warmup + o.runs; ++i) {
      BufferSet &set = sets[static_cast<size_t>(i % o.buffers)];
      bool timed = i >= o.warmup;
      if (timed && !hostFlush.empty()) {
        std::memset(hostFlush.data(), int(i & 0xff), hostFlush.size());
        // Keeps the writes from being optimized away.
        volatile uint8_t sink = hostFlush[hostFlush.size() / 2];
        (void)sink;
      }
      if (timed && gpu) {
        std::string error;
        if (!gpu->flush(&error))
          return fail(o.model, error);
      }
      auto start = std::chrono::steady_clock::now();
      if (moert_status status = moert_session_run(
              session.get(), set.inputTensors.data(), set.inputTensors.size(),
              set.outputTensors.data(), set.outputTensors.size()))
        return statusFail(status);
      double wallMs = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      if (!timed)
        continue;
      moert_run_timing_t timing;
      if (moert_status status =
              moert_session_last_run_timing(session.get(), &timing))
        return statusFail(status);
      result.stepsMs.push_back(timing.steps_ms);
      result.totalMs.push_back(timing.total_ms);
      result.wallMs.push_back(wallMs);
    }
    report.results.push_back(std::move(result));
  }

  printTable(report);
  if (!o.json.empty()) {
    std::string error;
    if (!writeJson(o.json, report, &error))
      return fail(o.json, error);
  }
  return 0;
}

} // namespace
} // namespace moec::bench

int main(int argc, char **argv) {
  moec::bench::Options options;
  if (int status = moec::bench::parseArgs(argc, argv, &options))
    return status;
  if (options.help) {
    std::fputs(moec::bench::kUsage, stdout);
    return 0;
  }
  return moec::bench::run(options);
}
