// moec CUDA GEMM device templates: the dense linear layer and the two grouped
// expert GEMMs of a Mixture-of-Experts block.
//
// Compiled by NVRTC for one architecture (sm_80 and newer) together with the
// wrappers the CUDA emitter writes; self-contained (no C++ standard library).
//
// Every template computes a tile GEMM  C[rows, cols] = A[rows, K] . B[cols, K]^T
// where both operands are K-contiguous rows ("TN" GEMM): A rows are activations
// (gathered through the permuted slot list for the MoE GEMMs), B rows are
// weight rows in the layout the compiler stores them (W[N, K], fc1[E, F1, H],
// fc2[E, H, I]). 16-bit types use mma.sync m16n8k16 tensor cores with float
// accumulation fed by ldmatrix from a STAGES-deep cp.async pipeline; float
// storage uses a SIMT fallback with the same loader and signatures.
//
// Contract (all templates): blockDim.x == WARPS * 32, blockDim.y == blockDim.z
// == 1, any gridDim.x, gridDim.y >= 1 (blocks stride over the output tiles),
// dynamic shared memory >= the matching *_smem_bytes() (a launch with less
// returns without writing rather than overrun shared memory).
//
// Defining MOEC_CK_GEMM_INDEX_ONLY before including this file keeps only the
// host+device tile/index math, so a host C++ compiler can unit-test it.
#ifndef MOEC_CUDA_GEMM_CUH
#define MOEC_CUDA_GEMM_CUH

#if defined(MOEC_CK_GEMM_INDEX_ONLY)
#define MOEC_GEMM_HD
namespace moec_ck {
typedef long long index_t;
} // namespace moec_ck
#else
#include "moec_cuda_kernels.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define MOEC_GEMM_HD __host__ __device__
#endif

