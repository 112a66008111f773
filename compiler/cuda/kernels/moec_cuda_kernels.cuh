// moec CUDA device kernel library: SIMT kernels and MoE routing / permutation.
//
// moec's CUDA emitter writes one `extern "C" __global__` wrapper per kernel
// launch (ABI below) that computes run-time sizes from the token count and calls
// one of these `__device__` templates from every thread of the grid. The whole
// translation unit is compiled by NVRTC for exactly one architecture (sm_80,
// sm_86, sm_89, sm_90a), so this header is self-contained: no C++ standard
// library, only <cuda_fp16.h> / <cuda_bf16.h>, which NVRTC 13 does NOT carry
// built in: compile with -I<cuda>/include.
//
// Semantics match the host library (compiler/host/kernels/moec_host_kernels.h):
// same names, same arguments, same ONNX corner cases (NaN, empty tensors,
// negative indices); differences are stated at each template.
//
// Conventions shared by every template:
//  * Grid contract: correct for ANY gridDim.x, gridDim.y >= 1 with blockDim.x ==
//    BLOCK (1-D blocks). Blocks are numbered row-major over (y, x) and work items
//    are visited with grid-stride loops, so geometry only affects speed. Warp
//    templates need BLOCK to be a multiple of 32.
//  * Every thread of a block returns from the template at the same point (loop
//    bounds that feed shuffles or barriers are warp/block uniform).
//  * Tensors are dense and row-major; any dimension may be zero.
//  * Storage types: float, __half, __nv_bfloat16 (arithmetic in float); the pure
//    data-movement templates (copy, gather*, scatter without reduction,
//    transpose, concat, slice) take any trivially copyable T (int64, int32, bool).
//  * Index tensors are long long (int64) or int (int32) through the I parameter.
//  * Bad data (an index out of range) is reported through `status`, the device
//    word the executor passes in args.ptr[23]: report_error stores a nonzero
//    code (1: index out of range, 2: parameters that break the emitter's
//    contract), and the kernel carries on without touching memory out of bounds.
//    Outputs are then unspecified (positions fed by a bad index are written 0).
//  * Results never depend on the grid size; reductions across lanes use fixed
//    shuffle trees, so a given BLOCK gives bitwise-reproducible results.
#ifndef MOEC_CUDA_KERNELS_CUH
#define MOEC_CUDA_KERNELS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

// The kernel parameter block (schema runtime/schema/artifact.fbs, Kernel): one
// struct passed by value; ptr[i] is the i-th Arg of the step, ptr[23] the
// executor's device status word (int*).
#ifndef MOEC_CUDA_ARGS_DEFINED
#define MOEC_CUDA_ARGS_DEFINED
struct moec_cuda_args {
  void *ptr[24];
  long long tokens;
};
#endif

