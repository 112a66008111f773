//===- main.cpp - moec-run: run a .moe artifact on .npy inputs ------------===//
//
// Loads a model with libmoert, feeds it .npy inputs, optionally writes the
// outputs and compares them with reference .npy files.
//
// Exit status: 0 ran (and every check passed), 1 a check failed, 2 an error
// (bad flag, missing file, input mismatch, corrupt model, run failure).
//
//===----------------------------------------------------------------------===//

#include "moert/moert.h"
#include "tools/moec-run/Generate.h"
#include "tools/moec-run/Npy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

const char kUsage[] =
    "usage: moec-run MODEL.moe --input NAME=FILE.npy ... [options]\n"
    "       moec-run MODEL.moe --generate N --prompt ID,ID,... [options]\n"
    "       moec-run MODEL.moe --info\n"
    "\n"
    "Runs a moec artifact on .npy inputs with libmoert, or generates tokens\n"
    "greedily with a compiled decoder and its KV cache (or, for a decoder\n"
    "without one, rerunning the whole sequence each step).\n"
    "\n"
    "  --input NAME=FILE.npy   value of model input NAME (one per input; the\n"
    "                          dtype must equal the model's, nothing is cast)\n"
    "  --output NAME=FILE.npy  write model output NAME to FILE.npy\n"
    "  --check NAME=REF.npy    compare output NAME with REF.npy element-wise:\n"
    "                          pass if |out-ref| <= atol + rtol*|ref| for every\n"
    "                          element; NaN must meet NaN\n"
    "  --rtol R                relative tolerance of --check (default 1e-4)\n"
    "  --atol A                absolute tolerance of --check (default 1e-5)\n"
    "  --max-tokens N          session max_tokens (sizes the arena; default:\n"
    "                          the token count T of the inputs)\n"
    "  --repeat N              run N times and print the median and minimum\n"
    "                          time (default 1)\n"
    "  --cuda-device N         CUDA artifacts: run on device N (default 0)\n"
    "  --no-cuda-graphs        CUDA artifacts: launch every step on every run\n"
    "                          instead of replaying a captured CUDA graph\n"
    "  --generate N            greedy decoding: run the prompt, then one token\n"
    "                          per run, feeding the present caches back as the\n"
    "                          past; prints the N generated ids on one line.\n"
    "                          The model needs the inputs input_ids (int64\n"
    "                          [1, T]), seqlens_k (int32 [1]),\n"
    "                          total_sequence_length (int32), past_<X> or\n"
    "                          past_key_values.<X> caches with present_<X> or\n"
    "                          present.<X> outputs, and the output logits\n"
    "                          (float32 [1, T, vocab]); position_ids (int64\n"
    "                          [1, T]) is fed when present (docs/user-guide.md).\n"
    "                          A decoder whose only inputs are input_ids (and\n"
    "                          position_ids) has no cache: each step reruns the\n"
    "                          whole sequence so far\n"
    "  --prompt IDS            --generate: the prompt's token ids, comma-separated\n"
    "  --tokens-out FILE.npy   --generate: also write the ids (int64 [N])\n"
    "  --logits-out FILE.npy   --generate: write each step's logits row\n"
    "                          (float32 [N, vocab])\n"
    "  --timing-out FILE.json  --generate: each run's wall time (prefill, then\n"
    "                          one per decoded token), for benchmarks\n"
    "  --info                  print the model's target, inputs and outputs (T is\n"
    "                          the token count; outputs that may share an\n"
    "                          input's buffer say so) and weight bytes, and exit\n"
    "  --help                  print this help\n"
    "\n"
    "Flags taking a value accept '--flag VALUE' and '--flag=VALUE'.\n"
    "Exit status: 0 success (all checks PASS), 1 a check FAILed, 2 error.\n";

struct NamedFile {
  std::string name, path;
};

