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
#include "compiler/cuda/kernels/moec_cuda_gemm_sm90.cuh"
#undef MOEC_CK_GEMM_INDEX_ONLY

#include <cstring>

namespace moec_cuda {

struct GemmConfig {
  int tm, tn, tk, warps, stages;
};

// Token counts up to this use the decode tiles; above it, the prefill tiles.
// 64 tokens with top-k routing leave each expert a few dozen rows at most,
// where a 128-row tile would mostly multiply padding.
inline constexpr long long kDecodeMaxTokens = 64;

// Tile configuration per GEMM kind and token-count bucket:
//  - decode: 16x32x64, 4 warps, 6 stages for every 16-bit GEMM: short row
//    tiles (each expert sees a handful of rows) and narrow column tiles, so
//    there are enough blocks to cover the SMs while weights stream once
//    (41 KB of shared memory, 69 KB for the SwiGLU up-projection).
//  - prefill: 128x128x32, 8 warps, 4 stages (80 KB); the SwiGLU
//    up-projection computes gate and linear tiles together, so 128x64.
//  - f32 storage runs the SIMT fallback, one configuration (TK = 16 for
//    the MoE GEMMs: at 32, ptxas spilled the down-projection on sm_90a).
// The same tiles fit every target's shared memory (sm_86/sm_89: 99 KB).
//
// Quantized weights (wbits = 8 for int8/fp8, 4 for int4; 0 = 16-bit or
// float weights) are copied to shared memory as stored bytes, so what a
// stage holds per weight row is TK * wbits / 8 bytes, and a B row must be
// whole 16-byte chunks (int4: TK % 32 == 0):
//  - decode: the 16-bit tile, TK = 64: 64 bytes a weight row per stage for
//    int8/fp8, 32 (two 16-byte chunks) for int4. TK = 128 for int4 (64 bytes
//    a row, as many bytes in flight as int8) was tried: its 8 unrolled k
//    steps made ptxas spill the int4 down-projection on sm_90a.
//  - prefill keeps the 16-bit tiles (TK = 32: 16 bytes an int4 row): it is
//    tensor-core bound and the per-k-step dequantization is amortized over
//    128 rows.
//  - f32 storage (SIMT): TK = 32 for every quantized GEMM, the smallest K
//    tile whose int4 row is a whole 16-byte chunk.
inline GemmConfig gemmConfigFor(bool moe, bool swigluUp, int elemBytes, bool prefill,
                                int wbits = 0) {
  if (elemBytes == 4) {
    if (wbits)
      return moe ? GemmConfig{16, 32, 32, 4, 4} : GemmConfig{64, 64, 32, 4, 2};
    return moe ? GemmConfig{16, 32, 16, 4, 4} : GemmConfig{64, 64, 16, 4, 2};
  }
  if (!prefill)
    return GemmConfig{16, 32, 64, 4, 6};
  return swigluUp ? GemmConfig{128, 64, 32, 8, 4} : GemmConfig{128, 128, 32, 8, 4};
}

inline unsigned linearSmemBytes(const GemmConfig &c, int elemBytes, int wbits = 0) {
  return moec_ck::gemm::quant_tile_smem_bytes(elemBytes, wbits, c.tm, c.tn, c.tk, c.stages, 1);
}

// The up-projection of a SwiGLU expert loads gate and linear weight tiles
// together (two B tile sets); everything else loads one.
inline unsigned moeGemmSmemBytes(const GemmConfig &c, int elemBytes, bool upWithTwoSets,
                                 int wbits = 0) {
  return moec_ck::gemm::quant_tile_smem_bytes(elemBytes, wbits, c.tm, c.tn, c.tk, c.stages,
                                              upWithTwoSets ? 2 : 1);
}

// Hopper wgmma kernels (moec_cuda_gemm_sm90.cuh; opt-in with
// --gpu-gemm=wgmma until a GPU run validates them; GEMMs over quantized
// weights always use the mma.sync kernels above). Their rules: TK = 64,
// TM a multiple of 64 (one consumer warpgroup per 64 rows), WARPS =
// 4 * TM / 64 + 1 (one producer warp). Decode: 64-row tiles; prefill: 128.
// SwiGLU up-projections use half-width column tiles (gate and linear tiles
// share the stage).
inline GemmConfig sm90GemmConfigFor(bool swigluUp, bool prefill) {
  if (!prefill)
    return GemmConfig{64, swigluUp ? 64 : 128, 64, 5, 6};
  return GemmConfig{128, swigluUp ? 64 : 128, 64, 9, 4};
}

inline unsigned sm90SmemBytes(const GemmConfig &c, bool twoSets) {
  return moec_ck::sm90::pipeline_smem_bytes(c.tm, c.tn, c.stages, twoSets ? 2 : 1);
}

} // namespace moec_cuda

#endif // MOEC_COMPILER_CUDA_GEMMCONFIG_H
