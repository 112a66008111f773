// moec host kernel templates.
//
// moec's host emitter generates one small `extern "C"` function per kernel launch
// that computes run-time sizes from the token count and calls one of these
// templates. This header is compiled together with that generated code by the
// system C++ compiler (C++17, -O3), so it depends on the standard library only
// and is embedded verbatim in the moec binary.
//
// Conventions shared by every kernel:
//  * Tensors are dense and row-major. Any dimension may be zero (including the
//    token count): a kernel with nothing to do returns without touching memory.
//  * Kernels that can meet bad data (indices, expert ids) return int: 0 on
//    success, 1 when an index is out of range (outputs are then unspecified),
//    2 when the parameters break the contract the emitter promises (a compiler bug).
//  * Arithmetic accumulates in acc_t<T>: float for float, double for double, the
//    type itself for integers, float for any narrower floating type added later.
//  * Single threaded. Hot loops have contiguous inner loops with fixed or simple
//    trip counts so the compiler vectorizes them; nothing allocates except where
//    a comment says so (tensors of rank > 16, TopK with k > 64).
#ifndef MOEC_HOST_KERNELS_H
#define MOEC_HOST_KERNELS_H

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace moec_hk {

using index_t = int64_t;

namespace detail {

template <class T>
using acc_t = std::conditional_t<std::is_arithmetic<T>::value, T, float>;

// Keeps a template parameter out of argument deduction (std::type_identity).
template <class T> struct NotDeduced { using type = T; };

template <class T> inline bool is_nan(T x) {
  if constexpr (std::is_floating_point<T>::value)
    return std::isnan(x);
  else
    return false;
}

// A fixed-capacity array that falls back to the heap only for unusually large
// sizes (ranks above 16), so the common case never allocates.
template <class V> class SmallBuf {
public:
  explicit SmallBuf(size_t n) : data_(n <= kInline ? inline_ : (heap_.resize(n), heap_.data())) {}
  SmallBuf(const SmallBuf &) = delete;
  SmallBuf &operator=(const SmallBuf &) = delete;
  V &operator[](size_t i) { return data_[i]; }
  V *data() { return data_; }

private:
  static constexpr size_t kInline = 16;
  V inline_[kInline] = {};
  std::vector<V> heap_;
  V *data_;
};

// Row-major odometer over `rank` dims that keeps NS linear offsets up to date
// (offset[s] = sum_d index[d] * strides[s][d]). Use as
//   do { ... } while (odo.next());
// A rank-0 odometer visits exactly one position.
template <int NS> class Odometer {
public:
  Odometer(int rank, const index_t *shape, std::array<const index_t *, NS> strides)
      : rank_(rank), shape_(shape), strides_(strides), index_(static_cast<size_t>(rank)) {
    for (int d = 0; d < rank; ++d)
      index_[d] = 0;
  }
  bool next() {
    for (int d = rank_ - 1; d >= 0; --d) {
      if (++index_[d] < shape_[d]) {
        for (int s = 0; s < NS; ++s)
          offset[s] += strides_[s][d];
        return true;
      }
      for (int s = 0; s < NS; ++s)
        offset[s] -= strides_[s][d] * (shape_[d] - 1);
      index_[d] = 0;
    }
    return false;
  }
  index_t offset[NS] = {};

private:
  int rank_;
  const index_t *shape_;
  std::array<const index_t *, NS> strides_;
  SmallBuf<index_t> index_;
};

inline index_t product(const index_t *dims, int begin, int end) {
  index_t p = 1;
  for (int d = begin; d < end; ++d)
    p *= dims[d];
  return p;
}

// Row-major element strides of `shape`.
inline void row_major_strides(int rank, const index_t *shape, index_t *strides) {
  index_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
}

// ---- GEMM cores ------------------------------------------------------------

constexpr index_t kRowTile = 4;  // rows of A per register tile
constexpr index_t kColTile = 32; // columns of Y per tile (row-major B)
constexpr int kLanes = 8;        // partial sums per dot product (transposed B)

// Y[M,N] = A[M,K] * B[K,N] (+ bias[N]); B row-major with leading dimension ldb.
// For each tile of kRowTile x kColTile outputs the K loop streams one contiguous
// row segment of B and accumulates in a local tile the compiler vectorizes.
template <class T>
void gemm_nn(const T *A, index_t lda, const T *B, index_t ldb, const T *bias, T *Y, index_t ldy,
             index_t M, index_t K, index_t N) {
  using Acc = acc_t<T>;
  if constexpr (std::is_same<Acc, T>::value) {
    if (M < kRowTile) { // decode-sized: stream each row of B once, accumulate in Y
      for (index_t i = 0; i < M; ++i) {
        T *y = Y + i * ldy;
        for (index_t j = 0; j < N; ++j)
          y[j] = bias ? bias[j] : T(0);
        for (index_t k = 0; k < K; ++k) {
          const T a = A[i * lda + k];
          const T *b = B + k * ldb;
          for (index_t j = 0; j < N; ++j)
            y[j] += a * b[j];
        }
      }
      return;
    }
  }
  for (index_t j0 = 0; j0 < N; j0 += kColTile) {
    const index_t nb = std::min(kColTile, N - j0);
    for (index_t i0 = 0; i0 < M; i0 += kRowTile) {
      const index_t mb = std::min(kRowTile, M - i0);
      Acc acc[kRowTile][kColTile] = {};
      if (mb == kRowTile && nb == kColTile) {
        for (index_t k = 0; k < K; ++k) {
          const T *b = B + k * ldb + j0;
          for (index_t r = 0; r < kRowTile; ++r) {
            const Acc a = static_cast<Acc>(A[(i0 + r) * lda + k]);
            for (index_t j = 0; j < kColTile; ++j)
              acc[r][j] += a * static_cast<Acc>(b[j]);
          }
        }
      } else {
        for (index_t k = 0; k < K; ++k) {
          const T *b = B + k * ldb + j0;
          for (index_t r = 0; r < mb; ++r) {
            const Acc a = static_cast<Acc>(A[(i0 + r) * lda + k]);
            for (index_t j = 0; j < nb; ++j)
              acc[r][j] += a * static_cast<Acc>(b[j]);
          }
        }
      }
      for (index_t r = 0; r < mb; ++r)
        for (index_t j = 0; j < nb; ++j)
          Y[(i0 + r) * ldy + j0 + j] =
              static_cast<T>(acc[r][j] + (bias ? static_cast<Acc>(bias[j0 + j]) : Acc(0)));
    }
  }
}

// GCC at -O3 warns "iteration N invokes undefined behavior" on these loops:
// it reasons about index overflow for sizes near 2^62 that no tensor has. The
// loops are checked under AddressSanitizer/UBSan over odd sizes; the warning
// is silenced here only, so generated projects build without noise.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#endif

// out[r][c] = dot(A row r, B row c) over K for an MR x NR tile of contiguous rows.
// kLanes independent partial sums make the loop vectorizable without
// reassociation flags and shorten the summation chains (better conditioning).
template <int MR, int NR, class T, class TB = T>
inline void dot_tile(const T *A, index_t lda, const TB *B, index_t ldb, index_t K,
                     acc_t<T> (&out)[MR][NR]) {
  using Acc = acc_t<T>;
  Acc lane[MR][NR][kLanes] = {};
  index_t k = 0;
  for (; k + kLanes <= K; k += kLanes)
    for (int r = 0; r < MR; ++r)
      for (int c = 0; c < NR; ++c)
        for (int l = 0; l < kLanes; ++l)
          lane[r][c][l] +=
              static_cast<Acc>(A[r * lda + k + l]) * static_cast<Acc>(B[c * ldb + k + l]);
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      Acc s = 0;
      for (int l = 0; l < kLanes; ++l)
        s += lane[r][c][l];
      for (index_t kk = k; kk < K; ++kk)
        s += static_cast<Acc>(A[r * lda + kk]) * static_cast<Acc>(B[c * ldb + kk]);
      out[r][c] = s;
    }
}

template <int MR, int NR, class T>
inline void gemm_nt_tile(const T *A, index_t lda, const T *B, index_t ldb, const T *bias, T *Y,
                         index_t ldy, index_t i, index_t j, index_t K) {
  acc_t<T> out[MR][NR];
  dot_tile<MR, NR>(A + i * lda, lda, B + j * ldb, ldb, K, out);
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c)
      Y[(i + r) * ldy + j + c] =
          static_cast<T>(out[r][c] + (bias ? static_cast<acc_t<T>>(bias[j + c]) : acc_t<T>(0)));
}

// Y[M,N] = A[M,K] * dequant(Q)[N,K]^T (+ bias[N]) for int8 Q with one float
// scale per `group` elements of each row (scales [N, ceil(K / group)]): each
// group's integer-weight dot product is scaled once, so Q is never expanded
// to floats in memory.
template <int MR, int NR, class T>
inline void gemm_nt_q8_tile(const T *A, index_t lda, const int8_t *Q, index_t ldq,
                            const float *scales, index_t group, const T *bias, T *Y, index_t ldy,
                            index_t i, index_t j, index_t K) {
  using Acc = acc_t<T>;
  const index_t blocks = (K + group - 1) / group;
  Acc total[MR][NR] = {};
  for (index_t b = 0; b < blocks; ++b) {
    const index_t k0 = b * group, len = std::min(group, K - k0);
    Acc part[MR][NR];
    dot_tile<MR, NR>(A + i * lda + k0, lda, Q + j * ldq + k0, ldq, len, part);
    for (int r = 0; r < MR; ++r)
      for (int c = 0; c < NR; ++c)
        total[r][c] += part[r][c] * static_cast<Acc>(scales[(j + c) * blocks + b]);
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c)
      Y[(i + r) * ldy + j + c] =
          static_cast<T>(total[r][c] + (bias ? static_cast<Acc>(bias[j + c]) : Acc(0)));
}

template <class T>
void gemm_nt_q8(const T *A, index_t lda, const int8_t *Q, index_t ldq, const float *scales,
                index_t group, const T *bias, T *Y, index_t ldy, index_t M, index_t K, index_t N) {
  index_t i = 0;
  for (; i + 2 <= M; i += 2) {
    index_t j = 0;
    for (; j + 4 <= N; j += 4)
      gemm_nt_q8_tile<2, 4>(A, lda, Q, ldq, scales, group, bias, Y, ldy, i, j, K);
    for (; j < N; ++j)
      gemm_nt_q8_tile<2, 1>(A, lda, Q, ldq, scales, group, bias, Y, ldy, i, j, K);
  }
  for (; i < M; ++i) {
    index_t j = 0;
    for (; j + 4 <= N; j += 4)
      gemm_nt_q8_tile<1, 4>(A, lda, Q, ldq, scales, group, bias, Y, ldy, i, j, K);
    for (; j < N; ++j)
      gemm_nt_q8_tile<1, 1>(A, lda, Q, ldq, scales, group, bias, Y, ldy, i, j, K);
  }
}

