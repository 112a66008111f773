//===- Executor.cpp - Run a cubin artifact on one GPU ---------------------===//

#include "runtime/src/cuda/Executor.h"

#include "runtime/format/Container.h"
#include "runtime/src/CheckedMath.h"
#include "runtime/src/KernelErrors.h"
#include "runtime/src/Status.h"

#include <algorithm>
#include <cstring>

namespace moert::cuda {
namespace {

/// Offsets inside the device allocations are kept 256-byte aligned, the
/// alignment cuMemAlloc itself guarantees, so vectorized and TMA accesses
/// see the same alignment as in a standalone allocation.
constexpr uint64_t kDeviceAlignment = 256;

void *devicePointer(CUdeviceptr base, uint64_t offset) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(base + offset));
}

/// The weights go up in copies of this many bytes: large enough that the
/// per-call cost (about 10 us) is noise (5000 calls for 20 GB), small enough
/// that a chunk the checksum has just read is still in cache when the
/// driver copies it.
constexpr uint64_t kUploadChunkBytes = uint64_t(4) << 20;

struct WeightUpload {
  CUresult result = CUDA_SUCCESS; // of the copy that failed, if one did
  uint64_t failedAt = 0;          // its offset in the segment
  bool checked = false;           // the checksum was computed on the way
  uint64_t checksum = 0;          // its value
};

// Copies the weights segment to `device` chunk by chunk, straight from
// where the model holds it (normally the read-only file mapping: pages are
// read in as they are copied, and no host copy of the segment is made).
// With `check`, each chunk also goes through the segment's checksum just
// before its copy, so a lazily verified model is checked without a second
// pass over the file. Synchronous copies: the source may be a file mapping
// that must not be read after this returns.
WeightUpload uploadWeights(const DriverApi &api, CUdeviceptr device,
                           const Model &model, bool check) {
  WeightUpload upload;
  format::Checksum checksum;
  for (uint64_t done = 0; done < model.weightDataSize;) {
    uint64_t size = std::min(kUploadChunkBytes, model.weightDataSize - done);
    const uint8_t *chunk = model.weightData + done;
    if (check)
      checksum.update(chunk, static_cast<size_t>(size));
    if (CUresult result =
            api.memcpyHtoD(device + done, chunk, static_cast<size_t>(size))) {
      upload.result = result;
      upload.failedAt = done;
      return upload;
    }
    done += size;
  }
  upload.checked = check;
  upload.checksum = checksum.value();
  return upload;
}

std::string stepName(const Model &model, size_t s) {
  return "step " + std::to_string(s) + " (kernel '" +
         model.kernels[model.steps[s].kernel] + "')";
}

} // namespace

moert_status Executor::cudaError(const std::string &what,
                                 CUresult result) const {
  moert_status_code_t code = result == CUDA_ERROR_OUT_OF_MEMORY
                                 ? MOERT_RESOURCE_EXHAUSTED
                                 : MOERT_INTERNAL;
  return makeStatus(code, what + " failed: " + driver_.describe(result));
}

moert_status Executor::create(std::shared_ptr<const Model> model,
                              const ExecutorOptions &options,
                              std::unique_ptr<Executor> *out) {
  std::unique_ptr<Executor> executor(new Executor());
  executor->model_ = std::move(model);
  executor->options_ = options;
  if (moert_status status = executor->driver_.load())
    return status;
  if (moert_status status = executor->openDevice(options.device))
    return status;
  if (moert_status status = executor->loadModule())
    return status;
  if (moert_status status = executor->allocateMemory())
    return status;
  *out = std::move(executor);
  return nullptr;
}

Executor::~Executor() {
  if (context_ == nullptr)
    return;
  // Best effort: a destructor cannot report, and a context broken by an
  // earlier kernel fault fails these calls harmlessly.
  const DriverApi &api = driver_.api();
  api.ctxSetCurrent(context_);
  if (stream_ != nullptr)
    api.streamSynchronize(stream_);
  for (GraphEntry &entry : graphs_)
    if (entry.exec != nullptr)
      api.graphExecDestroy(entry.exec);
  for (CUevent event : events_)
    if (event != nullptr)
      api.eventDestroy(event);
  if (stream_ != nullptr)
    api.streamDestroy(stream_);
  if (activations_ != 0)
    api.memFree(activations_);
  if (weights_ != 0)
    api.memFree(weights_);
  if (module_ != nullptr)
    api.moduleUnload(module_);
  api.primaryCtxRelease(device_);
}

