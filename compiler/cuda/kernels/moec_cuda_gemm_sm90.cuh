// moec CUDA GEMM device templates for Hopper (sm_90a): the dense linear layer
// and the two grouped expert GEMMs of moec_cuda_gemm.cuh, rebuilt on
// wgmma.mma_async (bf16/f16 operands from shared memory, f32 accumulators in
// registers) fed by an mbarrier producer/consumer pipeline.
//
// Same parameter lists and semantics as moec_ck::linear / moe_gemm_up /
// moe_gemm_down (the problem descriptions, tile enumeration, MoE activations
// and epilogues are the very same code, taken from moec_cuda_gemm.cuh); only
// the block organisation and the instructions differ. OPT-IN until a GPU run
// validates the numerics (test/unit/cuda_gemm_sm90/GemmSm90GpuTest.cpp).
//
// Block organisation (blockDim.x == WARPS * 32, WARPS == 4 * TM / 64 + 1):
//  * consumer warpgroups 0 .. TM/64-1 (warps 0 .. WARPS-2): warpgroup g owns
//    tile rows [64 g, 64 g + 64) and all TN columns (both SwiGLU weight sets);
//    per 64-wide K tile it issues 4 k16 steps of m64nNk16 wgmma per set and
//    N chunk, keeps one K tile of wgmma in flight, and releases a stage only
//    after the wgmma reading it retired (wgmma.wait_group 1);
//  * one producer warp (the last): copies the A and B tiles of each K tile
//    into a STAGES-deep ring with cp.async (zero-fill for missing rows and
//    the K tail) and signals the stage's "full" mbarrier through
//    cp.async.mbarrier.arrive.noinc; it waits on the stage's "empty" mbarrier
//    (one arrival per consumer warp) before overwriting it.
// Both roles walk the same grid-stride sequence of output tiles (each warp
// locates the tiles itself), so the ring's stage/phase counters stay in step
// across tiles without any block-wide barrier after the setup.
//
// Why cp.async and not TMA (cp.async.bulk.tensor): a tensor map must be
// encoded by the host (cuTensorMapEncodeTiled); moec's runtime does not do it
// and its format is opaque, and tensormap.replace only edits an existing,
// host-encoded map. 1-D bulk copies (cp.async.bulk) need no map, but write a
// row contiguously, while the 128-byte-swizzled layout wgmma reads without
// bank conflicts permutes each row's 16-byte chunks; per-chunk bulk copies
// would be as many instructions as cp.async and lack its zero-fill (needed
// for the K tail, the rows past a tile edge, and the gathered A rows with a
// bad slot). The A operand is gathered through sorted_slots anyway. So both
// operands use 16-byte cp.async into the swizzled layout.
//
// Shared memory layout (dynamic, base rounded up to 1024 bytes):
//   STAGES x [ A tile: TM rows x 128 B | B tile: NB * TN rows x 128 B ]
//   then STAGES "full" + STAGES "empty" mbarriers, then TM A-row pointers.
// Rows are TK = 64 elements (128 bytes); 16-byte chunk c of row r lives at
// chunk c ^ (r % 8) of the row (the 128B swizzle of the wgmma descriptor,
// whose 8-row core-matrix groups are 1024 bytes apart).
//
// Contract (as moec_cuda_gemm.cuh): any gridDim.x, gridDim.y >= 1 (blocks
// stride over the output tiles), dynamic shared memory >= the matching
// *_smem_bytes(); a launch with less shared memory or another block size
// returns without writing rather than overrun memory or deadlock.
// float storage has no wgmma path here: the templates forward to the
// mma.sync file's SIMT fallback (its WARPS / smem rules then apply).
//
// Compiled for anything but sm_90a (no __CUDA_ARCH_FEAT_SM90_ALL), the
// 16-bit templates compile to empty bodies: wgmma does not exist there.
#ifndef MOEC_CUDA_GEMM_SM90_CUH
#define MOEC_CUDA_GEMM_SM90_CUH

#include "moec_cuda_gemm.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MOEC_SM90_WGMMA 1
#else
#define MOEC_SM90_WGMMA 0
#endif

