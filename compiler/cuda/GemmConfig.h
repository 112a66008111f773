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

// One configuration per architecture and GEMM kind. The MoE GEMMs use a
// short row tile: in decode each expert sees a handful of rows, and a tall
// tile would mostly multiply padding. The dense linear layer (router,
// projections) uses a square-ish tile.
inline GemmConfig gemmConfigFor(const char *arch, bool moe, int elemBytes) {
  bool hopper = std::strcmp(arch, "sm_90a") == 0;
  bool bigSmem = hopper || std::strcmp(arch, "sm_80") == 0;
  if (elemBytes == 4) // SIMT fallback for f32 storage
    return moe ? GemmConfig{32, 64, 16, 4, 2} : GemmConfig{64, 64, 16, 4, 2};
  if (moe)
    return GemmConfig{32, bigSmem ? 128 : 64, 64, 4, bigSmem ? 4 : 3};
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