moert_status Executor::openDevice(int ordinal) {
  const DriverApi &api = driver_.api();
  int count = 0;
  if (CUresult result = api.deviceGetCount(&count))
    return cudaError("cuDeviceGetCount", result);
  if (count == 0)
    return makeStatus(MOERT_FAILED_PRECONDITION,
                      "no CUDA GPU: the driver reports 0 devices");
  if (ordinal < 0 || ordinal >= count)
    return makeStatus(MOERT_INVALID_ARGUMENT,
                      "cuda_device " + std::to_string(ordinal) +
                          " does not exist (" + std::to_string(count) +
                          " CUDA device(s))");
  if (CUresult result = api.deviceGet(&device_, ordinal))
    return cudaError("cuDeviceGet", result);
  char name[256] = {};
  if (api.deviceGetName(name, sizeof(name) - 1, device_) == CUDA_SUCCESS)
    deviceName_ = name;
  int major = 0, minor = 0;
  if (CUresult result = api.deviceGetAttribute(
          &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_))
    return cudaError("cuDeviceGetAttribute", result);
  if (CUresult result = api.deviceGetAttribute(
          &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_))
    return cudaError("cuDeviceGetAttribute", result);

  SmTarget target;
  if (!parseSmTarget(model_->target, &target)) // The verifier checked it.
    return makeStatus(MOERT_INTERNAL, "target '" + model_->target +
                                          "' is not a CUDA architecture");
  if (!cubinRunsOn(target, major, minor))
    return makeStatus(
        MOERT_FAILED_PRECONDITION,
        "artifact built for " + smName(target) + ", this GPU is " +
            smName(major, minor) + " (" + deviceName_ + ", device " +
            std::to_string(ordinal) + "); " +
            (target.suffix == 'a'
                 ? "an arch-specific cubin runs only on that exact GPU "
                   "generation"
                 : "a cubin runs only on GPUs of the same major version "
                   "and an equal or higher minor version") +
            ": recompile with --target " + smName(major, minor));

  if (CUresult result = api.primaryCtxRetain(&context_, device_)) {
    context_ = nullptr;
    return cudaError("cuDevicePrimaryCtxRetain", result);
  }
  if (CUresult result = api.ctxSetCurrent(context_))
    return cudaError("cuCtxSetCurrent", result);
  if (CUresult result = api.streamCreate(&stream_, CU_STREAM_NON_BLOCKING))
    return cudaError("cuStreamCreate", result);
  return nullptr;
}

