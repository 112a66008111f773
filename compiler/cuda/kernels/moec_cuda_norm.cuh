//===- moec_cuda_norm.cuh - normalization kernels (device templates) ------===//
//
// RMS normalization for the cuda target. Kept apart from the SIMT kernel
// library so each header stays one family; it uses that library's helpers
// (storage conversions, warp indexing).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CUDA_NORM_CUH
#define MOEC_CUDA_NORM_CUH

#include "moec_cuda_kernels.cuh"

namespace moec_ck {

// y = x / sqrt(mean(x^2) + eps) * scale over each of `rows` rows of `cols`
// elements (scale null: 1). One warp per row: lanes stride the row (adjacent
// lanes, adjacent addresses), the sum of squares is reduced with shuffles in
// f32 and the row is read a second time, from L1/L2, to write y. The xor
// reduction leaves every lane the same bits, so all lanes scale identically.
template <class TIn, class TScale, class TOut, int BLOCK>
__device__ void rms_norm(const TIn *X, const TScale *scale, TOut *Y, index_t rows, index_t cols,
                         float epsilon) {
  static_assert(BLOCK % kWarp == 0, "rms_norm: BLOCK must be a multiple of 32");
  if (rows <= 0 || cols <= 0)
    return;
  const int lane = lane_id();
  for (index_t row = grid_warp<BLOCK>(); row < rows; row += grid_warps<BLOCK>()) {
    const TIn *x = X + row * cols;
    TOut *y = Y + row * cols;
    float sum_sq = 0.f;
    for (index_t c = lane; c < cols; c += kWarp) {
      const float v = to_float(x[c]);
      sum_sq = fmaf(v, v, sum_sq);
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
      sum_sq += __shfl_xor_sync(kFullMask, sum_sq, offset);
    // 1/sqrtf, not rsqrtf: the host computes the correctly rounded value and
    // f32 models are checked against it at 1e-4.
    const float inv = 1.f / sqrtf(sum_sq / static_cast<float>(cols) + epsilon);
    for (index_t c = lane; c < cols; c += kWarp) {
      const float v = to_float(x[c]) * inv;
      y[c] = from_float<TOut>(scale != nullptr ? v * to_float(scale[c]) : v);
    }
  }
}

// rms_norm of x + residual, also writing that sum S (the residual stream):
// one warp per row; each lane writes S[c] rounded to TIn and squares the
// rounded value (as an unfused add + norm would), then reads its own S[c]
// back for the second pass. One launch and one read of S fewer than add +
// rms_norm.
template <class TIn, class TScale, class TOut, int BLOCK>
__device__ void rms_norm_residual(const TIn *X, const TIn *R, const TScale *scale, TOut *Y, TIn *S,
                                  index_t rows, index_t cols, float epsilon) {
  static_assert(BLOCK % kWarp == 0, "rms_norm_residual: BLOCK must be a multiple of 32");
  if (rows <= 0 || cols <= 0)
    return;
  const int lane = lane_id();
  for (index_t row = grid_warp<BLOCK>(); row < rows; row += grid_warps<BLOCK>()) {
    const TIn *x = X + row * cols, *res = R + row * cols;
    TIn *s = S + row * cols;
    TOut *y = Y + row * cols;
    float sum_sq = 0.f;
    for (index_t c = lane; c < cols; c += kWarp) {
      const TIn v = from_float<TIn>(to_float(x[c]) + to_float(res[c]));
      s[c] = v;
      const float f = to_float(v);
      sum_sq = fmaf(f, f, sum_sq);
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
      sum_sq += __shfl_xor_sync(kFullMask, sum_sq, offset);
    const float inv = 1.f / sqrtf(sum_sq / static_cast<float>(cols) + epsilon);
    for (index_t c = lane; c < cols; c += kWarp) {
      const float v = to_float(s[c]) * inv;
      y[c] = from_float<TOut>(scale != nullptr ? v * to_float(scale[c]) : v);
    }
  }
}

} // namespace moec_ck

#endif // MOEC_CUDA_NORM_CUH