// Y[M,N] = A[M,K] * B[N,K]^T (+ bias[N]): every output is a dot product of two
// contiguous rows; computed in 2 x 4 tiles so each loaded element is reused.
template <class T>
void gemm_nt(const T *A, index_t lda, const T *B, index_t ldb, const T *bias, T *Y, index_t ldy,
             index_t M, index_t K, index_t N) {
  index_t i = 0;
  for (; i + 2 <= M; i += 2) {
    index_t j = 0;
    for (; j + 4 <= N; j += 4)
      gemm_nt_tile<2, 4>(A, lda, B, ldb, bias, Y, ldy, i, j, K);
    for (; j < N; ++j)
      gemm_nt_tile<2, 1>(A, lda, B, ldb, bias, Y, ldy, i, j, K);
  }
  for (; i < M; ++i) {
    index_t j = 0;
    for (; j + 4 <= N; j += 4)
      gemm_nt_tile<1, 4>(A, lda, B, ldb, bias, Y, ldy, i, j, K);
    for (; j < N; ++j)
      gemm_nt_tile<1, 1>(A, lda, B, ldb, bias, Y, ldy, i, j, K);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- TopK selection ----------------------------------------------------------

template <class T> struct Ranked {
  T value;
  int64_t index;
};

// The order TopK reports elements in: by value (descending when largest, else
// ascending), equal values by the lower index first (ONNX). NaN ranks as the
// greatest value: first when largest, last otherwise (as numpy.sort/PyTorch).
template <class T> struct RanksBefore {
  bool largest;
  bool operator()(const Ranked<T> &a, const Ranked<T> &b) const {
    const bool an = is_nan(a.value), bn = is_nan(b.value);
    if (an || bn) {
      if (an && bn)
        return a.index < b.index;
      return largest ? an : bn;
    }
    if (a.value != b.value)
      return largest ? a.value > b.value : a.value < b.value;
    return a.index < b.index;
  }
};

// Selects the min(k, n) first-ranked of n elements read with `stride` into
// best[0..), best first. best holds k entries. A bounded heap whose front is the
// worst kept element: O(n log k), and O(n) when the threshold is rarely beaten.
template <class T>
index_t select_topk(const T *x, index_t n, index_t stride, index_t k, bool largest,
                    Ranked<T> *best) {
  const RanksBefore<T> before{largest};
  index_t size = 0;
  if (k <= 0)
    return 0;
  for (index_t i = 0; i < n; ++i) {
    const Ranked<T> e{x[i * stride], i};
    if (size < k) {
      best[size++] = e;
      std::push_heap(best, best + size, before);
    } else if (before(e, best[0])) {
      std::pop_heap(best, best + k, before);
      best[k - 1] = e;
      std::push_heap(best, best + k, before);
    }
  }
  std::sort_heap(best, best + size, before);
  return size;
}

// Working storage for select_topk: on the stack up to 64 entries, else one
// heap allocation per kernel call (never per row).
template <class T> class TopKBuffer {
public:
  explicit TopKBuffer(index_t k)
      : data_(k <= kInline ? inline_ : (heap_.resize(static_cast<size_t>(k)), heap_.data())) {}
  TopKBuffer(const TopKBuffer &) = delete;
  TopKBuffer &operator=(const TopKBuffer &) = delete;
  Ranked<T> *data() { return data_; }

private:
  static constexpr index_t kInline = 64;
  Ranked<T> inline_[kInline];
  std::vector<Ranked<T>> heap_;
  Ranked<T> *data_;
};

// Normalizes an ONNX index (negative counts from the end); false if out of range.
template <class I> inline bool normalize_index(I raw, index_t extent, index_t &out) {
  index_t v = static_cast<index_t>(raw);
  if (v < 0)
    v += extent;
  if (v < 0 || v >= extent)
    return false;
  out = v;
  return true;
}

} // namespace detail

// ---- Dense linear algebra ------------------------------------------------------

// Y[M,N] = X[M,K] * W + bias; W is [K,N] row-major, or [N,K] when w_transposed
// (ONNX Gemm transB, MoE fc layouts). bias [N] may be null. K == 0 gives bias (or 0).
template <class T>
void linear(const T *X, const T *W, const T *bias, T *Y, index_t M, index_t K, index_t N,
            bool w_transposed) {
  if (M <= 0 || N <= 0)
    return;
  if (w_transposed)
    detail::gemm_nt(X, K, W, K, bias, Y, N, M, K, N);
  else
    detail::gemm_nn(X, K, W, N, bias, Y, N, M, K, N);
}

// Two signed 4-bit weights in one byte: element 2j of a row in the low
// nibble of byte j, element 2j + 1 in the high nibble (moec-quantize-weights,
// format int4).
struct int4x2 {
  int8_t byte;
};

namespace detail {
inline int8_t low_nibble(int8_t b) { return static_cast<int8_t>(static_cast<int8_t>(b << 4) >> 4); }
inline int8_t high_nibble(int8_t b) { return static_cast<int8_t>(b >> 4); }
// Row n of a packed [N, K] int4 weight as int8 values in `out` [K].
inline void unpack_int4_row(const int4x2 *Q, index_t n, index_t K, int8_t *out) {
  const int4x2 *row = Q + n * ((K + 1) / 2);
  for (index_t k = 0; k + 1 < K; k += 2) {
    out[k] = low_nibble(row[k / 2].byte);
    out[k + 1] = high_nibble(row[k / 2].byte);
  }
  if (K % 2)
    out[K - 1] = low_nibble(row[K / 2].byte);
}
} // namespace detail

// One FP8 E4M3FN weight (the OCP 8-bit float: 1 sign, 4 exponent bits with
// bias 7, 3 mantissa bits; no infinities, 0x7F and 0xFF are NaN, the largest
// finite value is 448), as moec-quantize-weights and ONNX FLOAT8E4M3FN store
// it. Every value is exact in float; decoding is a lookup in a 256-entry
// table computed once, at compile time (no initialization code, no guard).
struct fp8_e4m3 {
  uint8_t bits;
  explicit operator float() const;
};

namespace detail {
// The value of E4M3FN code `c` from its fields: subnormal (e = 0) m * 2^-9,
// normal (1 + m / 8) * 2^(e - 7) = (8 + m) * 2^(e - 10); the powers of two
// are exact products, so this is constexpr and exact.
constexpr float fp8_e4m3_value(uint8_t c) {
  const int e = (c >> 3) & 0xF, m = c & 7;
  if (e == 15 && m == 7)
    return std::numeric_limits<float>::quiet_NaN();
  float v = static_cast<float>(e == 0 ? m : 8 + m);
  for (int p = (e == 0 ? 1 : e) - 10; p < 0; ++p)
    v *= 0.5f;
  for (int p = e - 10; p > 0; --p)
    v *= 2.f;
  return (c & 0x80) ? -v : v;
}
struct Fp8E4M3Table {
  float value[256];
};
constexpr Fp8E4M3Table make_fp8_e4m3_table() {
  Fp8E4M3Table t{};
  for (int c = 0; c < 256; ++c)
    t.value[c] = fp8_e4m3_value(static_cast<uint8_t>(c));
  return t;
}
inline constexpr Fp8E4M3Table kFp8E4M3 = make_fp8_e4m3_table();
} // namespace detail

// value[code] for every E4M3FN code.
inline const float *fp8_e4m3_table() { return detail::kFp8E4M3.value; }
inline fp8_e4m3::operator float() const { return fp8_e4m3_table()[bits]; }

namespace detail {
// Row n of an fp8 [N, K] weight as floats in `out` [K].
inline void decode_fp8_row(const fp8_e4m3 *Q, index_t n, index_t K, float *out) {
  const float *table = fp8_e4m3_table();
  const fp8_e4m3 *row = Q + n * K;
  for (index_t k = 0; k < K; ++k)
    out[k] = table[row[k].bits];
}

// Y[M,N] = X[M,K] * dequant(W)^T + bias for a weight whose row n
// decode_row(n, row) writes as K values of type R (int4: int8 codes; fp8:
// exact floats), with float scales [N, ceil(K / group)] applied once per
// group's partial dot product: each weight row is decoded once and reused for
// all M rows of X, and never expanded to floats beyond one row.
template <class T, class R, class DecodeRow>
void linear_decoded_rows(const T *X, DecodeRow decode_row, const float *scales, index_t group,
                         const T *bias, T *Y, index_t M, index_t K, index_t N) {
  using Acc = acc_t<T>;
  if (M <= 0 || N <= 0)
    return;
  const index_t g = group > 0 ? group : std::max<index_t>(K, 1), blocks = (K + g - 1) / g;
  std::vector<R> row(static_cast<size_t>(std::max<index_t>(K, 1)));
  for (index_t n = 0; n < N; ++n) {
    decode_row(n, row.data());
    index_t i = 0;
    auto finish = [&](index_t r, Acc total) {
      Y[r * N + n] = static_cast<T>(total + (bias ? static_cast<Acc>(bias[n]) : Acc(0)));
    };
    for (; i + 2 <= M; i += 2) {
      Acc total[2] = {0, 0};
      for (index_t b = 0; b < blocks; ++b) {
        const index_t k0 = b * g, len = std::min(g, K - k0);
        Acc part[2][1];
        dot_tile<2, 1>(X + i * K + k0, K, row.data() + k0, K, len, part);
        const Acc s = static_cast<Acc>(scales[n * blocks + b]);
        total[0] += part[0][0] * s;
        total[1] += part[1][0] * s;
      }
      finish(i, total[0]);
      finish(i + 1, total[1]);
    }
    for (; i < M; ++i) {
      Acc total = 0;
      for (index_t b = 0; b < blocks; ++b) {
        const index_t k0 = b * g, len = std::min(g, K - k0);
        Acc part[1][1];
        dot_tile<1, 1>(X + i * K + k0, K, row.data() + k0, K, len, part);
        total += part[0][0] * static_cast<Acc>(scales[n * blocks + b]);
      }
      finish(i, total);
    }
  }
}
} // namespace detail

// Y[M,N] = X[M,K] * dequant(Q)^T + bias with Q packed int4 [N, ceil(K/2)]
// bytes and float scales [N, ceil(K / group)]: each weight row is unpacked
// once into int8 and reused for all M rows of X.
template <class T>
void linear_q4(const T *X, const int4x2 *Q, const float *scales, index_t group, const T *bias,
               T *Y, index_t M, index_t K, index_t N) {
  detail::linear_decoded_rows<T, int8_t>(
      X, [Q, K](index_t n, int8_t *row) { detail::unpack_int4_row(Q, n, K, row); }, scales,
      group, bias, Y, M, K, N);
}

// Y[M,N] = X[M,K] * dequant(Q)^T + bias with Q fp8 E4M3FN [N, K] and float
// scales [N, ceil(K / group)] (see moec-quantize-weights, format fp8): each
// weight row is decoded once into exact floats and reused for all M rows.
template <class T>
void linear_f8(const T *X, const fp8_e4m3 *Q, const float *scales, index_t group, const T *bias,
               T *Y, index_t M, index_t K, index_t N) {
  detail::linear_decoded_rows<T, float>(
      X, [Q, K](index_t n, float *row) { detail::decode_fp8_row(Q, n, K, row); }, scales, group,
      bias, Y, M, K, N);
}

// out = q * scale for packed int4 q [rows, ceil(D/2)] blocked along the last
// axis: element (r, d) uses scale (r, d / block) of scales [rows, ceil(D / block)].
template <class TS, class TOut>
void dequantize_int4(const int4x2 *q, const TS *scales, TOut *out, index_t rows, index_t D,
                     index_t block) {
  const index_t blocks = (D + block - 1) / block;
  std::vector<int8_t> row(static_cast<size_t>(std::max<index_t>(D, 1)));
  for (index_t r = 0; r < rows; ++r) {
    detail::unpack_int4_row(q, r, D, row.data());
    for (index_t d = 0; d < D; ++d)
      out[r * D + d] = static_cast<TOut>(static_cast<float>(row[d]) *
                                         static_cast<float>(scales[r * blocks + d / block]));
  }
}

// Y[M,N] = X[M,K] * dequant(Q)^T + bias with Q int8 [N,K] and float scales
// [N, ceil(K / group)] (weight-only int8, see moec-quantize-weights).
template <class T>
void linear_q8(const T *X, const int8_t *Q, const float *scales, index_t group, const T *bias,
               T *Y, index_t M, index_t K, index_t N) {
  if (M <= 0 || N <= 0)
    return;
  detail::gemm_nt_q8(X, K, Q, K, scales, group > 0 ? group : std::max<index_t>(K, 1), bias, Y, N,
                     M, K, N);
}

// out = q * scale, blocked along the middle dim of [outer, D, inner]: element
// (o, d, i) uses scale (o, d / block, i) of scales [outer, ceil(D / block), inner].
// TQ is an integer type or fp8_e4m3 (decoded through its table).
template <class TQ, class TS, class TOut>
void dequantize(const TQ *q, const TS *scales, TOut *out, index_t outer, index_t D, index_t inner,
                index_t block) {
  const index_t blocks = (D + block - 1) / block;
  for (index_t o = 0; o < outer; ++o)
    for (index_t d = 0; d < D; ++d)
      for (index_t i = 0; i < inner; ++i)
        out[(o * D + d) * inner + i] = static_cast<TOut>(
            static_cast<float>(q[(o * D + d) * inner + i]) *
            static_cast<float>(scales[(o * blocks + d / block) * inner + i]));
}

// Batched matmul with numpy broadcasting: Y[b..., M, N] = A[b..., M, K] * B[b..., K, N].
// batch_shape holds the broadcast batch dims; a_strides / b_strides the element
// stride of each batch dim in A / B (0 where that operand is broadcast).
template <class T>
void batch_matmul(const T *A, const T *B, T *Y, int batch_rank, const index_t *batch_shape,
                  const index_t *a_strides, const index_t *b_strides, index_t M, index_t K,
                  index_t N) {
  const index_t batches = detail::product(batch_shape, 0, batch_rank);
  if (batches <= 0 || M <= 0 || N <= 0)
    return;
  detail::Odometer<2> odo(batch_rank, batch_shape, {a_strides, b_strides});
  T *y = Y;
  do {
    detail::gemm_nn(A + odo.offset[0], K, B + odo.offset[1], N, static_cast<const T *>(nullptr), y,
                    N, M, K, N);
    y += M * N;
  } while (odo.next());
}

// ---- Softmax / TopK ---------------------------------------------------------------

// Softmax along the middle dim of [outer, axis_len, inner]; subtracts the max
// first. A NaN anywhere in a line makes the whole line NaN, as does +inf (inf - inf).
template <class T> void softmax(const T *X, T *Y, index_t outer, index_t axis_len, index_t inner) {
  using Acc = detail::acc_t<T>;
  if (outer <= 0 || axis_len <= 0 || inner <= 0)
    return;
  constexpr index_t kChunk = 64; // inner positions handled together (contiguous)
  for (index_t o = 0; o < outer; ++o) {
    const T *x = X + o * axis_len * inner;
    T *y = Y + o * axis_len * inner;
    for (index_t i0 = 0; i0 < inner; i0 += kChunk) {
      const index_t n = std::min(kChunk, inner - i0);
      Acc mx[kChunk], sum[kChunk];
      for (index_t i = 0; i < n; ++i) {
        mx[i] = -std::numeric_limits<Acc>::infinity();
        sum[i] = 0;
      }
      for (index_t a = 0; a < axis_len; ++a)
        for (index_t i = 0; i < n; ++i) {
          const Acc v = static_cast<Acc>(x[a * inner + i0 + i]);
          mx[i] = v > mx[i] ? v : mx[i];
        }
      for (index_t a = 0; a < axis_len; ++a)
        for (index_t i = 0; i < n; ++i) {
          const Acc e = std::exp(static_cast<Acc>(x[a * inner + i0 + i]) - mx[i]);
          y[a * inner + i0 + i] = static_cast<T>(e);
          sum[i] += e;
        }
      for (index_t i = 0; i < n; ++i)
        sum[i] = Acc(1) / sum[i];
      for (index_t a = 0; a < axis_len; ++a)
        for (index_t i = 0; i < n; ++i)
          y[a * inner + i0 + i] = static_cast<T>(static_cast<Acc>(y[a * inner + i0 + i]) * sum[i]);
    }
  }
}

// TopK along the middle dim of [outer, axis_len, inner]; values and indices are
// [outer, k, inner], sorted by detail::RanksBefore (descending when largest,
// ascending otherwise, ties: lower index first, NaN ranks as the greatest value).
// Requires 0 <= k <= axis_len (the compiler checks it).
template <class T>
void topk(const T *X, T *values, int64_t *indices, index_t outer, index_t axis_len, index_t inner,
          index_t k, bool largest) {
  if (outer <= 0 || inner <= 0 || k <= 0)
    return;
  detail::TopKBuffer<T> buffer(k);
  detail::Ranked<T> *best = buffer.data();
  for (index_t o = 0; o < outer; ++o)
    for (index_t i = 0; i < inner; ++i) {
      const index_t found =
          detail::select_topk(X + o * axis_len * inner + i, axis_len, inner, k, largest, best);
      for (index_t j = 0; j < found; ++j) {
        values[(o * k + j) * inner + i] = best[j].value;
        indices[(o * k + j) * inner + i] = best[j].index;
      }
    }
}

// ---- Reductions ------------------------------------------------------------------

enum class ReduceKind { Sum, Mean, Max, Min, Prod };

namespace detail {

template <class T> T reduce_identity(ReduceKind kind) {
  using L = std::numeric_limits<T>;
  switch (kind) {
  case ReduceKind::Prod:
    return T(1);
  case ReduceKind::Max:
    return L::has_infinity ? -L::infinity() : L::lowest();
  case ReduceKind::Min:
    return L::has_infinity ? L::infinity() : L::max();
  default:
    return T(0);
  }
}

struct SumOp {
  template <class A> A operator()(A a, A b) const { return a + b; }
};
struct ProdOp {
  template <class A> A operator()(A a, A b) const { return a * b; }
};
// Max/Min propagate NaN (numpy semantics): once the running value is NaN it stays.
struct MaxOp {
  template <class A> A operator()(A a, A b) const { return (b > a || is_nan(b)) && !is_nan(a) ? b : a; }
};
struct MinOp {
  template <class A> A operator()(A a, A b) const { return (b < a || is_nan(b)) && !is_nan(a) ? b : a; }
};

// Reduces X over the collapsed dims (shape, in/out strides; the last dim is
// either kept, out stride 1, or reduced, out stride 0) into Y, which already
// holds the identity (or a partial result from earlier outer positions).
template <class T, class Op>
void reduce_collapsed(const T *X, T *Y, int rank, const index_t *shape, const index_t *in_strides,
                      const index_t *out_strides, acc_t<T> identity, Op op) {
  using Acc = acc_t<T>;
  const index_t n = shape[rank - 1];
  const bool last_kept = out_strides[rank - 1] != 0;
  Odometer<2> odo(rank - 1, shape, {in_strides, out_strides});
  do {
    const T *x = X + odo.offset[0];
    T *y = Y + odo.offset[1];
    if (last_kept) {
      for (index_t j = 0; j < n; ++j)
        y[j] = static_cast<T>(op(static_cast<Acc>(y[j]), static_cast<Acc>(x[j])));
      continue;
    }
    // kLanes independent running values: vectorizable, and shorter chains for sums.
    Acc lane[kLanes];
    for (int l = 0; l < kLanes; ++l)
      lane[l] = identity;
    index_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l)
        lane[l] = op(lane[l], static_cast<Acc>(x[j + l]));
    Acc r = static_cast<Acc>(y[0]);
    for (int l = 0; l < kLanes; ++l)
      r = op(r, lane[l]);
    for (; j < n; ++j)
      r = op(r, static_cast<Acc>(x[j]));
    y[0] = static_cast<T>(r);
  } while (odo.next());
}

} // namespace detail