moert_status Executor::loadModule() {
  const Model &model = *model_;
  const DriverApi &api = driver_.api();
  if (model.kernels.empty())
    return nullptr;
  // The driver parses the ELF image in place; give it an aligned copy (the
  // FlatBuffers vector is only 4-byte aligned), freed once it is loaded.
  AlignedBlock image;
  if (!image.allocate(model.binarySize))
    return outOfMemoryStatus();
  std::memcpy(image.data(), model.binaryData, model.binarySize);
  if (CUresult result = api.moduleLoadData(&module_, image.data())) {
    module_ = nullptr;
    return makeStatus(result == CUDA_ERROR_OUT_OF_MEMORY
                          ? MOERT_RESOURCE_EXHAUSTED
                          : MOERT_DATA_LOSS,
                      "cannot load the kernel binary (cubin for " +
                          model.target + ") on " + deviceName_ + ": " +
                          driver_.describe(result) + "; the driver supports " +
                          driver_.versionText());
  }
  std::vector<CUfunction> functions(model.kernels.size());
  for (size_t k = 0; k < model.kernels.size(); ++k)
    if (CUresult result = api.moduleGetFunction(&functions[k], module_,
                                                model.kernels[k].c_str()))
      return makeStatus(MOERT_NOT_FOUND,
                        "kernel " + std::to_string(k) + ": symbol '" +
                            model.kernels[k] + "' not found in the cubin (" +
                            driver_.describe(result) + ")");

  int maxGridX = 0, maxGridY = 0, maxShared = 0;
  if (CUresult result = api.deviceGetAttribute(
          &maxGridX, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, device_))
    return cudaError("cuDeviceGetAttribute", result);
  if (CUresult result = api.deviceGetAttribute(
          &maxGridY, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, device_))
    return cudaError("cuDeviceGetAttribute", result);
  if (CUresult result = api.deviceGetAttribute(
          &maxShared, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
          device_))
    return cudaError("cuDeviceGetAttribute", result);

  // Blocks grow with T, so limits checked at max_tokens hold for every run.
  std::vector<uint32_t> sharedPerKernel(model.kernels.size(), 0);
  for (size_t s = 0; s < model.steps.size(); ++s) {
    const Step &step = model.steps[s];
    // The largest T this step runs for in this session.
    int64_t largestT = step.maxTokens < 0 ? options_.maxTokens
                                          : std::min<int64_t>(step.maxTokens, options_.maxTokens);
    int64_t blocksX = 0, blocksY = 0;
    bool fits = step.minTokens > options_.maxTokens ||
                (gridBlocks(step.gridX, largestT, &blocksX) &&
                 gridBlocks(step.gridY, largestT, &blocksY));
    if (!fits || blocksX > maxGridX || blocksY > maxGridY)
      return makeStatus(
          MOERT_INVALID_ARGUMENT,
          stepName(model, s) + ": at max_tokens " +
              std::to_string(options_.maxTokens) + " the grid is " +
              (fits ? std::to_string(blocksX) + " x " + std::to_string(blocksY)
                    : std::string("too large to compute")) +
              " blocks, above this GPU's limit of " + std::to_string(maxGridX) +
              " x " + std::to_string(maxGridY) + "; use a smaller max_tokens");
    if (step.sharedBytes > static_cast<uint32_t>(std::max(maxShared, 0)))
      return makeStatus(MOERT_FAILED_PRECONDITION,
                        stepName(model, s) + " needs " +
                            std::to_string(step.sharedBytes) +
                            " bytes of shared memory per block; " +
                            deviceName_ + " allows " +
                            std::to_string(maxShared));
    uint32_t &shared = sharedPerKernel[step.kernel];
    shared = std::max(shared, step.sharedBytes);
    stepFunctions_.push_back(functions[step.kernel]);
  }
  // Above 48 KiB of dynamic shared memory a kernel must opt in.
  for (size_t k = 0; k < functions.size(); ++k)
    if (sharedPerKernel[k] > kDefaultSharedBytes)
      if (CUresult result = api.funcSetAttribute(
              functions[k], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              static_cast<int>(sharedPerKernel[k])))
        return cudaError("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, " +
                             std::to_string(sharedPerKernel[k]) +
                             ") for kernel '" + model.kernels[k] + "'",
                         result);
  return nullptr;
}