namespace moec_ck {
namespace sm90 {

// ---- Configuration (host + device) -------------------------------------------

// Shared memory of one pipeline: 1024 bytes of alignment slack, STAGES stages
// of (TM + b_sets * TN) rows of 128 bytes, 2 * STAGES mbarriers, TM A-row
// pointers. 16-bit storage only (float forwards to moec_cuda_gemm.cuh).
MOEC_GEMM_HD constexpr unsigned pipeline_smem_bytes(int tm, int tn, int stages, int b_sets) {
  return 1024u + static_cast<unsigned>(stages) * static_cast<unsigned>(tm + b_sets * tn) * 128u +
         static_cast<unsigned>(stages) * 16u + static_cast<unsigned>(tm) * 8u;
}

template <class T, int TM, int TN, int TK, int WARPS, int STAGES> struct Sm90Config {
  static constexpr int kTM = TM, kTN = TN, kTK = TK, kWarps = WARPS, kStages = STAGES;
  static constexpr int kConsumerGroups = TM / 64;
  static constexpr int kConsumerWarps = 4 * kConsumerGroups;
  static constexpr int kProducerWarp = kConsumerWarps;
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kRowBytes = 128; // one K tile of one row
  // Widest wgmma N (of 128, 64, 32) that divides TN: one instruction per chunk.
  static constexpr int kWgmmaN = TN % 128 == 0 ? 128 : (TN % 64 == 0 ? 64 : 32);
  static constexpr int kAccPerSet = TN / 2; // f32 accumulators per thread per set
  static_assert(TM % 64 == 0 && TM >= 64 && TM <= 256, "moec sm90 gemm: TM must be 64, 128, 192 or 256");
  static_assert(WARPS == kConsumerWarps + 1, "moec sm90 gemm: WARPS must be 4 * TM / 64 + 1 (one producer warp)");
  static_assert(TN % 32 == 0 && TN >= 32 && TN <= 256, "moec sm90 gemm: TN must be a multiple of 32 in [32, 256]");
  static_assert(TK * 2 == kRowBytes, "moec sm90 gemm: TK must be 64 (one 128-byte swizzle row of 16-bit elements)");
  static_assert(STAGES >= 2 && STAGES <= 16, "moec sm90 gemm: STAGES in [2, 16]");
};

} // namespace sm90
} // namespace moec_ck

#if !defined(MOEC_CK_GEMM_INDEX_ONLY)
namespace moec_ck {
namespace sm90 {
namespace detail {

using gemm::ceil_div;
using gemm::TileCoords;

#if MOEC_SM90_WGMMA

// ---- PTX wrappers (sm_90a) ---------------------------------------------------------

__device__ __forceinline__ void mbar_init(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(bar) : "memory");
}
// The barrier counts one arrival when all cp.async this thread issued so far
// have landed (.noinc: the arrival is part of the barrier's expected count).
__device__ __forceinline__ void mbar_arrive_on_cp_async(unsigned bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the barrier phase with the given parity has completed.
__device__ __forceinline__ void mbar_wait(unsigned bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(bar), "r"(parity)
                 : "memory");
  } while (!done);
}
// 16-byte global -> shared copy; bytes past src_bytes (0 or 16) are zeros.
__device__ __forceinline__ void cp_async_16_zfill(unsigned dst, const void *src, unsigned src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
// Makes shared memory written through the generic proxy (cp.async, st.shared)
// visible to the async proxy that wgmma reads its operands through.
__device__ __forceinline__ void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accumulator registers across the points
// where asynchronous wgmma may still write them.
__device__ __forceinline__ void fence_register(float &r) { asm volatile("" : "+f"(r)::"memory"); }

// Shared memory matrix descriptor of a K-major operand in the 128-byte
// swizzle layout: start address (>> 4) in bits 0-13, leading byte offset
// (unused for swizzled K-major; 16 bytes) in 16-29, stride byte offset (1024
// bytes between 8-row core-matrix groups) in 32-45, base offset 0 (stage
// tiles are 1024-byte aligned), swizzle mode 1 (128B) in bits 62-63. The k16
// steps inside a 128-byte row advance the start address by 32 bytes; the
// hardware applies the XOR to the computed address, so this stays consistent
// with the chunk placement of the producer.
__device__ __forceinline__ unsigned long long smem_desc(unsigned addr) {
  return static_cast<unsigned long long>((addr & 0x3FFFFu) >> 4) | (1ull << 16) | ((1024ull >> 4) << 32) | (1ull << 62);
}

// wgmma m64nNk16 with f32 accumulators, both operands from shared memory
// descriptors, D += A.B (scale-d predicate true), no negation or transpose
// (both operands K-major). One macro per N: the register list is N / 2 wide.
// clang-format off
#define MOEC_SM90_WGMMA_M64N32(TY)                                                              \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"                                   \
               "wgmma.mma_async.sync.aligned.m64n32k16.f32." TY "." TY " "                          \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n}\n"                   \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])                                                   \
               : "l"(a), "l"(b), "r"(1))
#define MOEC_SM90_WGMMA_M64N64(TY)                                                              \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                   \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY " "                          \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"                   \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])                                                   \
               : "l"(a), "l"(b), "r"(1))
