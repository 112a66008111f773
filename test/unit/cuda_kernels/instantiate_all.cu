// Instantiates every template of compiler/cuda/kernels/moec_cuda_kernels.cuh
// (and of the family headers beside it: norm, attention) with every storage /
// index type it supports, inside `extern "C" __global__`
// wrappers shaped like the ones moec's CUDA emitter generates: one
// moec_cuda_args parameter, sizes computed from args.tokens, shapes in local
// const arrays, the status word in args.ptr[23], __launch_bounds__(BLOCK).
//
// The compile test (CudaKernelsCompileTest.cpp) compiles this file with NVRTC
// for each target architecture and checks the ptxas resource report of every
// entry. Names: <template>_<type>[_<index type>].
#include "moec_cuda_attention.cuh"
#include "moec_cuda_kernels.cuh"
#include "moec_cuda_norm.cuh"

using moec_ck::index_t;
using moec_ck::int64;

#define MOEC_ARG(i, Type) static_cast<Type>(args.ptr[i])
#define MOEC_STATUS static_cast<int *>(args.ptr[moec_ck::kStatusSlot])
#define MOEC_KERNEL(name, block) extern "C" __global__ void __launch_bounds__(block) name(moec_cuda_args args)

MOEC_KERNEL(copy_bytes_b256, 256) {
  moec_ck::copy_bytes<256>(MOEC_ARG(0, const void *), MOEC_ARG(1, void *), args.tokens * 4096);
}

// ---- Templates on floating storage (float accumulation) ----------------------------

#define MOEC_FLOAT_KERNELS(T, tag)                                                                 \
  MOEC_KERNEL(rms_norm_##tag, 256) {                                                               \
    moec_ck::rms_norm<T, T, T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *), MOEC_ARG(2, T *), \
                                    args.tokens, 4096, 1e-6f);                                     \
  }                                                                                                \
  MOEC_KERNEL(rms_norm_residual_##tag, 256) {                                                      \
    moec_ck::rms_norm_residual<T, T, T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *),       \
                                             MOEC_ARG(2, const T *), MOEC_ARG(3, T *),             \
                                             MOEC_ARG(4, T *), args.tokens, 4096, 1e-6f);          \
  }                                                                                                \
  MOEC_KERNEL(softmax_##tag, 256) {                                                                \
    moec_ck::softmax<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), args.tokens, 128, 1);       \
  }                                                                                                \
  MOEC_KERNEL(softmax_inner_##tag, 256) {                                                          \
    moec_ck::softmax<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), args.tokens, 16, 8);        \
  }                                                                                                \
  MOEC_KERNEL(topk_##tag, 128) {                                                                   \
    moec_ck::topk<T, 128>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), MOEC_ARG(2, int64 *),          \
                          args.tokens, 64, 1, 8, true);                                            \
  }                                                                                                \
  MOEC_KERNEL(batch_matmul_##tag, 256) {                                                           \
    const index_t batch_shape[2] = {args.tokens, 4};                                               \
    const index_t a_strides[2] = {4 * 16 * 32, 16 * 32};                                           \
    const index_t b_strides[2] = {0, 32 * 24};                                                     \
    moec_ck::batch_matmul<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *), MOEC_ARG(2, T *), \
                                  2, batch_shape, a_strides, b_strides, 16, 32, 24);               \
  }                                                                                                \
  MOEC_KERNEL(moe_route_softmax_topk_##tag, 128) {                                                 \
    moec_ck::moe_route_softmax_topk<T, 128>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *),              \
                                            MOEC_ARG(2, int64 *), args.tokens, 64, 8, true);       \
  }                                                                                                \
  MOEC_KERNEL(moe_route_sigmoid_##tag, 128) {                                                      \
    moec_ck::moe_route_sigmoid<T, 128>(MOEC_ARG(0, const T *), MOEC_ARG(1, const float *),         \
                                       MOEC_ARG(2, T *), MOEC_ARG(3, int64 *), args.tokens, 256,   \
                                       8, 8, 4, true, 2.5f);                                       \
  }                                                                                                \
  MOEC_KERNEL(moe_route_linear_##tag, 256) {                                                       \
    extern __shared__ float logits[];                                                              \
    moec_ck::moe_route_linear<T, T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *),           \
                                         MOEC_ARG(2, const T *), MOEC_ARG(3, T *),                 \
                                         MOEC_ARG(4, int64 *), args.tokens, 2048, 64, 8, true,     \
                                         logits);                                                  \
  }                                                                                                \
  MOEC_KERNEL(moe_combine_##tag, 256) {                                                            \
    moec_ck::moe_combine<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), args.tokens, 8, 2048);  \
  }

