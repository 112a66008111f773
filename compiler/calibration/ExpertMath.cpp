//===- ExpertMath.cpp - float expert weights for the calibration passes -----===//
//
// The activations follow the host kernel (compiler/host/kernels,
// moe_activation): gelu is the tanh approximation com.microsoft.MoE uses;
// SwiGLU is G·sigmoid(alpha·G)·(L + beta) with G = min(gate, limit) and
// L = clamp(lin, -limit, limit).
//
//===----------------------------------------------------------------------===//
#include "compiler/calibration/ExpertMath.h"

#include "compiler/utils/ConstantData.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;

namespace moec::calibration {

std::optional<ExpertWeights> ExpertWeights::read(moe::ExpertsOp op) {
  ExpertWeights w;
  w.experts = op.getNumExperts();
  w.hidden = op.getHiddenSize();
  w.inter = op.getInterSize();
  w.fc1Rows = cast<RankedTensorType>(op.getFc1().getType()).getDimSize(1);
  w.activation = op.getActivation().str();
  w.swigluFusion = op.getSwigluFusion();
  w.alpha = op.getAlpha().convertToFloat();
  w.beta = op.getBeta().convertToFloat();
  w.limit = op.getLimit().convertToFloat();
  auto fc1 = moec::getConstantFloats(op.getFc1());
  if (!fc1)
    return std::nullopt;
  w.fc1 = std::move(*fc1);
  if (op.getFc1Bias()) {
    auto b = moec::getConstantFloats(op.getFc1Bias());
    if (!b)
      return std::nullopt;
    w.fc1Bias = std::move(*b);
  }
  if (op.getFc3()) {
    auto fc3 = moec::getConstantFloats(op.getFc3());
    if (!fc3)
      return std::nullopt;
    w.fc3 = std::move(*fc3);
  }
  if (op.getFc3Bias()) {
    auto b = moec::getConstantFloats(op.getFc3Bias());
    if (!b)
      return std::nullopt;
    w.fc3Bias = std::move(*b);
  }
  return w;
}

std::vector<float> ExpertWeights::intermediate(int64_t e, const std::vector<float> &x,
                                               int64_t rows) const {
  const int64_t H = hidden, I = inter, F1 = fc1Rows;
  std::vector<float> out(static_cast<size_t>(rows * I));
  std::vector<double> h1(F1), h3(fc3.empty() ? 0 : I);
  auto dot = [&](const float *w, const float *xr) {
    double acc = 0;
    for (int64_t c = 0; c < H; ++c)
      acc += static_cast<double>(w[c]) * xr[c];
    return acc;
  };
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x.data() + r * H;
    for (int64_t j = 0; j < F1; ++j)
      h1[j] = dot(&fc1[(e * F1 + j) * H], xr) + (fc1Bias.empty() ? 0.0 : fc1Bias[e * F1 + j]);
    for (int64_t j = 0; j < static_cast<int64_t>(h3.size()); ++j)
      h3[j] = dot(&fc3[(e * I + j) * H], xr) + (fc3Bias.empty() ? 0.0 : fc3Bias[e * I + j]);
    for (int64_t j = 0; j < I; ++j) {
      double v;
      if (activation == "swiglu") {
        double gate = swigluFusion == 1 ? h1[2 * j] : h1[j];
        double lin = swigluFusion == 1   ? h1[2 * j + 1]
                     : swigluFusion == 2 ? h1[I + j]
                                         : h3[j];
        gate = std::min(gate, static_cast<double>(limit));
        lin = std::clamp(lin, -static_cast<double>(limit), static_cast<double>(limit));
        v = gate * sigmoid(alpha * gate) * (lin + beta);
      } else {
        double a = h1[j];
        if (activation == "relu")
          v = a > 0 ? a : 0;
        else if (activation == "gelu")
          v = 0.5 * a * (1 + std::tanh(0.79788456080286535588 * (a + 0.044715 * a * a * a)));
        else if (activation == "silu")
          v = a * sigmoid(a);
        else
          v = a;
      }
      out[r * I + j] = static_cast<float>(v);
    }
  }
  return out;
}

} // namespace moec::calibration