namespace moec_ck {
namespace gemm {

// ---- Tile and index math (host + device, unit-tested on the CPU) -------------

MOEC_GEMM_HD constexpr index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
MOEC_GEMM_HD constexpr index_t min_index(index_t a, index_t b) { return a < b ? a : b; }
MOEC_GEMM_HD constexpr index_t clamp_index(index_t v, index_t lo, index_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// Shared memory of one tile pipeline: STAGES copies of the A tile (TM rows) and
// the B tile (b_sets * TN rows), each row TK elements plus one 16-byte chunk of
// padding. The padding makes the row stride an odd number of 16-byte units, so
// the 8 row addresses of an ldmatrix (and of the SIMT reads) hit 8 different
// bank groups.
MOEC_GEMM_HD constexpr unsigned tile_smem_bytes(int elem_bytes, int tm, int tn, int tk, int stages,
                                                int b_sets) {
  return static_cast<unsigned>(stages) * static_cast<unsigned>(tm + b_sets * tn) *
         static_cast<unsigned>(tk + 16 / elem_bytes) * static_cast<unsigned>(elem_bytes);
}

// ---- Quantized weights (moec_cuda_gemm_quant.cuh reads them) -------------------
//
// A quantized weight is read as stored: rows of bytes along K, one float32
// scale per `group` elements of a row (scales [rows, ceil(K / group)]).
// int8: one byte per element. int4: two signed nibbles per byte, element 2j
// in the low nibble of byte j, 2j + 1 in the high one (an odd last element
// leaves a pad nibble). fp8: one E4M3 byte per element.
enum QuantKind { kQuantNone = 0, kQuantInt8 = 1, kQuantInt4 = 2, kQuantFp8 = 3 };

MOEC_GEMM_HD constexpr int quant_weight_bits(int q) { return q == kQuantInt4 ? 4 : 8; }
MOEC_GEMM_HD constexpr index_t quant_row_bytes(int q, index_t k) {
  return q == kQuantInt4 ? (k + 1) / 2 : k;
}
// Byte and nibble (0 low, 1 high) of element k within a row.
MOEC_GEMM_HD constexpr index_t quant_byte_of(int q, index_t k) { return q == kQuantInt4 ? k >> 1 : k; }
MOEC_GEMM_HD constexpr int quant_nibble_of(int q, index_t k) {
  return q == kQuantInt4 ? static_cast<int>(k & 1) : 0;
}
// The signed value of one nibble of a packed int4 byte.
MOEC_GEMM_HD constexpr int unpack_int4(unsigned char byte, int nibble) {
  return nibble ? static_cast<signed char>(byte) >> 4
                : static_cast<signed char>(static_cast<unsigned char>(byte << 4)) >> 4;
}
// Scale column of element k: k / group, clamped into the row's ceil(K/group)
// scales so that K-tile padding (k >= K, multiplied by zero activations)
// never reads past the scale array.
// Scales per weight row, ceil(len / group), in 32-bit arithmetic: a reduction
// length fits an int (kMaxK), and a 64-bit division by a run-time group is a
// ptxas subroutine with a stack frame (it made the group-7 kernels spill).
MOEC_GEMM_HD constexpr index_t quant_groups(index_t len, int group) {
  return static_cast<index_t>((static_cast<int>(len) + group - 1) / group);
}
MOEC_GEMM_HD constexpr int quant_group_of(int k, int group, int groups) {
  return k / group < groups ? k / group : groups - 1;
}
// The mma.sync m16n8k16 B fragment: register `reg` (0, 1) half `half` (0 low,
// 1 high) of lane `lane` holds B[k][n] with n = lane / 4, k = 2 (lane % 4) +
// 8 reg + half. The two halves of a register are adjacent k, lower k low.
MOEC_GEMM_HD constexpr int mma_b_fragment_n(int lane) { return lane >> 2; }
MOEC_GEMM_HD constexpr int mma_b_fragment_k(int lane, int reg, int half) {
  return (lane & 3) * 2 + reg * 8 + half;
}

// Shared memory of a pipeline whose B tile holds quantized bytes: the A tile
// as in tile_smem_bytes, each B row TK * bits / 8 bytes plus 16 of padding.
// wbits == 0: 16-bit/float weights (tile_smem_bytes).
MOEC_GEMM_HD constexpr unsigned quant_tile_smem_bytes(int elem_bytes, int wbits, int tm, int tn, int tk, int stages,
                                                      int b_sets) {
  return wbits == 0 ? tile_smem_bytes(elem_bytes, tm, tn, tk, stages, b_sets)
                    : static_cast<unsigned>(stages) *
                          (static_cast<unsigned>(tm) * static_cast<unsigned>(tk + 16 / elem_bytes) *
                               static_cast<unsigned>(elem_bytes) +
                           static_cast<unsigned>(b_sets * tn) * static_cast<unsigned>(tk * wbits / 8 + 16));
}

// One output tile: rows [row_begin, row_end) (permuted-row numbers for the MoE
// GEMMs), columns [col_begin, col_end), and the expert whose weights it uses.
struct TileCoords {
  index_t expert;
  index_t row_begin, row_end;
  index_t col_begin, col_end;
};

// Dense GEMM work items: ceil(M/TM) * ceil(N/TN) tiles, row tile fastest so
// that the blocks running together share one weight column tile in L2.
MOEC_GEMM_HD inline index_t dense_work_items(index_t rows, index_t cols, int tm, int tn) {
  return (rows <= 0 || cols <= 0) ? 0 : ceil_div(rows, tm) * ceil_div(cols, tn);
}

MOEC_GEMM_HD inline TileCoords dense_tile(index_t item, index_t rows, index_t cols, int tm, int tn) {
  const index_t row_tiles = ceil_div(rows, tm);
  const index_t row_tile = item % row_tiles, col_tile = item / row_tiles;
  TileCoords t;
  t.expert = 0;
  t.row_begin = row_tile * tm;
  t.row_end = min_index(rows, t.row_begin + tm);
  t.col_begin = col_tile * tn;
  t.col_end = min_index(cols, t.col_begin + tn);
  return t;
}

// Rows [begin, end) of expert e in the permuted row list, clamped into
// [0, rows_total] so that malformed offsets (negative, decreasing, past the
// assignment count) yield in-bounds (possibly empty) ranges, never wild rows.
MOEC_GEMM_HD inline void moe_expert_rows(const int *offsets, index_t e, index_t rows_total, index_t *begin,
                                         index_t *end) {
  const index_t b = clamp_index(offsets[e], 0, rows_total);
  *begin = b;
  *end = clamp_index(offsets[e + 1], b, rows_total);
}

// Upper bound of the grouped row-tile count that the emitter can compute
// without reading the offsets: sum_e ceil(c_e/TM) <= ceil((sum c_e + E*(TM-1))/TM).
MOEC_GEMM_HD constexpr index_t moe_row_tiles_bound(index_t assignments, index_t experts, int tm) {
  return ceil_div(assignments + experts * (tm - 1), tm);
}

// Row tiles of all experts: each expert's rows are cut into ceil(rows/TM) tiles
// (experts with no rows have none), laid end to end in expert order.
MOEC_GEMM_HD inline index_t moe_total_row_tiles(const int *offsets, index_t experts, index_t rows_total, int tm) {
  index_t total = 0;
  for (index_t e = 0; e < experts; ++e) {
    index_t b, en;
    moe_expert_rows(offsets, e, rows_total, &b, &en);
    total += ceil_div(en - b, tm);
  }
  return total;
}

// Which expert and rows the global row tile u is (sequential reference; the
// device uses the warp-parallel moe_locate_row_tile_warp with the same result).
// Returns false when u is past the last row tile.
MOEC_GEMM_HD inline bool moe_locate_row_tile(const int *offsets, index_t experts, index_t rows_total, int tm,
                                             index_t u, TileCoords *out) {
  index_t before = 0;
  for (index_t e = 0; e < experts; ++e) {
    index_t b, en;
    moe_expert_rows(offsets, e, rows_total, &b, &en);
    const index_t tiles = ceil_div(en - b, tm);
    if (u < before + tiles) {
      out->expert = e;
      out->row_begin = b + (u - before) * tm;
      out->row_end = min_index(en, out->row_begin + tm);
      return true;
    }
    before += tiles;
  }
  return false;
}

// Grouped work item -> output tile: row tile fastest (the blocks running
// together read the same weight column tiles of the experts, which then come
// from L2 for every row tile of an expert), column tile slowest.
MOEC_GEMM_HD inline void moe_split_item(index_t item, index_t total_row_tiles, index_t cols, int tn,
                                        index_t *row_tile, TileCoords *out) {
  *row_tile = item % total_row_tiles;
  const index_t col_tile = item / total_row_tiles;
  out->col_begin = col_tile * tn;
  out->col_end = min_index(cols, out->col_begin + tn);
}

MOEC_GEMM_HD inline bool moe_tile(const int *offsets, index_t experts, index_t rows_total, index_t total_row_tiles,
                                  index_t cols, int tm, int tn, index_t item, TileCoords *out) {
  index_t row_tile;
  moe_split_item(item, total_row_tiles, cols, tn, &row_tile, out);
  return moe_locate_row_tile(offsets, experts, rows_total, tm, row_tile, out);
}

} // namespace gemm
} // namespace moec_ck

#if !defined(MOEC_CK_GEMM_INDEX_ONLY)
// Dynamic shared memory of the GEMM templates (16-byte aligned for cp.async
// and ldmatrix); its own name, so other templates' declarations do not clash.
extern __shared__ __align__(16) unsigned char moec_gemm_smem[];

namespace moec_ck {
namespace gemm {
namespace detail {

// ---- Small device utilities (no C++ standard library under NVRTC) ------------

template <bool C, class A, class B> struct Select { typedef A type; };
template <class A, class B> struct Select<false, A, B> { typedef B type; };

// Storage types that run on the tensor cores (bf16/f16 in, f32 accumulate).
template <class T> struct IsTensorCore { static constexpr bool value = false; };
template <> struct IsTensorCore<__half> { static constexpr bool value = true; };
template <> struct IsTensorCore<__nv_bfloat16> { static constexpr bool value = true; };

// Two adjacent elements in one store (the caller checked alignment).
__device__ __forceinline__ void store_pair(float *p, float a, float b) { *reinterpret_cast<float2 *>(p) = make_float2(a, b); }
__device__ __forceinline__ void store_pair(__half *p, float a, float b) {
  *reinterpret_cast<__half2 *>(p) = __floats2half2_rn(a, b);
}
__device__ __forceinline__ void store_pair(__nv_bfloat16 *p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162 *>(p) = __floats2bfloat162_rn(a, b);
}

// Two floats as the 32-bit register of a 16-bit pair (lo in the low half),
// the operand form of mma.sync.
template <class T> __device__ __forceinline__ unsigned pack_pair(float lo, float hi);
template <> __device__ __forceinline__ unsigned pack_pair<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned *>(&h);
}
template <> __device__ __forceinline__ unsigned pack_pair<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const unsigned *>(&h);
}

__device__ __forceinline__ bool aligned16(const void *p) {
  return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}
__device__ __forceinline__ unsigned smem_address(const void *p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ unsigned dynamic_smem_size() {
  unsigned bytes;
  asm volatile("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
  return bytes;
}

// ---- PTX wrappers (sm_80+) -----------------------------------------------------

// 16-byte global -> shared copy that bypasses L1 (weights and activations are
// streamed once per tile; L2 keeps what other blocks reuse).
__device__ __forceinline__ void cp_async_16(unsigned smem_dst, const void *global_src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_dst), "l"(global_src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
}
// D = A(16x16, row) * B(16x8, col) + D, f32 accumulators.
template <class T> __device__ __forceinline__ void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1);
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
               "{%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
               "{%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- Tile configuration -------------------------------------------------------

// Warp grid WM x WN over a TM x TN tile for the tensor-core path: the split
// whose warp tile is closest to square (fewest ldmatrix per mma), each warp
// tile a whole number of m16 x n8 fragments.
template <int TM, int TN, int WARPS> struct WarpGrid {
  __host__ __device__ static constexpr int pick() {
    int best = 0, best_cost = 1 << 30;
    for (int wm = 1; wm <= WARPS; wm *= 2) {
      const int wn = WARPS / wm;
      if (WARPS % wm != 0 || TM % (wm * 16) != 0 || TN % (wn * 8) != 0)
        continue;
      const int diff = TM / wm - TN / wn, cost = diff < 0 ? -diff : diff;
      if (cost < best_cost) {
        best = wm;
        best_cost = cost;
      }
    }
    return best;
  }
  static constexpr int WM = pick();
  static_assert(WM > 0, "moec gemm: no warp grid fits this tile (TM % 16, TN % 8 per warp)");
  static constexpr int WN = WARPS / WM;
  static constexpr int WTM = TM / WM, WTN = TN / WN;
  static constexpr int MI = WTM / 16, NI = WTN / 8;
};

// Decoding of quantized weight bytes (moec_cuda_gemm_quant.cuh): pair(row, k,
// lo, hi) gives elements k, k + 1 (k even) of a shared-memory row, one(row, k)
// element k, both as floats before the scale.
template <int Q> struct QuantFormat;

// Q: kQuantNone (B rows are T elements) or the QuantKind of the weight bytes.
template <class T, int TM, int TN, int TK, int WARPS, int STAGES, int NB, int Q = kQuantNone> struct TileConfig {
  static constexpr int kTM = TM, kTN = TN, kTK = TK, kWarps = WARPS, kStages = STAGES, kNB = NB, kQ = Q;
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kVec = 16 / static_cast<int>(sizeof(T)); // elements per 16-byte chunk
  static constexpr int kLds = TK + kVec;                         // smem row stride, elements
  static constexpr int kBRows = NB * TN;                         // B set s holds rows [s*TN, (s+1)*TN)
  static constexpr int kChunksPerRow = TK / kVec;
  static constexpr int kAChunks = TM * kChunksPerRow;
  static constexpr int kAIters = (kAChunks + kThreads - 1) / kThreads;
  static constexpr int kRowsPerIter = kThreads / kChunksPerRow;
  // The B tile: T elements, or the stored bytes of a quantized weight (an
  // int4 row of TK elements is TK / 2 bytes), each row padded by 16 bytes.
  typedef typename Select<Q == kQuantNone, T, unsigned char>::type BT;
  static constexpr int kBRowBytes = Q == kQuantNone ? TK * static_cast<int>(sizeof(T)) : TK * quant_weight_bits(Q) / 8;
  static constexpr int kBVec = 16 / static_cast<int>(sizeof(BT)); // B elements per 16-byte chunk
  static constexpr int kBLds = kBRowBytes / static_cast<int>(sizeof(BT)) + kBVec; // B row stride, BT units
  static constexpr int kBTileLen = kBRowBytes / static_cast<int>(sizeof(BT));    // BT units of one K tile
  static constexpr int kBChunksPerRow = kBRowBytes / 16;
  static constexpr int kBChunks = kBRows * kBChunksPerRow;
  static constexpr int kBIters = (kBChunks + kThreads - 1) / kThreads;
  static constexpr int kBRowsPerIter = kThreads / kBChunksPerRow;
  static constexpr unsigned kAStageBytes = static_cast<unsigned>(TM * kLds * sizeof(T));
  static constexpr unsigned kStageBytes = kAStageBytes + static_cast<unsigned>(kBRows * kBLds * sizeof(BT));
  static constexpr unsigned kSmemBytes = STAGES * kStageBytes;
  static_assert(kSmemBytes == quant_tile_smem_bytes(static_cast<int>(sizeof(T)), Q == kQuantNone ? 0 : quant_weight_bits(Q),
                                                    TM, TN, TK, STAGES, NB),
                "moec gemm: the shared-memory formula disagrees with the layout");
  static_assert(kBRowBytes % 16 == 0 && kBChunksPerRow > 0 && kThreads % kBChunksPerRow == 0,
                "moec gemm: a B tile row must be whole 16-byte chunks (int4: TK % 32 == 0)");
  static_assert(STAGES >= 2, "moec gemm: STAGES >= 2");
  static_assert(TK % 16 == 0, "moec gemm: TK must be a positive multiple of 16");
  static_assert(kThreads % kChunksPerRow == 0, "moec gemm: WARPS*32 must be a multiple of TK/(16/sizeof(T))");
  static_assert(TM % 16 == 0 && TN % 8 == 0, "moec gemm: TM % 16 == 0 and TN % 8 == 0");
  static_assert(kAIters <= 32 && kBIters <= 32, "moec gemm: tile too large for the loader's bit masks");
};

// ---- Loader: global -> shared, one stage ----------------------------------------

// Each thread owns fixed (row, 16-byte chunk) slots of the A and B tiles for
// the whole K loop: the chunk column is the same in every slot because the
// thread count is a multiple of the chunks per row. A row pointers are
// resolved once per tile (the MoE gather happens here). Weight (B) rows are
// affine in the output column in every layout (row c of set s at
// base_s + c * stride), so only the set bases are kept: a pointer per B slot
// would cost 2 registers each (32 for a 128-column SwiGLU tile).
// A missing row (past the tile's rows or columns, or a bad slot) is zeroed
// once in every stage and then never loaded, which matters for decode, where
// most of a 16-row A tile is empty.
// B rows are counted in Cfg::BT units: T elements, or the bytes of a
// quantized weight (whose rows are copied as stored; the compute core
// dequantizes them in registers). The B slots then have their own geometry.
template <class T, class Cfg> struct TileLoader {
  typedef typename Cfg::BT BT;
  const T *a_row[Cfg::kAIters];
  // Row of tile column j: b_base0 + j * b_stride (set 0), b_base1 + ... (set 1).
  // Two scalars, not an array: a runtime-indexed array would live in local memory.
  const BT *b_base0, *b_base1;
  index_t b_stride;
  unsigned a_vec, b_vec; // bit i: slot i may use 16-byte cp.async (aligned row, row length % chunk == 0)
  unsigned b_present;    // bit i: B slot i has a row (its column is inside the tile)
  int chunk_col;         // element column of this thread's A chunk within a K tile
  int first_row;         // tile row of A slot 0; slot i is first_row + i * kRowsPerIter
  int b_chunk_col, b_first_row; // the same for B (quantized weights; 16-bit ones use A's)
  __device__ int b_col() const {
    if constexpr (Cfg::kQ == kQuantNone)
      return chunk_col;
    else
      return b_chunk_col;
  }
  __device__ int b_first() const {
    if constexpr (Cfg::kQ == kQuantNone)
      return first_row;
    else
      return b_first_row;
  }

  __device__ const BT *b_row(int i) const {
    const int local = b_first() + i * Cfg::kBRowsPerIter;
    const BT *base = (Cfg::kNB == 1 || local < Cfg::kTN) ? b_base0 : b_base1;
    return base + static_cast<index_t>(local % Cfg::kTN) * b_stride;
  }

  // K: the A row length (elements); b_len: a B row's length in BT units.
  template <class Problem>
  __device__ void init(const Problem &prob, const TileCoords &tile, index_t K, index_t b_len, int tid) {
    chunk_col = (tid % Cfg::kChunksPerRow) * Cfg::kVec;
    first_row = tid / Cfg::kChunksPerRow;
    if constexpr (Cfg::kQ != kQuantNone) {
      b_chunk_col = (tid % Cfg::kBChunksPerRow) * Cfg::kBVec;
      b_first_row = tid / Cfg::kBChunksPerRow;
    }
    const bool k_vec = K % Cfg::kVec == 0;
    const bool b_len_vec = Cfg::kQ == kQuantNone ? k_vec : b_len % Cfg::kBVec == 0;
    a_vec = b_vec = 0;
#pragma unroll
    for (int i = 0; i < Cfg::kAIters; ++i) {
      const int local = first_row + i * Cfg::kRowsPerIter;
      const index_t r = tile.row_begin + local;
      a_row[i] = (local < Cfg::kTM && r < tile.row_end) ? prob.a_row(r) : nullptr;
      if (a_row[i] && k_vec && aligned16(a_row[i]))
        a_vec |= 1u << i;
    }
    b_stride = prob.b_stride();
    b_base0 = prob.b_base(0) + tile.col_begin * b_stride;
    b_base1 = Cfg::kNB == 1 ? b_base0 : prob.b_base(1) + tile.col_begin * b_stride;
    b_present = 0;
#pragma unroll
    for (int i = 0; i < Cfg::kBIters; ++i) {
      const int local = b_first() + i * Cfg::kBRowsPerIter;
      if (local >= Cfg::kBRows || tile.col_begin + local % Cfg::kTN >= tile.col_end)
        continue;
      b_present |= 1u << i;
      if (b_len_vec && aligned16(b_row(i)))
        b_vec |= 1u << i;
    }
  }

  __device__ void zero_missing_rows(unsigned char *smem) const {
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
    for (int s = 0; s < Cfg::kStages; ++s) {
      T *sa = reinterpret_cast<T *>(smem + s * Cfg::kStageBytes);
      BT *sb = reinterpret_cast<BT *>(smem + s * Cfg::kStageBytes + Cfg::kAStageBytes);
#pragma unroll
      for (int i = 0; i < Cfg::kAIters; ++i) {
        const int r = first_row + i * Cfg::kRowsPerIter;
        if (!a_row[i] && (Cfg::kAChunks % Cfg::kThreads == 0 || r < Cfg::kTM))
          *reinterpret_cast<uint4 *>(sa + r * Cfg::kLds + chunk_col) = zero;
      }
#pragma unroll
      for (int i = 0; i < Cfg::kBIters; ++i) {
        const int r = b_first() + i * Cfg::kBRowsPerIter;
        if (!((b_present >> i) & 1u) && (Cfg::kBChunks % Cfg::kThreads == 0 || r < Cfg::kBRows))
          *reinterpret_cast<uint4 *>(sb + r * Cfg::kBLds + b_col()) = zero;
      }
    }
  }

  __device__ static unsigned char zero_of(const unsigned char *) { return 0; }
  template <class E> __device__ static E zero_of(const E *) { return from_float<E>(0.f); }

  // One 16-byte chunk of a present row: cp.async when whole and aligned, else
  // (row tail, rows not 16-byte aligned because their length is not a
  // multiple of 16 bytes: K % 8 != 0, an int4 row of K/2 bytes) element
  // loads with zeros past the row's end.
  template <class E> __device__ static void chunk(E *dst, const E *row, bool vec, int k0, int len) {
    constexpr int kV = 16 / static_cast<int>(sizeof(E));
    if (vec && k0 + kV <= len) {
      cp_async_16(smem_address(dst), row + k0);
      return;
    }
#pragma unroll
    for (int j = 0; j < kV; ++j)
      dst[j] = k0 + j < len ? row[k0 + j] : zero_of(row);
  }

  __device__ void load_stage(unsigned char *stage, int k_tile, int K, int b_len) const {
    const int k0 = k_tile * Cfg::kTK + chunk_col;
    T *sa = reinterpret_cast<T *>(stage);
    BT *sb = reinterpret_cast<BT *>(stage + Cfg::kAStageBytes);
#pragma unroll
    for (int i = 0; i < Cfg::kAIters; ++i) {
      const int r = first_row + i * Cfg::kRowsPerIter;
      if (a_row[i] && (Cfg::kAChunks % Cfg::kThreads == 0 || r < Cfg::kTM))
        chunk(sa + r * Cfg::kLds + chunk_col, a_row[i], (a_vec >> i) & 1u, k0, K);
    }
    const int kb0 = Cfg::kQ == kQuantNone ? k0 : k_tile * Cfg::kBTileLen + b_chunk_col;
    const int blen = Cfg::kQ == kQuantNone ? K : b_len;
#pragma unroll
    for (int i = 0; i < Cfg::kBIters; ++i) {
      const int r = b_first() + i * Cfg::kBRowsPerIter;
      if (((b_present >> i) & 1u) && (Cfg::kBChunks % Cfg::kThreads == 0 || r < Cfg::kBRows))
        chunk(sb + r * Cfg::kBLds + b_col(), b_row(i), (b_vec >> i) & 1u, kb0, blen);
    }
  }
};

struct NoScales {};

// The scales of a quantized B tile: tile column c of set s (c < cols) reads
// row base_s + c * stride, one float per `group` elements of K (`groups` of
// them). Unused (null) for 16-bit and float weights.
// 32-bit offsets: a tile spans at most 2 * TN scale rows of one expert's
// weight (the bases carry the 64-bit part), and 64-bit index math here made
// ptxas spill the int4 kernels on sm_90a.
struct TileScales {
  const float *base0, *base1;
  int stride, group, groups, cols;
  __device__ __forceinline__ float at(int s, int c, int k) const {
    const float *base = s == 0 ? base0 : base1;
    const int cc = c < cols ? c : cols - 1; // missing columns have zero weights
    return __ldg(base + (cc * stride + quant_group_of(k, group, groups)));
  }
};

// ---- Compute cores: tensor-core (bf16/f16) and SIMT (float) ----------------------

// Accumulators of the block tile, distributed over the warps; compute() adds
// one K tile from shared memory; epilogue() hands every pair of adjacent
// output columns to the problem as epi(tile_row, tile_col, set0[2], set1[2]).
template <class T, class Cfg> struct MmaCore {
  typedef WarpGrid<Cfg::kTM, Cfg::kTN, Cfg::kWarps> G;
  static constexpr int MI = G::MI, NI = G::NI, NB = Cfg::kNB;
  float acc[NB][MI][NI][4];

  __device__ void clear() {
#pragma unroll
    for (int s = 0; s < NB; ++s)
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j)
#pragma unroll
          for (int v = 0; v < 4; ++v)
            acc[s][i][j][v] = 0.f;
  }

  // Adds the K tile at `stage` (16-bit weights; compute_quant below for
  // quantized ones, whose K tile starts at element k_base).
  __device__ void compute(const T *stage, int tid) {
    const int lane = tid & 31, warp = tid >> 5;
    const int wm = warp / G::WN, wn = warp % G::WN;
    const T *sa = stage + (wm * G::WTM) * Cfg::kLds;
    const T *sb = stage + Cfg::kTM * Cfg::kLds + (wn * G::WTN) * Cfg::kLds;
    // ldmatrix lane -> row address. A (x4): matrices (rows 0-7, k 0-7), (rows
    // 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15) = a0..a3 of mma.
    const int a_r = lane & 15, a_k = (lane >> 4) * 8;
    // B (x4, two n8 fragments): (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7),
    // (n 8-15, k 8-15) = b0, b1 of fragment j, then of fragment j + 1.
    const int b_r = (lane & 7) + ((lane >> 4) << 3), b_k = ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int kk = 0; kk < Cfg::kTK; kk += 16) {
      unsigned a[MI][4];
#pragma unroll
      for (int i = 0; i < MI; ++i)
        ldmatrix_x4(a[i], smem_address(sa + (i * 16 + a_r) * Cfg::kLds + kk + a_k));
#pragma unroll
      for (int s = 0; s < NB; ++s) {
        const T *sbs = sb + s * Cfg::kTN * Cfg::kLds;
#pragma unroll
        for (int j = 0; j + 1 < NI; j += 2) {
          unsigned b[4];
          ldmatrix_x4(b, smem_address(sbs + (j * 8 + b_r) * Cfg::kLds + kk + b_k));
#pragma unroll
          for (int i = 0; i < MI; ++i) {
            mma_16816<T>(acc[s][i][j], a[i], b[0], b[1]);
            mma_16816<T>(acc[s][i][j + 1], a[i], b[2], b[3]);
          }
        }
        if (NI % 2 == 1) { // last odd fragment: x2 (lanes 0-15 give the addresses)
          unsigned b[2];
          ldmatrix_x2(b, smem_address(sbs + ((NI - 1) * 8 + (lane & 7)) * Cfg::kLds + kk + b_k));
#pragma unroll
          for (int i = 0; i < MI; ++i)
            mma_16816<T>(acc[s][i][NI - 1], a[i], b[0], b[1]);
        }
      }
    }
  }

