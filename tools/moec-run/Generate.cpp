//===- Generate.cpp - moec-run --generate: greedy decoding -------------------===//
//
// Drives a compiled decoder the way an inference service would: one run on
// the prompt, then one run per new token, each feeding the present cache of
// the previous run back as the past. A decoder without a cache (only
// input_ids -> logits, as torch.onnx exports one with use_cache=False) is
// run on the whole sequence so far at every step instead: quadratic work,
// the same tokens. The model's interface is recognized by name and shape
// (the onnxruntime-genai convention; docs/user-guide.md):
//   input_ids              int64 [1, T]
//   seqlens_k              int32 [1]   (tokens in the cache after this run - 1)
//   total_sequence_length  int32 scalar (the same count; equal to T on the prompt)
//     or, instead of those two, attention_mask int64 [1, capacity]: the graph
//     computes them from it (onnxruntime-genai's form, its total length bound
//     to the capacity with --bind-dim); ones for the cached tokens, then zeros
//   past_<X> / past_key_values.<X>  ->  present_<X> / present.<X>: the caches,
//                          static [1, kv_heads, capacity, head_size]
//   position_ids           int64 [1, T], optional (the tokens' positions, for
//                          graphs that rotate q/k with RotaryEmbedding)
//   logits                 float32 [1, T, vocab]
// Greedy: the next token is the argmax of the last row of logits (the lowest
// id on a tie, as numpy and torch do).
//
//===----------------------------------------------------------------------===//

#include "tools/moec-run/Generate.h"

