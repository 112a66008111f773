//===- moec_cuda_attention.cuh - attention kernels (device templates) -----===//
//
// Grouped-query attention with a fixed-capacity KV cache for the cuda target
// (com.microsoft.GroupQueryAttention, past and present sharing one buffer). The
// semantics are the host library's (compiler/host/kernels/moec_host_kernels.h,
// section "Attention", where the rules found against onnxruntime are written
// out); this header repeats only what the device code needs. Two launches:
//
//  1. attention_kv_append: present = past with the seq new rows of each batch
//     row b at positions [past_b, past_b + seq), keys rotated.
//  2. attention: for each (b, s, h) the output row softmax(scale * q_rot . K)
//     over the allowed keys times V, read from present.
//
// Also self_attention (moe.self_attention, a prompt without a cache, heads
// first): one launch, the [S, S] scores never stored (section at the end).
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CUDA_ATTENTION_CUH
#define MOEC_CUDA_ATTENTION_CUH

#include "moec_cuda_kernels.cuh"

namespace moec_ck {

// The same fields as moec_hk::AttentionShape. Strides are elements between
// consecutive (b, s) rows of query / key / value, so packed QKV is only
// pointers and strides. seq == 0 is valid (attention does nothing, the append
// only copies past to present when they differ).
struct AttentionShape {
  index_t batch, seq, num_heads, kv_heads, head_dim, capacity;
  index_t q_stride, k_stride, v_stride;
  index_t rotary_dim, rotary_rows;
  bool interleaved;
  float scale, softcap;
  index_t window;
};

// Status codes besides kErrorBadParameters (2), as on host: each mirrors an
// INVALID_ARGUMENT of onnxruntime.
constexpr int kAttentionBadTotalLength = 3; // total_len < max(1, seq) or > capacity
constexpr int kAttentionBadSeqlens = 4;     // total_b outside [1, capacity], or < seq after a first prompt
constexpr int kAttentionRotaryTooShort = 5; // rotary_rows < total_len or < some total_b

namespace detail {

__device__ __forceinline__ int attention_check_shape(const int *seqlens_k, const int *total_len,
                                                     bool have_rotary_caches, const AttentionShape &s) {
  const bool sizes_ok = s.batch >= 0 && s.seq >= 0 && s.num_heads > 0 && s.kv_heads > 0 &&
                        s.num_heads % s.kv_heads == 0 && s.head_dim > 0 && s.capacity >= 0;
  if (!sizes_ok || s.q_stride < s.num_heads * s.head_dim || s.k_stride < s.kv_heads * s.head_dim ||
      s.v_stride < s.kv_heads * s.head_dim || seqlens_k == nullptr || total_len == nullptr ||
      s.rotary_dim < 0 || s.rotary_dim % 2 != 0 || s.rotary_dim > s.head_dim || !(s.softcap >= 0.f) ||
      (s.rotary_dim > 0 && (!have_rotary_caches || s.rotary_rows < 0)))
    return kErrorBadParameters;
  return 0;
}

// The checks on total_len alone (seq > 0).
__device__ __forceinline__ int attention_check_total(index_t total, const AttentionShape &s) {
  if (total < 1 || total < s.seq || total > s.capacity)
    return kAttentionBadTotalLength;
  if (s.rotary_dim > 0 && s.rotary_rows < total)
    return kAttentionRotaryTooShort;
  return 0;
}

// The checks of one batch row, given total_len passed attention_check_total.
__device__ __forceinline__ int attention_check_row(index_t total_b, index_t total,
                                                   const AttentionShape &s) {
  if (total_b < 1 || total_b > s.capacity || (total != s.seq && total_b < s.seq))
    return kAttentionBadSeqlens;
  if (s.rotary_dim > 0 && s.rotary_rows < total_b)
    return kAttentionRotaryTooShort;
  return 0;
}

// Element d of row x rotated for position pos (rotary_dim 0 or d >= rotary_dim:
// x[d] itself). Reads the partner element of the pair from memory, so a lane
// needs no other lane's data.
template <class T, class TC>
__device__ __forceinline__ float attention_rotated(const T *x, index_t d, index_t pos, const TC *cos_cache,
                                                   const TC *sin_cache, const AttentionShape &s) {
  const float v = to_float(x[d]);
  if (d >= s.rotary_dim)
    return v;
  const index_t half = s.rotary_dim / 2;
  bool lead;
  index_t pair, partner;
  if (s.interleaved) {
    lead = (d & 1) == 0;
    pair = d >> 1;
    partner = d ^ 1;
  } else {
    lead = d < half;
    pair = lead ? d : d - half;
    partner = lead ? d + half : d - half;
  }
  const float c = to_float(cos_cache[pos * half + pair]), sn = to_float(sin_cache[pos * half + pair]);
  const float w = to_float(x[partner]);
  // (first, second) -> (first c - second s, first s + second c)
  return lead ? v * c - w * sn : w * sn + v * c;
}

} // namespace detail

// present = past with this step's rows at [past_b, past_b + seq) (keys
// rotated). One warp per cache row of head_dim elements, lanes over the row
// (coalesced). When past and present are the same buffers only the new rows are
// visited; otherwise every cache row is written exactly once (new or copied),
// so there is no order between a copy and an overwrite to get wrong. A data
// error is reported and the affected new rows are not written (outputs are then
// unspecified, but nothing is written out of bounds).
template <class T, class TC, int BLOCK>
__device__ void attention_kv_append(const T *key, const T *value, const T *past_key, const T *past_value,
                                    const int *seqlens_k, const int *total_len, const TC *cos_cache,
                                    const TC *sin_cache, T *present_key, T *present_value,
                                    const AttentionShape &s, int *status) {
  static_assert(BLOCK % kWarp == 0, "attention_kv_append: BLOCK must be a multiple of 32");
  const bool first_thread = grid_thread<BLOCK>() == 0;
  if (int err = detail::attention_check_shape(seqlens_k, total_len,
                                              cos_cache != nullptr && sin_cache != nullptr, s)) {
    if (first_thread)
      report_error(status, err);
    return;
  }
  const index_t KV = s.kv_heads, C = s.capacity, HD = s.head_dim, S = s.seq;
  const index_t total = S > 0 ? static_cast<index_t>(*total_len) : 0;
  if (S > 0)
    if (int err = detail::attention_check_total(total, s)) {
      if (first_thread)
        report_error(status, err);
      return;
    }
  const bool copy_k = past_key != present_key, copy_v = past_value != present_value;
  const bool new_rows_only = !copy_k && !copy_v;
  if (new_rows_only && S == 0)
    return;
  // Rows visited: (b, g, t) over the new rows, or (b, g, j) over the cache.
  const index_t per_head = new_rows_only ? S : C;
  const index_t rows = s.batch * KV * per_head;
  const int lane = lane_id();
  for (index_t row = grid_warp<BLOCK>(); row < rows; row += grid_warps<BLOCK>()) {
    const index_t bg = row / per_head, r = row - bg * per_head, b = bg / KV, g = bg - b * KV;
    // This row's first new position, or -1 when there are none (seq == 0, bad data).
    index_t past = -1;
    if (S > 0) {
      const index_t total_b = static_cast<index_t>(seqlens_k[b]) + 1;
      if (int err = detail::attention_check_row(total_b, total, s)) {
        if (lane == 0)
          report_error(status, err);
      } else {
        past = total == S ? 0 : total_b - S;
      }
    }
    if (new_rows_only && past < 0)
      continue;
    const index_t j = new_rows_only ? past + r : r; // cache position
    const index_t t = j - past;                     // new-row index when past >= 0 and t < S
    T *pk = present_key + (bg * C + j) * HD, *pv = present_value + (bg * C + j) * HD;
    if (past >= 0 && t >= 0 && t < S) {
      const T *k = key + (b * S + t) * s.k_stride + g * HD;
      const T *v = value + (b * S + t) * s.v_stride + g * HD;
      for (index_t d = lane; d < HD; d += kWarp) {
        pk[d] = from_float<T>(detail::attention_rotated(k, d, j, cos_cache, sin_cache, s));
        pv[d] = v[d];
      }
    } else {
      const T *qk = past_key + (bg * C + j) * HD, *qv = past_value + (bg * C + j) * HD;
      for (index_t d = lane; d < HD; d += kWarp) {
        if (copy_k)
          pk[d] = qk[d];
        if (copy_v)
          pv[d] = qv[d];
      }
    }
  }
}

// Keys one warp scores per step of the online softmax: their loads and
// shuffle reductions are independent, so they overlap.
constexpr int kAttentionKeysPerStep = 4;

// output [batch, seq, num_heads * HD] (HD == s.head_dim, at most 256) from
// query rows (stride q_stride) and the present cache. One warp per (b, s, h)
// row, grid-stride over batch * seq * num_heads rows. Lane l holds elements
// l, l + 32, ... of the rotated, pre-scaled query in registers (lanes past HD
// idle: a head size that is not a multiple of 32 wastes lanes, it is not
// refused), so every K / V row load is coalesced. Online softmax in
// f32 and base 2: the scale (and log2 e) is folded into the query, or, with a
// softcap, applied through tanh. A row with no allowed key is written 0; a row
// of a bad batch row is reported and written 0.
template <class T, class TC, int BLOCK, int HD>
__device__ void attention(const T *query, const T *present_key, const T *present_value,
                          const int *seqlens_k, const int *total_len, const TC *cos_cache,
                          const TC *sin_cache, T *output, const AttentionShape &s, int *status) {
  static_assert(BLOCK % kWarp == 0, "attention: BLOCK must be a multiple of 32");
  static_assert(HD >= 1 && HD <= 256, "attention: HD must be in [1, 256]");
  constexpr int kElems = (HD + kWarp - 1) / kWarp; // per lane
  constexpr int kKeys = kAttentionKeysPerStep;
  constexpr float kLog2e = 1.4426950408889634f;
  const bool first_thread = grid_thread<BLOCK>() == 0;
  int err = detail::attention_check_shape(seqlens_k, total_len,
                                          cos_cache != nullptr && sin_cache != nullptr, s);
  if (err == 0 && s.head_dim != HD)
    err = kErrorBadParameters;
  if (err != 0) {
    if (first_thread)
      report_error(status, err);
    return;
  }
  if (s.batch == 0 || s.seq == 0)
    return;
  const index_t S = s.seq, N = s.num_heads, C = s.capacity, group = N / s.kv_heads;
  const index_t total = *total_len;
  if (int e = detail::attention_check_total(total, s)) {
    if (first_thread)
      report_error(status, e);
    return;
  }
  const bool capped = s.softcap > 0.f;
  // Scores in base 2: capped: (softcap log2 e) tanh(q . k scale / softcap);
  // else q . k (scale log2 e).
  const float q_scale = capped ? s.scale / s.softcap : s.scale * kLog2e;
  const float cap2 = s.softcap * kLog2e;
  const int lane = lane_id();
  const index_t rows = s.batch * S * N;
  for (index_t row = grid_warp<BLOCK>(); row < rows; row += grid_warps<BLOCK>()) {
    const index_t bs = row / N, h = row - bs * N, b = bs / S, t = bs - b * S;
    T *out = output + row * HD;
    const index_t total_b = static_cast<index_t>(seqlens_k[b]) + 1;
    index_t first = 0, last = -1, p = 0;
    if (int e = detail::attention_check_row(total_b, total, s)) {
      if (lane == 0)
        report_error(status, e);
    } else {
      p = (total == S ? 0 : total_b - S) + t;
      last = p < total_b - 1 ? p : total_b - 1;
      if (s.window > 0 && p - s.window + 1 > first)
        first = p - s.window + 1;
    }
    float acc[kElems];
#pragma unroll
    for (int i = 0; i < kElems; ++i)
      acc[i] = 0.f;
    if (first <= last) { // warp uniform
      const T *qrow = query + bs * s.q_stride + h * HD;
      float q[kElems];
#pragma unroll
      for (int i = 0; i < kElems; ++i) {
        const int d = lane + i * kWarp;
        q[i] = d < HD ? detail::attention_rotated(qrow, d, p, cos_cache, sin_cache, s) * q_scale : 0.f;
      }
      const index_t kv = (b * s.kv_heads + h / group) * C * HD;
      const T *K = present_key + kv, *V = present_value + kv;
      float m = -float_infinity(), l = 0.f;
      for (index_t j0 = first; j0 <= last; j0 += kKeys) {
        float score[kKeys];
#pragma unroll
        for (int u = 0; u < kKeys; ++u) {
          // Past the last key: load the last row again (always in bounds) and drop it below.
          const index_t j = j0 + u <= last ? j0 + u : last;
          float partial = 0.f;
#pragma unroll
          for (int i = 0; i < kElems; ++i) {
            const int d = lane + i * kWarp;
            if (d < HD)
              partial = fmaf(q[i], to_float(K[j * HD + d]), partial);
          }
          score[u] = partial;
        }
#pragma unroll
        for (int offset = kWarp / 2; offset > 0; offset /= 2)
#pragma unroll
          for (int u = 0; u < kKeys; ++u)
            score[u] += __shfl_xor_sync(kFullMask, score[u], offset);
        // The xor tree gives every lane the same bits, so m and l stay uniform.
        float step_max = m;
#pragma unroll
        for (int u = 0; u < kKeys; ++u) {
          if (capped)
            score[u] = cap2 * tanhf(score[u]);
          if (j0 + u > last)
            score[u] = -float_infinity();
          step_max = fmaxf(step_max, score[u]);
        }
        const float correction = exp2f(m - step_max); // m = -inf: 0, and acc, l are 0
        l *= correction;
#pragma unroll
        for (int i = 0; i < kElems; ++i)
          acc[i] *= correction;
#pragma unroll
        for (int u = 0; u < kKeys; ++u) {
          const float w = exp2f(score[u] - step_max); // dropped keys: exp2(-inf) = 0
          l += w;
          const index_t j = j0 + u <= last ? j0 + u : last;
#pragma unroll
          for (int i = 0; i < kElems; ++i) {
            const int d = lane + i * kWarp;
            if (d < HD)
              acc[i] = fmaf(w, to_float(V[j * HD + d]), acc[i]);
          }
        }
        m = step_max;
      }
      const float inv = 1.f / l;
#pragma unroll
      for (int i = 0; i < kElems; ++i)
        acc[i] *= inv;
    }
#pragma unroll
    for (int i = 0; i < kElems; ++i) {
      const int d = lane + i * kWarp;
      if (d < HD)
        out[d] = from_float<T>(acc[i]);
    }
  }
}

// ---- Rotary position embedding (com.microsoft.RotaryEmbedding) --------------------

// The host library's RotaryShape (same fields): x [batch, seq, heads,
// head_size] or, heads_first, [batch, heads, seq, head_size]; positions
// [batch, seq] (per_token) or one offset.
struct RotaryShape {
  index_t batch, seq, heads, head_size, rotary_dim, rows;
  bool interleaved, heads_first, per_token;
};

// One thread per element (grid-stride): the element and its rotation partner
// are read from X, so Y must not alias X. A position outside [0, rows)
// reports kErrorIndexOutOfRange and leaves that row unwritten.
template <class T, class TC, int BLOCK>
__device__ void rotary(const T *X, const int64 *positions, const TC *cos_cache, const TC *sin_cache,
                       T *Y, const RotaryShape &s, int *status) {
  AttentionShape rot{};
  rot.head_dim = s.head_size;
  rot.rotary_dim = s.rotary_dim;
  rot.interleaved = s.interleaved;
  const index_t total = s.batch * s.seq * s.heads * s.head_size;
  for (index_t i = grid_thread<BLOCK>(); i < total; i += grid_threads<BLOCK>()) {
    const index_t row = i / s.head_size, d = i - row * s.head_size;
    index_t b, t;
    if (s.heads_first) {
      t = row % s.seq;
      b = row / (s.seq * s.heads);
    } else {
      b = row / (s.seq * s.heads);
      t = (row / s.heads) % s.seq;
    }
    const int64 p = s.per_token ? positions[b * s.seq + t] : positions[0] + t;
    if (p < 0 || p >= s.rows) {
      report_error(status, kErrorIndexOutOfRange);
      continue;
    }
    Y[i] = from_float<T>(detail::attention_rotated(X + row * s.head_size, d, p, cos_cache,
                                                   sin_cache, rot));
  }
}

// ---- Self attention (moe.self_attention: causal GQA of a prompt over itself) --------
//
// The host library's self_attention on the GPU; the semantics are written out
// in section "Self attention" of moec_host_kernels.h: query [batch, num_heads,
// seq, D], key [batch, kv_heads, seq, D], value [batch, kv_heads, seq, DV],
// output [batch, num_heads, seq, DV], query i attends keys j <= i (and
// i - j < window when window > 0), optional softcap, optional per-head sinks
// in the softmax denominator. Nothing of size [seq, seq] is ever stored.
struct SelfAttentionShape {
  index_t batch, seq, num_heads, kv_heads, head_dim, value_dim;
  float scale, softcap;
  index_t window; // 0: no window
};

// Keys staged in shared memory per step (as f32, converted once per block):
// as many as fit the K and V tiles in 32 KB, at most 32, a multiple of 4
// (D, DV <= 256 give at least 16).
template <int D, int DV> struct SelfAttentionStage {
  static constexpr int kFit = 32768 / ((D + DV) * 4);
  static constexpr int kKeys = kFit >= 32 ? 32 : kFit / 4 * 4;
  static_assert(kKeys >= 4, "self_attention: D + DV too large for the shared-memory stage");
};

// Keys one warp scores per step of the online softmax (independent shuffle
// trees that overlap). Two, not attention's four: with four, NVRTC's ptxas
// (CUDA 13) picks 48 registers for D = DV = 64 on sm_80/sm_89 and spills a few
// loop invariants; the keys come from shared memory here, so the deeper
// overlap buys less.
constexpr int kSelfAttentionKeysPerStep = 2;

// A block takes a tile of BLOCK / 32 consecutive query rows of one (b, h), one
// warp per row, grid-stride over batch * num_heads * ceil(seq / (BLOCK / 32))
// tiles. The block walks the keys the tile needs (from the oldest key of its
// first row's window to its last row) in stages of kKeys keys: all threads copy
// the stage's K and V rows into shared memory (coalesced, once per block rather
// than once per warp), then each warp scores the stage's keys its own row may
// see. Lane l holds elements l, l + 32, ... of the pre-scaled query and of the
// output accumulator in registers, so D and DV (each 1..256; they may differ,
// e.g. DeepSeek MLA's 16 and 8) are template parameters. Online softmax in f32
// and base 2 with the scale folded into the query (with a softcap, applied
// through tanh); the sink joins the denominator at the end. Every stage's
// bounds are block uniform, so all threads reach every __syncthreads.
// Compiled by NVRTC in the tests; not run on a GPU there (none on the build
// machine): the host kernel is the numeric reference it must match.
template <class T, int BLOCK, int D, int DV>
__device__ void self_attention(const T *query, const T *key, const T *value, const float *sinks,
                               T *output, const SelfAttentionShape &s, int *status) {
  static_assert(BLOCK % kWarp == 0 && BLOCK >= kWarp, "self_attention: BLOCK must be a multiple of 32");
  static_assert(D >= 1 && D <= 256 && DV >= 1 && DV <= 256, "self_attention: D and DV must be in [1, 256]");
  constexpr int kRows = BLOCK / kWarp;
  constexpr int kKeys = SelfAttentionStage<D, DV>::kKeys;
  constexpr int kStep = kSelfAttentionKeysPerStep;
  constexpr int kQ = (D + kWarp - 1) / kWarp, kV = (DV + kWarp - 1) / kWarp; // per lane
  constexpr float kLog2e = 1.4426950408889634f;
  __shared__ float k_stage[kKeys * D];
  __shared__ float v_stage[kKeys * DV];
  const bool sizes_ok = s.batch >= 0 && s.seq >= 0 && s.num_heads > 0 && s.kv_heads > 0 &&
                        s.num_heads % s.kv_heads == 0 && s.head_dim == D && s.value_dim == DV &&
                        s.softcap >= 0.f && s.window >= 0 && s.seq < 0x7fffffff - kRows;
  if (!sizes_ok) {
    if (grid_thread<BLOCK>() == 0)
      report_error(status, kErrorBadParameters);
    return;
  }
  if (s.batch == 0 || s.seq == 0)
    return;
  const index_t S = s.seq, N = s.num_heads, KV = s.kv_heads, group = N / KV;
  const index_t row_tiles = (S + kRows - 1) / kRows, tiles = s.batch * N * row_tiles;
  const bool capped = s.softcap > 0.f;
  // Scores in base 2: capped: (softcap log2 e) tanh(q . k scale / softcap);
  // else q . k (scale log2 e).
  const float q_scale = capped ? s.scale / s.softcap : s.scale * kLog2e;
  const float cap2 = s.softcap * kLog2e;
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = lane_id();
  // Positions within a sequence are int (seq < 2^31, checked above): fewer
  // 64-bit values live across the key loop (ptxas spilled one otherwise).
  const int window = static_cast<int>(s.window < S ? s.window : S);
  for (index_t tile = grid_block(); tile < tiles; tile += grid_blocks()) {
    const index_t bh = tile / row_tiles;
    const int i0 = static_cast<int>(tile - bh * row_tiles) * kRows;
    const index_t b = bh / N, h = bh - b * N;
    const int tile_last = (i0 + kRows < S ? i0 + kRows : static_cast<int>(S)) - 1;
    const int tile_first = window > 0 && i0 - window + 1 > 0 ? i0 - window + 1 : 0;
    const int i = i0 + warp;   // this warp's query row
    const bool active = i < S; // warp uniform
    const int first = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
    const index_t kv = b * KV + h / group;
    const T *K = key + kv * S * D, *V = value + kv * S * DV;
    float q[kQ], acc[kV];
#pragma unroll
    for (int e = 0; e < kQ; ++e) {
      const int d = lane + e * kWarp;
      q[e] = active && d < D ? to_float(query[(bh * S + i) * D + d]) * q_scale : 0.f;
    }
#pragma unroll
    for (int e = 0; e < kV; ++e)
      acc[e] = 0.f;
    float m = -float_infinity(), l = 0.f;
    for (int j0 = tile_first; j0 <= tile_last; j0 += kKeys) { // block uniform
      const int count = tile_last - j0 + 1 < kKeys ? tile_last - j0 + 1 : kKeys;
      __syncthreads(); // the previous stage (or tile) is consumed
      const T *k_rows = K + static_cast<index_t>(j0) * D, *v_rows = V + static_cast<index_t>(j0) * DV;
      for (int e = threadIdx.x; e < count * D; e += BLOCK)
        k_stage[e] = to_float(k_rows[e]);
      for (int e = threadIdx.x; e < count * DV; e += BLOCK)
        v_stage[e] = to_float(v_rows[e]);
      __syncthreads();
      if (!active)
        continue;
      // This row's keys within the stage, as stage rows [r_lo, r_hi].
      const int r_lo = first > j0 ? first - j0 : 0;
      const int r_hi = i - j0 < count - 1 ? i - j0 : count - 1;
      for (int r0 = r_lo; r0 <= r_hi; r0 += kStep) {
        float score[kStep];
#pragma unroll
        for (int u = 0; u < kStep; ++u) {
          // Past r_hi: score row r_hi again (in the stage) and drop it below.
          const int r = r0 + u <= r_hi ? r0 + u : r_hi;
          float partial = 0.f;
#pragma unroll
          for (int e = 0; e < kQ; ++e) {
            const int d = lane + e * kWarp;
            if (d < D)
              partial = fmaf(q[e], k_stage[r * D + d], partial);
          }
          score[u] = partial;
        }
#pragma unroll
        for (int offset = kWarp / 2; offset > 0; offset /= 2)
#pragma unroll
          for (int u = 0; u < kStep; ++u)
            score[u] += __shfl_xor_sync(kFullMask, score[u], offset);
        // The xor tree gives every lane the same bits, so m and l stay uniform.
        float step_max = m;
#pragma unroll
        for (int u = 0; u < kStep; ++u) {
          if (capped)
            score[u] = cap2 * tanhf(score[u]);
          if (r0 + u > r_hi)
            score[u] = -float_infinity();
          step_max = fmaxf(step_max, score[u]);
        }
        const float correction = exp2f(m - step_max); // m = -inf: 0, and acc, l are 0
        l *= correction;
#pragma unroll
        for (int e = 0; e < kV; ++e)
          acc[e] *= correction;
#pragma unroll
        for (int u = 0; u < kStep; ++u) {
          const float w = exp2f(score[u] - step_max); // dropped keys: exp2(-inf) = 0
          l += w;
          const int r = r0 + u <= r_hi ? r0 + u : r_hi;
#pragma unroll
          for (int e = 0; e < kV; ++e) {
            const int d = lane + e * kWarp;
            if (d < DV)
              acc[e] = fmaf(w, v_stage[r * DV + d], acc[e]);
          }
        }
        m = step_max;
      }
    }
    if (!active)
      continue;
    // Every row saw at least its own key, so m is finite here.
    if (sinks != nullptr) {
      const float sink = sinks[h] * kLog2e, top = fmaxf(m, sink);
      const float correction = exp2f(m - top);
      l = l * correction + exp2f(sink - top);
#pragma unroll
      for (int e = 0; e < kV; ++e)
        acc[e] *= correction;
    }
    const float inv = 1.f / l;
    T *out = output + (bh * S + i) * DV;
#pragma unroll
    for (int e = 0; e < kV; ++e) {
      const int d = lane + e * kWarp;
      if (d < DV)
        out[d] = from_float<T>(acc[e] * inv);
    }
  }
}

} // namespace moec_ck

#endif // MOEC_CUDA_ATTENTION_CUH
