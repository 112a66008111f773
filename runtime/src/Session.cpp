//===- Session.cpp - Create a session and run it --------------------------===//
//
// The checks of a run (shapes, dtypes, T) are shared by every target; the
// host executor (here) calls the kernels of a shared object directly, the
// CUDA executor (cuda/Executor.cpp) runs a cubin on a GPU.
//

#include "runtime/src/Session.h"

#include "runtime/src/CheckedMath.h"
#include "runtime/src/KernelErrors.h"
#include "runtime/src/Status.h"

#include <chrono>
#include <string>

namespace moert {
namespace {

bool byteCount(const TensorSig &sig, int64_t tokens, int64_t *out) {
  return signatureBytes(sig, tokens, out);
}

std::string describeGiven(const moert_tensor_t &tensor) {
  std::string text = "(";
  for (int32_t i = 0; i < tensor.rank; ++i) {
    if (i)
      text += ", ";
    text += std::to_string(tensor.dims[i]);
  }
  if (tensor.rank == 1)
    text += ",";
  return text + ") " + dtypeName(tensor.dtype);
}

std::string quoted(const std::string &text) { return "'" + text + "'"; }

moert_status invalid(const Model &model, const std::string &message) {
  return makeStatus(MOERT_INVALID_ARGUMENT, model.name + ": " + message);
}

// Checks that `tensor` has the dtype, rank and dims of `sig` for T tokens,
// and enough bytes behind `data`.
moert_status checkTensor(const Model &model, const char *what,
                         const TensorSig &sig, const moert_tensor_t &tensor,
                         int64_t tokens) {
  std::string where = std::string(what) + " " + quoted(sig.name);
  if (tensor.rank < 0 || (tensor.rank > 0 && tensor.dims == nullptr))
    return invalid(model, where + ": rank is " + std::to_string(tensor.rank) +
                              (tensor.rank > 0 ? " but dims is NULL" : ""));
  bool matches = dtypeSize(tensor.dtype) != 0 && tensor.dtype == sig.dtype &&
                 static_cast<size_t>(tensor.rank) == sig.dims.size();
  for (size_t i = 0; matches && i < sig.dims.size(); ++i) {
    int64_t want = sig.dims[i] == kTokenDim ? tokens : sig.dims[i];
    matches = tensor.dims[i] == want;
  }
  if (!matches)
    return invalid(model, where + ": expected shape " + sig.describe() +
                              ", got " + describeGiven(tensor));
  int64_t bytes = 0;
  byteCount(sig, tokens, &bytes); // Cannot overflow: checked at creation.
  if (tensor.byte_size < static_cast<uint64_t>(bytes))
    return invalid(model, where + ": buffer holds " +
                              std::to_string(tensor.byte_size) +
                              " bytes, shape " + describeGiven(tensor) +
                              " needs " + std::to_string(bytes));
  if (tensor.data == nullptr && bytes != 0)
    return invalid(model, where + ": data is NULL");
  return nullptr;
}

// Reads T off the inputs' token dims and checks that they all agree.
// Bytes [begin, end) a run touches in `tensor`, from the signature (the
// caller's byte_size may be larger; only the signature's bytes are used).
struct ByteRange {
  uintptr_t begin = 0, end = 0;
  bool overlaps(const ByteRange &other) const {
    return begin < other.end && other.begin < end;
  }
};

ByteRange rangeOf(const TensorSig &sig, const moert_tensor_t &tensor, int64_t tokens) {
  int64_t bytes = 0;
  signatureBytes(sig, tokens, &bytes); // checked by checkTensor already
  auto begin = reinterpret_cast<uintptr_t>(tensor.data);
  return {begin, begin + static_cast<uintptr_t>(bytes)};
}

// No two buffers of a run may share a byte (a kernel could read what another
// already overwrote), except an output and the input it declares in place,
// which must then be exactly the same buffer. Quadratic in the port count
// but allocation-free, as a run must be; a decoder's few hundred ports cost
// microseconds.
moert_status checkOverlaps(const Model &model, const moert_tensor_t *inputs,
                           const moert_tensor_t *outputs, int64_t tokens) {
  for (size_t o = 0; o < model.outputs.size(); ++o) {
    ByteRange out = rangeOf(model.outputs[o], outputs[o], tokens);
    if (out.begin == out.end)
      continue;
    for (size_t i = 0; i < model.inputs.size(); ++i) {
      ByteRange in = rangeOf(model.inputs[i], inputs[i], tokens);
      if (in.begin == in.end || !out.overlaps(in))
        continue;
      bool declared = model.outputs[o].inplaceInput == static_cast<int>(i);
      if (declared && in.begin == out.begin && in.end == out.end)
        continue;
      return invalid(model, "output " + quoted(model.outputs[o].name) +
                                " overlaps input " + quoted(model.inputs[i].name) +
                                (declared ? " without being the same buffer (an in-place "
                                            "output must be passed exactly the input's buffer)"
                                          : " (only an output declared in place, see "
                                            "moert_model_output_inplace_input, may share an "
                                            "input's buffer)"));
    }
    for (size_t p = o + 1; p < model.outputs.size(); ++p) {
      ByteRange other = rangeOf(model.outputs[p], outputs[p], tokens);
      if (other.begin != other.end && out.overlaps(other))
        return invalid(model, "outputs " + quoted(model.outputs[o].name) + " and " +
                                  quoted(model.outputs[p].name) + " overlap");
    }
  }
  return nullptr;
}

moert_status inferTokens(const moert_session_impl &session,
                         const moert_tensor_t *inputs, int64_t *outTokens) {
  const Model &model = *session.model;
  int64_t tokens = -1;
  size_t source = 0;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const TensorSig &sig = model.inputs[i];
    const moert_tensor_t &tensor = inputs[i];
    if (tensor.rank < 0 || static_cast<size_t>(tensor.rank) != sig.dims.size() ||
        tensor.dims == nullptr)
      continue; // checkTensor reports it.
    for (size_t d = 0; d < sig.dims.size(); ++d) {
      if (sig.dims[d] != kTokenDim || tensor.dims[d] < 0)
        continue;
      if (tokens < 0) {
        tokens = tensor.dims[d];
        source = i;
      } else if (tensor.dims[d] != tokens) {
        return invalid(model, "input " + quoted(sig.name) +
                                  ": token dimension (dim " +
                                  std::to_string(d) + ") is " +
                                  std::to_string(tensor.dims[d]) + " but T=" +
                                  std::to_string(tokens) + " from input " +
                                  quoted(model.inputs[source].name));
      }
    }
  }
  if (tokens > session.maxTokens)
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      model.name + ": input " +
                          quoted(model.inputs[source].name) + ": T=" +
                          std::to_string(tokens) +
                          " exceeds the session's max_tokens (" +
                          std::to_string(session.maxTokens) + ")");
  *outTokens = tokens < 0 ? 0 : tokens;
  return nullptr;
}

} // namespace

