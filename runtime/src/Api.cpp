//===- Api.cpp - The C API over the C++ implementation --------------------===//
//
// Every entry point catches all exceptions (std::bad_alloc from a container,
// anything a kernel might throw) and turns them into a status: nothing
// crosses the C boundary.
//
//===----------------------------------------------------------------------===//

#include "moert/moert.h"

#include "runtime/src/Model.h"
#include "runtime/src/Session.h"
#include "runtime/src/Status.h"

#include <cstring>
#include <exception>
#include <new>

struct moert_model_impl {
  std::shared_ptr<moert::Model> model;
  /// Views of the signature for moert_tensor_info_t.
  std::vector<moert_tensor_info_t> inputInfo, outputInfo;
};

namespace {

moert_status nullArgument(const char *function, const char *argument) {
  return moert::makeStatus(MOERT_INVALID_ARGUMENT,
                           std::string(function) + ": " + argument +
                               " is NULL");
}

moert_status fromException() {
  try {
    throw;
  } catch (const std::bad_alloc &) {
    return moert::outOfMemoryStatus();
  } catch (const std::exception &error) {
    return moert::makeStatus(MOERT_INTERNAL,
                             std::string("unexpected exception: ") +
                                 error.what());
  } catch (...) {
    return moert::makeStatus(MOERT_INTERNAL, "unexpected exception");
  }
}

std::vector<moert_tensor_info_t>
makeInfo(const std::vector<moert::TensorSig> &sigs) {
  std::vector<moert_tensor_info_t> info;
  for (const moert::TensorSig &sig : sigs)
    info.push_back({sig.name.c_str(), sig.dtype,
                    static_cast<int32_t>(sig.dims.size()), sig.dims.data()});
  return info;
}

moert_status wrapModel(std::shared_ptr<moert::Model> model,
                       moert_model_t **out) {
  auto handle = std::make_unique<moert_model_impl>();
  handle->inputInfo = makeInfo(model->inputs);
  handle->outputInfo = makeInfo(model->outputs);
  handle->model = std::move(model);
  *out = handle.release();
  return nullptr;
}

moert_status tensorInfo(const moert_model_t *model, size_t index,
                        moert_tensor_info_t *out, bool isInput) {
  const char *function =
      isInput ? "moert_model_input_info" : "moert_model_output_info";
  if (!model)
    return nullArgument(function, "model");
  if (!out)
    return nullArgument(function, "out_info");
  const auto &info = isInput ? model->inputInfo : model->outputInfo;
  if (index >= info.size())
    return moert::makeStatus(
        MOERT_INVALID_ARGUMENT,
        model->model->name + ": " + (isInput ? "input" : "output") +
            " index " + std::to_string(index) + " out of range (" +
            std::to_string(info.size()) + ")");
  *out = info[index];
  return nullptr;
}

moert_status findByName(const moert_model_t *model, const char *name,
                        size_t *out, bool isInput) {
  const char *function =
      isInput ? "moert_model_find_input" : "moert_model_find_output";
  if (!model)
    return nullArgument(function, "model");
  if (!name)
    return nullArgument(function, "name");
  if (!out)
    return nullArgument(function, "out_index");
  const auto &sigs = isInput ? model->model->inputs : model->model->outputs;
  for (size_t i = 0; i < sigs.size(); ++i)
    if (sigs[i].name == name) {
      *out = i;
      return nullptr;
    }
  std::string known;
  for (const auto &sig : sigs)
    known += (known.empty() ? "'" : ", '") + sig.name + "'";
  return moert::makeStatus(MOERT_NOT_FOUND,
                           model->model->name + ": no " +
                               (isInput ? "input" : "output") + " named '" +
                               name + "' (the model has " +
                               (known.empty() ? std::string("none") : known) +
                               ")");
}

} // namespace

