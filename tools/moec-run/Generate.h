//===- Generate.h - moec-run --generate ------------------------*- C++ -*-===//
#ifndef MOEC_TOOLS_MOEC_RUN_GENERATE_H
#define MOEC_TOOLS_MOEC_RUN_GENERATE_H

#include "moert/moert.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moec::run {

struct GenerateOptions {
  std::string model;            // for messages
  std::vector<int64_t> prompt;  // token ids
  int64_t newTokens = 0;        // tokens to generate (>= 1)
  int64_t cudaDevice = 0;
  std::string tokensPath;       // optional .npy of the generated ids (int64 [N])
  std::string logitsPath;       // optional .npy of each step's logits row (float32 [N, vocab])
  std::string timingPath;       // optional JSON: each run's wall time around moert_session_run
};

// Greedy generation with the model's KV cache (see Generate.cpp for the
// interface it recognizes). Prints the generated ids on one line; returns
// 0, or 2 after printing a one-line error.
int generate(const GenerateOptions &options, moert_model_t *model);

} // namespace moec::run

#endif // MOEC_TOOLS_MOEC_RUN_GENERATE_H
