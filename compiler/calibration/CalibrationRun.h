//===- CalibrationRun.h - run the float model on calibration batches -*- C++ -*-===//
//
// `moec compile --calibration BATCHES` runs, right after raising, the pass
// made by createCalibratePass(): it copies the module, exposes the values to
// sample (moec-expose-calibration-taps), compiles the copy for the host with
// the normal pipeline into a temporary artifact, runs it in-process through
// libmoert on every batch and writes the activation directory
// (CalibrationData.h) that moec-awq-scale and expert pruning read. The
// module itself is left unchanged.
//
// BATCHES holds .npy files of the model's inputs, either one batch
// (BATCHES/<input>.npy) or one subdirectory per batch (BATCHES/<batch>/<input>.npy,
// run in name order). <input> is the ONNX input name with every character
// other than A-Z a-z 0-9 . _ - replaced by '_'. Every model input must be
// there with the model's dtype, rank and static dims; the token dim (T >= 1)
// must agree across a batch's inputs. Anything else is a one-line error
// naming the file and the input.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CALIBRATION_CALIBRATIONRUN_H
#define MOEC_COMPILER_CALIBRATION_CALIBRATIONRUN_H

#include "compiler/calibration/CalibrationData.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <memory>
#include <string>

namespace moec::calibration {

// Adds the passes that compile a raised module for the host into the
// artifact `artifactPath` (the pipeline lives above this library).
using HostPipelineBuilder =
    std::function<void(mlir::OpPassManager &pm, const std::string &artifactPath)>;

struct CalibrateOptions {
  std::string batches; // the user's directory
  std::string output;  // the activation directory to write
  int64_t maxRows = kDefaultMaxRows;
  bool progress = false; // progress lines on stderr
};

// The file name an input's .npy has in a batch directory.
std::string inputFileName(llvm::StringRef inputName);

// The module pass `moec-calibrate` (see above).
std::unique_ptr<mlir::Pass> createCalibratePass(HostPipelineBuilder buildHostPipeline,
                                                const CalibrateOptions &options = {});

} // namespace moec::calibration

#endif // MOEC_COMPILER_CALIBRATION_CALIBRATIONRUN_H