#define MOEC_SM90_WGMMA_M64N128(TY)                                                              \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                   \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                          \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"                   \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                   \
               : "l"(a), "l"(b), "r"(1))

// clang-format on

// D[64 x N] += A[64 x 16] . B[N x 16]^T, both K-major in shared memory.
// Accumulator layout per thread (warp w of the warpgroup, lane l): register
// 4 j + 2 h + e holds row 16 w + l / 4 + 8 h, column 8 j + 2 (l % 4) + e.
template <class T, int N> struct Wgmma;
#define MOEC_SM90_WGMMA_SPECIALIZE(TYPE, TY, N)                                                                        \
  template <> struct Wgmma<TYPE, N> {                                                                                  \
    __device__ static __forceinline__ void run(float *d, unsigned long long a, unsigned long long b) {                 \
      MOEC_SM90_WGMMA_M64N##N(TY);                                                                                     \
    }                                                                                                                  \
  };
MOEC_SM90_WGMMA_SPECIALIZE(__nv_bfloat16, "bf16", 32)
MOEC_SM90_WGMMA_SPECIALIZE(__nv_bfloat16, "bf16", 64)
MOEC_SM90_WGMMA_SPECIALIZE(__nv_bfloat16, "bf16", 128)
MOEC_SM90_WGMMA_SPECIALIZE(__half, "f16", 32)
MOEC_SM90_WGMMA_SPECIALIZE(__half, "f16", 64)
MOEC_SM90_WGMMA_SPECIALIZE(__half, "f16", 128)
#undef MOEC_SM90_WGMMA_SPECIALIZE

// ---- Shared memory carve-up ---------------------------------------------------------

template <class Cfg, int NB> struct Layout {
  static constexpr unsigned kABytes = Cfg::kTM * 128u;
  static constexpr unsigned kStageBytes = (Cfg::kTM + NB * Cfg::kTN) * 128u;
  unsigned stages;   // shared address of stage 0 (1024-byte aligned)
  unsigned full;     // shared address of full[0]; full[s] = full + 8 s
  unsigned empty;    // empty[s] = empty + 8 s
  const void **rows; // the current tile's A row pointers (producer only)

  __device__ explicit Layout(unsigned char *dynamic) {
    const unsigned base = gemm::detail::smem_address(dynamic);
    const unsigned pad = (1024u - (base & 1023u)) & 1023u;
    stages = base + pad;
    full = stages + Cfg::kStages * kStageBytes;
    empty = full + 8u * Cfg::kStages;
    rows = reinterpret_cast<const void **>(dynamic + pad + Cfg::kStages * kStageBytes + 16u * Cfg::kStages);
  }
  __device__ unsigned stage(int s) const { return stages + static_cast<unsigned>(s) * kStageBytes; }
};

// Stage ring position shared by the producer and the consumers' sequences.
struct Ring {
  int stage = 0;
  unsigned phase = 0;
  template <int STAGES> __device__ void advance() {
    if (++stage == STAGES) {
      stage = 0;
      phase ^= 1u;
    }
  }
};

// ---- Producer: one warp fills the ring --------------------------------------------