  // Quantized weights: A fragments by ldmatrix as above; each B fragment is
  // built in registers from the stored bytes (mma_b_fragment_n/k: lane holds
  // k = 2t, 2t+1 and 2t+8, 2t+9 of column n = lane/4, t = lane%4), each value
  // q * scale(n, k / group) rounded once to T. The scale is loaded once per
  // 16-wide k step when group % 16 == 0 (every common group, and one scale per
  // row when K % 16 == 0), else per element (a pair may straddle two groups).
  // (Keeping a per-K-tile scale in registers instead made ptxas spill the
  // 128x128 prefill tile on sm_90a.)
  __device__ __forceinline__ void compute_quant(const unsigned char *stage, int tid, int k_base,
                                                const TileScales sc) {
    typedef QuantFormat<Cfg::kQ> F;
    const int lane = tid & 31, warp = tid >> 5;
    const int wm = warp / G::WN, wn = warp % G::WN;
    const T *sa = reinterpret_cast<const T *>(stage) + (wm * G::WTM) * Cfg::kLds;
    const unsigned char *sb = stage + Cfg::kAStageBytes + (wn * G::WTN + mma_b_fragment_n(lane)) * Cfg::kBLds;
    const int a_r = lane & 15, a_k = (lane >> 4) * 8;
    const int n_lane = wn * G::WTN + mma_b_fragment_n(lane), k_lane = mma_b_fragment_k(lane, 0, 0);
    const bool per_step = sc.group % 16 == 0;
#pragma unroll
    for (int kk = 0; kk < Cfg::kTK; kk += 16) {
      unsigned a[MI][4];
#pragma unroll
      for (int i = 0; i < MI; ++i)
        ldmatrix_x4(a[i], smem_address(sa + (i * 16 + a_r) * Cfg::kLds + kk + a_k));
#pragma unroll
      for (int s = 0; s < NB; ++s)
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          const unsigned char *row = sb + (s * Cfg::kTN + j * 8) * Cfg::kBLds;
          float v[4];
          F::pair(row, kk + k_lane, v[0], v[1]);
          F::pair(row, kk + k_lane + 8, v[2], v[3]);
          const int c = n_lane + j * 8, k = k_base + kk + k_lane;
          if (per_step) {
            const float f = sc.at(s, c, k_base + kk); // an L1 hit after the first k step
#pragma unroll
            for (int e = 0; e < 4; ++e)
              v[e] *= f;
          } else {
            v[0] *= sc.at(s, c, k);
            v[1] *= sc.at(s, c, k + 1);
            v[2] *= sc.at(s, c, k + 8);
            v[3] *= sc.at(s, c, k + 9);
          }
          const unsigned b0 = pack_pair<T>(v[0], v[1]), b1 = pack_pair<T>(v[2], v[3]);
#pragma unroll
          for (int i = 0; i < MI; ++i)
            mma_16816<T>(acc[s][i][j], a[i], b0, b1);
        }
    }
  }