MOEC_FLOAT_KERNELS(float, f32)
MOEC_FLOAT_KERNELS(__half, f16)
MOEC_FLOAT_KERNELS(__nv_bfloat16, bf16)

// ---- Arithmetic templates (floating storage and integers) --------------------------

#define MOEC_ARITH_KERNELS(T, tag)                                                                 \
  MOEC_KERNEL(reduce_##tag, 256) {                                                                 \
    const index_t shape[3] = {args.tokens, 4, 64};                                                 \
    const bool reduced[3] = {false, true, true};                                                   \
    moec_ck::reduce<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), 3, shape, reduced,           \
                            static_cast<moec_ck::ReduceKind>(args.tokens & 3));                    \
  }                                                                                                \
  MOEC_KERNEL(scatter_elements_reduce_##tag, 256) {                                                \
    const index_t data_shape[2] = {args.tokens, 16};                                               \
    const index_t idx_shape[2] = {args.tokens, 4};                                                 \
    moec_ck::scatter_elements<T, int64, 256>(                                                      \
        MOEC_ARG(0, const T *), MOEC_ARG(1, const int64 *), MOEC_ARG(2, const T *), MOEC_ARG(3, T *), \
        2, data_shape, idx_shape, 1, moec_ck::ScatterReduction::Add, MOEC_STATUS);                 \
  }

MOEC_ARITH_KERNELS(float, f32)
MOEC_ARITH_KERNELS(__half, f16)
MOEC_ARITH_KERNELS(__nv_bfloat16, bf16)
MOEC_ARITH_KERNELS(int64, i64)
MOEC_ARITH_KERNELS(int, i32)

// ---- Data movement (any trivially copyable element) --------------------------------

#define MOEC_INDEXED_KERNELS(T, tag, I, itag)                                                      \
  MOEC_KERNEL(gather_##tag##_##itag, 256) {                                                        \
    moec_ck::gather<T, I, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const I *), MOEC_ARG(2, T *), 1, \
                               32000, 4096, args.tokens, MOEC_STATUS);                             \
  }                                                                                                \
  MOEC_KERNEL(gather_elements_##tag##_##itag, 256) {                                               \
    const index_t data_shape[2] = {args.tokens, 64};                                               \
    const index_t idx_shape[2] = {args.tokens, 8};                                                 \
    moec_ck::gather_elements<T, I, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const I *),            \
                                        MOEC_ARG(2, T *), 2, data_shape, idx_shape, -1, MOEC_STATUS); \
  }                                                                                                \
  MOEC_KERNEL(scatter_elements_##tag##_##itag, 256) {                                              \
    const index_t data_shape[2] = {args.tokens, 16};                                               \
    const index_t idx_shape[2] = {args.tokens, 4};                                                 \
    moec_ck::scatter_elements<T, I, 256>(                                                          \
        MOEC_ARG(0, const T *), MOEC_ARG(1, const I *), MOEC_ARG(2, const T *), MOEC_ARG(3, T *),  \
        2, data_shape, idx_shape, 1, moec_ck::ScatterReduction::None, MOEC_STATUS);                \
  }

#define MOEC_LAYOUT_KERNELS(T, tag)                                                                \
  MOEC_INDEXED_KERNELS(T, tag, int64, i64)                                                         \
  MOEC_INDEXED_KERNELS(T, tag, int, i32)                                                           \
  MOEC_KERNEL(transpose_##tag, 256) {                                                              \
    const index_t in_shape[4] = {args.tokens, 8, 16, 4};                                           \
    const int perm[4] = {2, 0, 3, 1};                                                              \
    moec_ck::transpose<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), 4, in_shape, perm);        \
  }                                                                                                \
  MOEC_KERNEL(concat_##tag, 256) {                                                                 \
    const T *const inputs[3] = {MOEC_ARG(0, const T *), MOEC_ARG(1, const T *),                    \
                                MOEC_ARG(2, const T *)};                                           \
    const index_t axis_len[3] = {args.tokens, 2, 5};                                               \
    moec_ck::concat<T, 256>(inputs, axis_len, 3, MOEC_ARG(3, T *), 4, 64);                         \
  }                                                                                                \
  MOEC_KERNEL(slice_##tag, 256) {                                                                  \
    const index_t in_shape[3] = {args.tokens, 32, 64};                                             \
    const index_t starts[3] = {0, 31, 1};                                                          \
    const index_t steps[3] = {1, -2, 3};                                                           \
    const index_t out_shape[3] = {args.tokens, 16, 21};                                            \
    moec_ck::slice<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), 3, in_shape, starts, steps,   \
                           out_shape);                                                             \
  }

