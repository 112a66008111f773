//===- ShapeInfo.h - The MoE layer a benchmark runs ------------*- C++ -*-===//
//
// An artifact knows its weight bytes but not the layer's arithmetic, so
// moec-bench takes the layer's description from a shape file (JSON, written
// by bench/shapes/make_shapes.py or bench/shapes/shape_info.py for an ONNX
// file with a com.microsoft.MoE node). From it come the FLOPs of a run and,
// through the router weights, the experts the router really chooses for the
// benchmark's inputs, hence the weight bytes a run reads.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TOOLS_MOEC_BENCH_SHAPEINFO_H
#define MOEC_TOOLS_MOEC_BENCH_SHAPEINFO_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moec::bench {

enum class Routing {
  /// softmax over the router logits, top-k (Mixtral, Qwen3): the chosen
  /// experts are the k largest logits.
  SoftmaxTopK,
  /// DeepSeek-V3: s = sigmoid(logits); selection scores s + bias; groups of
  /// E/groups experts scored by the sum of their two best selection scores;
  /// the best `topk_groups` groups; the k best selection scores inside them.
  SigmoidGroupedTopK,
};

struct ShapeInfo {
  std::string name;
  int64_t hidden = 0, inter = 0, experts = 0, topK = 0;
  int64_t sharedExperts = 0, sharedInter = 0;
  /// 3 for a gated FFN (SwiGLU: gate, up, down), 2 otherwise (up, down).
  int64_t matricesPerExpert = 3;
  Routing routing = Routing::SoftmaxTopK;
  int64_t groups = 1, topkGroups = 1;
  /// The model input that holds the tokens (T, H) and feeds the router.
  std::string input = "input";
  /// The router weight's name in the artifact (it is read whole every run,
  /// even when its first dim equals E as in a GPU artifact's (E, H) copy).
  std::string routerName;
  /// (H, E), row-major, from the file named by "router_weight".
  std::vector<double> router;
  /// (E), "router_bias" (selection bias of SigmoidGroupedTopK); may be empty.
  std::vector<double> routerBias;
  /// Every top-level string/number of the file, echoed into the JSON.
  std::map<std::string, std::string> raw;
};

/// Reads the shape file at `path`; router files are relative to its
/// directory. On failure returns false with `*error` naming the file and
/// the key.
bool loadShapeInfo(const std::string &path, ShapeInfo *out,
                   std::string *error);

/// How many distinct experts the router chooses for the `tokens` rows of
/// `x` ((T, H) float32). Computed in double; stops early once every expert
/// has been chosen.
int64_t expertsTouched(const ShapeInfo &shape, const float *x, int64_t tokens);

/// Floating-point operations of one run at T tokens: the router GEMM
/// (2·T·H·E), the routed experts (2·T·k·m·H·I) and the shared experts
/// (2·T·shared·m·H·I_s), m = matrices per expert. Activations, softmax and
/// the combine are O(T·(k·I + H)), below 1% for these shapes, and left out.
double layerFlops(const ShapeInfo &shape, int64_t tokens);

/// Expected distinct experts under uniform routing, E·(1 − (1 − k/E)^T),
/// printed beside the measured count as a sanity check.
double uniformExpertsTouched(const ShapeInfo &shape, int64_t tokens);

} // namespace moec::bench

#endif // MOEC_TOOLS_MOEC_BENCH_SHAPEINFO_H