namespace moec_ck {

// ---- Common typedefs and helpers (shared with moec_cuda_gemm.cuh) ------------

typedef long long index_t;
typedef long long int64;
typedef int int32;
typedef unsigned long long uint64;
typedef unsigned long long uintptr;

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kStatusSlot = 23; // args.ptr index of the status word

// Error codes stored in the status word.
constexpr int kErrorIndexOutOfRange = 1;
constexpr int kErrorBadParameters = 2;

__device__ __forceinline__ void report_error(int *status, int code) {
  if (status != nullptr)
    atomicExch(status, code);
}

__device__ __forceinline__ float float_infinity() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ float float_nan() { return __int_as_float(0x7fffffff); }

// Storage <-> float conversions (round to nearest even when narrowing).
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Arithmetic traits: the accumulator type (float for floating storage, the type
// itself for integers, as the host library's acc_t) and its limits.
template <class T> struct Num;
template <class T> struct FloatNum {
  typedef float acc;
  __device__ static float to_acc(T x) { return to_float(x); }
  __device__ static T from_acc(float a) { return from_float<T>(a); }
  __device__ static float lowest() { return -float_infinity(); }
  __device__ static float highest() { return float_infinity(); }
  __device__ static float empty_mean() { return float_nan(); }
};
template <> struct Num<float> : FloatNum<float> {};
template <> struct Num<__half> : FloatNum<__half> {};
template <> struct Num<__nv_bfloat16> : FloatNum<__nv_bfloat16> {};
template <class T, T kMin, T kMax> struct IntNum {
  typedef T acc;
  __device__ static T to_acc(T x) { return x; }
  __device__ static T from_acc(T a) { return a; }
  __device__ static T lowest() { return kMin; }
  __device__ static T highest() { return kMax; }
  __device__ static T empty_mean() { return T(0); }
};
template <>
struct Num<long long> : IntNum<long long, -0x7fffffffffffffffLL - 1, 0x7fffffffffffffffLL> {};
template <> struct Num<int> : IntNum<int, -0x7fffffff - 1, 0x7fffffff> {};

__device__ __forceinline__ bool is_nan(float x) { return isnan(x); }
__device__ __forceinline__ bool is_nan(long long) { return false; }
__device__ __forceinline__ bool is_nan(int) { return false; }

// Grid geometry: blocks numbered row-major over (blockIdx.y, blockIdx.x).
__device__ __forceinline__ index_t grid_block() {
  return static_cast<index_t>(blockIdx.y) * gridDim.x + blockIdx.x;
}
__device__ __forceinline__ index_t grid_blocks() {
  return static_cast<index_t>(gridDim.x) * gridDim.y;
}
template <int BLOCK> __device__ __forceinline__ index_t grid_thread() {
  return grid_block() * BLOCK + threadIdx.x;
}
template <int BLOCK> __device__ __forceinline__ index_t grid_threads() {
  return grid_blocks() * BLOCK;
}
__device__ __forceinline__ int lane_id() { return static_cast<int>(threadIdx.x) & (kWarp - 1); }
template <int BLOCK> __device__ __forceinline__ index_t grid_warp() {
  return grid_thread<BLOCK>() / kWarp;
}
template <int BLOCK> __device__ __forceinline__ index_t grid_warps() {
  return grid_threads<BLOCK>() / kWarp;
}

// Normalizes an ONNX index (negative counts from the end); false if out of range.
template <class I> __device__ __forceinline__ bool normalize_index(I raw, index_t extent, index_t &out) {
  index_t v = static_cast<index_t>(raw);
  if (v < 0)
    v += extent;
  if (v < 0 || v >= extent)
    return false;
  out = v;
  return true;
}

__device__ __forceinline__ index_t product(const index_t *dims, int begin, int end) {
  index_t p = 1;
  for (int d = begin; d < end; ++d)
    p *= dims[d];
  return p;
}

// Reduction operators on accumulators. Max/Min propagate NaN (numpy): once the
// running value is NaN it stays.
struct SumOp {
  template <class A> __device__ A operator()(A a, A b) const { return a + b; }
};
struct ProdOp {
  template <class A> __device__ A operator()(A a, A b) const { return a * b; }
};
struct MaxOp {
  template <class A> __device__ A operator()(A a, A b) const {
    return (b > a || is_nan(b)) && !is_nan(a) ? b : a;
  }
};
struct MinOp {
  template <class A> __device__ A operator()(A a, A b) const {
    return (b < a || is_nan(b)) && !is_nan(a) ? b : a;
  }
};

// Butterfly reduction over the 32 lanes of a warp; every lane gets the result
// of the same shuffle tree (lane 0's value is the one callers store).
template <class A, class Op> __device__ __forceinline__ A warp_reduce(A v, Op op) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// ---- Copy -------------------------------------------------------------------------

// Copies `bytes` bytes with the widest access (16, 8, 4 or 1 bytes) both
// pointers and the size allow. X == Y is a no-op; other overlaps are NOT
// supported (unlike the host's memmove): grid-stride copies have no order.
template <int BLOCK> __device__ void copy_bytes(const void *X, void *Y, index_t bytes) {
  if (bytes <= 0 || X == Y)
    return;
  const index_t tid = grid_thread<BLOCK>(), stride = grid_threads<BLOCK>();
  const uintptr bits = reinterpret_cast<uintptr>(X) | reinterpret_cast<uintptr>(Y);
  index_t done = 0; // bytes covered by the vector loop
  if ((bits & 15) == 0) {
    const index_t n = bytes / 16;
    const uint4 *x = static_cast<const uint4 *>(X);
    uint4 *y = static_cast<uint4 *>(Y);
    for (index_t i = tid; i < n; i += stride)
      y[i] = x[i];
    done = n * 16;
  } else if ((bits & 7) == 0) {
    const index_t n = bytes / 8;
    const uint2 *x = static_cast<const uint2 *>(X);
    uint2 *y = static_cast<uint2 *>(Y);
    for (index_t i = tid; i < n; i += stride)
      y[i] = x[i];
    done = n * 8;
  } else if ((bits & 3) == 0) {
    const index_t n = bytes / 4;
    const unsigned *x = static_cast<const unsigned *>(X);
    unsigned *y = static_cast<unsigned *>(Y);
    for (index_t i = tid; i < n; i += stride)
      y[i] = x[i];
    done = n * 4;
  }
  const unsigned char *x = static_cast<const unsigned char *>(X);
  unsigned char *y = static_cast<unsigned char *>(Y);
  for (index_t i = done + tid; i < bytes; i += stride)
    y[i] = x[i];
}

// ---- Softmax ----------------------------------------------------------------------

namespace detail {

// Online softmax state of one line: running maximum m (NaN never enters it) and
// sum s of exp(x - m). The final step turns the host's corner cases into NaN: a
// NaN anywhere, a +inf maximum (inf - inf), or an all -inf line.
__device__ __forceinline__ void softmax_push(float &m, float &s, float v) {
  if (v > m) {
    s = s * expf(m - v) + 1.f; // m = -inf: s is 0 and expf(-inf) = 0
    m = v;
  } else if (v > -float_infinity()) {
    s += expf(v - m);
  }
}

__device__ __forceinline__ void softmax_merge(float &m, float &s, float m2, float s2) {
  const float mx = m2 > m ? m2 : m;
  // Equal maxima need no rescale (and -inf - -inf would be NaN).
  s = (m == mx ? s : s * expf(m - mx)) + (m2 == mx ? s2 : s2 * expf(m2 - mx));
  m = mx;
}

__device__ __forceinline__ float softmax_inverse(float m, float s, bool saw_nan) {
  if (saw_nan || !(m > -float_infinity() && m < float_infinity()))
    return float_nan();
  return 1.f / s;
}

} // namespace detail

// Softmax along the middle dim of [outer, axis_len, inner], max-shifted.
// inner == 1 (the usual last-axis case): one warp per row, coalesced. Otherwise
// one thread per (outer, inner) line: neighbouring threads read neighbouring
// addresses. A NaN anywhere in a line makes the line NaN, as does +inf, as on host.
template <class T, int BLOCK>
__device__ void softmax(const T *X, T *Y, index_t outer, index_t axis_len, index_t inner) {
  static_assert(BLOCK % kWarp == 0, "softmax: BLOCK must be a multiple of 32");
  if (outer <= 0 || axis_len <= 0 || inner <= 0)
    return;
  if (inner == 1) {
    const int lane = lane_id();
    for (index_t row = grid_warp<BLOCK>(); row < outer; row += grid_warps<BLOCK>()) {
      const T *x = X + row * axis_len;
      T *y = Y + row * axis_len;
      float m = -float_infinity(), s = 0.f;
      bool saw_nan = false;
      for (index_t a = lane; a < axis_len; a += kWarp) {
        const float v = to_float(x[a]);
        saw_nan |= is_nan(v);
        detail::softmax_push(m, s, v);
      }
      for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const float m2 = __shfl_xor_sync(kFullMask, m, offset);
        const float s2 = __shfl_xor_sync(kFullMask, s, offset);
        detail::softmax_merge(m, s, m2, s2); // symmetric: all lanes agree bitwise
      }
      saw_nan = __any_sync(kFullMask, saw_nan);
      const float inv = detail::softmax_inverse(m, s, saw_nan);
      for (index_t a = lane; a < axis_len; a += kWarp)
        y[a] = from_float<T>(expf(to_float(x[a]) - m) * inv);
    }
    return;
  }
  const index_t lines = outer * inner;
  for (index_t line = grid_thread<BLOCK>(); line < lines; line += grid_threads<BLOCK>()) {
    const index_t o = line / inner, i = line - o * inner;
    const T *x = X + o * axis_len * inner + i;
    T *y = Y + o * axis_len * inner + i;
    float m = -float_infinity(), s = 0.f;
    bool saw_nan = false;
    for (index_t a = 0; a < axis_len; ++a) {
      const float v = to_float(x[a * inner]);
      saw_nan |= is_nan(v);
      detail::softmax_push(m, s, v);
    }
    const float inv = detail::softmax_inverse(m, s, saw_nan);
    for (index_t a = 0; a < axis_len; ++a)
      y[a * inner] = from_float<T>(expf(to_float(x[a * inner]) - m) * inv);
  }
}

// ---- TopK -------------------------------------------------------------------------

namespace detail {

// A candidate of a top-k selection; index < 0 means "none".
struct Ranked {
  float value;
  index_t index;
};

// The host's order: by value (descending when largest, else ascending), equal
// values by the lower index first; NaN ranks as the greatest value (first when
// largest, last otherwise). A strict total order on (value, index).
__device__ __forceinline__ bool ranks_before(float av, index_t ai, float bv, index_t bi, bool largest) {
  const bool an = is_nan(av), bn = is_nan(bv);
  if (an || bn) {
    if (an && bn)
      return ai < bi;
    return largest ? an : bn;
  }
  if (av != bv)
    return largest ? av > bv : av < bv;
  return ai < bi;
}

__device__ __forceinline__ Ranked better_of(Ranked a, Ranked b, bool largest) {
  if (a.index < 0)
    return b;
  if (b.index < 0)
    return a;
  return ranks_before(a.value, a.index, b.value, b.index, largest) ? a : b;
}

// One warp selects the element that ranks right after `prev` (the first one when
// prev.index < 0) among x[e * stride], e < n. Every lane returns the same
// result; index < 0 when nothing is left. Selecting k elements this way costs
// k passes over the line, which stay in L1 for router-sized lines.
template <class T>
__device__ Ranked warp_select_next(const T *x, index_t n, index_t stride, bool largest, Ranked prev) {
  Ranked best{0.f, -1};
  for (index_t e = lane_id(); e < n; e += kWarp) {
    const float v = to_float(x[e * stride]);
    if (prev.index >= 0 && !ranks_before(prev.value, prev.index, v, e, largest))
      continue;
    best = better_of(best, Ranked{v, e}, largest);
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    Ranked other;
    other.value = __shfl_xor_sync(kFullMask, best.value, offset);
    other.index = __shfl_xor_sync(kFullMask, best.index, offset);
    best = better_of(best, other, largest);
  }
  return best;
}

} // namespace detail

// TopK along the middle dim of [outer, axis_len, inner]; values and indices are
// [outer, k, inner] in the host order (descending when largest, else ascending,
// ties: lower index first, NaN ranks as the greatest value). One warp per line;
// cost O(k * axis_len / 32) per line, meant for router-sized k.
// Requires 0 <= k <= axis_len; positions j >= axis_len are left untouched (host).
template <class T, int BLOCK>
__device__ void topk(const T *X, T *values, int64 *indices, index_t outer, index_t axis_len,
                     index_t inner, index_t k, bool largest) {
  static_assert(BLOCK % kWarp == 0, "topk: BLOCK must be a multiple of 32");
  if (outer <= 0 || inner <= 0 || k <= 0)
    return;
  const index_t lines = outer * inner;
  for (index_t line = grid_warp<BLOCK>(); line < lines; line += grid_warps<BLOCK>()) {
    const index_t o = line / inner, i = line - o * inner;
    const T *x = X + o * axis_len * inner + i;
    detail::Ranked prev{0.f, -1};
    for (index_t j = 0; j < k; ++j) {
      prev = detail::warp_select_next(x, axis_len, inner, largest, prev);
      if (prev.index < 0)
        break; // uniform: every lane holds the same prev
      if (lane_id() == 0) {
        values[(o * k + j) * inner + i] = x[prev.index * inner];
        indices[(o * k + j) * inner + i] = prev.index;
      }
    }
  }
}

// ---- Reductions ---------------------------------------------------------------------

enum class ReduceKind { Sum, Mean, Max, Min, Prod };

namespace detail {

// Offset into X of the linear position `q` over the dims d in [0, end) whose
// reduced flag equals `role` (row-major over those dims). Strides are X's.
__device__ __forceinline__ index_t offset_over(index_t q, int rank, int end, const index_t *shape,
                                               const bool *reduced, bool role) {
  index_t offset = 0, stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (d < end && reduced[d] == role && shape[d] != 1) {
      const index_t c = q % shape[d];
      q /= shape[d];
      offset += c * stride;
    }
    stride *= shape[d];
  }
  return offset;
}

template <class T, int BLOCK, class Op>
__device__ void reduce_with(const T *X, T *Y, int rank, const index_t *shape, const bool *reduced,
                            typename Num<T>::acc identity, bool mean, Op op) {
  typedef typename Num<T>::acc Acc;
  index_t out_count = 1, reduce_count = 1;
  for (int d = 0; d < rank; ++d)
    (reduced[d] ? reduce_count : out_count) *= shape[d];
  if (out_count <= 0)
    return;
  // The innermost run of reduced dims (size-1 dims are neutral) is one strided
  // line of run_len elements; the other reduced dims are walked by division.
  int run_end = rank - 1;
  while (run_end >= 0 && !(reduced[run_end] && shape[run_end] != 1))
    --run_end;
  index_t run_len = 1, run_stride = 1;
  int run_begin = run_end + 1;
  if (run_end >= 0) {
    for (int d = rank - 1; d > run_end; --d)
      run_stride *= shape[d];
    run_begin = run_end;
    while (run_begin > 0 && (reduced[run_begin - 1] || shape[run_begin - 1] == 1))
      --run_begin;
    run_len = product(shape, run_begin, run_end + 1);
  }
  const index_t rest_count = run_len > 0 ? reduce_count / run_len : 0;
  auto finish = [&](Acc acc) -> T {
    if (!mean)
      return Num<T>::from_acc(acc);
    if (reduce_count == 0)
      return Num<T>::from_acc(Num<T>::empty_mean());
    return Num<T>::from_acc(acc / static_cast<Acc>(reduce_count));
  };
  // A contiguous run long enough to fill a warp: one warp per output.
  if (run_stride == 1 && run_len >= kWarp) {
    const int lane = lane_id();
    for (index_t o = grid_warp<BLOCK>(); o < out_count; o += grid_warps<BLOCK>()) {
      const T *x = X + offset_over(o, rank, rank, shape, reduced, false);
      Acc acc = identity;
      for (index_t q = 0; q < rest_count; ++q) {
        const T *line = x + offset_over(q, rank, run_begin, shape, reduced, true);
        for (index_t j = lane; j < run_len; j += kWarp)
          acc = op(acc, Num<T>::to_acc(line[j]));
      }
      acc = warp_reduce(acc, op);
      if (lane == 0)
        Y[o] = finish(acc);
    }
    return;
  }
  // Otherwise one thread per output: neighbouring outputs read neighbouring
  // addresses when the last dim is kept.
  for (index_t o = grid_thread<BLOCK>(); o < out_count; o += grid_threads<BLOCK>()) {
    const T *x = X + offset_over(o, rank, rank, shape, reduced, false);
    Acc acc = identity;
    for (index_t q = 0; q < rest_count; ++q) {
      const T *line = x + offset_over(q, rank, run_begin, shape, reduced, true);
      for (index_t j = 0; j < run_len; ++j)
        acc = op(acc, Num<T>::to_acc(line[j * run_stride]));
    }
    Y[o] = finish(acc);
  }
}

} // namespace detail

