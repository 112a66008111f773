//===- GemmConfig.h - tile configurations of the CUDA GEMMs -----*- C++ -*-===//
//
// Which tile shape each architecture's GEMMs are instantiated with, and the
// dynamic shared memory that shape needs. The byte count comes from the
// device header's own formula (moec_cuda_gemm.cuh in its host-only index
// mode), so the emitter and the kernel can never disagree about it.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_COMPILER_CUDA_GEMMCONFIG_H
#define MOEC_COMPILER_CUDA_GEMMCONFIG_H

#define MOEC_CK_GEMM_INDEX_ONLY
#include "compiler/cuda/kernels/moec_cuda_gemm.cuh"
#undef MOEC_CK_GEMM_INDEX_ONLY

#include <cstring>

namespace moec_cuda {

struct GemmConfig {
  int tm, tn, tk, warps, stages;
};

// One configuration per architecture and GEMM kind (per token-count bucket
// is the next step: the artifact has one kernel per launch today).
//  - MoE grouped GEMMs use the decode tile: in decode each expert sees a
//    handful of rows, a tall tile would mostly multiply padding, and narrow
//    column tiles give enough blocks to cover the SMs (16x32x64, 6 stages:
//    41 KB of shared memory, 69 KB for the SwiGLU up-projection, which fits
//    every target's limit).
//  - The dense linear layer uses a 64x128 tile.
//  - f32 storage runs the SIMT fallback with half the K depth.
inline GemmConfig gemmConfigFor(const char *arch, bool moe, int elemBytes) {
  bool hopper = std::strcmp(arch, "sm_90a") == 0;
  if (elemBytes == 4)
    return moe ? GemmConfig{16, 32, 32, 4, 4} : GemmConfig{64, 64, 16, 4, 2};
  if (moe)
    return GemmConfig{16, 32, 64, 4, 6};
  return GemmConfig{64, 128, 32, 4, hopper ? 4 : 3};
}

inline unsigned linearSmemBytes(const GemmConfig &c, int elemBytes) {
  return moec_ck::gemm::tile_smem_bytes(elemBytes, c.tm, c.tn, c.tk, c.stages, 1);
}

// The up-projection of a SwiGLU expert loads gate and linear weight tiles
// together (two B tile sets); everything else loads one.
inline unsigned moeGemmSmemBytes(const GemmConfig &c, int elemBytes, bool upWithTwoSets) {
  return moec_ck::gemm::tile_smem_bytes(elemBytes, c.tm, c.tn, c.tk, c.stages,
                                        upWithTwoSets ? 2 : 1);
}

} // namespace moec_cuda

#endif // MOEC_COMPILER_CUDA_GEMMCONFIG_H
