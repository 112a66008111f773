//===- CudaTestModels.h - cubin artifacts for the CUDA tests ---*- C++ -*-===//
//
// The same models as ArtifactBuilder.h's host ones, with target sm_80,
// format "cubin" and GPU launch geometry. Their "cubin" is a valid ELF
// header (machine EM_CUDA) followed by the kernel list the fake driver
// (FakeCudaDriver.h) reads; a real driver rejects it.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TEST_UNIT_RUNTIME_CUDATESTMODELS_H
#define MOEC_TEST_UNIT_RUNTIME_CUDATESTMODELS_H

#include "test/unit/runtime/ArtifactBuilder.h"

namespace moert::test {

/// A 64-byte ELF64 header for EM_CUDA and "FAKECUBIN:" + the names.
std::vector<uint8_t> fakeCubin(const std::vector<std::string> &names);

/// y = x + w; one step with grid_x = ceil(16T / 128), block 128.
ModelSpec cudaAddWeightModel(const std::vector<float> &weights,
                             const std::string &target = "sm_80");

/// y = 4x + w through the arena: scale2 (grid ceil(16T/256) x 1, block
/// 256), scale2 again, then add_weight with 64 KiB of dynamic shared memory
/// (needs the opt-in attribute).
ModelSpec cudaArenaModel(const std::vector<float> &weights,
                         const std::string &target = "sm_80");

/// y[t] = table[ids[t]]; an id out of range sets the status word to 3.
ModelSpec cudaGatherModel(const std::vector<float> &table);

} // namespace moert::test

#endif // MOEC_TEST_UNIT_RUNTIME_CUDATESTMODELS_H