// Reduces over the dims with reduced[d] = true; Y holds the kept dims in order.
// Empty reductions yield the identity: 0 (Sum), 1 (Prod), -inf/+inf (lowest /
// highest for integers) for Max/Min, NaN for Mean (0 for integers), as on host.
// T: float, __half, __nv_bfloat16 (float accumulation), int, long long.
template <class T, int BLOCK>
__device__ void reduce(const T *X, T *Y, int rank, const index_t *shape, const bool *reduced,
                       ReduceKind kind) {
  static_assert(BLOCK % kWarp == 0, "reduce: BLOCK must be a multiple of 32");
  typedef typename Num<T>::acc Acc;
  switch (kind) {
  case ReduceKind::Sum:
    detail::reduce_with<T, BLOCK>(X, Y, rank, shape, reduced, Acc(0), false, SumOp{});
    break;
  case ReduceKind::Mean:
    detail::reduce_with<T, BLOCK>(X, Y, rank, shape, reduced, Acc(0), true, SumOp{});
    break;
  case ReduceKind::Prod:
    detail::reduce_with<T, BLOCK>(X, Y, rank, shape, reduced, Acc(1), false, ProdOp{});
    break;
  case ReduceKind::Max:
    detail::reduce_with<T, BLOCK>(X, Y, rank, shape, reduced, Num<T>::lowest(), false, MaxOp{});
    break;
  case ReduceKind::Min:
    detail::reduce_with<T, BLOCK>(X, Y, rank, shape, reduced, Num<T>::highest(), false, MinOp{});
    break;
  }
}

// ---- Indexing ---------------------------------------------------------------------

// Gather along the middle dim of data [outer, axis_len, inner] with num_idx
// indices (negative count from the end); Y is [outer, num_idx, inner]. An index
// out of range reports 1 (also when outer or inner is zero, as on host) and its
// output rows are written 0.
template <class T, class I, int BLOCK>
__device__ void gather(const T *data, const I *idx, T *Y, index_t outer, index_t axis_len,
                       index_t inner, index_t num_idx, int *status) {
  if (num_idx <= 0)
    return;
  const index_t tid = grid_thread<BLOCK>(), stride = grid_threads<BLOCK>();
  if (outer <= 0 || inner <= 0) {
    index_t j;
    for (index_t n = tid; n < num_idx; n += stride)
      if (!normalize_index(idx[n], axis_len, j))
        report_error(status, kErrorIndexOutOfRange);
    return;
  }
  const index_t rows = outer * num_idx, total = rows * inner;
  for (index_t e = tid; e < total; e += stride) {
    const index_t row = e / inner, c = e - row * inner;
    const index_t o = row / num_idx, n = row - o * num_idx;
    index_t j;
    if (normalize_index(idx[n], axis_len, j)) {
      Y[e] = data[(o * axis_len + j) * inner + c];
    } else {
      report_error(status, kErrorIndexOutOfRange);
      Y[e] = T();
    }
  }
}