// Reduces over the dims with reduced[d] = true. Y holds the kept dims in order
// (keepdims only changes the shape). An empty reduction yields the identity:
// 0 for Sum, 1 for Prod, -inf/+inf (lowest/max for integers) for Max/Min, and
// NaN for Mean (0 for integers). Max/Min propagate NaN.
template <class T>
void reduce(const T *X, T *Y, int rank, const index_t *shape, const bool *reduced, ReduceKind kind) {
  using Acc = detail::acc_t<T>;
  index_t out_count = 1, reduce_count = 1;
  for (int d = 0; d < rank; ++d)
    (reduced[d] ? reduce_count : out_count) *= shape[d];
  if (out_count <= 0)
    return;
  const T identity = kind == ReduceKind::Mean ? T(0) : detail::reduce_identity<T>(kind);
  for (index_t i = 0; i < out_count; ++i)
    Y[i] = identity;
  if (reduce_count > 0) {
    // Drop size-1 dims and merge neighbours with the same role so the inner
    // loop runs over as many contiguous elements as possible.
    detail::SmallBuf<index_t> dims(static_cast<size_t>(rank) + 1), in_st(static_cast<size_t>(rank) + 1),
        out_st(static_cast<size_t>(rank) + 1);
    detail::SmallBuf<unsigned char> role(static_cast<size_t>(rank) + 1); // 1: reduced
    int r = 0;
    for (int d = 0; d < rank; ++d) {
      if (shape[d] == 1)
        continue;
      if (r > 0 && role[r - 1] == static_cast<unsigned char>(reduced[d])) {
        dims[r - 1] *= shape[d];
      } else {
        dims[r] = shape[d];
        role[r] = reduced[d] ? 1 : 0;
        ++r;
      }
    }
    if (r == 0) { // every dim has size 1
      dims[0] = 1;
      role[0] = true;
      r = 1;
    }
    index_t in_stride = 1, out_stride = 1;
    for (int d = r - 1; d >= 0; --d) {
      in_st[d] = in_stride;
      in_stride *= dims[d];
      out_st[d] = role[d] ? 0 : out_stride;
      out_stride *= role[d] ? 1 : dims[d];
    }
    const Acc id = static_cast<Acc>(identity);
    switch (kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      detail::reduce_collapsed(X, Y, r, dims.data(), in_st.data(), out_st.data(), id, detail::SumOp{});
      break;
    case ReduceKind::Prod:
      detail::reduce_collapsed(X, Y, r, dims.data(), in_st.data(), out_st.data(), id, detail::ProdOp{});
      break;
    case ReduceKind::Max:
      detail::reduce_collapsed(X, Y, r, dims.data(), in_st.data(), out_st.data(), id, detail::MaxOp{});
      break;
    case ReduceKind::Min:
      detail::reduce_collapsed(X, Y, r, dims.data(), in_st.data(), out_st.data(), id, detail::MinOp{});
      break;
    }
  }
  if (kind == ReduceKind::Mean) {
    if (reduce_count == 0) {
      const T nothing = std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN() : T(0);
      for (index_t i = 0; i < out_count; ++i)
        Y[i] = nothing;
    } else {
      for (index_t i = 0; i < out_count; ++i)
        Y[i] = static_cast<T>(static_cast<Acc>(Y[i]) / static_cast<Acc>(reduce_count));
    }
  }
}