  // Accumulator fragment layout (m16n8): c0, c1 at (lane/4, 2*(lane%4) + {0,1}),
  // c2, c3 eight rows below.
  template <class Epi> __device__ void epilogue(Epi &epi, int tid) const {
    const int lane = tid & 31, warp = tid >> 5;
    const int wm = warp / G::WN, wn = warp % G::WN;
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
      for (int j = 0; j < NI; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = wm * G::WTM + i * 16 + (lane >> 2) + h * 8;
          const int c = wn * G::WTN + j * 8 + (lane & 3) * 2;
          const float *g = &acc[0][i][j][2 * h];
          const float *l = &acc[NB - 1][i][j][2 * h];
          epi(r, c, g[0], g[1], l[0], l[1]);
        }
  }
};

// float storage: each thread owns RM rows x CP column pairs of the tile
// (16 threads across the columns, the rest down the rows).
template <class T, class Cfg> struct SimtCore {
  static constexpr int kTx = 16, kTy = Cfg::kThreads / kTx;
  static constexpr int RM = Cfg::kTM / kTy, CP = Cfg::kTN / (2 * kTx), NB = Cfg::kNB;
  static_assert(Cfg::kThreads % kTx == 0 && Cfg::kTM % kTy == 0 && RM > 0,
                "moec gemm (float): TM must be a multiple of WARPS*2");
  static_assert(Cfg::kTN % (2 * kTx) == 0, "moec gemm (float): TN must be a multiple of 32");
  float acc[NB][RM][CP][2];

  __device__ void clear() {
#pragma unroll
    for (int s = 0; s < NB; ++s)
#pragma unroll
      for (int i = 0; i < RM; ++i)
#pragma unroll
        for (int j = 0; j < CP; ++j)
          acc[s][i][j][0] = acc[s][i][j][1] = 0.f;
  }

  // Quantized weights: each B element decoded from its byte and scaled in
  // float (no rounding: float storage keeps q * scale exact up to one f32
  // rounding, as the host kernels compute it).
  __device__ __forceinline__ void compute_quant(const unsigned char *stage, int tid, int k_base,
                                                const TileScales sc) {
    typedef QuantFormat<Cfg::kQ> F;
    const int tx = tid % kTx, ty = tid / kTx;
    const T *sa = reinterpret_cast<const T *>(stage);
    const unsigned char *sb = stage + Cfg::kAStageBytes;
    const bool per_tile = sc.group % Cfg::kTK == 0;
    float tile_scale[NB][CP][2];
#pragma unroll
    for (int s = 0; s < NB; ++s)
#pragma unroll
      for (int j = 0; j < CP; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          tile_scale[s][j][h] = per_tile ? sc.at(s, (tx + j * kTx) * 2 + h, k_base) : 0.f;
#pragma unroll 2
    for (int k = 0; k < Cfg::kTK; ++k) {
      float a[RM];
#pragma unroll
      for (int i = 0; i < RM; ++i)
        a[i] = to_float(sa[(ty + i * kTy) * Cfg::kLds + k]);
#pragma unroll
      for (int s = 0; s < NB; ++s)
#pragma unroll
        for (int j = 0; j < CP; ++j) {
          const int c = (tx + j * kTx) * 2;
          const unsigned char *row = sb + (s * Cfg::kTN + c) * Cfg::kBLds;
          float b0 = F::one(row, k), b1 = F::one(row + Cfg::kBLds, k);
          b0 *= per_tile ? tile_scale[s][j][0] : sc.at(s, c, k_base + k);
          b1 *= per_tile ? tile_scale[s][j][1] : sc.at(s, c + 1, k_base + k);
#pragma unroll
          for (int i = 0; i < RM; ++i) {
            acc[s][i][j][0] += a[i] * b0;
            acc[s][i][j][1] += a[i] * b1;
          }
        }
    }
  }

  __device__ void compute(const T *stage, int tid) {
    const int tx = tid % kTx, ty = tid / kTx;
    const T *sa = stage, *sb = stage + Cfg::kTM * Cfg::kLds;
    // Unrolled by 2 only: deeper unrolling holds more smem operands in flight
    // and pushes the SwiGLU tile (two accumulator sets) into spills.
#pragma unroll 2
    for (int k = 0; k < Cfg::kTK; ++k) {
      float a[RM];
#pragma unroll
      for (int i = 0; i < RM; ++i)
        a[i] = to_float(sa[(ty + i * kTy) * Cfg::kLds + k]);
#pragma unroll
      for (int s = 0; s < NB; ++s)
#pragma unroll
        for (int j = 0; j < CP; ++j) {
          const int c = s * Cfg::kTN + (tx + j * kTx) * 2;
          const float b0 = to_float(sb[c * Cfg::kLds + k]), b1 = to_float(sb[(c + 1) * Cfg::kLds + k]);
#pragma unroll
          for (int i = 0; i < RM; ++i) {
            acc[s][i][j][0] += a[i] * b0;
            acc[s][i][j][1] += a[i] * b1;
          }
        }
    }
  }

  template <class Epi> __device__ void epilogue(Epi &epi, int tid) const {
    const int tx = tid % kTx, ty = tid / kTx;
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < CP; ++j)
        epi(ty + i * kTy, (tx + j * kTx) * 2, acc[0][i][j][0], acc[0][i][j][1], acc[NB - 1][i][j][0],
            acc[NB - 1][i][j][1]);
  }
};