moert_status Executor::allocateMemory() {
  const Model &model = *model_;
  const DriverApi &api = driver_.api();
  const int64_t maxTokens = options_.maxTokens;

  // Layout of the activation block: status word, inputs, outputs, arena.
  uint64_t cursor = 0;
  bool fits = true;
  auto place = [&](uint64_t bytes) {
    uint64_t offset = cursor;
    fits = fits && alignUp(bytes, kDeviceAlignment, &bytes) &&
           checkedAdd(cursor, bytes, &cursor);
    return offset;
  };
  uint64_t statusOffset = place(sizeof(int));
  std::vector<uint64_t> inputOffsets, outputOffsets;
  for (const TensorSig &sig : model.inputs) {
    int64_t bytes = 0;
    fits = fits && signatureBytes(sig, maxTokens, &bytes);
    inputOffsets.push_back(place(static_cast<uint64_t>(bytes)));
  }
  for (const TensorSig &sig : model.outputs) {
    int64_t bytes = 0;
    fits = fits && signatureBytes(sig, maxTokens, &bytes);
    outputOffsets.push_back(place(static_cast<uint64_t>(bytes)));
  }
  int64_t arenaBytes = 0;
  fits = fits && evalAffine(model.arenaSize.base, model.arenaSize.perToken,
                            maxTokens, &arenaBytes);
  uint64_t arenaOffset = place(static_cast<uint64_t>(arenaBytes));
  uint64_t weightBytes = 0, needed = 0;
  fits = fits &&
         alignUp(model.weightDataSize, kDeviceAlignment, &weightBytes) &&
         checkedAdd(weightBytes, cursor, &needed) && needed <= SIZE_MAX;
  if (!fits)
    return makeStatus(MOERT_RESOURCE_EXHAUSTED,
                      "device memory size overflows at max_tokens " +
                          std::to_string(maxTokens));

  size_t freeBytes = 0, totalBytes = 0;
  if (CUresult result = api.memGetInfo(&freeBytes, &totalBytes))
    return cudaError("cuMemGetInfo", result);
  auto exhausted = [&](const std::string &detail) {
    return makeStatus(
        MOERT_RESOURCE_EXHAUSTED,
        "not enough device memory on " + deviceName_ + ": needs " +
            std::to_string(needed) + " bytes (weights " +
            std::to_string(weightBytes) + ", inputs/outputs/arena for " +
            "max_tokens " + std::to_string(maxTokens) + " " +
            std::to_string(cursor) + "), " + std::to_string(freeBytes) +
            " of " + std::to_string(totalBytes) + " bytes free" + detail);
  };
  if (needed > freeBytes)
    return exhausted("");

  if (weightBytes != 0) {
    if (CUresult result = api.memAlloc(&weights_, weightBytes)) {
      weights_ = 0;
      return result == CUDA_ERROR_OUT_OF_MEMORY
                 ? exhausted(" (cuMemAlloc of the weights failed)")
                 : cudaError("cuMemAlloc (weights)", result);
    }
    // Once per session; a lazily verified model is checked on the way, by
    // the first session only.
    bool check = model.weightsCheck == WeightsCheck::Lazy &&
                 !model.weightsVerified.load();
    WeightUpload upload = uploadWeights(api, weights_, model, check);
    if (upload.result != CUDA_SUCCESS)
      return cudaError("uploading " + std::to_string(model.weightDataSize) +
                           " bytes of weights (the copy at byte " +
                           std::to_string(upload.failedAt) + ")",
                       upload.result);
    if (upload.checked) {
      if (upload.checksum != model.weightsChecksum)
        return makeStatus(MOERT_DATA_LOSS,
                          format::weightsChecksumError(model.weightsChecksum,
                                                       upload.checksum));
      model.weightsVerified = true;
    }
  }
  if (CUresult result = api.memAlloc(&activations_, cursor)) {
    activations_ = 0;
    return result == CUDA_ERROR_OUT_OF_MEMORY
               ? exhausted(" (cuMemAlloc of the activations failed)")
               : cudaError("cuMemAlloc (activations)", result);
  }
  statusWord_ = activations_ + statusOffset;
  for (uint64_t offset : inputOffsets)
    inputBuffers_.push_back(activations_ + offset);
  for (uint64_t offset : outputOffsets)
    outputBuffers_.push_back(activations_ + offset);
  arena_ = activations_ + arenaOffset;

  // Argument structs: weight slots and the status word never change.
  launchArgs_.assign(model.steps.size(), LaunchArgs{});
  for (size_t s = 0; s < model.steps.size(); ++s) {
    LaunchArgs &args = launchArgs_[s];
    std::memset(&args, 0, sizeof(args));
    const Step &step = model.steps[s];
    for (size_t a = 0; a < step.args.size(); ++a)
      if (step.args[a].kind == ArgKind::Weight)
        args.ptr[a] =
            devicePointer(weights_, model.weights[step.args[a].index].offset);
    args.ptr[kStatusSlot] = devicePointer(statusWord_, 0);
  }
  return nullptr;
}

moert_status Executor::enableTiming() {
  if (events_[0] != nullptr)
    return nullptr;
  const DriverApi &api = driver_.api();
  if (CUresult result = api.ctxSetCurrent(context_))
    return cudaError("cuCtxSetCurrent", result);
  std::array<CUevent, kEventCount> created{};
  for (CUevent &event : created)
    if (CUresult result = api.eventCreate(&event, CU_EVENT_DEFAULT)) {
      for (CUevent made : created)
        if (made != nullptr)
          api.eventDestroy(made);
      return cudaError("cuEventCreate (timing events)", result);
    }
  events_ = created;
  return nullptr;
}

moert_status Executor::recordEvent(int index) {
  if (!timing_)
    return nullptr;
  if (CUresult result = driver_.api().eventRecord(events_[index], stream_))
    return cudaError("cuEventRecord (timing event " + std::to_string(index) +
                         ")",
                     result);
  return nullptr;
}