// ---- Indexing --------------------------------------------------------------------

// Gather along the middle dim of data [outer, axis_len, inner] with num_idx
// indices (negative ones count from the end); Y is [outer, num_idx, inner].
// Returns 1 if any index is out of range, even when outer or inner is zero.
template <class T, class I>
int gather(const T *data, const I *idx, T *Y, index_t outer, index_t axis_len, index_t inner,
           index_t num_idx) {
  index_t j = 0;
  for (index_t n = 0; n < num_idx; ++n)
    if (!detail::normalize_index(idx[n], axis_len, j))
      return 1;
  if (outer <= 0 || inner <= 0)
    return 0;
  for (index_t o = 0; o < outer; ++o)
    for (index_t n = 0; n < num_idx; ++n) {
      detail::normalize_index(idx[n], axis_len, j);
      std::copy_n(data + (o * axis_len + j) * inner, inner, Y + (o * num_idx + n) * inner);
    }
  return 0;
}

namespace detail {

// Shared walk of GatherElements / ScatterElements: for every position p of the
// index tensor (row-major), calls f(index_offset, data_offset) where
// data_offset addresses data at p with the axis coordinate replaced by idx[p].
// idx_shape[d] <= data_shape[d] for d != axis (ONNX requires equal ranks).
// Returns 1 on an out-of-range index, 2 on a bad axis.
template <class I, class F>
int walk_elements(const I *idx, int rank, const index_t *data_shape, const index_t *idx_shape,
                  int axis, F f) {
  if (axis < 0)
    axis += rank;
  if (rank <= 0 || axis < 0 || axis >= rank)
    return 2;
  if (product(idx_shape, 0, rank) <= 0)
    return 0;
  SmallBuf<index_t> data_strides(static_cast<size_t>(rank)), walk_strides(static_cast<size_t>(rank)),
      idx_strides(static_cast<size_t>(rank));
  row_major_strides(rank, data_shape, data_strides.data());
  row_major_strides(rank, idx_shape, idx_strides.data());
  for (int d = 0; d < rank; ++d)
    walk_strides[d] = d == axis ? 0 : data_strides[d];
  const index_t axis_len = data_shape[axis], axis_stride = data_strides[axis];
  const index_t n = idx_shape[rank - 1], last_stride = walk_strides[rank - 1];
  Odometer<2> odo(rank - 1, idx_shape, {idx_strides.data(), walk_strides.data()});
  do {
    const index_t ibase = odo.offset[0], dbase = odo.offset[1];
    for (index_t j = 0; j < n; ++j) {
      index_t a;
      if (!normalize_index(idx[ibase + j], axis_len, a))
        return 1;
      f(ibase + j, dbase + j * last_stride + a * axis_stride);
    }
  } while (odo.next());
  return 0;
}

} // namespace detail

// GatherElements (ONNX): Y has idx's shape; Y[p] = data[p with p[axis] = idx[p]].
// Negative indices count from the end; out of range returns 1. A negative axis
// counts from the end.
template <class T, class I>
int gather_elements(const T *data, const I *idx, T *Y, int rank, const index_t *data_shape,
                    const index_t *idx_shape, int axis) {
  return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                               [&](index_t i, index_t d) { Y[i] = data[d]; });
}

enum class ScatterReduction { None, Add, Mul, Max, Min };

// ScatterElements (ONNX): Y = data, then for every index position p in
// row-major order Y[p with p[axis] = idx[p]] (op)= updates[p]. With reduction
// None and duplicate targets the last position in row-major order wins (what a
// sequential implementation such as onnxruntime's CPU kernel does). Y may alias data.
template <class T, class I>
int scatter_elements(const T *data, const I *idx, const T *updates, T *Y, int rank,
                     const index_t *data_shape, const index_t *idx_shape, int axis,
                     ScatterReduction reduction) {
  const index_t count = detail::product(data_shape, 0, rank);
  if (Y != data && count > 0)
    std::copy_n(data, count, Y);
  switch (reduction) {
  case ScatterReduction::None:
    return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                                 [&](index_t i, index_t d) { Y[d] = updates[i]; });
  case ScatterReduction::Add:
    return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                                 [&](index_t i, index_t d) { Y[d] = static_cast<T>(Y[d] + updates[i]); });
  case ScatterReduction::Mul:
    return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                                 [&](index_t i, index_t d) { Y[d] = static_cast<T>(Y[d] * updates[i]); });
  case ScatterReduction::Max:
    return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                                 [&](index_t i, index_t d) { Y[d] = detail::MaxOp{}(Y[d], updates[i]); });
  case ScatterReduction::Min:
    return detail::walk_elements(idx, rank, data_shape, idx_shape, axis,
                                 [&](index_t i, index_t d) { Y[d] = detail::MinOp{}(Y[d], updates[i]); });
  }
  return 2;
}

// ---- Layout ----------------------------------------------------------------------

// Transpose: Y dim d is X dim perm[d]. Size-1 dims are dropped and output dims
// that are also adjacent in X merged; when X's contiguous dim is not Y's last,
// the two are copied in 32 x 32 tiles so both sides stay in cache.
template <class T>
void transpose(const T *X, T *Y, int rank, const index_t *in_shape, const int *perm) {
  if (detail::product(in_shape, 0, rank) <= 0)
    return;
  detail::SmallBuf<index_t> in_strides(static_cast<size_t>(rank)), size(static_cast<size_t>(rank) + 1),
      ist(static_cast<size_t>(rank) + 1), ost(static_cast<size_t>(rank) + 1);
  detail::row_major_strides(rank, in_shape, in_strides.data());
  int r = 0;
  for (int d = 0; d < rank; ++d) {
    const index_t n = in_shape[perm[d]], s = in_strides[perm[d]];
    if (n == 1)
      continue;
    if (r > 0 && ist[r - 1] == s * n) {
      size[r - 1] *= n;
      ist[r - 1] = s;
    } else {
      size[r] = n;
      ist[r] = s;
      ++r;
    }
  }
  if (r == 0 || ist[r - 1] == 1) { // Y's last dim is contiguous in X too: row copies
    if (r == 0) {
      Y[0] = X[0];
      return;
    }
    detail::row_major_strides(r, size.data(), ost.data());
    const index_t n = size[r - 1];
    detail::Odometer<2> odo(r - 1, size.data(), {ist.data(), ost.data()});
    do
      std::copy_n(X + odo.offset[0], n, Y + odo.offset[1]);
    while (odo.next());
    return;
  }
  detail::row_major_strides(r, size.data(), ost.data());
  int p = 0; // the Y dim that is contiguous in X
  while (ist[p] != 1)
    ++p;
  const int last = r - 1;
  const index_t np = size[p], nl = size[last], op = ost[p], il = ist[last];
  // Walk every other dim; tile the (p, last) plane.
  detail::SmallBuf<index_t> rest(static_cast<size_t>(r)), rist(static_cast<size_t>(r)),
      rost(static_cast<size_t>(r));
  int q = 0;
  for (int d = 0; d < last; ++d)
    if (d != p) {
      rest[q] = size[d];
      rist[q] = ist[d];
      rost[q] = ost[d];
      ++q;
    }
  constexpr index_t kTile = 32;
  detail::Odometer<2> odo(q, rest.data(), {rist.data(), rost.data()});
  do {
    const T *x = X + odo.offset[0];
    T *y = Y + odo.offset[1];
    for (index_t a0 = 0; a0 < np; a0 += kTile)
      for (index_t b0 = 0; b0 < nl; b0 += kTile) {
        const index_t ae = std::min(np, a0 + kTile), be = std::min(nl, b0 + kTile);
        for (index_t b = b0; b < be; ++b)
          for (index_t a = a0; a < ae; ++a)
            y[a * op + b] = x[a + b * il];
      }
  } while (odo.next());
}

// Concat along the middle dim: input i is viewed as [outer, axis_len[i], inner].
template <class T>
void concat(const T *const *inputs, const index_t *axis_len, int num_inputs, T *Y, index_t outer,
            index_t inner) {
  if (outer <= 0 || inner <= 0)
    return;
  for (index_t o = 0; o < outer; ++o)
    for (int i = 0; i < num_inputs; ++i) {
      const index_t n = axis_len[i] * inner;
      std::copy_n(inputs[i] + o * n, n, Y);
      Y += n;
    }
}

// Strided slice: Y[j...] = X[starts + j * steps]; starts are already normalized
// and clamped by the caller, steps are nonzero (negative walks backwards).
template <class T>
void slice(const T *X, T *Y, int rank, const index_t *in_shape, const index_t *starts,
           const index_t *steps, const index_t *out_shape) {
  if (detail::product(out_shape, 0, rank) <= 0)
    return;
  if (rank == 0) {
    Y[0] = X[0];
    return;
  }
  detail::SmallBuf<index_t> in_strides(static_cast<size_t>(rank)), walk(static_cast<size_t>(rank)),
      out_strides(static_cast<size_t>(rank));
  detail::row_major_strides(rank, in_shape, in_strides.data());
  detail::row_major_strides(rank, out_shape, out_strides.data());
  index_t base = 0;
  for (int d = 0; d < rank; ++d) {
    base += starts[d] * in_strides[d];
    walk[d] = steps[d] * in_strides[d];
  }
  const index_t n = out_shape[rank - 1], step = walk[rank - 1];
  detail::Odometer<2> odo(rank - 1, out_shape, {walk.data(), out_strides.data()});
  do {
    const T *x = X + base + odo.offset[0];
    T *y = Y + odo.offset[1];
    if (step == 1)
      std::copy_n(x, n, y);
    else
      for (index_t j = 0; j < n; ++j)
        y[j] = x[j * step];
  } while (odo.next());
}

// Copies bytes (overlap-safe; a no-op when X == Y or bytes == 0).
inline void copy_bytes(const void *X, void *Y, size_t bytes) {
  if (bytes != 0 && X != Y)
    std::memmove(Y, X, bytes);
}

// ---- Mixture of Experts (com.microsoft.MoE semantics) -------------------------------

enum class Activation { Relu, Gelu, Silu, SwiGLU, Identity };

struct MoEParams {
  index_t hidden, inter, experts, k;
  Activation act;
  // 0: gate in fc1, linear in fc3; 1: fc1 rows interleaved gate0, lin0, gate1,
  // lin1, ...; 2: fc1 = [gate rows; linear rows].
  int swiglu_fusion;
  // SwiGLU: G = min(gate, limit); L = clamp(lin, -limit, limit);
  // out = G * sigmoid(alpha * G) * (L + beta).
  float alpha = 1.f, beta = 0.f, limit = INFINITY;
  bool normalize; // renormalize the top-k softmax probabilities to sum to 1
};