// GatherElements (ONNX): Y has idx's shape; Y[p] = data[p with p[axis] = idx[p]].
// Negative indices and a negative axis count from the end. Out of range
// reports 1 (the output is written 0); a bad axis reports 2.
template <class T, class I, int BLOCK>
__device__ void gather_elements(const T *data, const I *idx, T *Y, int rank, const index_t *data_shape,
                                const index_t *idx_shape, int axis, int *status) {
  if (axis < 0)
    axis += rank;
  if (rank <= 0 || axis < 0 || axis >= rank) {
    report_error(status, kErrorBadParameters);
    return;
  }
  const index_t count = product(idx_shape, 0, rank), axis_len = data_shape[axis];
  for (index_t p = grid_thread<BLOCK>(); p < count; p += grid_threads<BLOCK>()) {
    index_t q = p, offset = 0, axis_stride = 0, data_stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const index_t c = q % idx_shape[d];
      q /= idx_shape[d];
      if (d == axis)
        axis_stride = data_stride;
      else
        offset += c * data_stride;
      data_stride *= data_shape[d];
    }
    index_t a;
    if (normalize_index(idx[p], axis_len, a)) {
      Y[p] = data[offset + a * axis_stride];
    } else {
      report_error(status, kErrorIndexOutOfRange);
      Y[p] = T();
    }
  }
}

enum class ScatterReduction { None, Add, Mul, Max, Min };

namespace detail {

template <class T> __device__ __forceinline__ T scatter_combine(T old, T update, ScatterReduction r) {
  typedef Num<T> N;
  switch (r) {
  case ScatterReduction::Add:
    return N::from_acc(N::to_acc(old) + N::to_acc(update));
  case ScatterReduction::Mul:
    return N::from_acc(N::to_acc(old) * N::to_acc(update));
  case ScatterReduction::Max:
    return N::from_acc(MaxOp{}(N::to_acc(old), N::to_acc(update)));
  case ScatterReduction::Min:
    return N::from_acc(MinOp{}(N::to_acc(old), N::to_acc(update)));
  default:
    return update;
  }
}

// Reduction None needs no arithmetic, so any T (bool, int64 ...) scatters.
template <class T, bool kArithmetic> struct ScatterApply {
  __device__ static T apply(T old, T update, ScatterReduction r) { return scatter_combine(old, update, r); }
};
template <class T> struct ScatterApply<T, false> {
  __device__ static T apply(T, T update, ScatterReduction) { return update; }
};

template <class T> struct HasNum {
  static constexpr bool value = false;
};
template <> struct HasNum<float> { static constexpr bool value = true; };
template <> struct HasNum<__half> { static constexpr bool value = true; };
template <> struct HasNum<__nv_bfloat16> { static constexpr bool value = true; };
template <> struct HasNum<long long> { static constexpr bool value = true; };
template <> struct HasNum<int> { static constexpr bool value = true; };

} // namespace detail

// ScatterElements (ONNX): Y = data, then for every index position p in
// row-major order Y[p with p[axis] = idx[p]] (op)= updates[p]. Y may alias data.
// Deterministic without atomics: an update at p only touches the data line
// through p along `axis`, so one thread owns one such line (copy it, then apply
// that line's updates in increasing axis coordinate = row-major order). With
// reduction None and duplicates the last position wins, as on host. Out of
// range reports 1 and skips that update (host stops); a bad axis reports 2.
// Reductions other than None need an arithmetic T (float, half, bf16, int, int64).
template <class T, class I, int BLOCK>
__device__ void scatter_elements(const T *data, const I *idx, const T *updates, T *Y, int rank,
                                 const index_t *data_shape, const index_t *idx_shape, int axis,
                                 ScatterReduction reduction, int *status) {
  if (axis < 0)
    axis += rank;
  if (rank <= 0 || axis < 0 || axis >= rank) {
    report_error(status, kErrorBadParameters);
    return;
  }
  if (reduction != ScatterReduction::None && !detail::HasNum<T>::value) {
    report_error(status, kErrorBadParameters);
    return;
  }
  const index_t axis_len = data_shape[axis], idx_axis_len = idx_shape[axis];
  const index_t lines = axis_len > 0 ? product(data_shape, 0, rank) / axis_len : 0;
  const bool has_updates = product(idx_shape, 0, rank) > 0;
  if (axis_len == 0 && has_updates && grid_thread<BLOCK>() == 0)
    report_error(status, kErrorIndexOutOfRange); // every index is out of an empty axis
  for (index_t line = grid_thread<BLOCK>(); line < lines; line += grid_threads<BLOCK>()) {
    index_t q = line, dbase = 0, ibase = 0, dstride = 1, istride = 1, daxis = 1, iaxis = 1;
    bool in_idx = has_updates;
    for (int d = rank - 1; d >= 0; --d) {
      if (d == axis) {
        daxis = dstride;
        iaxis = istride;
      } else {
        const index_t c = q % data_shape[d];
        q /= data_shape[d];
        dbase += c * dstride;
        ibase += c * istride;
        in_idx = in_idx && c < idx_shape[d];
      }
      dstride *= data_shape[d];
      istride *= idx_shape[d];
    }
    if (Y != data)
      for (index_t a = 0; a < axis_len; ++a)
        Y[dbase + a * daxis] = data[dbase + a * daxis];
    if (!in_idx)
      continue;
    for (index_t a = 0; a < idx_axis_len; ++a) {
      const index_t i = ibase + a * iaxis;
      index_t target;
      if (!normalize_index(idx[i], axis_len, target)) {
        report_error(status, kErrorIndexOutOfRange);
        continue;
      }
      T &y = Y[dbase + target * daxis];
      y = detail::ScatterApply<T, detail::HasNum<T>::value>::apply(y, updates[i], reduction);
    }
  }
}

// ---- Layout -----------------------------------------------------------------------

// Transpose: Y dim d is X dim perm[d]. One thread per output element (writes
// coalesced, reads strided): the SIMT fallback for transposes the compiler
// could not fold into a GEMM layout.
template <class T, int BLOCK>
__device__ void transpose(const T *X, T *Y, int rank, const index_t *in_shape, const int *perm) {
  const index_t count = product(in_shape, 0, rank);
  for (index_t e = grid_thread<BLOCK>(); e < count; e += grid_threads<BLOCK>()) {
    index_t q = e, offset = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int p = perm[d];
      const index_t c = q % in_shape[p];
      q /= in_shape[p];
      offset += c * product(in_shape, p + 1, rank);
    }
    Y[e] = X[offset];
  }
}

// Concat along the middle dim: input i is [outer, axis_len[i], inner]; `inputs`
// holds num_inputs device pointers.
template <class T, int BLOCK>
__device__ void concat(const T *const *inputs, const index_t *axis_len, int num_inputs, T *Y,
                       index_t outer, index_t inner) {
  if (outer <= 0 || inner <= 0)
    return;
  index_t row_len = 0;
  for (int i = 0; i < num_inputs; ++i)
    row_len += axis_len[i] * inner;
  const index_t total = outer * row_len;
  for (index_t e = grid_thread<BLOCK>(); e < total; e += grid_threads<BLOCK>()) {
    const index_t o = e / row_len;
    index_t r = e - o * row_len;
    for (int i = 0; i < num_inputs; ++i) {
      const index_t seg = axis_len[i] * inner;
      if (r < seg) {
        Y[e] = inputs[i][o * seg + r];
        break;
      }
      r -= seg;
    }
  }
}