// ---- One output tile through the pipeline ------------------------------------------

// Longest reduction the K loop's 32-bit arithmetic handles (a model width;
// the templates write nothing for longer ones).
constexpr index_t kMaxK = 0x7fffffffLL - 256;

// STAGES-deep cp.async pipeline over the K tiles. One commit group per K tile
// (empty groups past the end keep the count uniform), so waiting until at most
// STAGES-2 groups are pending means K tile kt has landed; the barrier after it
// also proves every warp finished reading the stage that is refilled next.
template <class T, class Cfg, class Problem>
__device__ void run_tile(unsigned char *smem, const Problem &prob, const TileCoords &tile, index_t K) {
  typedef typename Select<IsTensorCore<T>::value, MmaCore<T, Cfg>, SimtCore<T, Cfg>>::type Core;
  const int tid = static_cast<int>(threadIdx.x);
  // The reduction length is a model dimension (hidden or inter size): 32-bit
  // K-loop arithmetic keeps registers free for the accumulators.
  const int k_len = static_cast<int>(K);
  const int b_len = Cfg::kQ == kQuantNone ? k_len : static_cast<int>(quant_row_bytes(Cfg::kQ, K));
  TileLoader<T, Cfg> loader;
  loader.init(prob, tile, K, b_len, tid);
  loader.zero_missing_rows(smem);
  // Only quantized weights have scales (an unused struct here made ptxas
  // keep a stack frame in the 16-bit kernels).
  typename Select<Cfg::kQ == kQuantNone, NoScales, TileScales>::type scales;
  if constexpr (Cfg::kQ != kQuantNone) {
    const index_t stride = prob.scale_stride();
    scales.stride = static_cast<int>(stride);
    scales.base0 = prob.scale_base(0) + tile.col_begin * stride;
    scales.base1 = Cfg::kNB == 1 ? scales.base0 : prob.scale_base(1) + tile.col_begin * stride;
    scales.group = prob.group;
    scales.groups = static_cast<int>(quant_groups(K, prob.group));
    scales.cols = static_cast<int>(tile.col_end - tile.col_begin);
  }
  Core core;
  core.clear();
  const int k_tiles = K > 0 ? (k_len + Cfg::kTK - 1) / Cfg::kTK : 0;
#pragma unroll
  for (int s = 0; s < Cfg::kStages - 1; ++s) {
    if (s < k_tiles)
      loader.load_stage(smem + s * Cfg::kStageBytes, s, k_len, b_len);
    cp_async_commit();
  }
  int read_stage = 0, write_stage = Cfg::kStages - 1;
  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<Cfg::kStages - 2>();
    __syncthreads();
    if (kt + Cfg::kStages - 1 < k_tiles)
      loader.load_stage(smem + write_stage * Cfg::kStageBytes, kt + Cfg::kStages - 1, k_len, b_len);
    cp_async_commit();
    if constexpr (Cfg::kQ == kQuantNone)
      core.compute(reinterpret_cast<const T *>(smem + read_stage * Cfg::kStageBytes), tid);
    else
      core.compute_quant(smem + read_stage * Cfg::kStageBytes, tid, kt * Cfg::kTK, scales);
    read_stage = read_stage + 1 == Cfg::kStages ? 0 : read_stage + 1;
    write_stage = write_stage + 1 == Cfg::kStages ? 0 : write_stage + 1;
  }
  cp_async_wait<0>();
  typename Problem::Epilogue epi(prob, tile);
  core.epilogue(epi, tid);
  __syncthreads(); // the next tile's prologue overwrites the stages
}