// RMS normalization of `rows` rows of `cols` elements each:
// y = x / sqrt(mean(x^2) + eps) * scale, scale null meaning 1. The statistic
// accumulates in acc_t of the input (float for float, double for double), as
// onnxruntime's SimplifiedLayerNormalization does in float.
template <class TIn, class TScale, class TOut>
void rms_norm(const TIn *X, const TScale *scale, TOut *Y, index_t rows, index_t cols,
              float epsilon) {
  using Acc = detail::acc_t<TIn>;
  if (rows <= 0 || cols <= 0)
    return;
  for (index_t r = 0; r < rows; ++r) {
    const TIn *x = X + r * cols;
    TOut *y = Y + r * cols;
    Acc sum_sq = 0;
    for (index_t c = 0; c < cols; ++c) {
      const Acc v = static_cast<Acc>(x[c]);
      sum_sq += v * v;
    }
    const Acc inv = Acc(1) / std::sqrt(sum_sq / static_cast<Acc>(cols) + static_cast<Acc>(epsilon));
    for (index_t c = 0; c < cols; ++c) {
      const Acc v = static_cast<Acc>(x[c]) * inv;
      y[c] = static_cast<TOut>(scale ? v * static_cast<Acc>(scale[c]) : v);
    }
  }
}

// rms_norm of x + residual, also writing that sum S (the residual stream):
// S is rounded to TIn before the statistics, exactly as when an elementwise
// add writes it and rms_norm reads it back, so fusing changes no bit.
template <class TIn, class TScale, class TOut>
void rms_norm_residual(const TIn *X, const TIn *R, const TScale *scale, TOut *Y, TIn *S,
                       index_t rows, index_t cols, float epsilon) {
  using Acc = detail::acc_t<TIn>;
  if (rows <= 0 || cols <= 0)
    return;
  for (index_t r = 0; r < rows; ++r) {
    const index_t base = r * cols;
    for (index_t c = 0; c < cols; ++c)
      S[base + c] = static_cast<TIn>(static_cast<Acc>(X[base + c]) + static_cast<Acc>(R[base + c]));
  }
  rms_norm<TIn, TScale, TOut>(S, scale, Y, rows, cols, epsilon);
}

// Router: softmax over experts of logits [tokens, experts], then top-k by logit
// (ties: lower expert index first; NaN ranks first and poisons the weights).
// weights [tokens, k] are the selected probabilities, renormalized to sum to 1
// when normalize; expert_ids [tokens, k]. Requires 0 <= k <= experts.
template <class T>
void moe_route_softmax_topk(const T *logits, T *weights, int64_t *expert_ids, index_t tokens,
                            index_t experts, index_t k, bool normalize) {
  using Acc = detail::acc_t<T>;
  if (tokens <= 0 || k <= 0)
    return;
  detail::TopKBuffer<T> buffer(k);
  detail::Ranked<T> *best = buffer.data();
  for (index_t t = 0; t < tokens; ++t) {
    const T *x = logits + t * experts;
    const index_t found = detail::select_topk(x, experts, 1, k, true, best);
    // The selected logits include the row maximum (unless NaN), the stable shift.
    const Acc shift = found > 0 ? static_cast<Acc>(best[0].value) : Acc(0);
    Acc denominator = 0;
    if (normalize) {
      for (index_t j = 0; j < found; ++j)
        denominator += std::exp(static_cast<Acc>(best[j].value) - shift);
    } else {
      for (index_t e = 0; e < experts; ++e)
        denominator += std::exp(static_cast<Acc>(x[e]) - shift);
    }
    for (index_t j = 0; j < k; ++j) {
      const bool real = j < found; // k > experts would break the contract: pad safely
      weights[t * k + j] =
          real ? static_cast<T>(std::exp(static_cast<Acc>(best[j].value) - shift) / denominator) : T(0);
      expert_ids[t * k + j] = real ? best[j].index : 0;
    }
  }
}

// Router with sigmoid scores (DeepSeek-V3, transformers' DeepseekV3TopkRouter):
// per token, s = sigmoid(logit) and the selection score sel = s + bias[e]
// (bias [experts] may be null: 0). When groups > 1 the experts form `groups`
// consecutive groups of experts / groups; a group scores the sum of its two
// largest sel, the topk_groups best groups are kept and the other groups'
// experts get sel = -inf (HF's masked_fill: they are chosen only when k exceeds
// the kept experts). Then the k largest sel are chosen; their weights are the
// UNbiased s, divided by their sum when normalize, then multiplied by scaling.
// HF adds 1e-20 to that sum; the ONNX exports do not, so neither do we. That
// shifts the weights by a relative 1e-20 / sum: below 1e-6 unless every chosen
// logit is under about -30, and when every chosen s underflows to 0 (logits
// under about -88) the weights are NaN here, 0 in HF.
// Ranking everywhere (groups and experts) is the TopK order above: larger
// first, ties to the lower index (torch.topk leaves ties unspecified), NaN
// first (as torch.topk: a NaN logit keeps its group, is chosen first and
// poisons the normalized weights).
// expert_ids [tokens, k] in that order; weights [tokens, k].
// Requires 0 <= k <= experts and, when groups > 1, experts % groups == 0,
// experts / groups >= 2, 1 <= topk_groups <= groups (the emitter promises it;
// otherwise every slot gets weight 0 and expert 0, never an out-of-bounds read).
// The bias may be float whatever T is (HF keeps e_score_correction_bias in
// float32 for bf16 models; the lowering passes it as float).
// Allocates its scratch (2 * experts + groups values) once per call.
template <class T, class B = T>
void moe_route_sigmoid(const T *logits, const B *bias, T *weights, int64_t *expert_ids, index_t tokens,
                       index_t experts, index_t k, index_t groups, index_t topk_groups, bool normalize,
                       float scaling) {
  using Acc = detail::acc_t<T>;
  if (tokens <= 0 || k <= 0)
    return;
  const bool grouped = groups > 1;
  const index_t group_size = grouped ? experts / groups : experts;
  if (k > experts ||
      (grouped && (experts % groups != 0 || group_size < 2 || topk_groups < 1 || topk_groups > groups))) {
    std::fill(weights, weights + tokens * k, T(0));
    std::fill(expert_ids, expert_ids + tokens * k, int64_t(0));
    return;
  }
  const index_t n_groups = grouped ? groups : 0;
  std::vector<Acc> scratch(static_cast<size_t>(2 * experts + n_groups));
  Acc *score = scratch.data(), *sel = score + experts, *group_score = sel + experts;
  detail::TopKBuffer<Acc> buffer(std::max(k, grouped ? topk_groups : index_t(2)));
  detail::Ranked<Acc> *best = buffer.data();
  for (index_t t = 0; t < tokens; ++t) {
    const T *x = logits + t * experts;
    for (index_t e = 0; e < experts; ++e) {
      score[e] = Acc(1) / (Acc(1) + std::exp(-static_cast<Acc>(x[e])));
      sel[e] = bias ? score[e] + static_cast<Acc>(bias[e]) : score[e];
    }
    if (grouped) {
      for (index_t g = 0; g < groups; ++g) {
        detail::select_topk(sel + g * group_size, group_size, 1, 2, true, best);
        group_score[g] = best[0].value + best[1].value; // NaN in the group: NaN
      }
      const index_t kept = detail::select_topk(group_score, groups, 1, topk_groups, true, best);
      // group_score now marks the kept groups (1) instead of scoring them.
      std::fill(group_score, group_score + groups, Acc(0));
      for (index_t j = 0; j < kept; ++j)
        group_score[best[j].index] = Acc(1);
      for (index_t e = 0; e < experts; ++e)
        if (group_score[e / group_size] == Acc(0))
          sel[e] = -std::numeric_limits<Acc>::infinity();
    }
    const index_t found = detail::select_topk(sel, experts, 1, k, true, best); // == k
    Acc sum = 0;
    for (index_t j = 0; j < found; ++j)
      sum += score[best[j].index];
    for (index_t j = 0; j < found; ++j) {
      const Acc w = score[best[j].index];
      weights[t * k + j] = static_cast<T>((normalize ? w / sum : w) * static_cast<Acc>(scaling));
      expert_ids[t * k + j] = best[j].index;
    }
  }
}

// No bias, spelled as a bare nullptr (B cannot be deduced from it).
template <class T>
void moe_route_sigmoid(const T *logits, std::nullptr_t, T *weights, int64_t *expert_ids, index_t tokens,
                       index_t experts, index_t k, index_t groups, index_t topk_groups, bool normalize,
                       float scaling) {
  moe_route_sigmoid<T, T>(logits, static_cast<const T *>(nullptr), weights, expert_ids, tokens, experts, k, groups,
                          topk_groups, normalize, scaling);
}

