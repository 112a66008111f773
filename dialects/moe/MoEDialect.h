//===- MoEDialect.h - the moe dialect -----------------------------*- C++ -*-===//
#ifndef MOEC_DIALECTS_MOE_MOEDIALECT_H
#define MOEC_DIALECTS_MOE_MOEDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/moe/MoEOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/moe/MoEOps.h.inc"

#endif // MOEC_DIALECTS_MOE_MOEDIALECT_H