moert_status createSession(std::shared_ptr<Model> model,
                           const SessionOptions &options,
                           moert_session_impl **out) {
  const std::string prefix = model->name + ": ";
  const int64_t maxTokens = options.maxTokens;
  if (maxTokens < 0)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      prefix + "max_tokens is " + std::to_string(maxTokens) +
                          " (must be >= 0)");

  // Every size at max_tokens must fit; sizes grow with T, so a run with
  // T <= max_tokens then needs no overflow checks.
  for (const auto *list : {&model->inputs, &model->outputs})
    for (const TensorSig &sig : *list) {
      int64_t bytes;
      if (!byteCount(sig, maxTokens, &bytes))
        return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                          prefix + "'" + sig.name + "' " + sig.describe() +
                              " overflows at max_tokens " +
                              std::to_string(maxTokens));
    }
  int64_t arenaBytes;
  uint64_t arenaAligned = 0;
  if (!evalAffine(model->arenaSize.base, model->arenaSize.perToken, maxTokens,
                  &arenaBytes) ||
      !alignUp(static_cast<uint64_t>(arenaBytes), kDataAlignment,
               &arenaAligned) ||
      arenaAligned > static_cast<uint64_t>(SIZE_MAX))
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      prefix + "arena size overflows at max_tokens " +
                          std::to_string(maxTokens));

  if (model->targetKind == TargetKind::Cuda) {
    auto session = std::make_unique<moert_session_impl>();
    session->model = model;
    session->maxTokens = maxTokens;
    cuda::ExecutorOptions cudaOptions;
    cudaOptions.maxTokens = maxTokens;
    cudaOptions.device = options.cudaDevice;
    cudaOptions.graphs = options.cudaGraphs;
    if (moert_status status =
            cuda::Executor::create(model, cudaOptions, &session->cuda))
      return annotate(status, prefix);
    *out = session.release();
    return nullptr;
  }

  auto session = std::make_unique<moert_session_impl>();
  session->model = model;
  session->maxTokens = maxTokens;
  if (!session->arena.allocate(static_cast<size_t>(arenaAligned)))
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      prefix + "cannot allocate the " +
                          std::to_string(arenaAligned) +
                          "-byte arena for max_tokens " +
                          std::to_string(maxTokens));

  if (!model->kernels.empty()) {
    // Before dlopen: kernels for a level this CPU lacks would die of SIGILL.
    std::string unsupported =
        host::checkCpuLevel(model->hostCpu, host::detectCpuFeatures());
    if (!unsupported.empty())
      return makeStatus(MOERT_FAILED_PRECONDITION, prefix + unsupported);
    if (moert_status status =
            session->code.load(model->binaryData, model->binarySize))
      return annotate(status, prefix);
  }
  std::vector<moert_host_kernel_fn> kernelFunctions(model->kernels.size());
  for (size_t k = 0; k < model->kernels.size(); ++k) {
    void *address = nullptr;
    if (moert_status status = session->code.resolve(model->kernels[k], &address))
      return annotate(status, prefix + "kernel " + std::to_string(k) + ": ");
    kernelFunctions[k] = reinterpret_cast<moert_host_kernel_fn>(address);
  }

  session->argStart.reserve(model->steps.size() + 1);
  session->argStart.push_back(0);
  for (const Step &step : model->steps) {
    session->stepFunctions.push_back(kernelFunctions[step.kernel]);
    for (const StepArg &arg : step.args) {
      void *pointer = nullptr;
      if (arg.kind == ArgKind::Weight)
        pointer = const_cast<uint8_t *>(model->weightData +
                                        model->weights[arg.index].offset);
      session->argTable.push_back(pointer);
    }
    session->argStart.push_back(session->argTable.size());
  }
  *out = session.release();
  return nullptr;
}