// Copies the 16-byte chunk `chunk` of a row's K tile to its swizzled place.
// Fast path: cp.async with zero-fill (row aligned, K % 8 == 0, so a chunk is
// either wholly inside K or wholly past it). Otherwise element loads and a
// 16-byte shared store, zeros past K.
template <class T>
__device__ __forceinline__ void copy_chunk(unsigned dst, const T *row, bool vec, int k0, int K, const void *safe) {
  if (vec || !row) {
    const bool inside = row && k0 < K;
    cp_async_16_zfill(dst, inside ? static_cast<const void *>(row + k0) : safe, inside ? 16u : 0u);
    return;
  }
  union {
    T e[8];
    uint4 v;
  } pack;
#pragma unroll
  for (int j = 0; j < 8; ++j)
    pack.e[j] = k0 + j < K ? row[k0 + j] : from_float<T>(0.f);
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "r"(pack.v.x), "r"(pack.v.y), "r"(pack.v.z),
               "r"(pack.v.w)
               : "memory");
}

// Swizzled shared address of chunk c (0..7) of tile row r.
__device__ __forceinline__ unsigned swizzled(unsigned tile, int r, int c) {
  return tile + static_cast<unsigned>(r) * 128u + static_cast<unsigned>((c ^ (r & 7)) << 4);
}

template <class T, class Cfg, int NB, class Problem>
__device__ void produce_tile(const Layout<Cfg, NB> &L, Ring &ring, const Problem &prob, const TileCoords &tile, int K,
                             int k_tiles) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  // The gather through the slots happens once per tile: lane-strided rows
  // into shared memory, read back by every lane for every K tile.
  for (int r = lane; r < Cfg::kTM; r += 32) {
    const index_t row = tile.row_begin + r;
    L.rows[r] = row < tile.row_end ? static_cast<const void *>(prob.a_row(row)) : nullptr;
  }
  __syncwarp();
  const bool k_vec = K % 8 == 0;
  const T *b_base0 = prob.b_base(0) + tile.col_begin * prob.b_stride();
  const T *b_base1 = NB == 1 ? b_base0 : prob.b_base(1) + tile.col_begin * prob.b_stride();
  const index_t b_stride = prob.b_stride();
  const void *safe = b_base0;                        // any mapped address: zero-fill copies read nothing
  const int chunk = lane & 7, first_row = lane >> 3; // 4 rows x 8 chunks per pass
  for (int kt = 0; kt < k_tiles; ++kt) {
    mbar_wait(L.empty + 8u * ring.stage, ring.phase ^ 1u);
    const unsigned a_tile = L.stage(ring.stage), b_tile = a_tile + Layout<Cfg, NB>::kABytes;
    const int k0 = kt * Cfg::kTK + chunk * 8;
    for (int r = first_row; r < Cfg::kTM; r += 4) {
      const T *row = static_cast<const T *>(L.rows[r]);
      copy_chunk<T>(swizzled(a_tile, r, chunk), row, k_vec && gemm::detail::aligned16(row), k0, K, safe);
    }
    for (int r = first_row; r < NB * Cfg::kTN; r += 4) {
      const int c = r % Cfg::kTN;
      const T *row = tile.col_begin + c < tile.col_end ? (r < Cfg::kTN ? b_base0 : b_base1) + c * b_stride : nullptr;
      copy_chunk<T>(swizzled(b_tile, r, chunk), row, k_vec && gemm::detail::aligned16(row), k0, K, safe);
    }
    // Two arrivals per lane: one when its cp.async land, one (release) for its
    // plain shared stores of the unaligned path.
    mbar_arrive_on_cp_async(L.full + 8u * ring.stage);
    mbar_arrive(L.full + 8u * ring.stage);
    ring.advance<Cfg::kStages>();
  }
  __syncwarp(); // every lane read the row table before the next tile rewrites it
}

// ---- Consumers: warpgroups multiply from the ring ------------------------------------

