//===- Report.h - moec-bench's measurements and their roofline -*- C++ -*-===//
//
// What one invocation measured, and the two ways it is written: a table on
// stdout and a JSON file (--json) that bench/host_bench.py, bench/peers.py
// and bench/plot.py read. The JSON layout is documented in bench/README.md.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TOOLS_MOEC_BENCH_REPORT_H
#define MOEC_TOOLS_MOEC_BENCH_REPORT_H

#include "tools/moec-bench/Peak.h"
#include "tools/moec-bench/ShapeInfo.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moec::bench {

/// The measurements at one token count.
struct TokenResult {
  int64_t tokens = 0;
  /// Per timed run, milliseconds: the steps (the layer's time, which the
  /// roofline is about), the whole run on the device (CUDA: with the copies
  /// of inputs and outputs), and the host's wall time of moert_session_run.
  std::vector<double> stepsMs, totalMs, wallMs;
  /// Distinct experts the router chose, per input buffer; empty when the
  /// shape file has no router weight (then all weights count as read).
  std::vector<int64_t> touched;
  double weightBytes = 0;     // weights read by one run
  double activationBytes = 0; // inputs read + outputs written at T
  double flops = -1;          // -1: unknown (no shape file)
};

/// How the artifact's weights were split for the bytes model.
struct WeightSplit {
  /// Bytes of the tensors with one slice per routed expert (dims[0] == E):
  /// a run reads touched/E of them.
  double perExpertTotal = 0;
  /// Everything else (router, shared experts, ...): read whole every run.
  double always = 0;
  std::vector<std::string> perExpertNames;
};

struct Report {
  std::string model, target, source;
  std::string deviceKind; // "host" or "cuda"
  std::string deviceName, driver;
  std::string clock; // "steady_clock" or "cuda_events"
  std::string threads; // host: how many threads the kernels use
  Peak peak;
  bool haveShape = false;
  ShapeInfo shape;
  WeightSplit weights;
  double modelWeightBytes = 0;
  int64_t warmup = 0, runs = 0, buffers = 0;
  uint64_t flushBytes = 0;
  bool cudaGraphs = true;
  std::vector<TokenResult> results;
};

/// Quantile q in [0, 1] of `values` (linear interpolation between order
/// statistics); NaN for an empty list.
double quantile(std::vector<double> values, double q);

/// Derived numbers at one token count.
struct Roofline {
  double medianMs = 0;
  double bytes = 0;
  double touchedMean = -1;
  double achievedBandwidth = 0; // bytes/s
  double achievedFlops = -1;    // FLOP/s; -1 unknown
  double tRooflineMs = -1;      // -1: no peak measured
  double fraction = -1;         // t_roofline / median
  std::string bound;            // "memory", "compute", "memory (FLOP peak not measured)"
};
Roofline roofline(const Report &report, const TokenResult &result);

void printTable(const Report &report);
/// Writes the JSON; false with `*error` if the file cannot be written.
bool writeJson(const std::string &path, const Report &report,
               std::string *error);

} // namespace moec::bench

#endif // MOEC_TOOLS_MOEC_BENCH_REPORT_H