// ---- Warp-parallel MoE tile location ------------------------------------------------

// moe_locate_row_tile with 32 experts per step: each lane counts one expert's
// row tiles, an inclusive warp scan gives the chunk's tile ends, and the first
// lane whose end passes u owns the tile. Needs the whole warp (all 32 lanes,
// converged); every warp of a block computes the same answer independently.
__device__ inline bool moe_locate_row_tile_warp(const int *offsets, index_t experts, index_t rows_total, int tm,
                                                index_t u, TileCoords *out) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  index_t before = 0;
  for (index_t base = 0; base < experts; base += 32) {
    index_t b = 0, en = 0;
    if (base + lane < experts)
      moe_expert_rows(offsets, base + lane, rows_total, &b, &en);
    const long long tiles = ceil_div(en - b, tm);
    long long ends = tiles;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const long long v = __shfl_up_sync(0xffffffffu, ends, d);
      if (lane >= d)
        ends += v;
    }
    const long long chunk = __shfl_sync(0xffffffffu, ends, 31);
    if (u < before + chunk) {
      const unsigned hits = __ballot_sync(0xffffffffu, before + ends > u);
      const int owner = __ffs(hits) - 1;
      const long long owner_start = __shfl_sync(0xffffffffu, ends - tiles, owner);
      const long long rb = __shfl_sync(0xffffffffu, static_cast<long long>(b), owner);
      const long long re = __shfl_sync(0xffffffffu, static_cast<long long>(en), owner);
      out->expert = base + owner;
      out->row_begin = rb + (u - before - owner_start) * tm;
      out->row_end = min_index(re, out->row_begin + tm);
      return true;
    }
    before += chunk;
  }
  return false;
}

__device__ inline index_t moe_total_row_tiles_warp(const int *offsets, index_t experts, index_t rows_total, int tm) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  long long tiles = 0;
  for (index_t e = lane; e < experts; e += 32) {
    index_t b, en;
    moe_expert_rows(offsets, e, rows_total, &b, &en);
    tiles += ceil_div(en - b, tm);
  }
#pragma unroll
  for (int d = 16; d > 0; d >>= 1)
    tiles += __shfl_xor_sync(0xffffffffu, tiles, d);
  return tiles;
}

// ---- Epilogue helpers ---------------------------------------------------------------