struct Options {
  std::string model;
  std::vector<NamedFile> inputs, outputs, checks;
  double rtol = 1e-4, atol = 1e-5;
  int64_t maxTokens = -1; // -1: use T
  int64_t repeat = 1;
  int64_t cudaDevice = 0;
  bool cudaGraphs = true;
  bool help = false;
  bool info = false;
  int64_t generate = 0; // 0: not generating
  bool promptGiven = false;
  std::vector<int64_t> prompt;
  std::string tokensOut, logitsOut, timingOut;
};

// "1,2,3" -> {1, 2, 3}; false on anything else.
bool parseIds(const std::string &text, std::vector<int64_t> *out) {
  out->clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    char *end = nullptr;
    long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || !end || *end != '\0')
      return false;
    out->push_back(value);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return !out->empty();
}

int error(const std::string &where, const std::string &what) {
  std::fprintf(stderr, "moec-run: error: %s: %s\n", where.c_str(),
               what.c_str());
  return 2;
}

// Reports a runtime status (whose message already names the model file).
int statusError(moert_status status) {
  std::fprintf(stderr, "moec-run: error: %s\n", moert_status_message(status));
  moert_status_free(status);
  return 2;
}

bool parseNumber(const std::string &text, double *out) {
  char *end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0' && std::isfinite(*out) &&
         *out >= 0;
}

bool parseCount(const std::string &text, int64_t *out) {
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  *out = value;
  return !text.empty() && end && *end == '\0' && value >= 0;
}

// Returns 0, or 2 after printing an error.
int parseArgs(int argc, char **argv, Options *options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options->help = true;
      return 0;
    }
    if (arg == "--info") {
      options->info = true;
      continue;
    }
    if (arg == "--no-cuda-graphs") {
      options->cudaGraphs = false;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!options->model.empty())
        return error(arg, "unexpected argument (the model is '" +
                              options->model + "')");
      options->model = arg;
      continue;
    }
    std::string flag = arg, value;
    size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      flag = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    } else {
      if (flag != "--input" && flag != "--output" && flag != "--check" &&
          flag != "--rtol" && flag != "--atol" && flag != "--max-tokens" &&
          flag != "--repeat" && flag != "--cuda-device" && flag != "--generate" &&
          flag != "--prompt" && flag != "--tokens-out" && flag != "--logits-out" &&
          flag != "--timing-out")
        return error(flag, "unknown flag (see --help)");
      if (i + 1 >= argc)
        return error(flag, "missing value");
      value = argv[++i];
    }
    if (flag == "--input" || flag == "--output" || flag == "--check") {
      size_t split = value.find('=');
      if (split == std::string::npos || split == 0 ||
          split + 1 == value.size())
        return error(flag, "expected NAME=FILE.npy, got '" + value + "'");
      NamedFile entry{value.substr(0, split), value.substr(split + 1)};
      auto &list = flag == "--input"    ? options->inputs
                   : flag == "--output" ? options->outputs
                                        : options->checks;
      for (const NamedFile &other : list)
        if (other.name == entry.name)
          return error(flag, "'" + entry.name + "' given twice");
      list.push_back(entry);
    } else if (flag == "--rtol" || flag == "--atol") {
      double number;
      if (!parseNumber(value, &number))
        return error(flag, "expected a non-negative number, got '" + value +
                               "'");
      (flag == "--rtol" ? options->rtol : options->atol) = number;
    } else if (flag == "--generate") {
      if (!parseCount(value, &options->generate) || options->generate == 0)
        return error(flag, "expects a positive number of tokens, got '" + value + "'");
    } else if (flag == "--prompt") {
      if (!parseIds(value, &options->prompt))
        return error(flag, "expects comma-separated token ids, got '" + value + "'");
      options->promptGiven = true;
    } else if (flag == "--tokens-out" || flag == "--logits-out" || flag == "--timing-out") {
      (flag == "--tokens-out"   ? options->tokensOut
       : flag == "--logits-out" ? options->logitsOut
                                : options->timingOut) = value;
    } else if (flag == "--cuda-device") {
      if (!parseCount(value, &options->cudaDevice) ||
          options->cudaDevice > INT32_MAX)
        return error(flag, "expected a device ordinal, got '" + value + "'");
    } else if (flag == "--max-tokens" || flag == "--repeat") {
      int64_t count;
      if (!parseCount(value, &count) || (flag == "--repeat" && count == 0))
        return error(flag, "expected a " +
                               std::string(flag == "--repeat" ? "positive"
                                                              : "non-negative") +
                               " integer, got '" + value + "'");
      (flag == "--max-tokens" ? options->maxTokens : options->repeat) = count;
    } else {
      return error(flag, "unknown flag (see --help)");
    }
  }
  if (options->model.empty())
    return error("moec-run", "no model given (see --help)");
  bool generating = options->generate > 0;
  if (generating && !options->promptGiven)
    return error("--generate", "needs --prompt ID,ID,...");
  if (!generating && (options->promptGiven || !options->tokensOut.empty() ||
                      !options->logitsOut.empty() || !options->timingOut.empty()))
    return error("moec-run",
                 "--prompt, --tokens-out, --logits-out and --timing-out go with --generate");
  if (options->info && (generating || !options->inputs.empty() || !options->outputs.empty() ||
                        !options->checks.empty()))
    return error("--info", "prints the model's interface and exits; give it alone");
  if (generating && (!options->inputs.empty() || !options->outputs.empty() ||
                     !options->checks.empty() || options->repeat != 1))
    return error("--generate", "feeds the model itself; --input, --output, --check and "
                               "--repeat do not apply");
  return 0;
}

