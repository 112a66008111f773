//===- ExpertMath.h - float expert weights for the calibration passes -*- C++ -*-===//
//
// The calibration run needs fc2's input, act(fc1 x + b1) [· (fc3 x + b3)],
// for the tokens routed to each expert; moec-awq-scale reads and rewrites the
// float weights. Both read moe.experts through this.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CALIBRATION_EXPERTMATH_H
#define MOEC_COMPILER_CALIBRATION_EXPERTMATH_H

#include "dialects/moe/MoEDialect.h"

#include "mlir/IR/Value.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::calibration {


// The float weights of one moe.experts (com.microsoft.MoE layouts: fc1
// [E, F1, H], fc2 [E, H, I], fc3 [E, I, H], biases [E, rows]).
struct ExpertWeights {
  int64_t experts = 0, hidden = 0, inter = 0, fc1Rows = 0;
  std::string activation;
  int64_t swigluFusion = 0;
  float alpha = 1.f, beta = 0.f, limit = 0.f;
  std::vector<float> fc1, fc1Bias, fc3, fc3Bias; // biases empty when absent

  // nullopt unless fc1 (and fc3, and the biases, when present) are f32
  // constants.
  static std::optional<ExpertWeights> read(moe::ExpertsOp op);

  // fc2's input for `rows` rows of x ([rows, H]) routed to expert `e`:
  // [rows, I], computed in double and rounded to float once.
  std::vector<float> intermediate(int64_t e, const std::vector<float> &x, int64_t rows) const;
};

} // namespace moec::calibration

#endif // MOEC_COMPILER_CALIBRATION_EXPERTMATH_H