#include "tools/moec-run/Npy.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moec::run {
namespace {

struct GenerateError {
  std::string message;
};

[[noreturn]] void fail(const std::string &message) { throw GenerateError{message}; }

void check(moert_status status) {
  if (!status)
    return;
  std::string message = moert_status_message(status);
  moert_status_free(status);
  fail(message);
}

struct Port {
  size_t index = 0;
  moert_tensor_info_t info{};
};

bool startsWith(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The present output that carries past input `name` forward, by the two
// naming conventions exporters use.
std::string presentNameFor(const std::string &name) {
  if (startsWith(name, "past_key_values."))
    return "present." + name.substr(std::strlen("past_key_values."));
  if (startsWith(name, "past_"))
    return "present_" + name.substr(std::strlen("past_"));
  return "";
}

bool hasTokenDim(const moert_tensor_info_t &info) {
  return std::find(info.dims, info.dims + info.rank, -1) != info.dims + info.rank;
}

std::string describe(const moert_tensor_info_t &info) {
  std::string text = std::string(moert_dtype_name(info.dtype)) + " [";
  for (int32_t d = 0; d < info.rank; ++d)
    text += (d ? ", " : "") + (info.dims[d] == -1 ? std::string("T") : std::to_string(info.dims[d]));
  return text + "]";
}

class Generator {
public:
  Generator(const GenerateOptions &options, moert_model_t *model)
      : options(options), model(model) {}

  std::vector<int64_t> run() {
    bindPorts();
    int64_t promptLength = static_cast<int64_t>(options.prompt.size());
    if (promptLength == 0)
      fail("--prompt is empty: give at least one token id");
    int64_t needed = promptLength + options.newTokens - 1;
    if (!cacheless && needed > capacity)
      fail(options.model + ": the KV cache holds " + std::to_string(capacity) +
           " positions; a prompt of " + std::to_string(promptLength) + " tokens and " +
           std::to_string(options.newTokens) + " new ones need " + std::to_string(needed));
    for (int64_t id : options.prompt)
      if (id < 0)
        fail("--prompt: token id " + std::to_string(id) + " is negative");

    moert_session_options_t sessionOptions;
    moert_session_options_initialize(&sessionOptions);
    // Without a cache the last run reads every token but the last generated.
    sessionOptions.max_tokens = cacheless ? needed : promptLength;
    sessionOptions.cuda_device = static_cast<int32_t>(options.cudaDevice);
    moert_session_t *raw = nullptr;
    check(moert_session_create(model, &sessionOptions, &raw));
    session.reset(raw);

    // One buffer per cache when the model updates it in place (the present
    // output declares the past input's buffer as its own); otherwise two,
    // the past of this run and the present it writes, swapped after every
    // run. Contents beyond the current length are never read: zeros to start.
    for (Cache &cache : caches) {
      std::vector<int64_t> dims(cache.past.info.dims, cache.past.info.dims + cache.past.info.rank);
      int64_t shared = -1;
      check(moert_model_output_inplace_input(model, cache.present.index, &shared));
      cache.inplace = shared == static_cast<int64_t>(cache.past.index);
      if (!cache.buffers[0].allocate(cache.past.info.dtype, dims) ||
          (!cache.inplace && !cache.buffers[1].allocate(cache.past.info.dtype, dims)))
        fail("cannot allocate the cache '" + std::string(cache.past.info.name) + "'");
    }

    std::vector<int64_t> generated;
    std::vector<int64_t> tokens = options.prompt;
    if (cacheless) {
      for (int64_t step = 0; step < options.newTokens; ++step) {
        int64_t next = runStep(tokens, static_cast<int64_t>(tokens.size()), /*first=*/true);
        generated.push_back(next);
        tokens.push_back(next);
      }
      return generated;
    }
    int64_t total = 0;
    for (int64_t step = 0; step < options.newTokens; ++step) {
      total += static_cast<int64_t>(tokens.size());
      int64_t next = runStep(tokens, total, /*first=*/step == 0);
      generated.push_back(next);
      tokens = {next};
    }
    return generated;
  }

  const std::vector<float> &stepLogits() const { return chosenLogits; }
  const std::vector<double> &stepMillis() const { return millis; }
  int64_t vocabSize() const { return vocab; }

private:
  struct Cache {
    Port past, present;
    npy::Array buffers[2];
    int current = 0;      // buffers[current] is the past of the next run
    bool inplace = false; // past and present are buffers[0]
  };

  const GenerateOptions &options;
  moert_model_t *model;
  std::unique_ptr<moert_session_t, void (*)(moert_session_t *)> session{nullptr,
                                                                        moert_session_release};
  Port inputIds, logits;
  std::optional<Port> seqlens, totalLength, attentionMask, positionIds;
  std::vector<int64_t> maskValues;
  std::vector<Cache> caches;
  int64_t capacity = 0, vocab = 0;
  bool cacheless = false; // only input_ids (and position_ids): rerun the sequence
  std::vector<float> chosenLogits;
  std::vector<double> millis; // per run, moert_session_run only

  Port input(const std::string &name) {
    Port port;
    check(moert_model_find_input(model, name.c_str(), &port.index));
    check(moert_model_input_info(model, port.index, &port.info));
    return port;
  }

  void expect(const Port &port, bool ok, const std::string &want) {
    if (!ok)
      fail(options.model + ": '" + port.info.name + "' is " + describe(port.info) +
           "; --generate expects " + want);
  }

  // seqlens_k and total_sequence_length, or attention_mask: how the run
  // tells the graph the cache's length.
  template <class Find> void bindCacheLengths(Find &find) {
    size_t maskIndex;
    if (moert_status status = moert_model_find_input(model, "attention_mask", &maskIndex)) {
      moert_status_free(status);
      seqlens = find("seqlens_k");
      expect(*seqlens,
             seqlens->info.dtype == MOERT_DTYPE_I32 && seqlens->info.rank == 1 &&
                 seqlens->info.dims[0] == 1,
             "int32 [1]");
      totalLength = find("total_sequence_length");
      expect(*totalLength,
             totalLength->info.dtype == MOERT_DTYPE_I32 &&
                 std::all_of(totalLength->info.dims,
                             totalLength->info.dims + totalLength->info.rank,
                             [](int64_t d) { return d == 1; }),
             "one int32");
    } else {
      attentionMask = input("attention_mask");
      expect(*attentionMask,
             attentionMask->info.dtype == MOERT_DTYPE_I64 && attentionMask->info.rank == 2 &&
                 attentionMask->info.dims[0] == 1 && attentionMask->info.dims[1] > 0,
             "int64 [1, capacity] (bind its length to the cache capacity with moec compile "
             "--bind-dim)");
    }
  }

  void bindPorts() {
    const std::string needs = " (--generate needs the input input_ids and the output logits; "
                              "with a cache also seqlens_k and total_sequence_length or "
                              "attention_mask, and past/present cache pairs)";
    auto find = [&](const char *name) {
      size_t index;
      if (moert_status status = moert_model_find_input(model, name, &index)) {
        moert_status_free(status);
        fail(options.model + ": no input '" + name + "'" + needs);
      }
      return input(name);
    };
    inputIds = find("input_ids");
    expect(inputIds,
           inputIds.info.dtype == MOERT_DTYPE_I64 && inputIds.info.rank == 2 &&
               inputIds.info.dims[0] == 1 && inputIds.info.dims[1] == -1,
           "int64 [1, T]");
    // A decoder whose only inputs are the tokens (and their positions).
    cacheless = true;
    for (size_t i = 0, n = moert_model_input_count(model); i < n; ++i) {
      moert_tensor_info_t info;
      check(moert_model_input_info(model, i, &info));
      std::string name = info.name;
      if (name != "input_ids" && name != "position_ids")
        cacheless = false;
    }
    if (!cacheless)
      bindCacheLengths(find);

    size_t inputCount = moert_model_input_count(model);
    for (size_t i = 0; i < inputCount; ++i) {
      moert_tensor_info_t info;
      check(moert_model_input_info(model, i, &info));
      std::string name = info.name;
      if (name == "input_ids" || name == "seqlens_k" || name == "total_sequence_length" ||
          name == "attention_mask")
        continue;
      if (name == "position_ids") {
        positionIds = input(name);
        expect(*positionIds,
               info.dtype == MOERT_DTYPE_I64 && info.rank == 2 && info.dims[0] == 1 &&
                   info.dims[1] == -1,
               "int64 [1, T]");
        continue;
      }
      std::string presentName = presentNameFor(name);
      if (presentName.empty())
        fail(options.model + ": input '" + name + "' is neither a token input nor a cache "
             "(past_<X> or past_key_values.<X>)" + needs);
      Cache cache;
      cache.past = {i, info};
      if (moert_status status =
              moert_model_find_output(model, presentName.c_str(), &cache.present.index)) {
        moert_status_free(status);
        fail(options.model + ": cache input '" + name + "' has no output '" + presentName + "'");
      }
      check(moert_model_output_info(model, cache.present.index, &cache.present.info));
      const moert_tensor_info_t &out = cache.present.info;
      bool same = out.dtype == info.dtype && out.rank == info.rank &&
                  std::equal(info.dims, info.dims + info.rank, out.dims);
      if (!same || hasTokenDim(info) || info.rank != 4)
        fail(options.model + ": cache '" + name + "' is " + describe(info) + " and '" +
             presentName + "' is " + describe(out) +
             "; --generate expects both [1, kv_heads, capacity, head_size], static");
      int64_t cap = info.dims[2];
      if (capacity != 0 && cap != capacity)
        fail(options.model + ": the caches disagree on the capacity (" + std::to_string(capacity) +
             " and " + std::to_string(cap) + " in '" + name + "')");
      capacity = cap;
      caches.push_back(std::move(cache));
    }
    if (caches.empty() && !cacheless)
      fail(options.model + ": no KV cache inputs" + needs);
    if (attentionMask && attentionMask->info.dims[1] != capacity)
      fail(options.model + ": attention_mask holds " +
           std::to_string(attentionMask->info.dims[1]) + " positions, the KV cache " +
           std::to_string(capacity) + " (bind both to the capacity with --bind-dim)");

    if (moert_status status = moert_model_find_output(model, "logits", &logits.index)) {
      moert_status_free(status);
      fail(options.model + ": no output 'logits' (--generate reads the next token from it)");
    }
    check(moert_model_output_info(model, logits.index, &logits.info));
    expect(logits,
           logits.info.dtype == MOERT_DTYPE_F32 && logits.info.rank == 3 &&
               logits.info.dims[0] == 1 && logits.info.dims[1] == -1 && logits.info.dims[2] > 0,
           "float32 [1, T, vocab]");
    vocab = logits.info.dims[2];
  }

  // One run over `tokens`, which end at cache length `total`; returns the
  // greedy next token.
  int64_t runStep(const std::vector<int64_t> &tokens, int64_t total, bool first) {
    int64_t count = static_cast<int64_t>(tokens.size());
    size_t inputCount = moert_model_input_count(model);
    size_t outputCount = moert_model_output_count(model);
    std::vector<moert_tensor_t> inputs(inputCount), outputs(outputCount);
    std::vector<std::vector<int64_t>> outputDims(outputCount);
    std::vector<npy::Array> otherOutputs(outputCount);

    int64_t idsDims[2] = {1, count};
    inputs[inputIds.index] = {const_cast<int64_t *>(tokens.data()), MOERT_DTYPE_I64, 2, idsDims,
                              tokens.size() * sizeof(int64_t)};
    int32_t seqlensValue = static_cast<int32_t>(total - 1);
    // On the prompt, total == T tells the attention that there is no past.
    int32_t totalValue = static_cast<int32_t>(first ? count : total);
    if (seqlens) {
      inputs[seqlens->index] = {&seqlensValue, MOERT_DTYPE_I32, seqlens->info.rank,
                                seqlens->info.dims, sizeof(int32_t)};
      inputs[totalLength->index] = {&totalValue, MOERT_DTYPE_I32, totalLength->info.rank,
                                    totalLength->info.dims, sizeof(int32_t)};
    } else if (attentionMask) {
      // The mask's ones are the cached tokens; the graph sums them.
      maskValues.assign(static_cast<size_t>(attentionMask->info.dims[1]), 0);
      std::fill(maskValues.begin(), maskValues.begin() + total, 1);
      inputs[attentionMask->index] = {maskValues.data(), MOERT_DTYPE_I64, 2,
                                      attentionMask->info.dims,
                                      maskValues.size() * sizeof(int64_t)};
    }
    // Positions continue the cache: the run's tokens sit at [total - T, total).
    std::vector<int64_t> positions(tokens.size());
    for (int64_t i = 0; i < count; ++i)
      positions[static_cast<size_t>(i)] = total - count + i;
    if (positionIds)
      inputs[positionIds->index] = {positions.data(), MOERT_DTYPE_I64, 2, idsDims,
                                    positions.size() * sizeof(int64_t)};
    for (Cache &cache : caches) {
      npy::Array &past = cache.buffers[cache.current];
      npy::Array &present = cache.inplace ? past : cache.buffers[1 - cache.current];
      inputs[cache.past.index] = {past.data(), past.dtype(), cache.past.info.rank,
                                  past.shape().data(), past.byteSize()};
      outputs[cache.present.index] = {present.data(), present.dtype(), cache.present.info.rank,
                                      present.shape().data(), present.byteSize()};
    }
    // Every other output (logits included) gets a buffer of its size at T.
    for (size_t i = 0; i < outputCount; ++i) {
      if (outputs[i].data != nullptr)
        continue;
      moert_tensor_info_t info;
      check(moert_model_output_info(model, i, &info));
      outputDims[i].resize(static_cast<size_t>(info.rank));
      int32_t rank = 0;
      check(moert_session_output_dims(session.get(), i, count, outputDims[i].data(), info.rank,
                                      &rank));
      if (!otherOutputs[i].allocate(info.dtype, outputDims[i]))
        fail("cannot allocate output '" + std::string(info.name) + "'");
      outputs[i] = {otherOutputs[i].data(), info.dtype, rank, otherOutputs[i].shape().data(),
                    otherOutputs[i].byteSize()};
    }
    auto start = std::chrono::steady_clock::now();
    moert_status status = moert_session_run(session.get(), inputs.data(), inputs.size(),
                                            outputs.data(), outputs.size());
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    check(status);
    for (Cache &cache : caches)
      if (!cache.inplace)
        cache.current = 1 - cache.current;

    const float *rows = reinterpret_cast<const float *>(otherOutputs[logits.index].data());
    const float *last = rows + (count - 1) * vocab;
    chosenLogits.insert(chosenLogits.end(), last, last + vocab);
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (last[v] > last[best])
        best = v;
    return best;
  }
};

} // namespace

int generate(const GenerateOptions &options, moert_model_t *model) {
  try {
    Generator generator(options, model);
    std::vector<int64_t> tokens = generator.run();
    std::string text;
    for (int64_t t : tokens)
      text += (text.empty() ? "" : " ") + std::to_string(t);
    std::printf("%s\n", text.c_str());
    std::string reason;
    if (!options.tokensPath.empty()) {
      npy::Array array;
      array.allocate(MOERT_DTYPE_I64, {static_cast<int64_t>(tokens.size())});
      std::memcpy(array.data(), tokens.data(), array.byteSize());
      if (!npy::write(options.tokensPath, array, &reason))
        fail(options.tokensPath + ": " + reason);
    }
    if (!options.timingPath.empty()) {
      // {"prompt_tokens": P, "prefill_ms": x, "decode_ms": [..]}: the first run
      // is the prompt, each later one a single token.
      FILE *out = std::fopen(options.timingPath.c_str(), "w");
      if (!out)
        fail(options.timingPath + ": cannot write");
      const std::vector<double> &ms = generator.stepMillis();
      std::fprintf(out, "{\"prompt_tokens\": %zu, \"prefill_ms\": %.6f, \"decode_ms\": [",
                   options.prompt.size(), ms.empty() ? 0.0 : ms[0]);
      for (size_t i = 1; i < ms.size(); ++i)
        std::fprintf(out, "%s%.6f", i > 1 ? ", " : "", ms[i]);
      std::fprintf(out, "]}\n");
      if (std::fclose(out) != 0)
        fail(options.timingPath + ": cannot write");
    }
    if (!options.logitsPath.empty()) {
      npy::Array array;
      array.allocate(MOERT_DTYPE_F32,
                     {static_cast<int64_t>(tokens.size()), generator.vocabSize()});
      std::memcpy(array.data(), generator.stepLogits().data(), array.byteSize());
      if (!npy::write(options.logitsPath, array, &reason))
        fail(options.logitsPath + ": " + reason);
    }
    return 0;
  } catch (const GenerateError &e) {
    std::fprintf(stderr, "moec-run: error: %s\n", e.message.c_str());
    return 2;
  }
}

} // namespace moec::run