// Writes out[c], out[c+1] (c+1 only if < n_valid) in one store when aligned.
template <class T> __device__ __forceinline__ void store_two(T *row, index_t c, index_t cols, float v0, float v1) {
  if (c + 1 < cols && (reinterpret_cast<unsigned long long>(row + c) & (2 * sizeof(T) - 1)) == 0) {
    store_pair(row + c, v0, v1);
  } else {
    if (c < cols)
      row[c] = from_float<T>(v0);
    if (c + 1 < cols)
      row[c + 1] = from_float<T>(v1);
  }
}

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// The MoE activations of moec_hk::moe_experts (compiler/host/kernels).
enum MoeAct { kRelu = 0, kGelu = 1, kSilu = 2, kSwiGLU = 3, kIdentity = 4 };
__device__ __forceinline__ float moe_activation(int act, float v) {
  switch (act) {
  case kRelu:
    return v > 0.f ? v : 0.f;
  case kGelu: // tanh form, as com.microsoft.MoE computes it
    return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  case kSilu:
    return v * sigmoid(v);
  default:
    return v;
  }
}
// G = min(gate, limit); L = clamp(lin, -limit, limit); G * sigmoid(alpha G) * (L + beta).
// Written as comparisons so NaN propagates like the host's std::min/std::max.
__device__ __forceinline__ float swiglu(float gate, float lin, float alpha, float beta, float limit) {
  const float g = limit < gate ? limit : gate;
  float l = limit < lin ? limit : lin;
  l = l < -limit ? -limit : l;
  return g * sigmoid(alpha * g) * (l + beta);
}

// ---- Problems: where A and B rows come from and where the tile goes ---------------------

// W: the weight's storage, T or the bytes of a quantized weight; row_len: a
// weight row in W units (K, or its bytes); scale/group: the quantized
// weight's float32 scales, one per `group` elements of a row (unused for T).
template <class T, class W = T> struct LinearProblem {
  const T *X;
  const W *Wt;
  const T *bias;
  T *Y;
  index_t K, N, row_len;
  const float *scale;
  int group;
  __device__ const T *a_row(index_t r) const { return X + r * K; }
  __device__ const W *b_base(int) const { return Wt; }
  __device__ index_t b_stride() const { return row_len; }
  __device__ const float *scale_base(int) const { return scale; }
  __device__ index_t scale_stride() const { return quant_groups(K, group); }
  struct Epilogue {
    const LinearProblem &p;
    const TileCoords &t;
    __device__ Epilogue(const LinearProblem &prob, const TileCoords &tile) : p(prob), t(tile) {}
    __device__ void operator()(int r, int c, float v0, float v1, float, float) const {
      const index_t row = t.row_begin + r, col = t.col_begin + c;
      if (row >= t.row_end || col >= t.col_end)
        return;
      if (p.bias) {
        v0 += to_float(p.bias[col]);
        if (col + 1 < t.col_end)
          v1 += to_float(p.bias[col + 1]);
      }
      store_two(p.Y + row * p.N, col, t.col_end, v0, v1);
    }
  };
};

// B sets for the up projection: set 0 = fc1 rows (gate rows for SwiGLU), set 1
// = the SwiGLU linear rows (fc3 for fusion 0, interleaved odd rows of fc1 for
// fusion 1, the second half of fc1 for fusion 2).
template <class T, class W = T> struct MoeUpProblem {
  const T *X;
  const int *slots;
  const W *fc1;
  const T *fc1_bias;
  const W *fc3;
  const T *fc3_bias;
  T *Hout;
  index_t k, assignments, hidden, inter, f1_rows, expert;
  int act, fusion;
  float alpha, beta, limit;
  index_t row_len;                    // a weight row in W units (hidden, or its bytes)
  const float *fc1_scale, *fc3_scale; // quantized weights: one scale per `group` of a row
  int group;

  __device__ const T *a_row(index_t r) const {
    const index_t slot = slots[r];
    return (slot >= 0 && slot < assignments) ? X + (slot / k) * hidden : nullptr;
  }
  // Row of fc1/fc3 (within expert) and which tensor, for output column c of set s.
  __device__ index_t weight_row(int s, index_t c) const {
    if (act != kSwiGLU || fusion == 0)
      return c;
    return fusion == 1 ? 2 * c + s : s * inter + c;
  }
  __device__ bool from_fc3(int s) const { return act == kSwiGLU && fusion == 0 && s == 1; }
  // Row of output column c in set s: b_base(s) + c * b_stride().
  __device__ const W *b_base(int s) const {
    return from_fc3(s) ? fc3 + expert * inter * row_len : fc1 + (expert * f1_rows + weight_row(s, 0)) * row_len;
  }
  __device__ index_t b_stride() const { return (act == kSwiGLU && fusion == 1 ? 2 : 1) * row_len; }
  // Scales follow the weight rows: row r of a weight at r * ceil(H / group).
  __device__ const float *scale_base(int s) const {
    const index_t groups = quant_groups(hidden, group);
    return from_fc3(s) ? fc3_scale + expert * inter * groups
                       : fc1_scale + (expert * f1_rows + weight_row(s, 0)) * groups;
  }
  __device__ index_t scale_stride() const {
    return (act == kSwiGLU && fusion == 1 ? 2 : 1) * quant_groups(hidden, group);
  }
  __device__ float bias(int s, index_t c) const {
    if (from_fc3(s))
      return fc3_bias ? to_float(fc3_bias[expert * inter + c]) : 0.f;
    return fc1_bias ? to_float(fc1_bias[expert * f1_rows + weight_row(s, c)]) : 0.f;
  }
  struct Epilogue {
    const MoeUpProblem &p;
    const TileCoords &t;
    __device__ Epilogue(const MoeUpProblem &prob, const TileCoords &tile) : p(prob), t(tile) {}
    __device__ void operator()(int r, int c, float g0, float g1, float l0, float l1) const {
      const index_t row = t.row_begin + r, col = t.col_begin + c;
      if (row >= t.row_end || col >= t.col_end)
        return;
      const bool second = col + 1 < t.col_end;
      float o0, o1 = 0.f;
      if (p.act == kSwiGLU) {
        o0 = swiglu(g0 + p.bias(0, col), l0 + p.bias(1, col), p.alpha, p.beta, p.limit);
        if (second)
          o1 = swiglu(g1 + p.bias(0, col + 1), l1 + p.bias(1, col + 1), p.alpha, p.beta, p.limit);
      } else {
        o0 = moe_activation(p.act, g0 + p.bias(0, col));
        if (second)
          o1 = moe_activation(p.act, g1 + p.bias(0, col + 1));
      }
      store_two(p.Hout + row * p.inter, col, t.col_end, o0, o1);
    }
  };
};

