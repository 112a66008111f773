//===- ExposeCalibrationTaps.cpp - calibration values as function results ---===//
//
// The calibration run measures what quantization does to each layer, so it
// needs the rows each quantizable op reads and which experts each token was
// routed to. Rather than a second interpreter, the float model itself is
// compiled with those values as extra outputs (this pass) and run by libmoert
// (CalibrationRun.cpp): the rows are exactly what the deployed kernels see.
//
//===----------------------------------------------------------------------===//
#include "compiler/calibration/CalibrationData.h"
#include "compiler/calibration/Passes.h"
#include "compiler/utils/ConstantData.h"
#include "dialects/moe/MoEDialect.h"
#include "passes/quant/WeightQuant.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace moec {
#define GEN_PASS_DEF_MOECEXPOSECALIBRATIONTAPS
#include "compiler/calibration/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {

std::string tapName(unsigned n) { return "moec.tap." + std::to_string(n); }

// A weight the quantizer will round: an f32 constant.
bool isFloatConstant(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getElementType().isF32() && moec::getConstantElements(v);
}

struct ExposeCalibrationTapsPass
    : moec::impl::MoecExposeCalibrationTapsBase<ExposeCalibrationTapsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    Builder b(&getContext());
    SmallVector<Value> results(ret.getOperands());
    unsigned original = results.size();
    llvm::DenseMap<Value, unsigned> tapped; // value -> result index
    SmallVector<Attribute> taps;
    auto tap = [&](StringRef key, Operation *op, StringRef what, Value v) {
      auto [it, fresh] = tapped.try_emplace(v, results.size());
      if (fresh)
        results.push_back(v);
      taps.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("key", b.getStringAttr(key)),
           b.getNamedAttr("op", b.getStringAttr(op->getName().getStringRef())),
           b.getNamedAttr("value", b.getStringAttr(what)),
           b.getNamedAttr("output", b.getStringAttr(tapName(it->second - original)))}));
    };
    for (auto &[op, key] : calibration::calibrationKeys(func)) {
      if (auto linear = dyn_cast<moe::LinearOp>(op)) {
        if (isFloatConstant(linear.getWeight()) && !quant::onlyRoutes(linear.getOutput()))
          tap(key, op, "input", linear.getInput());
      } else if (auto experts = dyn_cast<moe::ExpertsOp>(op)) {
        tap(key, op, "input", experts.getInput());
        tap(key, op, "expert_ids", experts.getExpertIds());
      } else if (auto router = dyn_cast<moe::RouterOp>(op)) {
        tap(key, op, "expert_ids", router.getExpertIds());
      }
    }
    func->setAttr("moec.calibration_taps", b.getArrayAttr(taps));
    if (results.size() == original)
      return;
    ret->setOperands(results);
    SmallVector<Type> types;
    for (Value v : results)
      types.push_back(v.getType());
    SmallVector<DictionaryAttr> attrs;
    for (unsigned i = 0; i < original; ++i)
      attrs.push_back(func.getResultAttrDict(i) ? func.getResultAttrDict(i)
                                                : b.getDictionaryAttr({}));
    for (unsigned i = original; i < results.size(); ++i)
      attrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("onnx.name", b.getStringAttr(tapName(i - original)))}));
    func.setType(b.getFunctionType(func.getArgumentTypes(), types));
    func.setAllResultAttrs(attrs);
  }
};

} // namespace
