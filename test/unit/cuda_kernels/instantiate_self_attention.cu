// Instantiates moec_ck::self_attention (moec_cuda_attention.cuh) inside
// `extern "C" __global__` wrappers shaped like the ones moec's CUDA emitter
// writes for a "self_attention" launch: one moec_cuda_args parameter, the
// sequence length from args.tokens, the shape in a local struct, the status
// word in args.ptr[23], __launch_bounds__(256). Window, softcap and sinks
// are run-time values, as in the emitted code, so one kernel covers them.
// Names: self_attention_<type>_d<D>_dv<DV>.
#include "moec_cuda_attention.cuh"

#define MOEC_ARG(i, Type) static_cast<Type>(args.ptr[i])
#define MOEC_STATUS static_cast<int *>(args.ptr[moec_ck::kStatusSlot])

// Head sizes: Llama-like 64 and 128, DeepSeek V3's MLA (192 query/key, 128
// value), the MLA test fixture (16, 8), and the largest supported (256).
#define MOEC_SELF_ATTENTION_KERNEL(T, tag, d, dv)                                                  \
  extern "C" __global__ void __launch_bounds__(256)                                               \
      self_attention_##tag##_d##d##_dv##dv(moec_cuda_args args) {                                  \
    moec_ck::SelfAttentionShape shape{};                                                           \
    shape.batch = 1;                                                                               \
    shape.seq = args.tokens;                                                                       \
    shape.num_heads = 32;                                                                          \
    shape.kv_heads = 8;                                                                            \
    shape.head_dim = d;                                                                            \
    shape.value_dim = dv;                                                                          \
    shape.scale = 0.125f;                                                                          \
    shape.softcap = (args.tokens & 2) != 0 ? 30.f : 0.f;                                           \
    shape.window = (args.tokens & 4) != 0 ? 128 : 0;                                               \
    moec_ck::self_attention<T, 256, d, dv>(MOEC_ARG(0, const T *), MOEC_ARG(1, const T *),         \
                                           MOEC_ARG(2, const T *), MOEC_ARG(3, const float *),    \
                                           MOEC_ARG(4, T *), shape, MOEC_STATUS);                  \
  }

#define MOEC_SELF_ATTENTION_KERNELS(T, tag)                                                        \
  MOEC_SELF_ATTENTION_KERNEL(T, tag, 16, 8)                                                        \
  MOEC_SELF_ATTENTION_KERNEL(T, tag, 64, 64)                                                       \
  MOEC_SELF_ATTENTION_KERNEL(T, tag, 128, 128)                                                     \
  MOEC_SELF_ATTENTION_KERNEL(T, tag, 192, 128)                                                     \
  MOEC_SELF_ATTENTION_KERNEL(T, tag, 256, 256)

MOEC_SELF_ATTENTION_KERNELS(float, f32)
MOEC_SELF_ATTENTION_KERNELS(__half, f16)
MOEC_SELF_ATTENTION_KERNELS(__nv_bfloat16, bf16)