// Strided slice: Y[j...] = X[starts + j * steps]; starts are normalized and
// clamped by the caller, steps nonzero (negative walks backwards).
template <class T, int BLOCK>
__device__ void slice(const T *X, T *Y, int rank, const index_t *in_shape, const index_t *starts,
                      const index_t *steps, const index_t *out_shape) {
  const index_t count = product(out_shape, 0, rank);
  for (index_t e = grid_thread<BLOCK>(); e < count; e += grid_threads<BLOCK>()) {
    index_t q = e, offset = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const index_t c = q % out_shape[d];
      q /= out_shape[d];
      offset += (starts[d] + c * steps[d]) * stride;
      stride *= in_shape[d];
    }
    Y[e] = X[offset];
  }
}

// ---- Dense linear algebra (SIMT) ---------------------------------------------------

// Batched matmul with numpy broadcasting: Y[b..., M, N] = A[b..., M, K] * B[b..., K, N].
// batch_shape holds the broadcast batch dims, a_strides / b_strides the element
// stride of each batch dim in A / B (0 where broadcast). One thread per output,
// float accumulation in k order: correct but not fast; constant-weight MatMuls
// go to the tensor-core templates (moec_cuda_gemm.cuh).
template <class T, int BLOCK>
__device__ void batch_matmul(const T *A, const T *B, T *Y, int batch_rank, const index_t *batch_shape,
                             const index_t *a_strides, const index_t *b_strides, index_t M, index_t K,
                             index_t N) {
  const index_t batches = product(batch_shape, 0, batch_rank);
  if (batches <= 0 || M <= 0 || N <= 0)
    return;
  const index_t per_batch = M * N, total = batches * per_batch;
  for (index_t e = grid_thread<BLOCK>(); e < total; e += grid_threads<BLOCK>()) {
    const index_t b = e / per_batch, r = e - b * per_batch;
    const index_t m = r / N, n = r - m * N;
    index_t q = b, a_off = 0, b_off = 0;
    for (int d = batch_rank - 1; d >= 0; --d) {
      const index_t c = q % batch_shape[d];
      q /= batch_shape[d];
      a_off += c * a_strides[d];
      b_off += c * b_strides[d];
    }
    const T *a = A + a_off + m * K;
    const T *bcol = B + b_off + n;
    float acc = 0.f;
    for (index_t k = 0; k < K; ++k)
      acc = fmaf(to_float(a[k]), to_float(bcol[k * N]), acc);
    Y[e] = from_float<T>(acc);
  }
}

// ---- Mixture of Experts: routing, permutation, combine ------------------------------

// Router: softmax over experts of logits [tokens, experts], then top-k by logit
// (ties: lower expert first; NaN ranks first and poisons the weights), as on
// host. weights [tokens, k] are the selected probabilities, renormalized to sum
// to 1 when normalize; expert_ids [tokens, k]. One warp per token. Requires
// 0 <= k <= experts; slots j >= experts get weight 0, expert 0 (as on host).
namespace detail {
// Softmax over one token's logits x[0, experts) (any readable memory: global
// or shared), top-k, optional renormalization, written to w[0, k) / ids[0, k).
// Called by a whole warp.
template <class T, class L>
__device__ void route_one_token(const L *x, T *w, int64 *ids, index_t experts, index_t k,
                                bool normalize) {
  const int lane = lane_id();
  Ranked prev{0.f, -1};
  float shift = 0.f, selected_sum = 0.f;
  index_t found = 0;
  for (; found < k; ++found) {
    prev = warp_select_next(x, experts, 1, true, prev);
    if (prev.index < 0)
      break; // uniform across the warp
    if (found == 0)
      shift = prev.value; // the row maximum (or NaN, which poisons everything)
    selected_sum += expf(prev.value - shift);
    // The raw logit parks in the output until the denominator is known; it
    // came from a T, so the round trip is exact.
    if (lane == 0) {
      ids[found] = prev.index;
      w[found] = from_float<T>(prev.value);
    }
  }
  float denominator = selected_sum;
  if (!normalize) {
    float partial = 0.f;
    for (index_t e = lane; e < experts; e += kWarp)
      partial += expf(to_float(x[e]) - shift);
    denominator = warp_reduce(partial, SumOp{});
  }
  __syncwarp(); // lane 0's parked logits are visible to the whole warp
  for (index_t j = lane; j < k; j += kWarp) {
    if (j < found) {
      w[j] = from_float<T>(expf(to_float(w[j]) - shift) / denominator);
    } else {
      w[j] = from_float<T>(0.f);
      ids[j] = 0;
    }
  }
}
} // namespace detail

template <class T, int BLOCK>
__device__ void moe_route_softmax_topk(const T *logits, T *weights, int64 *expert_ids, index_t tokens,
                                       index_t experts, index_t k, bool normalize) {
  static_assert(BLOCK % kWarp == 0, "moe_route_softmax_topk: BLOCK must be a multiple of 32");
  if (tokens <= 0 || k <= 0)
    return;
  for (index_t t = grid_warp<BLOCK>(); t < tokens; t += grid_warps<BLOCK>())
    detail::route_one_token(logits + t * experts, weights + t * k, expert_ids + t * k, experts, k,
                            normalize);
}

// Router with sigmoid scores (DeepSeek-V3): the host's moe_route_sigmoid (read
// its comment for the semantics: sel = sigmoid(logit) + bias, group-limited
// selection by the sum of each group's two largest sel, top-k of sel, weights
// the unbiased sigmoids, optionally normalized without epsilon, times scaling;
// ties to the lower index, NaN first). Same results as host up to float
// rounding: the device expf may differ from the host's by an ulp (so may a
// near-tie closer than that), and the normalizing sum is a warp tree here.
// One warp per token; each lane keeps its experts' scores in registers, so
// experts <= kSigmoidMaxExperts and k <= 32 (one chosen expert per lane). The
// emitter promises these limits on top of the host's contract; parameters
// outside them give weight 0 and expert 0 in every slot (never an
// out-of-bounds access).
// The bias type B may differ from T (float bias with __half / bf16 logits, as
// the lowering emits it).
constexpr int kSigmoidMaxExperts = 256;