MOEC_LAYOUT_KERNELS(float, f32)
MOEC_LAYOUT_KERNELS(__half, f16)
MOEC_LAYOUT_KERNELS(__nv_bfloat16, bf16)
MOEC_LAYOUT_KERNELS(int64, i64)
MOEC_LAYOUT_KERNELS(int, i32)
MOEC_LAYOUT_KERNELS(bool, bool)

// ---- MoE permutation ----------------------------------------------------------------

MOEC_KERNEL(moe_permute_b1024, 1024) {
  moec_ck::moe_permute<1024>(MOEC_ARG(0, const int64 *), args.tokens, 8, 128, MOEC_ARG(1, int *),
                             MOEC_ARG(2, int *), MOEC_STATUS);
}
MOEC_KERNEL(moe_permute_b256, 256) {
  moec_ck::moe_permute<256>(MOEC_ARG(0, const int64 *), args.tokens, 2, 8, MOEC_ARG(1, int *),
                            MOEC_ARG(2, int *), MOEC_STATUS);
}

// ---- Attention (moec_cuda_attention.cuh) --------------------------------------------
// A Llama-like GQA layer (32 query heads, 8 kv heads, rotary, window, softcap
// at run time), the cache append for each storage type and the attention
// kernel for head sizes 64 and 128 (the register-resident query row is the
// part that could spill), and the standalone rotary embedding; the rotary
// caches in f32 and, for 16-bit storage, in the storage type too.

#define MOEC_ATTENTION_SHAPE(hd)                                                                   \
  moec_ck::AttentionShape shape{};                                                                 \
  shape.batch = 2;                                                                                 \
  shape.seq = args.tokens;                                                                         \
  shape.num_heads = 32;                                                                            \
  shape.kv_heads = 8;                                                                              \
  shape.head_dim = hd;                                                                             \
  shape.capacity = 4096;                                                                           \
  shape.q_stride = 48 * hd; /* packed QKV */                                                       \
  shape.k_stride = 48 * hd;                                                                        \
  shape.v_stride = 48 * hd;                                                                        \
  shape.rotary_dim = hd;                                                                           \
  shape.rotary_rows = 4096;                                                                        \
  shape.interleaved = (args.tokens & 1) != 0;                                                      \
  shape.scale = 0.125f;                                                                            \
  shape.softcap = (args.tokens & 2) != 0 ? 30.f : 0.f;                                             \
  shape.window = (args.tokens & 4) != 0 ? 1024 : -1

#define MOEC_ATTENTION_KERNELS(T, tag, TC, ctag)                                                   \
  MOEC_KERNEL(attention_kv_append_##tag##_##ctag, 256) {                                           \
    MOEC_ATTENTION_SHAPE(128);                                                                     \
    const T *qkv = MOEC_ARG(0, const T *);                                                         \
    moec_ck::attention_kv_append<T, TC, 256>(                                                      \
        qkv + 32 * 128, qkv + 40 * 128, MOEC_ARG(1, const T *), MOEC_ARG(2, const T *),            \
        MOEC_ARG(3, const int *), MOEC_ARG(4, const int *), MOEC_ARG(5, const TC *),               \
        MOEC_ARG(6, const TC *), MOEC_ARG(7, T *), MOEC_ARG(8, T *), shape, MOEC_STATUS);          \
  }                                                                                                \
  MOEC_ATTENTION_HD_KERNEL(T, tag, TC, ctag, 64)                                                   \
  MOEC_ATTENTION_HD_KERNEL(T, tag, TC, ctag, 128)                                                  \
  MOEC_KERNEL(rotary_##tag##_##ctag, 256) {                                                        \
    moec_ck::RotaryShape shape{};                                                                  \
    shape.batch = 1;                                                                               \
    shape.seq = args.tokens;                                                                       \
    shape.heads = 32;                                                                              \
    shape.head_size = 128;                                                                         \
    shape.rotary_dim = 64;                                                                         \
    shape.rows = 4096;                                                                             \
    shape.interleaved = (args.tokens & 1) != 0;                                                    \
    shape.heads_first = (args.tokens & 2) != 0;                                                    \
    shape.per_token = (args.tokens & 4) != 0;                                                      \
    moec_ck::rotary<T, TC, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const int64 *),                \
                                MOEC_ARG(2, const TC *), MOEC_ARG(3, const TC *),                  \
                                MOEC_ARG(4, T *), shape, MOEC_STATUS);                             \
  }