moert_status Executor::readTimes() {
  const DriverApi &api = driver_.api();
  float steps = 0, total = 0;
  if (CUresult result = api.eventElapsedTime(
          &steps, events_[kEventStepsStart], events_[kEventStepsEnd]))
    return cudaError("cuEventElapsedTime (steps)", result);
  if (CUresult result = api.eventElapsedTime(&total, events_[kEventRunStart],
                                             events_[kEventRunEnd]))
    return cudaError("cuEventElapsedTime (run)", result);
  lastStepsMs_ = steps;
  lastTotalMs_ = total;
  return nullptr;
}

moert_status Executor::launchSteps(int64_t tokens, size_t first, size_t last) {
  const Model &model = *model_;
  const DriverApi &api = driver_.api();
  for (size_t s = first; s < last; ++s) {
    const Step &step = model.steps[s];
    if (!step.runsFor(tokens))
      continue; // another variant of this kernel serves this token count
    LaunchArgs &args = launchArgs_[s];
    for (size_t a = 0; a < step.args.size(); ++a) {
      const StepArg &arg = step.args[a];
      switch (arg.kind) {
      case ArgKind::Input:
        args.ptr[a] = devicePointer(inputBuffers_[arg.index], 0);
        break;
      case ArgKind::Output:
        args.ptr[a] = devicePointer(outputBuffers_[arg.index], 0);
        break;
      case ArgKind::Weight:
        break; // Filled at creation.
      case ArgKind::Arena:
        // In range: the verifier bounds offsets by the arena size, and
        // T <= max_tokens.
        args.ptr[a] = devicePointer(
            arena_, static_cast<uint64_t>(arg.offset.base +
                                          arg.offset.perToken * tokens));
        break;
      }
    }
    args.tokens = tokens;
    int64_t blocksX = 0, blocksY = 0;
    gridBlocks(step.gridX, tokens, &blocksX); // Checked at max_tokens.
    gridBlocks(step.gridY, tokens, &blocksY);
    if (blocksX == 0 || blocksY == 0)
      continue;
    void *params[] = {&args};
    if (CUresult result = api.launchKernel(
            stepFunctions_[s], static_cast<unsigned>(blocksX),
            static_cast<unsigned>(blocksY), 1, step.blockX, 1, 1,
            step.sharedBytes, stream_, params, nullptr))
      return cudaError("launching " + stepName(model, s) + " with grid " +
                           std::to_string(blocksX) + " x " +
                           std::to_string(blocksY) + ", block " +
                           std::to_string(step.blockX) + ", " +
                           std::to_string(step.sharedBytes) +
                           " bytes of shared memory",
                       result);
  }
  return nullptr;
}