namespace detail {
constexpr int kSigmoidSlots = kSigmoidMaxExperts / kWarp;          // experts per lane
constexpr int kSigmoidGroupSlots = kSigmoidMaxExperts / 2 / kWarp; // groups per lane (>= 2 experts each)

// A ranked candidate with a float riding along (the unbiased score); int index
// (< 0: none) so a candidate crosses lanes in three shuffles.
struct RankedScore {
  float value;
  int index;
  float payload;
};

// One warp finds the element that ranks right after `prev` (the first when
// prev.index < 0) among n elements spread over the lanes: element i * 32 + lane
// is value[i] of that lane. Every lane returns the same candidate; index < 0
// when none is left. The slots are unrolled, so the arrays stay in registers.
template <int SLOTS>
__device__ __forceinline__ RankedScore warp_next_in_registers(const float (&value)[SLOTS],
                                                              const float (&payload)[SLOTS], int n,
                                                              RankedScore prev) {
  const int lane = lane_id();
  RankedScore best{0.f, -1, 0.f};
#pragma unroll
  for (int i = 0; i < SLOTS; ++i) {
    const int e = i * kWarp + lane;
    if (e >= n || (prev.index >= 0 && !ranks_before(prev.value, prev.index, value[i], e, true)))
      continue;
    if (best.index < 0 || ranks_before(value[i], e, best.value, best.index, true))
      best = RankedScore{value[i], e, payload[i]};
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    RankedScore other;
    other.value = __shfl_xor_sync(kFullMask, best.value, offset);
    other.index = __shfl_xor_sync(kFullMask, best.index, offset);
    other.payload = __shfl_xor_sync(kFullMask, best.payload, offset);
    if (other.index >= 0 && (best.index < 0 || ranks_before(other.value, other.index, best.value, best.index, true)))
      best = other;
  }
  return best;
}

// a strictly above b in the TopK order's values (NaN greatest; equal values
// are interchangeable when only the values matter, as in a group's top-2 sum).
__device__ __forceinline__ bool value_above(float a, float b) {
  return is_nan(a) ? !is_nan(b) : (!is_nan(b) && a > b);
}

// Folds v into the pair first >= second (value_above order).
__device__ __forceinline__ void keep_top2(float v, float &first, float &second) {
  if (value_above(v, first)) {
    second = first;
    first = v;
  } else if (value_above(v, second)) {
    second = v;
  }
}

// The token at logits x[0, experts), written to w[0, k) / ids[0, k). Called by a
// whole warp with parameters inside the limits.
template <class T, class B>
__device__ void route_sigmoid_one_token(const T *x, const B *bias, T *w, int64 *ids, int experts, int k,
                                        int groups, int topk_groups, bool normalize, float scaling) {
  const int lane = lane_id();
  float score[kSigmoidSlots], sel[kSigmoidSlots];
#pragma unroll
  for (int i = 0; i < kSigmoidSlots; ++i) {
    const int e = i * kWarp + lane;
    score[i] = 0.f;
    sel[i] = 0.f;
    if (e < experts) {
      score[i] = 1.f / (1.f + expf(-to_float(x[e])));
      sel[i] = bias ? score[i] + to_float(bias[e]) : score[i];
    }
  }
  if (groups > 1) {
    const int group_size = experts / groups;
    // 1. Group scores: lane g % 32 keeps group g's in slot g / 32.
    float group_score[kSigmoidGroupSlots];
#pragma unroll
    for (int j = 0; j < kSigmoidGroupSlots; ++j)
      group_score[j] = 0.f;
    for (int g = 0; g < groups; ++g) { // uniform: every lane runs every shuffle
      const int begin = g * group_size, end = begin + group_size;
      float first = -float_infinity(), second = -float_infinity();
#pragma unroll
      for (int i = 0; i < kSigmoidSlots; ++i) {
        const int e = i * kWarp + lane;
        if (e >= begin && e < end)
          keep_top2(sel[i], first, second);
      }
      for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const float other_first = __shfl_xor_sync(kFullMask, first, offset);
        const float other_second = __shfl_xor_sync(kFullMask, second, offset);
        keep_top2(other_first, first, second);
        keep_top2(other_second, first, second);
      }
#pragma unroll
      for (int j = 0; j < kSigmoidGroupSlots; ++j)
        if (g == j * kWarp + lane)
          group_score[j] = first + second; // NaN in the group: NaN
    }
    // 2. The topk_groups-th group in rank order; it and the groups ranked
    // before it are kept. Bit j of `kept` is group j * 32 + lane.
    RankedScore last{0.f, -1, 0.f};
    for (int j = 0; j < topk_groups; ++j)
      last = warp_next_in_registers(group_score, group_score, groups, last);
    unsigned kept = 0;
#pragma unroll
    for (int j = 0; j < kSigmoidGroupSlots; ++j) {
      const int g = j * kWarp + lane;
      if (g < groups && (g == last.index || ranks_before(group_score[j], g, last.value, last.index, true)))
        kept |= 1u << j;
    }
    // 3. Experts of the other groups drop to -inf (HF's masked_fill).
#pragma unroll
    for (int i = 0; i < kSigmoidSlots; ++i) {
      const int e = i * kWarp + lane;
      const int g = e < experts ? e / group_size : 0;
      const unsigned bits = __shfl_sync(kFullMask, kept, g % kWarp);
      if (e < experts && !((bits >> (g / kWarp)) & 1u))
        sel[i] = -float_infinity();
    }
  }
  // 4. The k best experts; lane j keeps the j-th one.
  RankedScore prev{0.f, -1, 0.f};
  int my_id = 0;
  float my_weight = 0.f;
  for (int j = 0; j < k; ++j) {
    prev = warp_next_in_registers(sel, score, experts, prev);
    if (lane == j) {
      my_id = prev.index; // k <= experts: always found
      my_weight = prev.payload;
    }
  }
  const float sum = warp_reduce(lane < k ? my_weight : 0.f, SumOp{});
  if (lane < k) {
    w[lane] = from_float<T>((normalize ? my_weight / sum : my_weight) * scaling);
    ids[lane] = my_id;
  }
}
} // namespace detail

template <class T, int BLOCK, class B = T>
__device__ void moe_route_sigmoid(const T *logits, const B *bias, T *weights, int64 *expert_ids,
                                  index_t tokens, index_t experts, index_t k, index_t groups,
                                  index_t topk_groups, bool normalize, float scaling) {
  static_assert(BLOCK % kWarp == 0, "moe_route_sigmoid: BLOCK must be a multiple of 32");
  if (tokens <= 0 || k <= 0)
    return;
  const bool grouped = groups > 1;
  const bool valid = k <= experts && k <= kWarp && experts <= kSigmoidMaxExperts &&
                     (!grouped || (experts % groups == 0 && experts / groups >= 2 && topk_groups >= 1 &&
                                   topk_groups <= groups));
  for (index_t t = grid_warp<BLOCK>(); t < tokens; t += grid_warps<BLOCK>()) {
    if (valid) {
      detail::route_sigmoid_one_token(logits + t * experts, bias, weights + t * k, expert_ids + t * k,
                                      static_cast<int>(experts), static_cast<int>(k),
                                      grouped ? static_cast<int>(groups) : 1, static_cast<int>(topk_groups),
                                      normalize, scaling);
    } else {
      for (index_t j = lane_id(); j < k; j += kWarp) {
        weights[t * k + j] = from_float<T>(0.f);
        expert_ids[t * k + j] = 0;
      }
    }
  }
}

// No bias, spelled as a bare nullptr (B cannot be deduced from it).
template <class T, int BLOCK>
__device__ void moe_route_sigmoid(const T *logits, decltype(nullptr), T *weights, int64 *expert_ids,
                                  index_t tokens, index_t experts, index_t k, index_t groups,
                                  index_t topk_groups, bool normalize, float scaling) {
  moe_route_sigmoid<T, BLOCK, T>(logits, static_cast<const T *>(nullptr), weights, expert_ids, tokens, experts, k,
                                 groups, topk_groups, normalize, scaling);
}

// The whole router in one launch: logits = X[t] . Wr^T (+ bias) for every
// expert, then softmax, top-k and optional renormalization, without the
// logits ever reaching global memory. Wr is [experts, hidden] (hidden
// contiguous); X rows are [hidden]. One warp per token: each expert's dot
// product is a coalesced read of its weight row and a warp reduction, in
// float; the logits live in the warp's slice of `smem_logits`
// ((BLOCK / 32) * experts floats of dynamic shared memory, which the
// launch must provide).
template <class T, class W, int BLOCK>
__device__ void moe_route_linear(const T *X, const W *Wr, const W *bias, T *weights,
                                 int64 *expert_ids, index_t tokens, index_t hidden,
                                 index_t experts, index_t k, bool normalize,
                                 float *smem_logits) {
  static_assert(BLOCK % kWarp == 0, "moe_route_linear: BLOCK must be a multiple of 32");
  if (tokens <= 0 || k <= 0)
    return;
  const int lane = lane_id();
  float *logits = smem_logits + static_cast<index_t>(threadIdx.x / kWarp) * experts;
  for (index_t t = grid_warp<BLOCK>(); t < tokens; t += grid_warps<BLOCK>()) {
    const T *x = X + t * hidden;
    for (index_t e = 0; e < experts; ++e) {
      const W *row = Wr + e * hidden;
      float partial = 0.f;
      for (index_t h = lane; h < hidden; h += kWarp)
        partial += to_float(x[h]) * to_float(row[h]);
      float sum = warp_reduce(partial, SumOp{});
      if (lane == 0)
        logits[e] = sum + (bias ? to_float(bias[e]) : 0.f);
    }
    __syncwarp();
    detail::route_one_token(logits, weights + t * k, expert_ids + t * k, experts, k, normalize);
    __syncwarp(); // the next token overwrites the logits
  }
}