// The output index and token count of an output-shape query.
moert_status checkOutputQuery(const moert_session_impl &session, size_t index,
                              int64_t tokens) {
  const Model &model = *session.model;
  if (index >= model.outputs.size())
    return invalid(model, "output index " + std::to_string(index) +
                              " out of range (" +
                              std::to_string(model.outputs.size()) +
                              " outputs)");
  if (tokens < 0 || tokens > session.maxTokens)
    return invalid(model, "token count " + std::to_string(tokens) +
                              " is outside [0, max_tokens=" +
                              std::to_string(session.maxTokens) + "]");
  return nullptr;
}

moert_status outputDims(const moert_session_impl &session, size_t index,
                        int64_t tokens, int64_t *dims, int32_t capacity,
                        int32_t *outRank) {
  const Model &model = *session.model;
  if (moert_status status = checkOutputQuery(session, index, tokens))
    return status;
  const TensorSig &sig = model.outputs[index];
  int32_t rank = static_cast<int32_t>(sig.dims.size());
  if (outRank)
    *outRank = rank;
  if (capacity < rank || (rank > 0 && dims == nullptr))
    return invalid(model, "output " + quoted(sig.name) + " has rank " +
                              std::to_string(rank) + " but room for " +
                              std::to_string(dims ? capacity : 0) +
                              " dims was given");
  for (int32_t i = 0; i < rank; ++i)
    dims[i] = sig.dims[i] == kTokenDim ? tokens : sig.dims[i];
  return nullptr;
}

moert_status outputByteSize(const moert_session_impl &session, size_t index,
                            int64_t tokens, size_t *outBytes) {
  const Model &model = *session.model;
  if (moert_status status = checkOutputQuery(session, index, tokens))
    return status;
  int64_t bytes = 0;
  byteCount(model.outputs[index], tokens, &bytes); // Checked at creation.
  *outBytes = static_cast<size_t>(bytes);
  return nullptr;
}

moert_status enableTiming(moert_session_impl &session, bool enable) {
  if (enable && session.cuda)
    if (moert_status status = session.cuda->enableTiming())
      return annotate(status, session.model->name + ": ");
  if (session.cuda)
    session.cuda->setTiming(enable);
  session.timing = enable;
  session.haveTiming = false;
  return nullptr;
}

