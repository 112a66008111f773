// moec CUDA GEMMs over quantized weights: the dense linear layer and the two
// grouped expert GEMMs reading int8, packed int4 or fp8-E4M3 weight bytes and
// their float32 scales straight from global memory.
//
// Included at the end of moec_cuda_gemm.cuh (never on its own): the same
// tile machinery runs them with TileConfig's Q set. The B (weight) tile is
// copied to shared memory as stored (cp.async where a row is 16-byte aligned
// and a whole number of 16-byte chunks, byte loads otherwise: int4 rows of
// ceil(K/2) bytes often are not), and the compute core dequantizes each value
// in registers: q -> float -> * scale(n, k / group) -> the storage type's
// pair for mma.sync (or float for the SIMT fallback). Nothing dequantized is
// ever written to global memory. Layouts: see QuantKind in moec_cuda_gemm.cuh.
//
// fp8 decodes with the hardware conversion cvt.rn.f16x2.e4m3x2 (sm_89 and
// newer); instantiating an fp8 GEMM for an older architecture is a compile
// error (the CUDA emitter refuses such a launch first, naming its node).
#ifndef MOEC_CUDA_GEMM_QUANT_CUH
#define MOEC_CUDA_GEMM_QUANT_CUH

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define MOEC_GEMM_HAS_FP8_CVT 1
#else
#define MOEC_GEMM_HAS_FP8_CVT 0
#endif