// Most experts moe_permute handles: its shared histogram holds
// kPermuteHistogram counters, at least one segment of `experts` counters.
constexpr int kPermuteHistogram = 8192;

// Groups the tokens * k routing slots s = t * k + j by expert for the grouped
// GEMMs: expert_offsets [experts + 1] is the exclusive scan of the per-expert
// counts (expert_offsets[experts] = slots kept), sorted_slots [tokens * k] lists
// the slots of expert 0, then expert 1, ..., each in increasing s (stable and
// deterministic). Entries past expert_offsets[experts] are -1.
// An expert id outside [0, experts) reports 1 and its slot is dropped (never
// written out of bounds); experts > kPermuteHistogram reports 2.
// Runs in block 0 only (other blocks return at once): launch ONE block of BLOCK
// threads (recommended 1024). Each warp counts and then scatters one contiguous
// segment of the slots, so the order needs no atomics beyond shared counters.
// Slot counts must fit in int (tokens * k < 2^31).
template <int BLOCK>
__device__ void moe_permute(const int64 *expert_ids, index_t tokens, index_t k, index_t experts,
                            int *expert_offsets, int *sorted_slots, int *status) {
  static_assert(BLOCK % kWarp == 0 && BLOCK >= kWarp, "moe_permute: BLOCK must be a multiple of 32");
  constexpr int kWarps = BLOCK / kWarp;
  __shared__ int histogram[kPermuteHistogram]; // [segments][experts]
  __shared__ int warp_totals[kWarps];
  __shared__ int carry;
  if (grid_block() != 0 || experts < 0)
    return;
  if (experts > kPermuteHistogram) {
    if (threadIdx.x == 0)
      report_error(status, kErrorBadParameters);
    return;
  }
  const int E = static_cast<int>(experts);
  const index_t slots_l = tokens > 0 && k > 0 ? tokens * k : 0;
  const int slots = static_cast<int>(slots_l);
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = lane_id();
  const int by_space = E > 0 ? kPermuteHistogram / E : kWarps;
  const int segments = by_space < kWarps ? by_space : kWarps;
  const int seg_len = (slots + segments - 1) / segments;
  const int seg_begin = warp * seg_len;
  const int seg_end = warp < segments ? (seg_begin + seg_len < slots ? seg_begin + seg_len : slots) : 0;

  // 1. Per-segment counts.
  for (int i = threadIdx.x; i < segments * E; i += BLOCK)
    histogram[i] = 0;
  __syncthreads();
  for (int s = seg_begin + lane; s < seg_end; s += kWarp) {
    const int64 e = expert_ids[s];
    if (e < 0 || e >= experts)
      report_error(status, kErrorIndexOutOfRange);
    else
      atomicAdd(&histogram[warp * E + static_cast<int>(e)], 1);
  }
  __syncthreads();

  // 2. Exclusive scan over experts of the totals, BLOCK experts per round.
  if (threadIdx.x == 0)
    carry = 0;
  for (int base = 0; base < E + 1; base += BLOCK) { // E + 1: the last round writes the grand total
    const int e = base + static_cast<int>(threadIdx.x);
    int total = 0;
    if (e < E)
      for (int w = 0; w < segments; ++w)
        total += histogram[w * E + e];
    int inclusive = total;
    for (int offset = 1; offset < kWarp; offset *= 2) {
      const int up = __shfl_up_sync(kFullMask, inclusive, offset);
      if (lane >= offset)
        inclusive += up;
    }
    if (lane == kWarp - 1)
      warp_totals[warp] = inclusive;
    __syncthreads();
    int before = carry;
    for (int w = 0; w < warp; ++w)
      before += warp_totals[w];
    const int exclusive = before + inclusive - total;
    if (e <= E)
      expert_offsets[e] = exclusive;
    // 3. Each segment's start inside expert e's run.
    if (e < E) {
      int at = exclusive;
      for (int w = 0; w < segments; ++w) {
        const int c = histogram[w * E + e];
        histogram[w * E + e] = at;
        at += c;
      }
    }
    __syncthreads();
    if (threadIdx.x == BLOCK - 1)
      carry = exclusive + total;
    __syncthreads();
  }
  const int kept = carry;
  for (int s = kept + static_cast<int>(threadIdx.x); s < slots; s += BLOCK)
    sorted_slots[s] = -1;

  // 4. Stable scatter: each warp walks its segment 32 slots at a time in order;
  // lanes with the same expert take consecutive places by lane (= by slot).
  const unsigned lower_lanes = (1u << lane) - 1u;
  for (int chunk = seg_begin; chunk < seg_end; chunk += kWarp) {
    const int s = chunk + lane;
    int key = -1;
    if (s < seg_end) {
      const int64 e = expert_ids[s];
      if (e >= 0 && e < experts)
        key = static_cast<int>(e);
    }
    const unsigned peers = __match_any_sync(kFullMask, key);
    int place = 0;
    if (key >= 0)
      place = histogram[warp * E + key] + __popc(peers & lower_lanes);
    __syncwarp();
    if (key >= 0) {
      sorted_slots[place] = s;
      if ((peers & lower_lanes) == 0) // the lowest lane of the group advances the cursor
        histogram[warp * E + key] += __popc(peers);
    }
    __syncwarp();
  }
}

// Y[t, h] = sum over j = 0..k-1 (in that order) of partial[t, j, h], float
// accumulation; partial [tokens, k, hidden] holds the expert outputs already
// scaled by their routing weights.
template <class T, int BLOCK>
__device__ void moe_combine(const T *partial, T *Y, index_t tokens, index_t k, index_t hidden) {
  if (tokens <= 0 || hidden <= 0)
    return;
  const index_t total = tokens * hidden;
  for (index_t e = grid_thread<BLOCK>(); e < total; e += grid_threads<BLOCK>()) {
    const index_t t = e / hidden, h = e - t * hidden;
    const T *p = partial + t * k * hidden + h;
    float acc = 0.f;
    for (index_t j = 0; j < k; ++j)
      acc += to_float(p[j * hidden]);
    Y[e] = from_float<T>(acc);
  }
}

// ---- Range, CumSum, ScatterND (ops of whole exported decoders) -----------------

// range's status code when the scalars give another length than the one the
// compiler planned Y for (a static size, or the token count).
constexpr int kErrorRangeLength = 3;