moert_status lastRunTiming(const moert_session_impl &session,
                           moert_run_timing_t *out) {
  if (!session.timing)
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      session.model->name +
                          ": timing is not enabled on this session "
                          "(call moert_session_enable_timing first)");
  if (!session.haveTiming)
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      session.model->name +
                          ": no run has succeeded since timing was enabled "
                          "or since the last failed run");
  *out = session.lastTiming;
  return nullptr;
}

namespace {

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

moert_status runSession(moert_session_impl &session,
                        const moert_tensor_t *inputs, size_t inputCount,
                        moert_tensor_t *outputs, size_t outputCount) {
  const Model &model = *session.model;
  // Times belong to a run that succeeded; a failure anywhere leaves none.
  session.haveTiming = false;
  if (inputCount != model.inputs.size() || (inputCount && !inputs))
    return invalid(model, "expected " + std::to_string(model.inputs.size()) +
                              " input(s), got " + std::to_string(inputCount));
  if (outputCount != model.outputs.size() || (outputCount && !outputs))
    return invalid(model, "expected " + std::to_string(model.outputs.size()) +
                              " output(s), got " +
                              std::to_string(outputCount));

  int64_t tokens = 0;
  if (moert_status status = inferTokens(session, inputs, &tokens))
    return status;
  for (size_t i = 0; i < inputCount; ++i)
    if (moert_status status =
            checkTensor(model, "input", model.inputs[i], inputs[i], tokens))
      return status;
  for (size_t i = 0; i < outputCount; ++i)
    if (moert_status status =
            checkTensor(model, "output", model.outputs[i], outputs[i], tokens))
      return status;
  if (moert_status status = checkOverlaps(model, inputs, outputs, tokens))
    return status;

  if (session.cuda) {
    if (moert_status status = session.cuda->run(inputs, outputs, tokens))
      return annotate(status, model.name + ": ");
    if (session.timing) {
      session.lastTiming.tokens = tokens;
      session.lastTiming.clock = MOERT_CLOCK_CUDA_EVENTS;
      session.cuda->lastTiming(&session.lastTiming.steps_ms,
                               &session.lastTiming.total_ms);
      session.haveTiming = true;
    }
    return nullptr;
  }

  // The clock is read only when timing: two reads per step (tens of
  // nanoseconds) are negligible next to a kernel, yet not free at T=1.
  const bool timing = session.timing;
  std::chrono::steady_clock::time_point runStart;
  if (timing)
    runStart = std::chrono::steady_clock::now();
  double stepsMs = 0;
  for (size_t s = 0; s < model.steps.size(); ++s) {
    const Step &step = model.steps[s];
    if (!step.runsFor(tokens))
      continue; // another variant of this kernel serves this token count
    void **args = session.argTable.data() + session.argStart[s];
    for (size_t a = 0; a < step.args.size(); ++a) {
      const StepArg &arg = step.args[a];
      switch (arg.kind) {
      case ArgKind::Input:
        args[a] = inputs[arg.index].data;
        break;
      case ArgKind::Output:
        args[a] = outputs[arg.index].data;
        break;
      case ArgKind::Weight:
        break; // Filled at creation.
      case ArgKind::Arena: {
        // In range: the verifier bounded the offset by the arena size and
        // T <= max_tokens.
        int64_t offset = arg.offset.base + arg.offset.perToken * tokens;
        args[a] = session.arena.data() + offset;
        break;
      }
      }
    }
    std::chrono::steady_clock::time_point kernelStart;
    if (timing)
      kernelStart = std::chrono::steady_clock::now();
    int32_t code = session.stepFunctions[s](args, tokens);
    if (timing)
      stepsMs += millisecondsSince(kernelStart);
    if (code != 0)
      return makeStatus(MOERT_INTERNAL,
                        model.name + ": step " + std::to_string(s) +
                            " (kernel '" + model.kernels[step.kernel] +
                            "') failed with code " + std::to_string(code) +
                            describeKernelError(model.kernels[step.kernel], code));
  }
  if (timing) {
    session.lastTiming.tokens = tokens;
    session.lastTiming.clock = MOERT_CLOCK_HOST_MONOTONIC;
    session.lastTiming.steps_ms = stepsMs;
    session.lastTiming.total_ms = millisecondsSince(runStart);
    session.haveTiming = true;
  }
  return nullptr;
}

} // namespace moert