struct CheckResult {
  double maxAbs = 0, maxRel = 0;
  size_t nanMismatches = 0;
  bool pass = true;
};

CheckResult compare(const moec::npy::Array &out, const moec::npy::Array &ref,
                    double rtol, double atol) {
  CheckResult result;
  for (size_t i = 0; i < out.elementCount(); ++i) {
    double o = out.elementAsDouble(i), r = ref.elementAsDouble(i);
    if (std::isnan(o) || std::isnan(r)) {
      if (!(std::isnan(o) && std::isnan(r))) {
        ++result.nanMismatches;
        result.pass = false;
      }
      continue;
    }
    // Equal infinities compare equal; inf - inf would be NaN.
    double diff = o == r ? 0.0 : std::fabs(o - r);
    if (std::isnan(diff))
      diff = INFINITY;
    result.maxAbs = std::max(result.maxAbs, diff);
    if (std::fabs(r) > atol)
      result.maxRel = std::max(
          result.maxRel, diff / std::max(std::fabs(r), 1e-300));
    if (!(diff <= atol + rtol * std::fabs(r)))
      result.pass = false;
  }
  return result;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::string describePort(const moert_tensor_info_t &info) {
  std::string text = std::string(info.name) + ": " + moert_dtype_name(info.dtype) + " [";
  for (int32_t d = 0; d < info.rank; ++d)
    text += (d ? ", " : "") + (info.dims[d] == -1 ? std::string("T") : std::to_string(info.dims[d]));
  return text + "]";
}

int printInfo(const std::string &path, moert_model_t *model) {
  std::printf("%s: target %s, %zu weights (%llu bytes)\n", path.c_str(),
              moert_model_target(model), moert_model_weight_count(model),
              static_cast<unsigned long long>(moert_model_weight_bytes(model)));
  size_t inputs = moert_model_input_count(model), outputs = moert_model_output_count(model);
  std::printf("inputs (%zu):\n", inputs);
  std::vector<std::string> inputNames(inputs);
  for (size_t i = 0; i < inputs; ++i) {
    moert_tensor_info_t info;
    if (moert_status status = moert_model_input_info(model, i, &info))
      return statusError(status);
    inputNames[i] = info.name;
    std::printf("  %s\n", describePort(info).c_str());
  }
  std::printf("outputs (%zu):\n", outputs);
  for (size_t i = 0; i < outputs; ++i) {
    moert_tensor_info_t info;
    int64_t shared = -1;
    if (moert_status status = moert_model_output_info(model, i, &info))
      return statusError(status);
    if (moert_status status = moert_model_output_inplace_input(model, i, &shared))
      return statusError(status);
    std::string inPlace = shared >= 0 && static_cast<size_t>(shared) < inputs
                              ? " (may share the buffer of input '" +
                                    inputNames[static_cast<size_t>(shared)] + "')"
                              : "";
    std::printf("  %s%s\n", describePort(info).c_str(), inPlace.c_str());
  }
  return 0;
}

int run(const Options &options) {
  moert_model_t *model = nullptr;
  if (moert_status status = moert_model_load_file(options.model.c_str(), &model))
    return statusError(status);
  std::unique_ptr<moert_model_t, void (*)(moert_model_t *)> modelOwner(
      model, moert_model_release);
  if (options.info)
    return printInfo(options.model, model);
  if (options.generate > 0) {
    moec::run::GenerateOptions generate;
    generate.model = options.model;
    generate.prompt = options.prompt;
    generate.newTokens = options.generate;
    generate.cudaDevice = options.cudaDevice;
    generate.tokensPath = options.tokensOut;
    generate.logitsPath = options.logitsOut;
    generate.timingPath = options.timingOut;
    return moec::run::generate(generate, model);
  }

  // Inputs: every model input exactly once, dtype as declared.
  size_t inputCount = moert_model_input_count(model);
  std::vector<moec::npy::Array> inputArrays(inputCount);
  std::vector<bool> given(inputCount, false);
  int64_t tokens = -1;
  for (const NamedFile &input : options.inputs) {
    size_t index;
    if (moert_status status =
            moert_model_find_input(model, input.name.c_str(), &index))
      return statusError(status);
    std::string reason;
    if (!moec::npy::read(input.path, &inputArrays[index], &reason))
      return error(input.path, reason);
    given[index] = true;
    moert_tensor_info_t info;
    if (moert_status status = moert_model_input_info(model, index, &info))
      return statusError(status);
    const moec::npy::Array &array = inputArrays[index];
    if (array.dtype() != info.dtype)
      return error("input '" + input.name + "'",
                   input.path + " holds " + moert_dtype_name(array.dtype()) +
                       " but the model expects " + moert_dtype_name(info.dtype) +
                       " (moec-run does not convert; save the array as " +
                       moert_dtype_name(info.dtype) + ")");
    // T comes from the first token dim; the runtime checks all the others.
    if (tokens < 0 && array.shape().size() == static_cast<size_t>(info.rank))
      for (int32_t d = 0; d < info.rank; ++d)
        if (info.dims[d] == -1 && tokens < 0)
          tokens = array.shape()[d];
  }
  for (size_t i = 0; i < inputCount; ++i)
    if (!given[i]) {
      moert_tensor_info_t info;
      moert_model_input_info(model, i, &info);
      return error(options.model, std::string("input '") + info.name +
                                      "' not given (use --input " +
                                      info.name + "=FILE.npy)");
    }
  if (tokens < 0)
    tokens = 0;

  moert_session_options_t sessionOptions;
  moert_session_options_initialize(&sessionOptions);
  sessionOptions.cuda_device = static_cast<int32_t>(options.cudaDevice);
  sessionOptions.cuda_graphs = options.cudaGraphs ? 1 : 0;
  sessionOptions.max_tokens =
      options.maxTokens >= 0 ? options.maxTokens : std::max<int64_t>(tokens, 1);
  moert_session_t *session = nullptr;
  if (moert_status status =
          moert_session_create(model, &sessionOptions, &session))
    return statusError(status);
  std::unique_ptr<moert_session_t, void (*)(moert_session_t *)> sessionOwner(
      session, moert_session_release);
  if (tokens > sessionOptions.max_tokens)
    return error(options.model, "inputs have T=" + std::to_string(tokens) +
                                    " tokens, more than --max-tokens " +
                                    std::to_string(sessionOptions.max_tokens));

  std::vector<moert_tensor_t> inputs(inputCount);
  for (size_t i = 0; i < inputCount; ++i) {
    moec::npy::Array &array = inputArrays[i];
    inputs[i] = {array.data(), array.dtype(),
                 static_cast<int32_t>(array.shape().size()),
                 array.shape().data(), array.byteSize()};
  }

  size_t outputCount = moert_model_output_count(model);
  std::vector<moec::npy::Array> outputArrays(outputCount);
  std::vector<moert_tensor_t> outputs(outputCount);
  for (size_t i = 0; i < outputCount; ++i) {
    moert_tensor_info_t info;
    moert_model_output_info(model, i, &info);
    std::vector<int64_t> dims(static_cast<size_t>(info.rank));
    int32_t rank = 0;
    if (moert_status status = moert_session_output_dims(
            session, i, tokens, dims.data(), info.rank, &rank))
      return statusError(status);
    if (!outputArrays[i].allocate(info.dtype, dims))
      return error(std::string("output '") + info.name + "'",
                   "cannot allocate " + shapeText(dims));
    moec::npy::Array &array = outputArrays[i];
    outputs[i] = {array.data(), array.dtype(), rank, array.shape().data(),
                  array.byteSize()};
  }

  std::vector<double> millis;
  for (int64_t r = 0; r < options.repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (moert_status status = moert_session_run(
            session, inputs.data(), inputs.size(), outputs.data(),
            outputs.size()))
      return statusError(status);
    auto stop = std::chrono::steady_clock::now();
    millis.push_back(
        std::chrono::duration<double, std::milli>(stop - start).count());
  }
  if (options.repeat > 1) {
    std::vector<double> sorted = millis;
    std::sort(sorted.begin(), sorted.end());
    std::printf("moec-run: %s: T=%lld, %lld runs, median %.4g ms, min %.4g ms\n",
                options.model.c_str(), static_cast<long long>(tokens),
                static_cast<long long>(options.repeat),
                sorted[sorted.size() / 2], sorted.front());
  }

  for (const NamedFile &output : options.outputs) {
    size_t index;
    if (moert_status status =
            moert_model_find_output(model, output.name.c_str(), &index))
      return statusError(status);
    std::string reason;
    if (!moec::npy::write(output.path, outputArrays[index], &reason))
      return error(output.path, reason);
  }

  size_t failed = 0;
  for (const NamedFile &check : options.checks) {
    size_t index;
    if (moert_status status =
            moert_model_find_output(model, check.name.c_str(), &index))
      return statusError(status);
    moec::npy::Array reference;
    std::string reason;
    if (!moec::npy::read(check.path, &reference, &reason))
      return error(check.path, reason);
    const moec::npy::Array &out = outputArrays[index];
    if (reference.shape() != out.shape())
      return error(check.path, "reference shape " +
                                   shapeText(reference.shape()) +
                                   " differs from output '" + check.name +
                                   "' shape " + shapeText(out.shape()));
    CheckResult result = compare(out, reference, options.rtol, options.atol);
    std::printf("check %s: max_abs_err=%.3g max_rel_err=%.3g (rtol %g atol %g)",
                check.name.c_str(), result.maxAbs, result.maxRel, options.rtol,
                options.atol);
    if (result.nanMismatches)
      std::printf(" nan_mismatches=%zu", result.nanMismatches);
    std::printf(" %s\n", result.pass ? "PASS" : "FAIL");
    failed += result.pass ? 0 : 1;
  }

  if (options.checks.empty())
    std::printf("moec-run: %s: T=%lld, ran, %zu output(s) written\n", options.model.c_str(),
                static_cast<long long>(tokens), options.outputs.size());
  else
    std::printf("moec-run: %s: T=%lld, %zu output(s) checked, %s\n",
                options.model.c_str(), static_cast<long long>(tokens),
                options.checks.size(),
                failed == 0 ? "all PASS"
                            : (std::to_string(failed) + " FAIL").c_str());
  return failed == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  if (int code = parseArgs(argc, argv, &options))
    return code;
  if (options.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception &e) {
    return error("moec-run", e.what());
  }
}