moert_status Executor::captureGraph(int64_t tokens, CUgraphExec *out) {
  const DriverApi &api = driver_.api();
  // Thread-local mode: only calls from this thread that are unsafe during
  // capture are errors; other threads' sessions are unaffected.
  if (CUresult result = api.streamBeginCapture(
          stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
    return cudaError("cuStreamBeginCapture", result);
  moert_status launched = launchSteps(tokens, 0, model_->steps.size());
  CUgraph graph = nullptr;
  // Always end the capture, so that the stream is usable after a failure.
  CUresult ended = api.streamEndCapture(stream_, &graph);
  if (launched || ended != CUDA_SUCCESS) {
    if (graph != nullptr)
      api.graphDestroy(graph);
    return launched ? launched : cudaError("cuStreamEndCapture", ended);
  }
  CUresult result = api.graphInstantiate(out, graph, 0);
  api.graphDestroy(graph); // The executable graph does not need it.
  if (result != CUDA_SUCCESS)
    return cudaError("cuGraphInstantiate", result);
  return nullptr;
}

moert_status Executor::launchWithGraph(int64_t tokens) {
  GraphEntry *entry = nullptr;
  for (GraphEntry &candidate : graphs_)
    if (candidate.exec != nullptr && candidate.tokens == tokens)
      entry = &candidate;
  if (entry == nullptr) {
    // Replace an empty slot, else the least recently used one.
    entry = &graphs_[0];
    for (GraphEntry &candidate : graphs_) {
      if (candidate.exec == nullptr) {
        entry = &candidate;
        break;
      }
      if (candidate.lastUse < entry->lastUse)
        entry = &candidate;
    }
    CUgraphExec exec = nullptr;
    if (moert_status status = captureGraph(tokens, &exec))
      return status;
    if (entry->exec != nullptr)
      driver_.api().graphExecDestroy(entry->exec);
    entry->exec = exec;
    entry->tokens = tokens;
  }
  entry->lastUse = ++useCounter_;
  // After a capture, not before it: instantiation is host work that the
  // steps' time must not include.
  if (moert_status status = recordEvent(kEventStepsStart))
    return status;
  if (CUresult result = driver_.api().graphLaunch(entry->exec, stream_))
    return cudaError("cuGraphLaunch (T=" + std::to_string(tokens) + ")",
                     result);
  return nullptr;
}

moert_status Executor::readStatusWord(int *out) {
  const DriverApi &api = driver_.api();
  if (CUresult result =
          api.memcpyDtoHAsync(out, statusWord_, sizeof(int), stream_))
    return cudaError("reading the status word", result);
  if (CUresult result = api.streamSynchronize(stream_))
    return cudaError("cuStreamSynchronize", result);
  return nullptr;
}

moert_status Executor::diagnoseKernelError(int64_t tokens, int code) {
  // Kernels never write their inputs, so the staged inputs are intact and
  // the steps can be replayed; a data error is rare, so its cost is fine.
  const DriverApi &api = driver_.api();
  for (size_t s = 0; s < model_->steps.size(); ++s) {
    if (CUresult result = api.memsetD32Async(statusWord_, 0, 1, stream_))
      return cudaError("clearing the status word", result);
    if (moert_status status = launchSteps(tokens, s, s + 1))
      return status;
    int word = 0;
    if (moert_status status = readStatusWord(&word))
      return status;
    if (word != 0)
      return makeStatus(MOERT_INTERNAL,
                        stepName(*model_, s) + " reported error " + std::to_string(word) +
                            describeKernelError(model_->kernels[model_->steps[s].kernel],
                                                word));
  }
  return makeStatus(MOERT_INTERNAL,
                    "a kernel reported error " + std::to_string(code) +
                        " (T=" + std::to_string(tokens) +
                        "); replaying the steps one by one did not "
                        "reproduce it");
}

moert_status Executor::run(const moert_tensor_t *inputs,
                           moert_tensor_t *outputs, int64_t tokens) {
  const Model &model = *model_;
  const DriverApi &api = driver_.api();
  // The calling thread may differ from the creating one.
  if (CUresult result = api.ctxSetCurrent(context_))
    return cudaError("cuCtxSetCurrent", result);
  if (CUresult result = api.memsetD32Async(statusWord_, 0, 1, stream_))
    return cudaError("clearing the status word", result);
  if (moert_status status = recordEvent(kEventRunStart))
    return status;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    int64_t bytes = 0;
    signatureBytes(model.inputs[i], tokens, &bytes); // Checked at creation.
    if (bytes != 0)
      if (CUresult result = api.memcpyHtoDAsync(
              inputBuffers_[i], inputs[i].data, static_cast<size_t>(bytes),
              stream_))
        return cudaError("copying input '" + model.inputs[i].name +
                             "' to the device",
                         result);
  }
  moert_status launched = nullptr;
  if (options_.graphs) {
    launched = launchWithGraph(tokens); // records kEventStepsStart itself
  } else {
    launched = recordEvent(kEventStepsStart);
    if (!launched)
      launched = launchSteps(tokens, 0, model.steps.size());
  }
  if (!launched)
    launched = recordEvent(kEventStepsEnd);
  if (launched)
    return launched;
  for (size_t i = 0; i < model.outputs.size(); ++i) {
    int64_t bytes = 0;
    signatureBytes(model.outputs[i], tokens, &bytes);
    if (bytes != 0)
      if (CUresult result = api.memcpyDtoHAsync(
              outputs[i].data, outputBuffers_[i], static_cast<size_t>(bytes),
              stream_))
        return cudaError("copying output '" + model.outputs[i].name +
                             "' from the device",
                         result);
  }
  if (moert_status status = recordEvent(kEventRunEnd))
    return status;
  // Synchronizes the stream, so the events below have completed.
  if (moert_status status = readStatusWord(&hostStatusWord_))
    return status;
  if (hostStatusWord_ != 0)
    return diagnoseKernelError(tokens, hostStatusWord_);
  if (timing_)
    return readTimes();
  return nullptr;
}

} // namespace moert::cuda