namespace moec_ck {
namespace gemm {
namespace detail {

// ---- Decoding one shared-memory row of weight bytes ------------------------------

// Rows start 16-byte aligned in shared memory and pair() is called at even k,
// so the 2-byte loads of int8/fp8 pairs are aligned; an int4 pair at even k is
// exactly one byte.
template <> struct QuantFormat<kQuantInt8> {
  __device__ __forceinline__ static void pair(const unsigned char *row, int k, float &lo, float &hi) {
    const unsigned v = *reinterpret_cast<const unsigned short *>(row + quant_byte_of(kQuantInt8, k));
    lo = static_cast<float>(static_cast<signed char>(v & 0xffu));
    hi = static_cast<float>(static_cast<signed char>(v >> 8));
  }
  __device__ __forceinline__ static float one(const unsigned char *row, int k) {
    return static_cast<float>(static_cast<signed char>(row[quant_byte_of(kQuantInt8, k)]));
  }
};

template <> struct QuantFormat<kQuantInt4> {
  __device__ __forceinline__ static void pair(const unsigned char *row, int k, float &lo, float &hi) {
    const unsigned char byte = row[quant_byte_of(kQuantInt4, k)];
    lo = static_cast<float>(unpack_int4(byte, 0));
    hi = static_cast<float>(unpack_int4(byte, 1));
  }
  __device__ __forceinline__ static float one(const unsigned char *row, int k) {
    return static_cast<float>(unpack_int4(row[quant_byte_of(kQuantInt4, k)], quant_nibble_of(kQuantInt4, k)));
  }
};

template <> struct QuantFormat<kQuantFp8> {
  // Two E4M3 bytes (lower k in the low byte) -> their exact f16 values.
  __device__ __forceinline__ static float2 cvt2(unsigned short v) {
#if MOEC_GEMM_HAS_FP8_CVT
    unsigned h;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"(v));
    return __half22float2(*reinterpret_cast<const __half2 *>(&h));
#else
    (void)v;
    return make_float2(0.f, 0.f); // unreachable: fp8 GEMMs static_assert sm_89+
#endif
  }
  __device__ __forceinline__ static void pair(const unsigned char *row, int k, float &lo, float &hi) {
    const float2 f = cvt2(*reinterpret_cast<const unsigned short *>(row + quant_byte_of(kQuantFp8, k)));
    lo = f.x;
    hi = f.y;
  }
  __device__ __forceinline__ static float one(const unsigned char *row, int k) {
    return cvt2(static_cast<unsigned short>(row[quant_byte_of(kQuantFp8, k)])).x;
  }
};

template <int Q> struct QuantSupported {
  static constexpr bool value =
      (Q == kQuantInt8 || Q == kQuantInt4 || Q == kQuantFp8) && (Q != kQuantFp8 || MOEC_GEMM_HAS_FP8_CVT);
};

} // namespace detail

// ---- Public templates -------------------------------------------------------------------
//
// Q is a QuantKind; weights are `const void *` (the wrapper's signed char or
// fp8 byte pointers convert without casts); scales are float32 [rows,
// ceil(K / group)] with the weight's rows; group >= 1 (one scale per row:
// group = K). The float templates' contract holds otherwise.

template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned linear_q_smem_bytes() {
  return quant_tile_smem_bytes(static_cast<int>(sizeof(T)), quant_weight_bits(Q), TM, TN, TK, STAGES, 1);
}
template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_up_q_smem_bytes(int act) {
  return quant_tile_smem_bytes(static_cast<int>(sizeof(T)), quant_weight_bits(Q), TM, TN, TK, STAGES,
                               act == 3 ? 2 : 1);
}
template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_down_q_smem_bytes() {
  return quant_tile_smem_bytes(static_cast<int>(sizeof(T)), quant_weight_bits(Q), TM, TN, TK, STAGES, 1);
}

// Y[M,N] = X[M,K] . dequant(Wq[N, K])^T (+ bias[N]).
template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void linear_q(const T *X, const void *Wq, const float *scale, int group, const T *bias, T *Y, index_t M,
                         index_t K, index_t N) {
  static_assert(detail::QuantSupported<Q>::value, "moec gemm: unknown weight format, or fp8 weights below sm_89");
  typedef detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1, Q> Cfg;
  if (K > detail::kMaxK || group < 1 || detail::dynamic_smem_size() < Cfg::kSmemBytes)
    return;
  detail::LinearProblem<T, unsigned char> prob{
      X, static_cast<const unsigned char *>(Wq), bias, Y, K, N, quant_row_bytes(Q, K), scale, group};
  const index_t items = dense_work_items(M, N, TM, TN);
  for (index_t item = grid_block(); item < items; item += grid_blocks())
    detail::run_tile<T, Cfg>(moec_gemm_smem, prob, dense_tile(item, M, N, TM, TN), K);
}

// moe_gemm_up with quantized fc1 (and fc3): fc1q [E, F1, H] and fc3q [E, I, H]
// as stored (int4: H/2 bytes a row), scales [E, F1 | I, ceil(H / group)].
template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_up_q(const T *X, const int *sorted_slots, const int *expert_offsets, const void *fc1q,
                              const float *fc1_scale, const T *fc1_bias, const void *fc3q, const float *fc3_scale,
                              const T *fc3_bias, T *Hout, index_t tokens, index_t k, index_t experts,
                              index_t hidden, index_t inter, int group, int act, int swiglu_fusion, float alpha,
                              float beta, float limit) {
  static_assert(detail::QuantSupported<Q>::value, "moec gemm: unknown weight format, or fp8 weights below sm_89");
  const bool gated = act == detail::kSwiGLU;
  if (tokens <= 0 || k <= 0 || experts <= 0 || hidden > detail::kMaxK || group < 1)
    return;
  if (act < 0 || act > 4 ||
      (gated && (swiglu_fusion < 0 || swiglu_fusion > 2 || (swiglu_fusion == 0 && (!fc3q || !fc3_scale)))))
    return; // the compiler verified these; never read a missing tensor
  if (detail::dynamic_smem_size() < moe_gemm_up_q_smem_bytes<T, Q, TM, TN, TK, WARPS, STAGES>(act))
    return;
  detail::MoeUpProblem<T, unsigned char> prob{X,
                                              sorted_slots,
                                              static_cast<const unsigned char *>(fc1q),
                                              fc1_bias,
                                              static_cast<const unsigned char *>(fc3q),
                                              fc3_bias,
                                              Hout,
                                              k,
                                              tokens * k,
                                              hidden,
                                              inter,
                                              (gated && swiglu_fusion != 0) ? 2 * inter : inter,
                                              0,
                                              act,
                                              swiglu_fusion,
                                              alpha,
                                              beta,
                                              limit,
                                              quant_row_bytes(Q, hidden),
                                              fc1_scale,
                                              fc3_scale,
                                              group};
  if (gated)
    detail::run_grouped<T, detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 2, Q>>(prob, expert_offsets, experts,
                                                                                  inter, hidden);
  else
    detail::run_grouped<T, detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1, Q>>(prob, expert_offsets, experts,
                                                                                  inter, hidden);
}

// moe_gemm_down with quantized fc2 [E, H, I] (int4: I/2 bytes a row), scales
// [E, H, ceil(I / group)].
template <class T, int Q, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_down_q(const T *Hin, const int *sorted_slots, const int *expert_offsets, const void *fc2q,
                                const float *fc2_scale, const T *fc2_bias, const T *routing_weights, T *Ypart,
                                index_t tokens, index_t k, index_t experts, index_t hidden, index_t inter,
                                int group) {
  static_assert(detail::QuantSupported<Q>::value, "moec gemm: unknown weight format, or fp8 weights below sm_89");
  typedef detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1, Q> Cfg;
  if (tokens <= 0 || k <= 0 || experts <= 0 || inter > detail::kMaxK || group < 1 ||
      detail::dynamic_smem_size() < Cfg::kSmemBytes)
    return;
  detail::MoeDownProblem<T, unsigned char> prob{Hin,   sorted_slots, static_cast<const unsigned char *>(fc2q),
                                                fc2_bias, routing_weights, Ypart, tokens * k, hidden, inter, 0,
                                                quant_row_bytes(Q, inter), fc2_scale, group};
  detail::run_grouped<T, Cfg>(prob, expert_offsets, experts, hidden, inter);
}

} // namespace gemm
} // namespace moec_ck

#endif // MOEC_CUDA_GEMM_QUANT_CUH