namespace detail {

// Range's element count, exactly as the host library's detail::range_length
// (and moec's shape inference): integers exactly, floats in their own
// precision (IEEE division: NVRTC is not given fast-math flags). -1 for
// delta 0, a NaN or infinite quotient, or a count beyond int64.
__device__ __forceinline__ index_t range_length_int(long long s, long long l, long long d) {
  if (d == 0)
    return -1;
  if (d > 0 ? l <= s : l >= s)
    return 0;
  const uint64 span = d > 0 ? uint64(l) - uint64(s) : uint64(s) - uint64(l);
  const uint64 step = d > 0 ? uint64(d) : uint64(-(d + 1)) + 1;
  const uint64 count = span / step + (span % step != 0);
  return count > uint64(0x7fffffffffffffffLL) ? -1 : index_t(count);
}
__device__ __forceinline__ index_t range_length_of(float s, float l, float d) {
  const float q = ceilf((l - s) / d);
  return isnan(q) || q >= 9.2e18f ? -1 : (q <= 0.f ? 0 : index_t(q));
}
__device__ __forceinline__ index_t range_length_of(double s, double l, double d) {
  const double q = ceil((l - s) / d);
  return isnan(q) || q >= 9.2e18 ? -1 : (q <= 0.0 ? 0 : index_t(q));
}
__device__ __forceinline__ index_t range_length_of(long long s, long long l, long long d) {
  return range_length_int(s, l, d);
}
__device__ __forceinline__ index_t range_length_of(int s, int l, int d) {
  return range_length_int(s, l, d);
}
__device__ __forceinline__ float range_element(float s, float d, index_t i) {
  return s + static_cast<float>(i) * d;
}
__device__ __forceinline__ double range_element(double s, double d, index_t i) {
  return s + static_cast<double>(i) * d;
}
// Integers wrap-free in uint64: exact, the true value lies between start and limit.
__device__ __forceinline__ long long range_element(long long s, long long d, index_t i) {
  return static_cast<long long>(uint64(s) + uint64(i) * uint64(d));
}
__device__ __forceinline__ int range_element(int s, int d, index_t i) {
  return static_cast<int>(range_element(static_cast<long long>(s), static_cast<long long>(d), i));
}

// CumSum's running sum: float for 16-bit storage, the type itself otherwise
// (double and the integers included, unlike Num, which has no double).
template <class T> struct CumAcc {
  typedef T type;
  __device__ static T in(T x) { return x; }
  __device__ static T out(T a) { return a; }
};
template <> struct CumAcc<__half> {
  typedef float type;
  __device__ static float in(__half x) { return to_float(x); }
  __device__ static __half out(float a) { return from_float<__half>(a); }
};
template <> struct CumAcc<__nv_bfloat16> {
  typedef float type;
  __device__ static float in(__nv_bfloat16 x) { return to_float(x); }
  __device__ static __nv_bfloat16 out(float a) { return from_float<__nv_bfloat16>(a); }
};

} // namespace detail

// Range (ONNX): Y[i] = start + i * delta for i < n = max(ceil((limit - start) /
// delta), 0); T is float, double, int or long long, the scalars are device
// pointers. `length` is the size Y was planned with: when n differs (or
// delta is 0) reports kErrorRangeLength and no thread writes.
template <class T, int BLOCK>
__device__ void range(const T *start, const T *limit, const T *delta, T *Y, index_t length,
                     int *status) {
  const T s = *start, d = *delta;
  const index_t n = detail::range_length_of(s, *limit, d);
  if (n != length) {
    if (grid_thread<BLOCK>() == 0)
      report_error(status, kErrorRangeLength);
    return;
  }
  for (index_t i = grid_thread<BLOCK>(); i < n; i += grid_threads<BLOCK>())
    Y[i] = detail::range_element(s, d, i);
}

// CumSum (ONNX) of X viewed as [outer, axis_len, inner] along the middle
// axis: one thread per (outer, inner) line, summing in order along the axis
// in detail::CumAcc<T> (T itself for float, double and the integers: the
// host's sums bit for bit; float for 16-bit storage). Inclusive or exclusive
// (Y[first] = 0), forward or reverse. Y must not alias X.
template <class T, int BLOCK>
__device__ void cumsum(const T *X, T *Y, index_t outer, index_t axis_len, index_t inner,
                       bool exclusive, bool reverse) {
  typedef detail::CumAcc<T> A;
  if (outer <= 0 || axis_len <= 0 || inner <= 0)
    return;
  const index_t lines = outer * inner;
  for (index_t line = grid_thread<BLOCK>(); line < lines; line += grid_threads<BLOCK>()) {
    const index_t o = line / inner, j = line - o * inner;
    const index_t base = o * axis_len * inner + j;
    typename A::type acc = typename A::type(0);
    for (index_t step = 0; step < axis_len; ++step) {
      const index_t at = base + (reverse ? axis_len - 1 - step : step) * inner;
      const typename A::type x = A::in(X[at]);
      if (!exclusive)
        acc = acc + x;
      Y[at] = A::out(acc);
      if (exclusive)
        acc = acc + x;
    }
  }
}

// ScatterND (ONNX): Y = data, then for every index tuple t (row-major over
// indices.shape[:-1], `tuples` of them, q entries each) the slice of Y
// addressed by idx[t, 0..q) (op)= updates[t, :] (data.shape[q:], `slice`
// elements). ONE block does it (launch with gridDim 1; extra blocks return):
// the copy of data must be complete before any update lands, which needs a
// barrier, and a grid-wide one does not exist. Exporters write ScatterND
// for slice assignment (rotary halves of q / k), a few thousand elements a
// token, so one SM is enough there. With a reduction each thread owns slice
// columns and applies the tuples in order (deterministic, matches the host);
// with None the (tuple, column) pairs run in parallel: ONNX requires the
// tuples to be distinct then, and with duplicates one of them wins. An
// index out of range reports 1 and skips that tuple (the host writes nothing
// at all); q outside [0, rank] or a reduction on a type without arithmetic
// reports 2. Y may alias data.
template <class T, class I, int BLOCK>
__device__ void scatter_nd(const T *data, const I *idx, const T *updates, T *Y, int rank,
                           const index_t *data_shape, index_t tuples, int q,
                           ScatterReduction reduction, int *status) {
  if (grid_block() != 0)
    return;
  if (q < 0 || q > rank ||
      (reduction != ScatterReduction::None && !detail::HasNum<T>::value)) {
    if (threadIdx.x == 0)
      report_error(status, kErrorBadParameters);
    return;
  }
  const index_t count = product(data_shape, 0, rank), slice = product(data_shape, q, rank);
  if (Y != data)
    for (index_t e = threadIdx.x; e < count; e += BLOCK)
      Y[e] = data[e];
  __syncthreads();
  if (slice <= 0)
    return;
  // The element offset of tuple t's slice, or -1 for an index out of range.
  auto slice_offset = [&](index_t t) -> index_t {
    index_t offset = 0, stride = slice;
    for (int j = q - 1; j >= 0; --j) {
      index_t a;
      if (!normalize_index(idx[t * q + j], data_shape[j], a))
        return -1;
      offset += a * stride;
      stride *= data_shape[j];
    }
    return offset;
  };
  if (reduction == ScatterReduction::None) {
    const index_t pairs = tuples * slice;
    for (index_t p = threadIdx.x; p < pairs; p += BLOCK) {
      const index_t t = p / slice, e = p - t * slice;
      const index_t offset = slice_offset(t);
      if (offset < 0) {
        if (e == 0)
          report_error(status, kErrorIndexOutOfRange);
        continue;
      }
      Y[offset + e] = updates[p];
    }
    return;
  }
  for (index_t e = threadIdx.x; e < slice; e += BLOCK)
    for (index_t t = 0; t < tuples; ++t) {
      const index_t offset = slice_offset(t);
      if (offset < 0) {
        if (e == 0)
          report_error(status, kErrorIndexOutOfRange);
        continue;
      }
      T &y = Y[offset + e];
      y = detail::ScatterApply<T, detail::HasNum<T>::value>::apply(y, updates[t * slice + e],
                                                                    reduction);
    }
}

} // namespace moec_ck

#endif // MOEC_CUDA_KERNELS_CUH
