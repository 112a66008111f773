//===- CalibrationData.h - the activation directory of a calibration run -*- C++ -*-===//
//
// `moec compile --calibration BATCHES` runs the float model on the user's
// batches (CalibrationRun.h) and keeps, per quantizable op, a bounded sample
// of the rows it reads, and per router how often it chose each expert. Passes
// read that result through a plain directory path (moec-awq-scale's
// `activations=DIR`; expert pruning reads the routing counts), so lit tests
// can ship a small directory under test/lit/.../Inputs/.
//
// On disk (version 1):
//
//   DIR/index.json
//   DIR/rows/<n>.npy            float32 [rows, K], C order, one per row set
//
//   index.json:
//   {
//     "format": "moec-calibration", "version": 1,
//     "batches": 3,              // batches run
//     "tokens": 96,              // tokens (rows of the token axis) run in all
//     "max_rows": 4096,          // the sampling bound below
//     "ops": [
//       {"key": "/attn/q_proj/MatMul", "op": "moe.linear",
//        "input": {"file": "rows/0.npy", "seen": 96}},
//       {"key": "/moe/MoE", "op": "moe.experts",
//        "experts": [{"input": {"file": "rows/1.npy", "seen": 20},
//                     "fc2_input": {"file": "rows/2.npy", "seen": 20}}, ...]}],
//     "routers": [
//       {"key": "/moe/MoE", "experts": 8, "k": 2, "tokens": 96,
//        "counts": [31, 20, ...]}]             // int64 [experts], sum = k * tokens
//   }
//
// Keys: an op's ONNX node name (its location's first NameLoc; "" if none);
// an op whose name an earlier op (in walk order) of the same key space
// already took gets "#n" appended, n = 1, 2, ... (moe.linear and moe.experts
// share one key space, routers have their own) (calibrationKeys() below computes them; every reader and
// writer uses it, so keys agree as long as the raised IR is the same).
//
// Rows: for moe.linear the input flattened to [rows, K]; for moe.experts, per
// expert, the tokens routed to it (fc1/fc3 read them) and fc2's input
// computed from the float weights: act(fc1 x + b1) (· (fc3 x + b3) when
// gated), [rows, I]. "seen" is how many rows the run produced; a set keeps
// at most max_rows of them: the rows whose index (in the order the batches
// produced them) is a multiple of a stride, the smallest power of two that
// keeps it within the bound. Deterministic: the same batches give the same
// directory. An expert never routed to has 0 rows (and a [0, K] file).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CALIBRATION_CALIBRATIONDATA_H
#define MOEC_COMPILER_CALIBRATION_CALIBRATIONDATA_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace moec::calibration {

inline constexpr int64_t kDefaultMaxRows = 4096;

// A sample of rows, float32 row-major [rows, cols].
struct RowSet {
  int64_t rows = 0, cols = 0;
  int64_t seen = 0; // rows the run produced before sampling
  std::vector<float> data;
  const float *row(int64_t r) const { return data.data() + r * cols; }
};

struct ExpertRows {
  RowSet input;    // tokens routed to the expert (fc1, fc3)
  RowSet fc2Input; // act(fc1 x) [* fc3 x] of those tokens
};

struct OpRows {
  std::string op;                  // "moe.linear" or "moe.experts"
  RowSet input;                    // moe.linear
  std::vector<ExpertRows> experts; // moe.experts, one per expert
};

struct RouterCounts {
  int64_t experts = 0, k = 0, tokens = 0;
  std::vector<int64_t> counts; // [experts]: selections of each expert
};

struct CalibrationData {
  int64_t batches = 0, tokens = 0, maxRows = kDefaultMaxRows;
  std::map<std::string, OpRows> ops;           // by key
  std::map<std::string, RouterCounts> routers; // by key

  const OpRows *findOp(llvm::StringRef key) const {
    auto it = ops.find(key.str());
    return it == ops.end() ? nullptr : &it->second;
  }
  const RouterCounts *findRouter(llvm::StringRef key) const {
    auto it = routers.find(key.str());
    return it == routers.end() ? nullptr : &it->second;
  }
};

// Reads DIR. With `loadRows` false only index.json is read (the routing
// counts; RowSets keep rows/cols/seen but no data). On failure returns
// failure and sets `error` to one line naming the file and what is wrong.
mlir::FailureOr<CalibrationData> readCalibrationData(llvm::StringRef dir, std::string &error,
                                                     bool loadRows = true);

// Writes `data` to DIR (created if missing; index.json written last).
mlir::LogicalResult writeCalibrationData(llvm::StringRef dir, const CalibrationData &data,
                                         std::string &error);

// The key of every moe.linear, moe.experts and moe.router in `func`, in walk
// order (see "Keys" above). Routers have their own key space.
std::vector<std::pair<mlir::Operation *, std::string>> calibrationKeys(mlir::func::FuncOp func);

} // namespace moec::calibration

#endif // MOEC_COMPILER_CALIBRATION_CALIBRATIONDATA_H