#define MOEC_ATTENTION_HD_KERNEL(T, tag, TC, ctag, hd)                                             \
  MOEC_KERNEL(attention_##tag##_##ctag##_hd##hd, 256) {                                            \
    MOEC_ATTENTION_SHAPE(hd);                                                                      \
    moec_ck::attention<T, TC, 256, hd>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *),             \
                                       MOEC_ARG(2, const T *), MOEC_ARG(3, const int *),           \
                                       MOEC_ARG(4, const int *), MOEC_ARG(5, const TC *),          \
                                       MOEC_ARG(6, const TC *), MOEC_ARG(7, T *), shape,           \
                                       MOEC_STATUS);                                               \
  }

MOEC_ATTENTION_KERNELS(float, f32, float, f32)
MOEC_ATTENTION_KERNELS(__half, f16, float, f32)
MOEC_ATTENTION_KERNELS(__half, f16, __half, f16)
MOEC_ATTENTION_KERNELS(__nv_bfloat16, bf16, float, f32)
MOEC_ATTENTION_KERNELS(__nv_bfloat16, bf16, __nv_bfloat16, bf16)
// Head sizes that leave lanes idle: 80 (Phi-2, StableLM) and 8 (test/models/hf).
MOEC_ATTENTION_HD_KERNEL(__half, f16, float, f32, 80)
MOEC_ATTENTION_HD_KERNEL(float, f32, float, f32, 8)

// ---- Range, CumSum, ScatterND (ops of whole exported decoders) -------------------

#define MOEC_RANGE_KERNEL(T, tag)                                                                  \
  MOEC_KERNEL(range_##tag, 256) {                                                                  \
    moec_ck::range<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *), MOEC_ARG(2, const T *), \
                           MOEC_ARG(3, T *), args.tokens, MOEC_STATUS);                            \
  }
MOEC_RANGE_KERNEL(float, f32)
MOEC_RANGE_KERNEL(double, f64)
MOEC_RANGE_KERNEL(int64, i64)
MOEC_RANGE_KERNEL(int, i32)

#define MOEC_CUMSUM_KERNEL(T, tag)                                                                 \
  MOEC_KERNEL(cumsum_##tag, 256) {                                                                 \
    moec_ck::cumsum<T, 256>(MOEC_ARG(0, const T *), MOEC_ARG(1, T *), 1, args.tokens, 64,          \
                            (args.tokens & 1) != 0, (args.tokens & 2) != 0);                       \
  }
MOEC_CUMSUM_KERNEL(float, f32)
MOEC_CUMSUM_KERNEL(__half, f16)
MOEC_CUMSUM_KERNEL(__nv_bfloat16, bf16)
MOEC_CUMSUM_KERNEL(double, f64)
MOEC_CUMSUM_KERNEL(int64, i64)
MOEC_CUMSUM_KERNEL(int, i32)

// The reduction is a run-time value here so every branch is compiled.
#define MOEC_SCATTER_ND_KERNEL(T, tag, I, itag)                                                    \
  MOEC_KERNEL(scatter_nd_##tag##_##itag, 1024) {                                                   \
    const index_t data_shape[3] = {args.tokens, 8, 64};                                            \
    moec_ck::scatter_nd<T, I, 1024>(                                                               \
        MOEC_ARG(0, const T *), MOEC_ARG(1, const I *), MOEC_ARG(2, const T *), MOEC_ARG(3, T *),  \
        3, data_shape, args.tokens, 2, static_cast<moec_ck::ScatterReduction>(args.tokens % 5),    \
        MOEC_STATUS);                                                                              \
  }
#define MOEC_SCATTER_ND_KERNELS(T, tag)                                                            \
  MOEC_SCATTER_ND_KERNEL(T, tag, int64, i64)                                                       \
  MOEC_SCATTER_ND_KERNEL(T, tag, int, i32)
MOEC_SCATTER_ND_KERNELS(float, f32)
MOEC_SCATTER_ND_KERNELS(__half, f16)
MOEC_SCATTER_ND_KERNELS(__nv_bfloat16, bf16)
MOEC_SCATTER_ND_KERNELS(int64, i64)
MOEC_SCATTER_ND_KERNELS(int, i32)
MOEC_SCATTER_ND_KERNELS(bool, bool)