template <class T, class Cfg, int NB> struct Accumulators {
  float acc[NB][Cfg::kAccPerSet];

  __device__ void clear() {
#pragma unroll
    for (int s = 0; s < NB; ++s)
#pragma unroll
      for (int i = 0; i < Cfg::kAccPerSet; ++i)
        acc[s][i] = 0.f;
  }
  __device__ void fence() {
#pragma unroll
    for (int s = 0; s < NB; ++s)
#pragma unroll
      for (int i = 0; i < Cfg::kAccPerSet; ++i)
        fence_register(acc[s][i]);
  }
  // One K tile (4 k16 steps) of this warpgroup's 64 rows against all sets.
  __device__ void issue(unsigned a_rows, unsigned b_tile) {
    constexpr int WN = Cfg::kWgmmaN;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const unsigned long long a = smem_desc(a_rows + kk * 32u);
#pragma unroll
      for (int s = 0; s < NB; ++s)
#pragma unroll
        for (int j = 0; j < Cfg::kTN / WN; ++j) {
          const unsigned b_rows = b_tile + static_cast<unsigned>(s * Cfg::kTN + j * WN) * 128u;
          Wgmma<T, WN>::run(&acc[s][j * (WN / 2)], a, smem_desc(b_rows + kk * 32u));
        }
    }
  }
  template <class Epi> __device__ void epilogue(Epi &epi, int group, int warp_in_group, int lane) const {
#pragma unroll
    for (int j = 0; j < Cfg::kTN / 8; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = group * 64 + warp_in_group * 16 + (lane >> 2) + 8 * h;
        const int c = j * 8 + (lane & 3) * 2;
        const int i = 4 * j + 2 * h;
        epi(r, c, acc[0][i], acc[0][i + 1], acc[NB - 1][i], acc[NB - 1][i + 1]);
      }
  }
};

template <class T, class Cfg, int NB, class Problem>
__device__ void consume_tile(const Layout<Cfg, NB> &L, Ring &ring, const Problem &prob, const TileCoords &tile,
                             int k_tiles) {
  const int warp = static_cast<int>(threadIdx.x >> 5), lane = static_cast<int>(threadIdx.x & 31);
  const int group = warp >> 2;
  Accumulators<T, Cfg, NB> core;
  core.clear();
  int in_flight = -1; // stage whose wgmma may still be reading it
  for (int kt = 0; kt < k_tiles; ++kt) {
    mbar_wait(L.full + 8u * ring.stage, ring.phase);
    fence_proxy_async_smem();
    const unsigned a_tile = L.stage(ring.stage);
    core.fence();
    wgmma_fence();
    core.issue(a_tile + static_cast<unsigned>(group) * 64u * 128u, a_tile + Layout<Cfg, NB>::kABytes);
    wgmma_commit();
    wgmma_wait<1>(); // the previous K tile's wgmma retired: its stage is free
    core.fence();
    if (in_flight >= 0 && lane == 0)
      mbar_arrive(L.empty + 8u * static_cast<unsigned>(in_flight));
    __syncwarp(); // the next wgmma is .aligned: the warp must be converged
    in_flight = ring.stage;
    ring.advance<Cfg::kStages>();
  }
  wgmma_wait<0>();
  core.fence();
  if (in_flight >= 0 && lane == 0)
    mbar_arrive(L.empty + 8u * static_cast<unsigned>(in_flight));
  typename Problem::Epilogue epi(prob, tile);
  core.epilogue(epi, group, warp & 3, lane);
}

// ---- Tile sources: the grid-stride sequence both roles walk ------------------------

struct DenseTiles {
  index_t rows, cols;
  template <class Cfg> __device__ index_t count() const {
    return gemm::dense_work_items(rows, cols, Cfg::kTM, Cfg::kTN);
  }
  template <class Cfg> __device__ bool tile(index_t item, TileCoords *t) const {
    *t = gemm::dense_tile(item, rows, cols, Cfg::kTM, Cfg::kTN);
    return true;
  }
};

// Warp-collective (every lane of the calling warp, converged).
struct GroupedTiles {
  const int *offsets;
  index_t experts, rows_total, cols, row_tiles;
  template <class Cfg> __device__ index_t count() {
    row_tiles = gemm::detail::moe_total_row_tiles_warp(offsets, experts, rows_total, Cfg::kTM);
    return (row_tiles == 0 || cols <= 0) ? 0 : row_tiles * ceil_div(cols, Cfg::kTN);
  }
  template <class Cfg> __device__ bool tile(index_t item, TileCoords *t) const {
    index_t u;
    gemm::moe_split_item(item, row_tiles, cols, Cfg::kTN, &u, t);
    return gemm::detail::moe_locate_row_tile_warp(offsets, experts, rows_total, Cfg::kTM, u, t);
  }
};

