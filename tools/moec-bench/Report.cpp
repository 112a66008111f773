//===- Report.cpp - Roofline arithmetic, the table and the JSON -----------===//

#include "tools/moec-bench/Report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace moec::bench {

double quantile(std::vector<double> values, double q) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  double position = q * double(values.size() - 1);
  size_t below = static_cast<size_t>(std::floor(position));
  size_t above = std::min(below + 1, values.size() - 1);
  double weight = position - double(below);
  return values[below] * (1.0 - weight) + values[above] * weight;
}

Roofline roofline(const Report &report, const TokenResult &result) {
  Roofline r;
  r.medianMs = quantile(result.stepsMs, 0.5);
  r.bytes = result.weightBytes + result.activationBytes;
  if (!result.touched.empty())
    r.touchedMean =
        double(std::accumulate(result.touched.begin(), result.touched.end(),
                               int64_t(0))) /
        double(result.touched.size());
  const double seconds = r.medianMs * 1e-3;
  if (seconds > 0) {
    r.achievedBandwidth = r.bytes / seconds;
    if (result.flops >= 0)
      r.achievedFlops = result.flops / seconds;
  }
  if (report.peak.bandwidth <= 0)
    return r; // nothing to compare with
  const double memoryMs = r.bytes / report.peak.bandwidth * 1e3;
  double computeMs = -1;
  if (report.peak.flops > 0 && result.flops >= 0)
    computeMs = result.flops / report.peak.flops * 1e3;
  r.tRooflineMs = std::max(memoryMs, computeMs);
  if (computeMs < 0)
    r.bound = result.flops < 0 ? "memory (FLOPs unknown)"
                               : "memory (FLOP peak not measured)";
  else
    r.bound = memoryMs >= computeMs ? "memory" : "compute";
  if (r.medianMs > 0)
    r.fraction = r.tRooflineMs / r.medianMs;
  return r;
}