namespace detail {

// Rows of one expert processed together: a small GEMM whose intermediates stay
// in cache and whose scratch does not grow with the token count.
constexpr index_t kMoEChunkRows = 64;
constexpr size_t kScratchAlign = 64;

inline size_t align_up(size_t n) { return (n + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

inline bool swiglu_fused(const MoEParams &p) { return p.act == Activation::SwiGLU && p.swiglu_fusion != 0; }
inline index_t fc1_rows(const MoEParams &p) { return swiglu_fused(p) ? 2 * p.inter : p.inter; }

// Byte offsets of the scratch regions. The row buffers are sized for a full
// chunk whatever the token count and the one per-token region comes last,
// unpadded, so the total is exactly affine in tokens (base + 8 * k * tokens):
// the compiler plans it in an arena from two evaluations.
struct MoEScratch {
  size_t counts, x, h1, h3, act, out, order, total;
};

template <class T> MoEScratch moe_scratch_layout(index_t tokens, const MoEParams &p) {
  auto nonneg = [](index_t v) { return static_cast<size_t>(std::max<index_t>(v, 0)); };
  const size_t rows = static_cast<size_t>(kMoEChunkRows), H = nonneg(p.hidden), I = nonneg(p.inter);
  const size_t F1 = nonneg(fc1_rows(p));
  const bool separate_fc3 = p.act == Activation::SwiGLU && p.swiglu_fusion == 0;
  MoEScratch s{};
  size_t at = 0;
  auto take = [&](size_t bytes) {
    const size_t here = at;
    at += align_up(bytes);
    return here;
  };
  s.counts = take((nonneg(p.experts) + 1) * sizeof(int64_t));
  s.x = take(rows * H * sizeof(T));
  s.h1 = take(rows * F1 * sizeof(T));
  s.h3 = take(separate_fc3 ? rows * I * sizeof(T) : 0);
  s.act = take(p.act == Activation::SwiGLU ? rows * I * sizeof(T) : 0);
  s.out = take(rows * H * sizeof(T));
  s.order = at;
  s.total = at + nonneg(tokens) * nonneg(p.k) * sizeof(int64_t);
  return s;
}

template <class A> inline A sigmoid(A x) { return A(1) / (A(1) + std::exp(-x)); }

// act[r, :inter] from the fc1 (and fc3) outputs of n rows, in place for the
// single-input activations.
template <class T>
void moe_activation(T *h1, const T *h3, T *act, index_t n, const MoEParams &p) {
  using Acc = acc_t<T>;
  const index_t I = p.inter, F1 = fc1_rows(p);
  if (p.act != Activation::SwiGLU) {
    T *h = h1;
    for (index_t i = 0; i < n * I; ++i) {
      const Acc v = static_cast<Acc>(h[i]);
      switch (p.act) {
      case Activation::Relu:
        h[i] = static_cast<T>(v > Acc(0) ? v : Acc(0));
        break;
      case Activation::Gelu: {
        // com.microsoft.MoE's gelu is the tanh approximation (what onnxruntime
        // computes), not the erf form of ONNX's Gelu op.
        const Acc inner = Acc(0.79788456080286535588) * (v + Acc(0.044715) * v * v * v);
        h[i] = static_cast<T>(Acc(0.5) * v * (Acc(1) + std::tanh(inner)));
        break;
      }
      case Activation::Silu:
        h[i] = static_cast<T>(v * sigmoid(v));
        break;
      default:
        break;
      }
    }
    return;
  }
  const Acc alpha = static_cast<Acc>(p.alpha), beta = static_cast<Acc>(p.beta);
  const Acc limit = static_cast<Acc>(p.limit);
  for (index_t r = 0; r < n; ++r) {
    const T *row = h1 + r * F1;
    for (index_t j = 0; j < I; ++j) {
      Acc gate, lin;
      if (p.swiglu_fusion == 1) {
        gate = static_cast<Acc>(row[2 * j]);
        lin = static_cast<Acc>(row[2 * j + 1]);
      } else if (p.swiglu_fusion == 2) {
        gate = static_cast<Acc>(row[j]);
        lin = static_cast<Acc>(row[I + j]);
      } else {
        gate = static_cast<Acc>(row[j]);
        lin = static_cast<Acc>(h3[r * I + j]);
      }
      gate = std::min(gate, limit);
      lin = std::max(std::min(lin, limit), -limit);
      act[r * I + j] = static_cast<T>(gate * sigmoid(alpha * gate) * (lin + beta));
    }
  }
}

} // namespace detail

// Bytes of workspace moe_experts needs for `tokens` tokens: exactly
// base + 8 * k * tokens (one int64 per (token, slot) assignment on top of
// fixed row buffers for one chunk), so scratch(0) and scratch(1) give the
// affine size the arena planner needs. The workspace must be 8-byte aligned.
template <class T> size_t moe_experts_scratch_bytes(index_t tokens, const MoEParams &p) {
  return detail::moe_scratch_layout<T>(tokens, p).total;
}

// Experts: Y[t, :] = sum_j weights[t, j] * FFN_{expert_ids[t, j]}(X[t, :]) with
// FFN(x) = fc2 * act(fc1 * x + b1 [, fc3 * x + b3]) + b2.
// fc1 [E, F1, H] (F1 = inter, or 2 * inter for SwiGLU fusion 1/2), fc2 [E, H, inter],
// fc3 [E, inter, H] only for SwiGLU fusion 0 (else ignored); biases [E, rows] or null.
// The (token, slot) assignments are counting-sorted by expert and each
// expert's rows run as small GEMMs of up to kMoEChunkRows rows.
// Returns 1 if an expert id is outside [0, experts), 2 if the parameters are
// inconsistent (negative sizes, SwiGLU fusion 0 without fc3, missing scratch).
//
// Weight-only int8 (W = int8_t), packed int4 (W = int4x2) or fp8 E4M3FN
// (W = fp8_e4m3): fc1/fc2/fc3 are quantized with float scales
// fcN_scale [E, rows, ceil(cols / group)] and fcN_group elements per scale
// along the reduction axis (see moec-quantize-weights); the expert GEMMs
// dequantize in registers.
// (W is never deduced: a null fc3 must not make the call ambiguous.)
template <class T, class W = T>
int moe_experts(const T *X, const T *weights, const int64_t *expert_ids,
                const typename detail::NotDeduced<W>::type *fc1, const T *fc1_bias,
                const typename detail::NotDeduced<W>::type *fc2, const T *fc2_bias,
                const typename detail::NotDeduced<W>::type *fc3,
                const T *fc3_bias, T *Y, void *scratch, index_t tokens, const MoEParams &p,
                const float *fc1_scale = nullptr, const float *fc2_scale = nullptr,
                const float *fc3_scale = nullptr, index_t fc1_group = 0, index_t fc2_group = 0,
                index_t fc3_group = 0) {
  using Acc = detail::acc_t<T>;
  const index_t H = p.hidden, I = p.inter, E = p.experts, K = p.k, F1 = detail::fc1_rows(p);
  const bool separate_fc3 = p.act == Activation::SwiGLU && p.swiglu_fusion == 0;
  if (tokens < 0 || H < 0 || I < 0 || E < 0 || K < 0 || p.swiglu_fusion < 0 || p.swiglu_fusion > 2 ||
      (separate_fc3 && fc3 == nullptr))
    return 2;
  if (tokens == 0 || H == 0)
    return 0;
  std::fill_n(Y, tokens * H, T(0));
  const index_t assignments = tokens * K;
  if (assignments == 0)
    return 0;
  if (scratch == nullptr)
    return 2;
  const detail::MoEScratch layout = detail::moe_scratch_layout<T>(tokens, p);
  char *base = static_cast<char *>(scratch);
  int64_t *counts = reinterpret_cast<int64_t *>(base + layout.counts);
  int64_t *order = reinterpret_cast<int64_t *>(base + layout.order);
  T *xs = reinterpret_cast<T *>(base + layout.x);
  T *h1 = reinterpret_cast<T *>(base + layout.h1);
  T *h3 = reinterpret_cast<T *>(base + layout.h3);
  T *act = p.act == Activation::SwiGLU ? reinterpret_cast<T *>(base + layout.act) : h1;
  T *out = reinterpret_cast<T *>(base + layout.out);
  // Y[n, N] = X[n, K] * expert e's [N, K] weight^T + bias, float or quantized.
  auto expert_linear = [](const T *x, const W *w, const float *scale, index_t group, index_t e,
                          const T *bias, T *y, index_t n, index_t K, index_t N) {
    if constexpr (std::is_same<W, int8_t>::value) {
      const index_t g = group > 0 ? group : std::max<index_t>(K, 1);
      linear_q8(x, w + e * N * K, scale + e * N * ((K + g - 1) / g), g, bias, y, n, K, N);
    } else if constexpr (std::is_same<W, int4x2>::value) {
      const index_t g = group > 0 ? group : std::max<index_t>(K, 1);
      linear_q4(x, w + e * N * ((K + 1) / 2), scale + e * N * ((K + g - 1) / g), g, bias, y, n,
                K, N);
    } else if constexpr (std::is_same<W, fp8_e4m3>::value) {
      const index_t g = group > 0 ? group : std::max<index_t>(K, 1);
      linear_f8(x, w + e * N * K, scale + e * N * ((K + g - 1) / g), g, bias, y, n, K, N);
    } else {
      (void)scale;
      (void)group;
      linear(x, w + e * N * K, bias, y, n, K, N, true);
    }
  };

  // Counting sort of assignments a = t * K + j by expert: after the scatter
  // pass counts[e] is the end of expert e's run (= start of e + 1).
  std::fill_n(counts, E + 1, int64_t(0));
  for (index_t a = 0; a < assignments; ++a) {
    const int64_t e = expert_ids[a];
    if (e < 0 || e >= E)
      return 1;
    ++counts[e + 1];
  }
  for (index_t e = 0; e < E; ++e)
    counts[e + 1] += counts[e];
  for (index_t a = 0; a < assignments; ++a)
    order[counts[expert_ids[a]]++] = a;

  for (index_t e = 0; e < E; ++e) {
    const index_t begin = e == 0 ? 0 : counts[e - 1], end = counts[e];
    for (index_t r0 = begin; r0 < end; r0 += detail::kMoEChunkRows) {
      const index_t n = std::min(detail::kMoEChunkRows, end - r0);
      for (index_t r = 0; r < n; ++r)
        std::copy_n(X + (order[r0 + r] / K) * H, H, xs + r * H);
      expert_linear(xs, fc1, fc1_scale, fc1_group, e, fc1_bias ? fc1_bias + e * F1 : nullptr, h1, n,
                    H, F1);
      if (separate_fc3)
        expert_linear(xs, fc3, fc3_scale, fc3_group, e, fc3_bias ? fc3_bias + e * I : nullptr, h3,
                      n, H, I);
      detail::moe_activation(h1, h3, act, n, p);
      expert_linear(static_cast<const T *>(act), fc2, fc2_scale, fc2_group, e,
                    fc2_bias ? fc2_bias + e * H : nullptr, out, n, I, H);
      for (index_t r = 0; r < n; ++r) {
        const index_t a = order[r0 + r];
        const Acc w = static_cast<Acc>(weights[a]);
        T *y = Y + (a / K) * H;
        const T *o = out + r * H;
        for (index_t h = 0; h < H; ++h)
          y[h] = static_cast<T>(static_cast<Acc>(y[h]) + w * static_cast<Acc>(o[h]));
      }
    }
  }
  return 0;
}

// ---- Attention (com.microsoft.GroupQueryAttention, fixed-capacity KV cache) ---------
//
// moe.attention runs as two launches: attention_kv_append builds the present
// cache (past plus this step's keys and values), then attention reads it.
// Semantics, pinned against onnxruntime's CPU kernel by
// test/unit/host_kernels/gqa_semantics.py:
//  * Row b holds total_b = seqlens_k[b] + 1 tokens after this step. The step is
//    a first prompt when *total_len == seq; then past_b = 0 (total_b may be
//    smaller than seq: right padding; or larger: positions [seq, total_b) are
//    never attended). Otherwise past_b = total_b - seq.
//  * Query s sits at position p = past_b + s (also its rotary row) and attends
//    the keys j with max(0, p - window + 1) <= j <= min(p, total_b - 1): a
//    window of `window` keys ending at itself (window <= 0: no lower bound). A
//    query with no key (a padding row of a first prompt) outputs zeros.
//  * score = scale * q_rot . k_j, then softcap * tanh(score / softcap) when
//    softcap > 0; softmax over the allowed keys; output = sum_j p_j v_j. Query
//    head h reads kv head h / (num_heads / kv_heads).
//  * present = past, except positions [past_b, past_b + seq) of every kv head,
//    which receive the new rows (keys rotated, values as they are). With one
//    shared buffer onnxruntime does the same; with distinct buffers it zeroes
//    positions >= total_b. We keep past there in both forms, so they agree
//    (comparisons with onnxruntime look at [0, total_b) only).
//  * Rotary: pairs (2i, 2i + 1) when interleaved, else (i, i + R/2), rotated by
//    cos/sin row p column i; dims [R, head_dim) pass through.
//
// AttentionShape (the same fields, in the same order, as moec_ck::AttentionShape):
// q_stride / k_stride / v_stride are the elements between consecutive (b, s)
// rows, so packed QKV is only pointers and strides. seq is the runtime token
// count; seq == 0 is valid: attention does nothing and the append only copies
// past to present. batch == 0 does nothing.
struct AttentionShape {
  index_t batch, seq, num_heads, kv_heads, head_dim, capacity;
  index_t q_stride, k_stride, v_stride;
  index_t rotary_dim, rotary_rows;
  bool interleaved;
  float scale, softcap;
  index_t window;
};

// Return codes of both attention kernels (besides 0 and 2, a contract the
// emitter broke: sizes, strides, rotary_dim, missing pointers). Each mirrors an
// INVALID_ARGUMENT of onnxruntime; all are checked before anything is written.
constexpr int kAttentionBadTotalLength = 3; // total_len < max(1, seq) or > capacity
constexpr int kAttentionBadSeqlens = 4;     // total_b outside [1, capacity], or < seq after a first prompt
constexpr int kAttentionRotaryTooShort = 5; // rotary_rows < total_len or < some total_b

namespace detail {

inline int attention_check_shape(const int32_t *seqlens_k, const int32_t *total_len,
                                 bool have_rotary_caches, const AttentionShape &s) {
  const bool sizes_ok = s.batch >= 0 && s.seq >= 0 && s.num_heads > 0 && s.kv_heads > 0 &&
                        s.num_heads % s.kv_heads == 0 && s.head_dim > 0 && s.capacity >= 0;
  if (!sizes_ok || s.q_stride < s.num_heads * s.head_dim || s.k_stride < s.kv_heads * s.head_dim ||
      s.v_stride < s.kv_heads * s.head_dim || seqlens_k == nullptr || total_len == nullptr ||
      s.rotary_dim < 0 || s.rotary_dim % 2 != 0 || s.rotary_dim > s.head_dim || !(s.softcap >= 0.f) ||
      (s.rotary_dim > 0 && (!have_rotary_caches || s.rotary_rows < 0)))
    return 2;
  return 0;
}

// The data checks, over every batch row (cheap: batch integers).
inline int attention_check_lengths(const int32_t *seqlens_k, const int32_t *total_len,
                                   const AttentionShape &s) {
  const index_t total = *total_len;
  if (total < 1 || total < s.seq || total > s.capacity)
    return kAttentionBadTotalLength;
  const bool first = total == s.seq;
  if (s.rotary_dim > 0 && s.rotary_rows < total)
    return kAttentionRotaryTooShort;
  for (index_t b = 0; b < s.batch; ++b) {
    const index_t total_b = static_cast<index_t>(seqlens_k[b]) + 1;
    if (total_b < 1 || total_b > s.capacity || (!first && total_b < s.seq))
      return kAttentionBadSeqlens;
    if (s.rotary_dim > 0 && s.rotary_rows < total_b)
      return kAttentionRotaryTooShort;
  }
  return 0;
}

// Position of row b's first new token (after attention_check_lengths).
inline index_t attention_past(const int32_t *seqlens_k, index_t total, index_t b, index_t seq) {
  return total == seq ? 0 : static_cast<index_t>(seqlens_k[b]) + 1 - seq;
}

// y[0, head_dim) = x rotated for position `pos` (rotary_dim 0: a copy). Each
// pair is read before it is written, so y may be x.
template <class T, class TC, class TOut>
inline void attention_rotate(const T *x, index_t pos, const TC *cos_cache, const TC *sin_cache,
                             const AttentionShape &s, TOut *y) {
  using Acc = acc_t<T>;
  const index_t half = s.rotary_dim / 2;
  const TC *c = cos_cache + pos * half, *sn = sin_cache + pos * half;
  for (index_t i = 0; i < half; ++i) {
    const index_t a = s.interleaved ? 2 * i : i, b = s.interleaved ? 2 * i + 1 : i + half;
    const Acc x1 = static_cast<Acc>(x[a]), x2 = static_cast<Acc>(x[b]);
    const Acc ci = static_cast<Acc>(c[i]), si = static_cast<Acc>(sn[i]);
    y[a] = static_cast<TOut>(x1 * ci - x2 * si);
    y[b] = static_cast<TOut>(x1 * si + x2 * ci);
  }
  for (index_t d = s.rotary_dim; d < s.head_dim; ++d)
    y[d] = static_cast<TOut>(static_cast<Acc>(x[d]));
}

} // namespace detail

// present = past with this step's key/value rows at [past_b, past_b + seq);
// key [batch, seq, kv_heads * head_dim] (row stride k_stride), likewise value;
// past/present [batch, kv_heads, capacity, head_dim]. past_key == present_key
// (the shared buffer) writes only the new rows. cos/sin [rotary_rows,
// rotary_dim / 2] may be null when rotary_dim == 0. Returns 0 or an attention
// code above; on an error nothing has been written.
template <class T, class TC>
int attention_kv_append(const T *key, const T *value, const T *past_key, const T *past_value,
                        const int32_t *seqlens_k, const int32_t *total_len, const TC *cos_cache,
                        const TC *sin_cache, T *present_key, T *present_value,
                        const AttentionShape &s) {
  if (int err = detail::attention_check_shape(seqlens_k, total_len,
                                              cos_cache != nullptr && sin_cache != nullptr, s))
    return err;
  if (s.seq > 0)
    if (int err = detail::attention_check_lengths(seqlens_k, total_len, s))
      return err;
  const index_t KV = s.kv_heads, C = s.capacity, HD = s.head_dim;
  const size_t cache = static_cast<size_t>(s.batch * KV * C * HD);
  if (cache == 0)
    return 0;
  if (past_key != present_key)
    std::memmove(present_key, past_key, cache * sizeof(T));
  if (past_value != present_value)
    std::memmove(present_value, past_value, cache * sizeof(T));
  if (s.seq == 0)
    return 0;
  const index_t total = *total_len;
  for (index_t b = 0; b < s.batch; ++b) {
    const index_t past = detail::attention_past(seqlens_k, total, b, s.seq);
    for (index_t t = 0; t < s.seq; ++t) {
      const T *k = key + (b * s.seq + t) * s.k_stride, *v = value + (b * s.seq + t) * s.v_stride;
      for (index_t g = 0; g < KV; ++g) {
        const index_t row = ((b * KV + g) * C + past + t) * HD;
        detail::attention_rotate(k + g * HD, past + t, cos_cache, sin_cache, s, present_key + row);
        std::copy_n(v + g * HD, HD, present_value + row);
      }
    }
  }
  return 0;
}

// output [batch, seq, num_heads * head_dim] from query [batch, seq, *] (row
// stride q_stride, head h at h * head_dim) and the present cache written by
// attention_kv_append. Returns 0 or an attention code (output then unspecified).
// Per (b, s, h): the rotated query and the scores of its keys sit in one buffer
// allocated per call (2 * head_dim + capacity accumulators); the dot products
// run contiguously over head_dim, as does the V accumulation.
template <class T, class TC>
int attention(const T *query, const T *present_key, const T *present_value,
              const int32_t *seqlens_k, const int32_t *total_len, const TC *cos_cache,
              const TC *sin_cache, T *output, const AttentionShape &s) {
  using Acc = detail::acc_t<T>;
  if (int err = detail::attention_check_shape(seqlens_k, total_len,
                                              cos_cache != nullptr && sin_cache != nullptr, s))
    return err;
  if (s.batch == 0 || s.seq == 0)
    return 0;
  if (int err = detail::attention_check_lengths(seqlens_k, total_len, s))
    return err;
  const index_t N = s.num_heads, KV = s.kv_heads, HD = s.head_dim, C = s.capacity;
  const index_t group = N / KV, total = *total_len;
  const Acc scale = static_cast<Acc>(s.scale), softcap = static_cast<Acc>(s.softcap);
  std::vector<Acc> buffer(static_cast<size_t>(2 * HD + C));
  Acc *q = buffer.data(), *acc = q + HD, *scores = acc + HD;
  for (index_t b = 0; b < s.batch; ++b) {
    const index_t total_b = static_cast<index_t>(seqlens_k[b]) + 1;
    const index_t past = detail::attention_past(seqlens_k, total, b, s.seq);
    for (index_t t = 0; t < s.seq; ++t) {
      const index_t p = past + t, last = std::min(p, total_b - 1);
      const index_t first = s.window > 0 ? std::max<index_t>(0, p - s.window + 1) : 0;
      for (index_t h = 0; h < N; ++h) {
        T *out = output + ((b * s.seq + t) * N + h) * HD;
        if (first > last) {
          std::fill_n(out, HD, T(0));
          continue;
        }
        detail::attention_rotate(query + (b * s.seq + t) * s.q_stride + h * HD, p, cos_cache,
                                 sin_cache, s, q);
        const index_t kv = (b * KV + h / group) * C * HD;
        const T *K = present_key + kv, *V = present_value + kv;
        Acc top = -std::numeric_limits<Acc>::infinity();
        for (index_t j = first; j <= last; ++j) {
          Acc dot[1][1];
          detail::dot_tile<1, 1>(static_cast<const Acc *>(q), HD, K + j * HD, HD, HD, dot);
          Acc score = dot[0][0] * scale;
          if (softcap > Acc(0))
            score = softcap * std::tanh(score / softcap);
          scores[j - first] = score;
          top = std::max(top, score);
        }
        std::fill_n(acc, HD, Acc(0));
        Acc sum = 0;
        for (index_t j = first; j <= last; ++j) {
          const Acc e = std::exp(scores[j - first] - top);
          sum += e;
          const T *v = V + j * HD;
          for (index_t d = 0; d < HD; ++d)
            acc[d] += e * static_cast<Acc>(v[d]);
        }
        const Acc inv = Acc(1) / sum;
        for (index_t d = 0; d < HD; ++d)
          out[d] = static_cast<T>(acc[d] * inv);
      }
    }
  }
  return 0;
}

// ---- Rotary position embedding (com.microsoft.RotaryEmbedding) --------------------

// x is [batch, seq, heads, head_size] (heads_first: [batch, heads, seq,
// head_size]); positions are [batch, seq] (per_token) or one offset, token t
// at positions[0] + t. The rotation is the attention kernels' (pairs (i, i +
// R/2) or interleaved, dims [R, head_size) pass through).
struct RotaryShape {
  index_t batch, seq, heads, head_size, rotary_dim, rows;
  bool interleaved, heads_first, per_token;
};

// Returns 1 (nothing written) if a position is outside [0, rows).
template <class T, class TC>
int rotary(const T *X, const int64_t *positions, const TC *cos_cache, const TC *sin_cache, T *Y,
           const RotaryShape &s) {
  for (index_t b = 0; b < s.batch; ++b)
    for (index_t t = 0; t < s.seq; ++t) {
      const int64_t p = s.per_token ? positions[b * s.seq + t] : positions[0] + t;
      if (p < 0 || p >= s.rows)
        return 1;
    }
  AttentionShape rot{};
  rot.head_dim = s.head_size;
  rot.rotary_dim = s.rotary_dim;
  rot.interleaved = s.interleaved;
  for (index_t b = 0; b < s.batch; ++b)
    for (index_t n = 0; n < s.heads; ++n)
      for (index_t t = 0; t < s.seq; ++t) {
        const index_t p = s.per_token ? positions[b * s.seq + t] : positions[0] + t;
        const index_t row = s.heads_first ? (b * s.heads + n) * s.seq + t
                                          : (b * s.seq + t) * s.heads + n;
        detail::attention_rotate(X + row * s.head_size, p, cos_cache, sin_cache, rot,
                                 Y + row * s.head_size);
      }
  return 0;
}

// ---- Self attention (moe.self_attention: causal GQA of a prompt over itself) --------
//
// What an exported decoder computes without a KV cache (q.k^T -> scale ->
// causal mask -> Softmax -> .v), heads first. query [batch, num_heads, seq,
// head_dim], key [batch, kv_heads, seq, head_dim], value [batch, kv_heads,
// seq, value_dim] (value_dim may differ from head_dim), output [batch,
// num_heads, seq, value_dim]; all dense. Query head h reads kv head
// h / (num_heads / kv_heads). Query i attends the keys j with j <= i and, when
// window > 0, i - j < window. score = scale * q.k, then softcap *
// tanh(score / softcap) when softcap > 0. With sinks (f32 [num_heads], may be
// null) the softmax denominator also counts exp(sinks[h]):
//   m = max(max_j s_j, sink_h),  p_j = exp(s_j - m) / (sum_j exp(s_j - m) + exp(sink_h - m)).
// seq is the run-time token count; seq == 0 or batch == 0 does nothing. The
// [seq, seq] scores are never stored: one query row's scores (<= seq floats,
// one buffer allocated per call) at a time.
struct SelfAttentionShape {
  index_t batch, seq, num_heads, kv_heads, head_dim, value_dim;
  float scale, softcap;
  index_t window; // 0: no window
};

// Returns 0, or 2 when the shape breaks the contract (nothing written).
// Per (b, h, i): the scores of its allowed keys (dot products contiguous over
// head_dim, four keys per pass over the query row), their maximum, then one
// pass over the value rows accumulating exp(s_j - m) v_j in acc_t<T>.
template <class T>
int self_attention(const T *query, const T *key, const T *value, const float *sinks, T *output,
                   const SelfAttentionShape &s) {
  using Acc = detail::acc_t<T>;
  if (s.batch < 0 || s.seq < 0 || s.num_heads < 1 || s.kv_heads < 1 ||
      s.num_heads % s.kv_heads != 0 || s.head_dim < 0 || s.value_dim < 0 ||
      !(s.softcap >= 0.f) || s.window < 0)
    return 2;
  if (s.batch == 0 || s.seq == 0)
    return 0;
  const index_t N = s.num_heads, KV = s.kv_heads, S = s.seq, D = s.head_dim, DV = s.value_dim;
  const index_t group = N / KV;
  const Acc scale = static_cast<Acc>(s.scale), softcap = static_cast<Acc>(s.softcap);
  std::vector<Acc> buffer(static_cast<size_t>(S + DV));
  Acc *scores = buffer.data(), *acc = scores + S;
  for (index_t b = 0; b < s.batch; ++b)
    for (index_t h = 0; h < N; ++h) {
      const index_t kv = b * KV + h / group;
      const T *K = key + kv * S * D, *V = value + kv * S * DV;
      const T *Q = query + (b * N + h) * S * D;
      T *O = output + (b * N + h) * S * DV;
      for (index_t i = 0; i < S; ++i) {
        const index_t first = s.window > 0 ? std::max<index_t>(0, i - s.window + 1) : 0;
        const index_t count = i - first + 1; // >= 1: a query always sees itself
        const T *q = Q + i * D, *k = K + first * D;
        index_t j = 0;
        for (; j + 4 <= count; j += 4) {
          Acc dot[1][4];
          detail::dot_tile<1, 4>(q, D, k + j * D, D, D, dot);
          for (int c = 0; c < 4; ++c)
            scores[j + c] = dot[0][c];
        }
        for (; j < count; ++j) {
          Acc dot[1][1];
          detail::dot_tile<1, 1>(q, D, k + j * D, D, D, dot);
          scores[j] = dot[0][0];
        }
        Acc top = sinks ? static_cast<Acc>(sinks[h]) : -std::numeric_limits<Acc>::infinity();
        for (j = 0; j < count; ++j) {
          Acc score = scores[j] * scale;
          if (softcap > Acc(0))
            score = softcap * std::tanh(score / softcap);
          scores[j] = score;
          top = std::max(top, score);
        }
        std::fill_n(acc, DV, Acc(0));
        Acc sum = sinks ? std::exp(static_cast<Acc>(sinks[h]) - top) : Acc(0);
        const T *v = V + first * DV;
        for (j = 0; j < count; ++j) {
          const Acc e = std::exp(scores[j] - top);
          sum += e;
          for (index_t d = 0; d < DV; ++d)
            acc[d] += e * static_cast<Acc>(v[j * DV + d]);
        }
        const Acc inv = Acc(1) / sum;
        T *out = O + i * DV;
        for (index_t d = 0; d < DV; ++d)
          out[d] = static_cast<T>(acc[d] * inv);
      }
    }
  return 0;
}

// ---- Range, CumSum, ScatterND (ops of whole exported decoders) -----------------

// range's return code when the scalars give another length than the one the
// compiler planned Y for (a static size, or the token count).
constexpr int kRangeLengthMismatch = 3;

namespace detail {

// Range's element count max(ceil((limit - start) / delta), 0), computed as
// moec's shape inference does (dialects/onnx/ShapeHelpers.cpp, rangeLength):
// integers exactly (no overflow for any operands), floats in T. -1 for
// delta 0, a NaN or infinite quotient, or a count beyond int64.
template <class T> index_t range_length(T start, T limit, T delta) {
  if constexpr (std::is_floating_point<T>::value) {
    const T q = std::ceil((limit - start) / delta);
    if (std::isnan(q) || q >= static_cast<T>(9.2e18))
      return -1;
    return q <= 0 ? 0 : static_cast<index_t>(q);
  } else {
    const int64_t s = start, l = limit, d = delta;
    if (d == 0)
      return -1;
    if (d > 0 ? l <= s : l >= s)
      return 0;
    const uint64_t span = d > 0 ? uint64_t(l) - uint64_t(s) : uint64_t(s) - uint64_t(l);
    const uint64_t step = d > 0 ? uint64_t(d) : uint64_t(-(d + 1)) + 1;
    const uint64_t count = span / step + (span % step != 0);
    return count > uint64_t(std::numeric_limits<int64_t>::max()) ? -1 : index_t(count);
  }
}

// start + i * delta: floats in T (the ONNX formula); integers wrap-free in
// uint64, exact because the true value lies between start and limit.
template <class T> T range_element(T start, T delta, index_t i) {
  if constexpr (std::is_floating_point<T>::value)
    return static_cast<T>(start + static_cast<T>(i) * delta);
  else
    return static_cast<T>(static_cast<int64_t>(uint64_t(int64_t(start)) +
                                               uint64_t(i) * uint64_t(int64_t(delta))));
}

} // namespace detail

// Range (ONNX): Y[i] = start + i * delta for i < n = max(ceil((limit - start) /
// delta), 0); start, limit, delta are one-element tensors. `length` is the
// size the compiler planned Y with: when n differs (or delta is 0) returns
// kRangeLengthMismatch and writes nothing.
template <class T>
int range(const T *start, const T *limit, const T *delta, T *Y, index_t length) {
  const index_t n = detail::range_length(*start, *limit, *delta);
  if (n != length)
    return kRangeLengthMismatch;
  for (index_t i = 0; i < n; ++i)
    Y[i] = detail::range_element(*start, *delta, i);
  return 0;
}

// CumSum (ONNX) of X viewed as [outer, axis_len, inner] along the middle
// axis. Inclusive: Y[a] = X[0] + ... + X[a]; exclusive: X[0] + ... + X[a-1]
// (Y[0] = 0); reverse runs from the end. Sums are formed in order along the
// axis, in T (acc_t<T> is T for every type the host target has), the
// previous output row being the running sum so the inner loop vectorizes.
// Y must not alias X.
template <class T>
void cumsum(const T *X, T *Y, index_t outer, index_t axis_len, index_t inner, bool exclusive,
            bool reverse) {
  if (outer <= 0 || axis_len <= 0 || inner <= 0)
    return;
  for (index_t o = 0; o < outer; ++o) {
    const T *x = X + o * axis_len * inner;
    T *y = Y + o * axis_len * inner;
    for (index_t step = 0; step < axis_len; ++step) {
      const index_t a = reverse ? axis_len - 1 - step : step;
      const index_t prev = reverse ? a + 1 : a - 1; // the row summed before a
      T *row = y + a * inner;
      if (step == 0) {
        if (exclusive)
          std::fill_n(row, inner, T(0));
        else
          std::copy_n(x + a * inner, inner, row);
        continue;
      }
      const T *before = y + prev * inner;
      const T *add = x + (exclusive ? prev : a) * inner;
      for (index_t j = 0; j < inner; ++j)
        row[j] = static_cast<T>(before[j] + add[j]);
    }
  }
}

// ScatterND (ONNX): Y = data, then for every index tuple t (row-major over
// indices.shape[:-1], `tuples` of them, q entries each) the slice of Y
// addressed by idx[t, 0..q) (op)= updates[t, :] (a slice is
// data.shape[q:], `slice` elements). Negative indices count from the end.
// Every index is checked before anything is written: out of range returns 1
// with Y untouched; q outside [0, rank] returns 2. Duplicate tuples apply in
// order (with reduction None the last wins, as onnxruntime's CPU kernel).
// Y may alias data.
template <class T, class I>
int scatter_nd(const T *data, const I *idx, const T *updates, T *Y, int rank,
               const index_t *data_shape, index_t tuples, int q, ScatterReduction reduction) {
  if (q < 0 || q > rank)
    return 2;
  detail::SmallBuf<index_t> strides(static_cast<size_t>(rank) + 1);
  detail::row_major_strides(rank, data_shape, strides.data());
  index_t a = 0;
  for (index_t t = 0; t < tuples; ++t)
    for (int j = 0; j < q; ++j)
      if (!detail::normalize_index(idx[t * q + j], data_shape[j], a))
        return 1;
  const index_t count = detail::product(data_shape, 0, rank);
  const index_t slice = detail::product(data_shape, q, rank);
  if (Y != data && count > 0)
    std::copy_n(data, count, Y);
  if (slice <= 0)
    return 0;
  for (index_t t = 0; t < tuples; ++t) {
    index_t offset = 0;
    for (int j = 0; j < q; ++j) {
      detail::normalize_index(idx[t * q + j], data_shape[j], a);
      offset += a * strides[j];
    }
    T *y = Y + offset;
    const T *u = updates + t * slice;
    switch (reduction) {
    case ScatterReduction::None:
      std::copy_n(u, slice, y);
      break;
    case ScatterReduction::Add:
      for (index_t e = 0; e < slice; ++e)
        y[e] = static_cast<T>(y[e] + u[e]);
      break;
    case ScatterReduction::Mul:
      for (index_t e = 0; e < slice; ++e)
        y[e] = static_cast<T>(y[e] * u[e]);
      break;
    case ScatterReduction::Max:
      for (index_t e = 0; e < slice; ++e)
        y[e] = detail::MaxOp{}(y[e], u[e]);
      break;
    case ScatterReduction::Min:
      for (index_t e = 0; e < slice; ++e)
        y[e] = detail::MinOp{}(y[e], u[e]);
      break;
    }
  }
  return 0;
}

} // namespace moec_hk

#endif // MOEC_HOST_KERNELS_H