template <class Problem> __device__ __forceinline__ void set_expert(Problem &p, index_t e) { p.expert = e; }
template <class T> __device__ __forceinline__ void set_expert(gemm::detail::LinearProblem<T> &, index_t) {}

// The whole block: barrier setup, then the producer warp and the consumer
// warpgroups each walk the tiles. Returns without touching memory when the
// launch does not match the template (block size, shared memory).
template <class T, class Cfg, int NB, class Problem, class Tiles>
__device__ void run(Problem prob, Tiles tiles, index_t K) {
  if (blockDim.x != static_cast<unsigned>(Cfg::kThreads) || blockDim.y != 1 || blockDim.z != 1 ||
      gemm::detail::dynamic_smem_size() < pipeline_smem_bytes(Cfg::kTM, Cfg::kTN, Cfg::kStages, NB) ||
      K > gemm::detail::kMaxK)
    return; // uniform across the block: nobody waits on a barrier
  const Layout<Cfg, NB> L(moec_gemm_smem);
  if (threadIdx.x == 0) {
    for (int s = 0; s < Cfg::kStages; ++s) {
      mbar_init(L.full + 8u * s, 64u);                  // 32 cp.async arrivals + 32 plain ones
      mbar_init(L.empty + 8u * s, Cfg::kConsumerWarps); // lane 0 of every consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x >> 5);
  const int k_len = static_cast<int>(K);
  const int k_tiles = K > 0 ? (k_len + Cfg::kTK - 1) / Cfg::kTK : 0;
  const index_t items = tiles.template count<Cfg>();
  Ring ring;
  for (index_t item = grid_block(); item < items; item += grid_blocks()) {
    TileCoords tile;
    if (!tiles.template tile<Cfg>(item, &tile))
      continue; // cannot happen for item < items; the same answer in every warp
    set_expert(prob, tile.expert);
    if (warp == Cfg::kProducerWarp)
      produce_tile<T, Cfg, NB>(L, ring, prob, tile, k_len, k_tiles);
    else
      consume_tile<T, Cfg, NB>(L, ring, prob, tile, k_tiles);
  }
  if (warp == Cfg::kProducerWarp)
    cp_async_wait_all(); // no copy outlives its thread
}

#endif // MOEC_SM90_WGMMA

template <class T> struct IsWgmmaType { static constexpr bool value = gemm::detail::IsTensorCore<T>::value; };

} // namespace detail

// ---- Public templates ------------------------------------------------------------------
// Same parameter lists as moec_ck::linear / moe_gemm_up / moe_gemm_down.
// 16-bit storage: TM in {64, 128, 192, 256}, TN a multiple of 32 up to 256,
// TK == 64, WARPS == 4 * TM / 64 + 1; float: the mma.sync file's rules.

template <class T, int TM, int TN, int TK, int WARPS, int STAGES> MOEC_GEMM_HD constexpr unsigned linear_smem_bytes() {
  return sizeof(T) == 4 ? gemm::linear_smem_bytes<T, TM, TN, TK, WARPS, STAGES>()
                        : pipeline_smem_bytes(TM, TN, STAGES, 1);
}
// The SwiGLU tile holds gate and linear weight rows (2 * TN B rows); without
// the activation, the SwiGLU (largest) size.
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_up_smem_bytes(int act) {
  return sizeof(T) == 4 ? gemm::moe_gemm_up_smem_bytes<T, TM, TN, TK, WARPS, STAGES>(act)
                        : pipeline_smem_bytes(TM, TN, STAGES, act == 3 ? 2 : 1);
}
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_up_smem_bytes() {
  return moe_gemm_up_smem_bytes<T, TM, TN, TK, WARPS, STAGES>(3);
}
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
MOEC_GEMM_HD constexpr unsigned moe_gemm_down_smem_bytes() {
  return sizeof(T) == 4 ? gemm::moe_gemm_down_smem_bytes<T, TM, TN, TK, WARPS, STAGES>()
                        : pipeline_smem_bytes(TM, TN, STAGES, 1);
}

// Y[M,N] = X[M,K] . W[N,K]^T (+ bias[N]).
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void linear(const T *X, const T *W, const T *bias, T *Y, index_t M, index_t K, index_t N) {
  if constexpr (!detail::IsWgmmaType<T>::value) {
    gemm::linear<T, TM, TN, TK, WARPS, STAGES>(X, W, bias, Y, M, K, N);
  } else {
    typedef Sm90Config<T, TM, TN, TK, WARPS, STAGES> Cfg;
    (void)sizeof(Cfg);
#if MOEC_SM90_WGMMA
    gemm::detail::LinearProblem<T> prob{X, W, bias, Y, K, N};
    detail::run<T, Cfg, 1>(prob, detail::DenseTiles{M, N}, K);
#endif
  }
}

// Hout[r, 0:I] = act(fc1_e . X[slot_r / k] + b1 [, fc3_e . x + b3]) for the
// permuted rows r of every expert e (rows [expert_offsets[e], expert_offsets[e+1])).
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_up(const T *X, const int *sorted_slots, const int *expert_offsets, const T *fc1,
                            const T *fc1_bias, const T *fc3, const T *fc3_bias, T *Hout, index_t tokens, index_t k,
                            index_t experts, index_t hidden, index_t inter, int act, int swiglu_fusion, float alpha,
                            float beta, float limit) {
  if constexpr (!detail::IsWgmmaType<T>::value) {
    gemm::moe_gemm_up<T, TM, TN, TK, WARPS, STAGES>(X, sorted_slots, expert_offsets, fc1, fc1_bias, fc3, fc3_bias, Hout,
                                                    tokens, k, experts, hidden, inter, act, swiglu_fusion, alpha, beta,
                                                    limit);
  } else {
    typedef Sm90Config<T, TM, TN, TK, WARPS, STAGES> Cfg;
    (void)sizeof(Cfg);
#if MOEC_SM90_WGMMA
    const bool gated = act == gemm::detail::kSwiGLU;
    if (tokens <= 0 || k <= 0 || experts <= 0)
      return;
    if (act < 0 || act > 4 || (gated && (swiglu_fusion < 0 || swiglu_fusion > 2 || (swiglu_fusion == 0 && !fc3))))
      return; // the compiler verified these; never read a missing tensor
    gemm::detail::MoeUpProblem<T> prob{
        X,          sorted_slots, fc1,           fc1_bias,
        fc3,        fc3_bias,     Hout,          k,
        tokens * k, hidden,       inter,         (gated && swiglu_fusion != 0) ? 2 * inter : inter,
        0,          act,          swiglu_fusion, alpha,
        beta,       limit};
    const detail::GroupedTiles tiles{expert_offsets, experts, tokens * k, inter, 0};
    if (gated)
      detail::run<T, Cfg, 2>(prob, tiles, hidden);
    else
      detail::run<T, Cfg, 1>(prob, tiles, hidden);
#endif
  }
}

// Ypart[slot_r, 0:H] = routing_weights[slot_r] * (fc2_e . Hin[r] + b2) for the
// permuted rows r of every expert e.
template <class T, int TM, int TN, int TK, int WARPS, int STAGES>
__device__ void moe_gemm_down(const T *Hin, const int *sorted_slots, const int *expert_offsets, const T *fc2,
                              const T *fc2_bias, const T *routing_weights, T *Ypart, index_t tokens, index_t k,
                              index_t experts, index_t hidden, index_t inter) {
  if constexpr (!detail::IsWgmmaType<T>::value) {
    gemm::moe_gemm_down<T, TM, TN, TK, WARPS, STAGES>(Hin, sorted_slots, expert_offsets, fc2, fc2_bias, routing_weights,
                                                      Ypart, tokens, k, experts, hidden, inter);
  } else {
    typedef Sm90Config<T, TM, TN, TK, WARPS, STAGES> Cfg;
    (void)sizeof(Cfg);
#if MOEC_SM90_WGMMA
    if (tokens <= 0 || k <= 0 || experts <= 0)
      return;
    gemm::detail::MoeDownProblem<T> prob{Hin,   sorted_slots, fc2,    fc2_bias, routing_weights,
                                         Ypart, tokens * k,   hidden, inter,    0};
    detail::run<T, Cfg, 1>(prob, detail::GroupedTiles{expert_offsets, experts, tokens * k, hidden, 0}, inter);
#endif
  }
}

} // namespace sm90
} // namespace moec_ck
#endif // !MOEC_CK_GEMM_INDEX_ONLY

#endif // MOEC_CUDA_GEMM_SM90_CUH