namespace {

std::string fmt(const char *format, double value) {
  if (!std::isfinite(value) || value < 0)
    return "-";
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

void printHeader(const Report &report) {
  std::printf("moec-bench: %s (target %s, from %s)\n", report.model.c_str(),
              report.target.c_str(),
              report.source.empty() ? "?" : report.source.c_str());
  std::printf("device: %s%s%s; clock: %s%s%s\n", report.deviceName.c_str(),
              report.driver.empty() ? "" : ", ", report.driver.c_str(),
              report.clock.c_str(), report.threads.empty() ? "" : "; ",
              report.threads.c_str());
  std::printf("peak (measured here): bandwidth %s GB/s [%s]\n",
              fmt("%.1f", report.peak.bandwidth * 1e-9).c_str(),
              report.peak.bandwidthMethod.c_str());
  std::printf("                      compute %s TFLOP/s [%s]\n",
              fmt("%.4g", report.peak.flops * 1e-12).c_str(),
              report.peak.flopsMethod.c_str());
  if (report.haveShape) {
    const ShapeInfo &s = report.shape;
    std::printf("shape: %s: H %lld, I %lld, E %lld, top-%lld, %lld shared "
                "(I %lld), %lld matrices per expert, %s routing\n",
                s.name.empty() ? "?" : s.name.c_str(), (long long)s.hidden,
                (long long)s.inter, (long long)s.experts, (long long)s.topK,
                (long long)s.sharedExperts, (long long)s.sharedInter,
                (long long)s.matricesPerExpert,
                s.routing == Routing::SoftmaxTopK ? "softmax top-k"
                                                  : "grouped sigmoid top-k");
    std::printf("weights: %.4g MB per-expert tensors (%zu), %.4g MB read "
                "every run; experts touched %s\n",
                report.weights.perExpertTotal * 1e-6,
                report.weights.perExpertNames.size(),
                report.weights.always * 1e-6,
                s.router.empty() ? "assumed all (no router weight in the "
                                   "shape file)"
                                 : "counted from the router on the inputs");
  } else {
    std::printf("weights: %.4g MB, all assumed read every run (no "
                "--shape-info); FLOPs unknown\n",
                report.modelWeightBytes * 1e-6);
  }
  std::printf("runs: %lld warm-up + %lld timed per T, %lld rotating input "
              "buffers, %s%s\n",
              (long long)report.warmup, (long long)report.runs,
              (long long)report.buffers,
              report.flushBytes
                  ? ("cache flushed before each run (" +
                     std::to_string(report.flushBytes >> 20) + " MiB)")
                        .c_str()
                  : "caches not flushed",
              report.deviceKind == "cuda"
                  ? (report.cudaGraphs ? ", CUDA graphs" : ", no CUDA graphs")
                  : "");
}

} // namespace

void printTable(const Report &report) {
  printHeader(report);
  std::printf("%6s %11s %11s %11s %9s %11s %9s %11s %9s %11s %9s\n", "T",
              "median_us", "p10_us", "p90_us", "experts", "MB_read", "GB/s",
              "MFLOP", "TFLOP/s", "roof_us", "roofline");
  for (const TokenResult &result : report.results) {
    Roofline r = roofline(report, result);
    std::string experts =
        r.touchedMean >= 0 ? fmt("%.1f", r.touchedMean)
                           : (report.haveShape ? "all" : "-");
    std::printf("%6lld %11s %11s %11s %9s %11s %9s %11s %9s %11s %9s\n",
                (long long)result.tokens, fmt("%.2f", r.medianMs * 1e3).c_str(),
                fmt("%.2f", quantile(result.stepsMs, 0.1) * 1e3).c_str(),
                fmt("%.2f", quantile(result.stepsMs, 0.9) * 1e3).c_str(),
                experts.c_str(), fmt("%.4g", r.bytes * 1e-6).c_str(),
                fmt("%.4g", r.achievedBandwidth * 1e-9).c_str(),
                fmt("%.4g", result.flops * 1e-6).c_str(),
                fmt("%.4g", r.achievedFlops * 1e-12).c_str(),
                fmt("%.2f", r.tRooflineMs * 1e3).c_str(),
                r.fraction >= 0 ? (fmt("%.1f", r.fraction * 100) + "%").c_str()
                                : "-");
  }
  for (const TokenResult &result : report.results)
    if (roofline(report, result).fraction > 1.0) {
      std::printf(
          "note: above 100%%: the run found its weights in a cache (%s); the "
          "bandwidth term uses the bandwidth measured above. Flush with "
          "--flush-bytes N (N above the last-level cache) to time reads "
          "from memory.\n",
          report.flushBytes ? "the flush was smaller than the cache"
                            : "caches not flushed");
      break;
    }
  std::fflush(stdout);
}

// --- JSON ----------------------------------------------------------------

namespace {

class JsonWriter {
public:
  explicit JsonWriter(FILE *file) : file_(file) {}
  void open(char c) {
    separate();
    std::fputc(c, file_);
    first_ = true;
  }
  void close(char c) {
    std::fputc(c, file_);
    first_ = false;
  }
  void key(const std::string &name) {
    separate();
    string(name);
    std::fputc(':', file_);
    first_ = true; // the value follows without a comma
  }
  void value(const std::string &text) {
    separate();
    string(text);
  }
  void number(double value) {
    separate();
    // JSON has no NaN/Infinity; unknown values are null.
    if (std::isfinite(value))
      std::fprintf(file_, "%.9g", value);
    else
      std::fputs("null", file_);
  }
  void boolean(bool value) {
    separate();
    std::fputs(value ? "true" : "false", file_);
  }
  void null() {
    separate();
    std::fputs("null", file_);
  }

private:
  void separate() {
    if (!first_)
      std::fputc(',', file_);
    first_ = false;
  }
  void string(const std::string &text) {
    std::fputc('"', file_);
    for (unsigned char c : text) {
      if (c == '"' || c == '\\')
        std::fprintf(file_, "\\%c", c);
      else if (c < 0x20)
        std::fprintf(file_, "\\u%04x", c);
      else
        std::fputc(c, file_);
    }
    std::fputc('"', file_);
  }
  FILE *file_;
  bool first_ = true;
};

// A value that may be unknown (negative) becomes null.
void known(JsonWriter &w, double value) {
  if (value < 0)
    w.null();
  else
    w.number(value);
}

} // namespace

bool writeJson(const std::string &path, const Report &report,
               std::string *error) {
  FILE *file = std::fopen(path.c_str(), "w");
  if (!file) {
    *error = "cannot write the JSON report";
    return false;
  }
  JsonWriter w(file);
  w.open('{');
  w.key("tool"), w.value("moec-bench");
  w.key("format_version"), w.number(1);
  w.key("model"), w.value(report.model);
  w.key("target"), w.value(report.target);
  w.key("source"), w.value(report.source);
  w.key("device"), w.open('{');
  w.key("kind"), w.value(report.deviceKind);
  w.key("name"), w.value(report.deviceName);
  w.key("driver"), w.value(report.driver);
  w.key("threads"), w.value(report.threads);
  w.close('}');
  w.key("clock"), w.value(report.clock);
  w.key("peak"), w.open('{');
  w.key("bandwidth_GBps"), known(w, report.peak.bandwidth > 0
                                        ? report.peak.bandwidth * 1e-9
                                        : -1);
  w.key("bandwidth_method"), w.value(report.peak.bandwidthMethod);
  w.key("TFLOPs"), known(w, report.peak.flops > 0 ? report.peak.flops * 1e-12
                                                  : -1);
  w.key("flops_method"), w.value(report.peak.flopsMethod);
  w.close('}');
  w.key("settings"), w.open('{');
  w.key("warmup"), w.number(double(report.warmup));
  w.key("runs"), w.number(double(report.runs));
  w.key("buffers"), w.number(double(report.buffers));
  w.key("cache_flush_bytes"), w.number(double(report.flushBytes));
  w.key("cuda_graphs"), w.boolean(report.cudaGraphs);
  w.close('}');
  w.key("weights"), w.open('{');
  w.key("total_bytes"), w.number(report.modelWeightBytes);
  w.key("per_expert_tensor_bytes"), w.number(report.weights.perExpertTotal);
  w.key("always_read_bytes"), w.number(report.weights.always);
  w.key("per_expert_tensors"), w.open('[');
  for (const std::string &name : report.weights.perExpertNames)
    w.value(name);
  w.close(']');
  w.close('}');
  w.key("shape");
  if (report.haveShape) {
    w.open('{');
    for (const auto &[name, text] : report.shape.raw)
      w.key(name), w.value(text);
    w.close('}');
  } else {
    w.null();
  }
  w.key("results"), w.open('[');
  for (const TokenResult &result : report.results) {
    Roofline r = roofline(report, result);
    w.open('{');
    w.key("tokens"), w.number(double(result.tokens));
    w.key("runs"), w.number(double(result.stepsMs.size()));
    w.key("median_us"), w.number(r.medianMs * 1e3);
    w.key("p10_us"), w.number(quantile(result.stepsMs, 0.1) * 1e3);
    w.key("p90_us"), w.number(quantile(result.stepsMs, 0.9) * 1e3);
    w.key("min_us"), w.number(quantile(result.stepsMs, 0.0) * 1e3);
    w.key("max_us"), w.number(quantile(result.stepsMs, 1.0) * 1e3);
    w.key("run_median_us"), w.number(quantile(result.totalMs, 0.5) * 1e3);
    w.key("wall_median_us"), w.number(quantile(result.wallMs, 0.5) * 1e3);
    w.key("experts_touched");
    if (result.touched.empty()) {
      w.null();
    } else {
      w.open('[');
      for (int64_t count : result.touched)
        w.number(double(count));
      w.close(']');
    }
    w.key("experts_touched_mean"), known(w, r.touchedMean);
    w.key("experts_touched_uniform"),
        known(w, report.haveShape
                     ? uniformExpertsTouched(report.shape, result.tokens)
                     : -1);
    w.key("weight_bytes"), w.number(result.weightBytes);
    w.key("activation_bytes"), w.number(result.activationBytes);
    w.key("bytes"), w.number(r.bytes);
    w.key("flops"), known(w, result.flops);
    w.key("achieved_GBps"), w.number(r.achievedBandwidth * 1e-9);
    w.key("achieved_TFLOPs"),
        known(w, r.achievedFlops >= 0 ? r.achievedFlops * 1e-12 : -1);
    w.key("t_roofline_us"),
        known(w, r.tRooflineMs >= 0 ? r.tRooflineMs * 1e3 : -1);
    w.key("roofline_fraction"), known(w, r.fraction);
    w.key("bound");
    if (r.bound.empty())
      w.null();
    else
      w.value(r.bound);
    w.close('}');
  }
  w.close(']');
  w.close('}');
  std::fputc('\n', file);
  if (std::fclose(file) != 0) {
    *error = "cannot write the JSON report";
    return false;
  }
  return true;
}

} // namespace moec::bench