template <class T, class W = T> struct MoeDownProblem {
  const T *Hin;
  const int *slots;
  const W *fc2;
  const T *fc2_bias, *routing_weights;
  T *Ypart;
  index_t assignments, hidden, inter, expert;
  index_t row_len; // a weight row in W units (inter, or its bytes)
  const float *fc2_scale;
  int group;
  __device__ const T *a_row(index_t r) const { return Hin + r * inter; }
  __device__ const W *b_base(int) const { return fc2 + expert * hidden * row_len; }
  __device__ index_t b_stride() const { return row_len; }
  __device__ const float *scale_base(int) const { return fc2_scale + expert * hidden * quant_groups(inter, group); }
  __device__ index_t scale_stride() const { return quant_groups(inter, group); }
  struct Epilogue {
    const MoeDownProblem &p;
    const TileCoords &t;
    __device__ Epilogue(const MoeDownProblem &prob, const TileCoords &tile) : p(prob), t(tile) {}
    __device__ void operator()(int r, int c, float v0, float v1, float, float) const {
      const index_t row = t.row_begin + r, col = t.col_begin + c;
      if (row >= t.row_end || col >= t.col_end)
        return;
      const index_t slot = p.slots[row];
      if (slot < 0 || slot >= p.assignments)
        return; // a bad slot has no output row; the routing kernel reports it
      const float w = to_float(p.routing_weights[slot]);
      if (p.fc2_bias) {
        v0 += to_float(p.fc2_bias[p.expert * p.hidden + col]);
        if (col + 1 < t.col_end)
          v1 += to_float(p.fc2_bias[p.expert * p.hidden + col + 1]);
      }
      store_two(p.Ypart + slot * p.hidden, col, t.col_end, w * v0, w * v1);
    }
  };
};

// Grid-stride loop over the grouped tiles of all experts.
template <class T, class Cfg, class Problem>
__device__ void run_grouped(Problem &prob, const int *expert_offsets, index_t experts, index_t cols, index_t K) {
  unsigned char *smem = moec_gemm_smem;
  const index_t rows_total = prob.assignments;
  const index_t row_tiles = moe_total_row_tiles_warp(expert_offsets, experts, rows_total, Cfg::kTM);
  if (row_tiles == 0 || cols <= 0)
    return;
  const index_t items = row_tiles * ceil_div(cols, Cfg::kTN);
  for (index_t item = grid_block(); item < items; item += grid_blocks()) {
    TileCoords tile;
    index_t u;
    moe_split_item(item, row_tiles, cols, Cfg::kTN, &u, &tile);
    if (!moe_locate_row_tile_warp(expert_offsets, experts, rows_total, Cfg::kTM, u, &tile))
      continue; // cannot happen for u < row_tiles; uniform across the block
    prob.expert = tile.expert;
    run_tile<T, Cfg>(smem, prob, tile, K);
  }
}

} // namespace detail

// ---- Public templates -------------------------------------------------------------------

template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned linear_smem_bytes() {
  return tile_smem_bytes(static_cast<int>(sizeof(T)), TM, TN, TK, STAGES, 1);
}
// The SwiGLU tile holds gate and linear weight rows (2*TN B rows), the other
// activations TN rows: pass the activation when it is known (the emitter
// knows it); without it, the SwiGLU (largest) size.
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_up_smem_bytes(int act) {
  return tile_smem_bytes(static_cast<int>(sizeof(T)), TM, TN, TK, STAGES, act == 3 ? 2 : 1);
}
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_up_smem_bytes() {
  return moe_gemm_up_smem_bytes<T, TM, TN, TK, WARPS, STAGES>(3);
}
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_down_smem_bytes() {
  return tile_smem_bytes(static_cast<int>(sizeof(T)), TM, TN, TK, STAGES, 1);
}

// Y[M,N] = X[M,K] . W[N,K]^T (+ bias[N]).
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void linear(const T *X, const T *W, const T *bias, T *Y, index_t M, index_t K, index_t N) {
  typedef detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1> Cfg;
  if (K > detail::kMaxK || detail::dynamic_smem_size() < Cfg::kSmemBytes)
    return;
  detail::LinearProblem<T> prob{X, W, bias, Y, K, N, K, nullptr, 1};
  const index_t items = dense_work_items(M, N, TM, TN);
  for (index_t item = grid_block(); item < items; item += grid_blocks())
    detail::run_tile<T, Cfg>(moec_gemm_smem, prob, dense_tile(item, M, N, TM, TN), K);
}

// Hout[r, 0:I] = act(fc1_e . X[slot_r / k] + b1 [, fc3_e . x + b3]) for the
// permuted rows r of every expert e (rows [expert_offsets[e], expert_offsets[e+1])).
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_up(const T *X, const int *sorted_slots, const int *expert_offsets, const T *fc1,
                            const T *fc1_bias, const T *fc3, const T *fc3_bias, T *Hout, index_t tokens, index_t k,
                            index_t experts, index_t hidden, index_t inter, int act, int swiglu_fusion, float alpha,
                            float beta, float limit) {
  const bool gated = act == detail::kSwiGLU;
  if (tokens <= 0 || k <= 0 || experts <= 0 || hidden > detail::kMaxK)
    return;
  if (act < 0 || act > 4 || (gated && (swiglu_fusion < 0 || swiglu_fusion > 2 || (swiglu_fusion == 0 && !fc3))))
    return; // the compiler verified these; never read a missing tensor
  if (detail::dynamic_smem_size() < moe_gemm_up_smem_bytes<T, TM, TN, TK, WARPS, STAGES>(act))
    return;
  detail::MoeUpProblem<T> prob{X,      sorted_slots, fc1,   fc1_bias, fc3,   fc3_bias, Hout,    k,      tokens * k,
                               hidden, inter,        (gated && swiglu_fusion != 0) ? 2 * inter : inter,
                               0,      act,          swiglu_fusion, alpha, beta, limit, hidden, nullptr, nullptr, 1};
  if (gated)
    detail::run_grouped<T, detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 2>>(prob, expert_offsets, experts, inter,
                                                                               hidden);
  else
    detail::run_grouped<T, detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1>>(prob, expert_offsets, experts, inter,
                                                                               hidden);
}

// Ypart[slot_r, 0:H] = routing_weights[slot_r] * (fc2_e . Hin[r] + b2) for the
// permuted rows r of every expert e.
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_down(const T *Hin, const int *sorted_slots, const int *expert_offsets, const T *fc2,
                              const T *fc2_bias, const T *routing_weights, T *Ypart, index_t tokens, index_t k,
                              index_t experts, index_t hidden, index_t inter) {
  typedef detail::TileConfig<T, TM, TN, TK, WARPS, STAGES, 1> Cfg;
  if (tokens <= 0 || k <= 0 || experts <= 0 || inter > detail::kMaxK || detail::dynamic_smem_size() < Cfg::kSmemBytes)
    return;
  detail::MoeDownProblem<T> prob{Hin, sorted_slots, fc2,   fc2_bias, routing_weights, Ypart, tokens * k, hidden,
                                 inter, 0,          inter, nullptr, 1};
  detail::run_grouped<T, Cfg>(prob, expert_offsets, experts, hidden, inter);
}

} // namespace gemm
} // namespace moec_ck

// The quantized-weight GEMMs (same machinery, B tiles of stored bytes).
#include "moec_cuda_gemm_quant.cuh"

namespace moec_ck {
using gemm::linear;
using gemm::linear_q;
using gemm::linear_q_smem_bytes;
using gemm::linear_smem_bytes;
using gemm::moe_gemm_down_q;
using gemm::moe_gemm_down_q_smem_bytes;
using gemm::moe_gemm_up_q;
using gemm::moe_gemm_up_q_smem_bytes;
using gemm::moe_gemm_down;
using gemm::moe_gemm_down_smem_bytes;
using gemm::moe_gemm_up;
using gemm::moe_gemm_up_smem_bytes;

} // namespace moec_ck
#endif // !MOEC_CK_GEMM_INDEX_ONLY

#endif // MOEC_CUDA_GEMM_CUH