extern "C" {

size_t moert_dtype_size(moert_dtype_t dtype) { return moert::dtypeSize(dtype); }

const char *moert_dtype_name(moert_dtype_t dtype) {
  return moert::dtypeName(dtype);
}

moert_status moert_model_load_file(const char *path, moert_model_t **out) {
  if (!path)
    return nullArgument("moert_model_load_file", "path");
  if (!out)
    return nullArgument("moert_model_load_file", "out_model");
  *out = nullptr;
  try {
    std::shared_ptr<moert::Model> model;
    if (moert_status status = moert::loadModelFile(path, &model))
      return status;
    return wrapModel(std::move(model), out);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_model_load_buffer(const void *data, size_t size,
                                     const char *name, moert_buffer_mode_t mode,
                                     moert_model_t **out) {
  if (!out)
    return nullArgument("moert_model_load_buffer", "out_model");
  *out = nullptr;
  if (mode != MOERT_BUFFER_COPY && mode != MOERT_BUFFER_BORROW)
    return moert::makeStatus(MOERT_INVALID_ARGUMENT,
                             "moert_model_load_buffer: invalid mode " +
                                 std::to_string(static_cast<int>(mode)));
  try {
    std::shared_ptr<moert::Model> model;
    if (moert_status status = moert::loadModelBuffer(
            data, size, name, mode == MOERT_BUFFER_BORROW, &model))
      return status;
    return wrapModel(std::move(model), out);
  } catch (...) {
    return fromException();
  }
}

void moert_model_release(moert_model_t *model) { delete model; }

const char *moert_model_name(const moert_model_t *model) {
  return model ? model->model->name.c_str() : "";
}
const char *moert_model_target(const moert_model_t *model) {
  return model ? model->model->target.c_str() : "";
}
const char *moert_model_producer(const moert_model_t *model) {
  return model ? model->model->producer.c_str() : "";
}
const char *moert_model_source(const moert_model_t *model) {
  return model ? model->model->source.c_str() : "";
}

size_t moert_model_input_count(const moert_model_t *model) {
  return model ? model->model->inputs.size() : 0;
}
size_t moert_model_output_count(const moert_model_t *model) {
  return model ? model->model->outputs.size() : 0;
}

moert_status moert_model_input_info(const moert_model_t *model, size_t index,
                                    moert_tensor_info_t *out_info) {
  try {
    return tensorInfo(model, index, out_info, /*isInput=*/true);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_model_output_info(const moert_model_t *model, size_t index,
                                     moert_tensor_info_t *out_info) {
  try {
    return tensorInfo(model, index, out_info, /*isInput=*/false);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_model_output_inplace_input(const moert_model_t *model, size_t index,
                                              int64_t *out_input_index) {
  const char *function = "moert_model_output_inplace_input";
  if (!model)
    return nullArgument(function, "model");
  if (!out_input_index)
    return nullArgument(function, "out_input_index");
  const auto &outputs = model->model->outputs;
  if (index >= outputs.size())
    return moert::makeStatus(MOERT_INVALID_ARGUMENT,
                             model->model->name + ": output index " + std::to_string(index) +
                                 " out of range (" + std::to_string(outputs.size()) + ")");
  *out_input_index = outputs[index].inplaceInput;
  return nullptr;
}

moert_status moert_model_find_input(const moert_model_t *model,
                                    const char *name, size_t *out_index) {
  try {
    return findByName(model, name, out_index, /*isInput=*/true);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_model_find_output(const moert_model_t *model,
                                     const char *name, size_t *out_index) {
  try {
    return findByName(model, name, out_index, /*isInput=*/false);
  } catch (...) {
    return fromException();
  }
}

size_t moert_model_weight_count(const moert_model_t *model) {
  return model ? model->model->weights.size() : 0;
}
uint64_t moert_model_weight_bytes(const moert_model_t *model) {
  return model ? model->model->weightBytes : 0;
}
moert_status moert_model_weight_info(const moert_model_t *model, size_t index,
                                     moert_weight_info_t *out_info) {
  if (!model)
    return nullArgument("moert_model_weight_info", "model");
  if (!out_info)
    return nullArgument("moert_model_weight_info", "out_info");
  const auto &weights = model->model->weights;
  if (index >= weights.size())
    return moert::makeStatus(MOERT_INVALID_ARGUMENT,
                             model->model->name + ": weight index " +
                                 std::to_string(index) + " out of range (" +
                                 std::to_string(weights.size()) + ")");
  const moert::WeightDesc &weight = weights[index];
  *out_info = {weight.name.c_str(), weight.dtype,
               static_cast<int32_t>(weight.dims.size()), weight.dims.data(),
               weight.size};
  return nullptr;
}

size_t moert_model_kernel_count(const moert_model_t *model) {
  return model ? model->model->kernels.size() : 0;
}
size_t moert_model_step_count(const moert_model_t *model) {
  return model ? model->model->steps.size() : 0;
}

void moert_model_arena_size(const moert_model_t *model, int64_t *out_base,
                            int64_t *out_per_token) {
  if (out_base)
    *out_base = model ? model->model->arenaSize.base : 0;
  if (out_per_token)
    *out_per_token = model ? model->model->arenaSize.perToken : 0;
}

void moert_session_options_initialize(moert_session_options_t *options) {
  if (options) {
    options->max_tokens = 4096;
    options->cuda_device = 0;
    options->cuda_graphs = 1;
  }
}

moert_status moert_session_create(moert_model_t *model,
                                  const moert_session_options_t *options,
                                  moert_session_t **out) {
  if (!model)
    return nullArgument("moert_session_create", "model");
  if (!out)
    return nullArgument("moert_session_create", "out_session");
  *out = nullptr;
  moert_session_options_t defaults;
  moert_session_options_initialize(&defaults);
  if (!options)
    options = &defaults;
  try {
    moert::SessionOptions sessionOptions;
    sessionOptions.maxTokens = options->max_tokens;
    sessionOptions.cudaDevice = options->cuda_device;
    sessionOptions.cudaGraphs = options->cuda_graphs != 0;
    return moert::createSession(model->model, sessionOptions, out);
  } catch (...) {
    return fromException();
  }
}

void moert_session_release(moert_session_t *session) { delete session; }

int64_t moert_session_max_tokens(const moert_session_t *session) {
  return session ? session->maxTokens : 0;
}

moert_status moert_session_output_dims(const moert_session_t *session,
                                       size_t index, int64_t tokens,
                                       int64_t *dims, int32_t capacity,
                                       int32_t *out_rank) {
  if (!session)
    return nullArgument("moert_session_output_dims", "session");
  try {
    return moert::outputDims(*session, index, tokens, dims, capacity,
                             out_rank);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_session_output_byte_size(const moert_session_t *session,
                                            size_t index, int64_t tokens,
                                            size_t *out_bytes) {
  if (!session)
    return nullArgument("moert_session_output_byte_size", "session");
  if (!out_bytes)
    return nullArgument("moert_session_output_byte_size", "out_bytes");
  try {
    return moert::outputByteSize(*session, index, tokens, out_bytes);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_session_run(moert_session_t *session,
                               const moert_tensor_t *inputs, size_t input_count,
                               moert_tensor_t *outputs, size_t output_count) {
  if (!session)
    return nullArgument("moert_session_run", "session");
  try {
    return moert::runSession(*session, inputs, input_count, outputs,
                             output_count);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_session_enable_timing(moert_session_t *session,
                                         int32_t enable) {
  if (!session)
    return nullArgument("moert_session_enable_timing", "session");
  try {
    return moert::enableTiming(*session, enable != 0);
  } catch (...) {
    return fromException();
  }
}

moert_status moert_session_last_run_timing(const moert_session_t *session,
                                           moert_run_timing_t *out_timing) {
  if (!session)
    return nullArgument("moert_session_last_run_timing", "session");
  if (!out_timing)
    return nullArgument("moert_session_last_run_timing", "out_timing");
  try {
    return moert::lastRunTiming(*session, out_timing);
  } catch (...) {
    return fromException();
  }
}

} // extern "C"
