// The grouped/dense GEMM tile mapping of moec_cuda_gemm.cuh, on the CPU: for
// random expert offsets (empty experts, experts with fewer rows than a tile,
// rows not a multiple of TM) and any grid size, the blocks' grid-stride loops
// must cover every output element exactly once, with every row inside its
// expert's range, and the emitter's grid bound must cover all tiles.
#define MOEC_CK_GEMM_INDEX_ONLY
#include "compiler/cuda/kernels/moec_cuda_gemm.cuh"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using moec_ck::index_t;
namespace g = moec_ck::gemm;

// Expert offsets for `experts` experts and `rows` assignments drawn at random;
// about a third of the experts get no rows.
std::vector<int> randomOffsets(std::mt19937 &rng, int experts, int rows) {
  std::vector<int> counts(experts, 0);
  std::uniform_int_distribution<int> pick(0, experts - 1);
  std::bernoulli_distribution skip(0.35);
  std::vector<int> allowed;
  for (int e = 0; e < experts; ++e)
    if (!skip(rng))
      allowed.push_back(e);
  if (allowed.empty())
    allowed.push_back(pick(rng));
  std::uniform_int_distribution<size_t> pickAllowed(0, allowed.size() - 1);
  for (int r = 0; r < rows; ++r)
    ++counts[allowed[pickAllowed(rng)]];
  std::vector<int> offsets(experts + 1, 0);
  for (int e = 0; e < experts; ++e)
    offsets[e + 1] = offsets[e] + counts[e];
  return offsets;
}

// Runs the grouped grid-stride loop of `blocks` blocks over the tiles and
// checks exact coverage of the rows x cols output against brute force.
void checkGroupedCoverage(const std::vector<int> &offsets, index_t rows, index_t cols, int tm, int tn,
                          index_t blocks) {
  const index_t experts = static_cast<index_t>(offsets.size()) - 1;
  const index_t rowTiles = g::moe_total_row_tiles(offsets.data(), experts, rows, tm);
  ASSERT_LE(rowTiles, g::moe_row_tiles_bound(rows, experts, tm));
  // Brute force: the expert of each row.
  std::vector<index_t> expertOfRow(rows, -1);
  index_t expectedTiles = 0;
  for (index_t e = 0; e < experts; ++e) {
    for (index_t r = offsets[e]; r < offsets[e + 1]; ++r)
      expertOfRow[r] = e;
    expectedTiles += (offsets[e + 1] - offsets[e] + tm - 1) / tm;
  }
  ASSERT_EQ(rowTiles, expectedTiles);
  std::vector<int> hits(static_cast<size_t>(rows * cols), 0);
  if (rowTiles > 0 && cols > 0) {
    const index_t items = rowTiles * g::ceil_div(cols, tn);
    for (index_t b = 0; b < blocks; ++b)
      for (index_t item = b; item < items; item += blocks) {
        g::TileCoords t;
        ASSERT_TRUE(g::moe_tile(offsets.data(), experts, rows, rowTiles, cols, tm, tn, item, &t)) << item;
        ASSERT_GE(t.row_begin, offsets[t.expert]);
        ASSERT_LE(t.row_end, offsets[t.expert + 1]);
        ASSERT_LT(t.row_begin, t.row_end) << "empty tile " << item;
        ASSERT_LE(t.row_end - t.row_begin, tm);
        ASSERT_LT(t.col_begin, t.col_end);
        ASSERT_LE(t.col_end - t.col_begin, tn);
        ASSERT_LE(t.col_end, cols);
        for (index_t r = t.row_begin; r < t.row_end; ++r) {
          ASSERT_EQ(expertOfRow[r], t.expert) << "row " << r;
          for (index_t c = t.col_begin; c < t.col_end; ++c)
            ++hits[r * cols + c];
        }
      }
    g::TileCoords past;
    EXPECT_FALSE(g::moe_locate_row_tile(offsets.data(), experts, rows, tm, rowTiles, &past));
  }
  for (index_t r = 0; r < rows; ++r)
    for (index_t c = 0; c < cols; ++c)
      ASSERT_EQ(hits[r * cols + c], 1) << "row " << r << " col " << c;
}

TEST(CudaGemmIndex, GroupedTilesCoverEveryOutputOnce) {
  std::mt19937 rng(20261123);
  const int tileRows[] = {16, 32, 64, 128};
  const int tileCols[] = {8, 32, 64, 128};
  for (int trial = 0; trial < 300; ++trial) {
    const int experts = std::uniform_int_distribution<int>(1, 70)(rng);
    const int tokens = std::uniform_int_distribution<int>(0, 90)(rng);
    const int k = std::uniform_int_distribution<int>(1, std::min(experts, 8))(rng);
    const index_t rows = static_cast<index_t>(tokens) * k;
    const index_t cols = std::uniform_int_distribution<int>(1, 300)(rng);
    const int tm = tileRows[trial % 4], tn = tileCols[(trial / 4) % 4];
    const index_t blocks = std::uniform_int_distribution<int>(1, 400)(rng);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " experts " << experts << " rows " << rows
                                      << " cols " << cols << " TM " << tm << " TN " << tn << " blocks " << blocks);
    checkGroupedCoverage(randomOffsets(rng, experts, static_cast<int>(rows)), rows, cols, tm, tn, blocks);
  }
}

TEST(CudaGemmIndex, GroupedEdgeCases) {
  // All rows in the last expert; every expert empty; one row per expert; an
  // expert with exactly TM rows next to one with TM + 1.
  checkGroupedCoverage({0, 0, 0, 0, 37}, 37, 70, 16, 32, 3);
  checkGroupedCoverage({0, 0, 0}, 0, 64, 16, 32, 5);
  checkGroupedCoverage({0, 1, 2, 3, 4, 5}, 5, 40, 16, 32, 1);
  checkGroupedCoverage({0, 16, 33, 33}, 33, 16, 16, 8, 7);
  // More experts than one warp-scan chunk (the device scans 32 at a time).
  std::vector<int> many(200, 0);
  for (size_t e = 1; e < many.size(); ++e)
    many[e] = many[e - 1] + static_cast<int>(e % 3 == 0 ? 0 : e % 5);
  checkGroupedCoverage(many, many.back(), 24, 16, 8, 13);
}

TEST(CudaGemmIndex, MalformedOffsetsStayInBounds) {
  // Decreasing, negative and past-the-end offsets must never produce a row
  // outside [0, rows): they are clamped into empty or shortened ranges.
  const std::vector<int> bad = {0, 9, 4, -3, 50, 12};
  const index_t rows = 20, experts = 5;
  const index_t rowTiles = g::moe_total_row_tiles(bad.data(), experts, rows, 8);
  for (index_t u = 0; u < rowTiles; ++u) {
    g::TileCoords t;
    ASSERT_TRUE(g::moe_locate_row_tile(bad.data(), experts, rows, 8, u, &t));
    EXPECT_GE(t.row_begin, 0);
    EXPECT_LE(t.row_end, rows);
    EXPECT_LT(t.row_begin, t.row_end);
  }
}

TEST(CudaGemmIndex, DenseTilesCoverEveryOutputOnce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const index_t M = std::uniform_int_distribution<int>(0, 300)(rng);
    const index_t N = std::uniform_int_distribution<int>(0, 300)(rng);
    const int tm = 16 << (trial % 4), tn = 8 << (trial % 5);
    const index_t blocks = std::uniform_int_distribution<int>(1, 200)(rng);
    std::vector<int> hits(static_cast<size_t>(M * N), 0);
    const index_t items = g::dense_work_items(M, N, tm, tn);
    for (index_t b = 0; b < blocks; ++b)
      for (index_t item = b; item < items; item += blocks) {
        const g::TileCoords t = g::dense_tile(item, M, N, tm, tn);
        ASSERT_LT(t.row_begin, t.row_end);
        ASSERT_LT(t.col_begin, t.col_end);
        for (index_t r = t.row_begin; r < t.row_end; ++r)
          for (index_t c = t.col_begin; c < t.col_end; ++c)
            ++hits[r * N + c];
      }
    for (index_t e = 0; e < M * N; ++e)
      ASSERT_EQ(hits[e], 1) << "trial " << trial << " element " << e;
  }
}

TEST(CudaGemmIndex, SharedMemoryFormula) {
  // STAGES * (TM + sets*TN) rows of TK elements plus one 16-byte pad chunk.
  EXPECT_EQ(g::tile_smem_bytes(2, 128, 128, 32, 4, 1), 4u * 256 * 40 * 2);
  EXPECT_EQ(g::tile_smem_bytes(2, 16, 32, 64, 6, 2), 6u * 80 * 72 * 2);
  EXPECT_EQ(g::tile_smem_bytes(4, 128, 128, 16, 4, 1), 4u * 256 * 20 * 4);
}

// ---- Quantized weights: the fragment -> byte/nibble/scale mapping ------------

// Packs a row of int4 values as the compiler stores them: element 2j in the
// low nibble of byte j, 2j+1 in the high one, an odd last element padded.
std::vector<unsigned char> packInt4(const std::vector<int> &q) {
  std::vector<unsigned char> out((q.size() + 1) / 2, 0);
  for (size_t i = 0; i < q.size(); ++i)
    out[i / 2] |= static_cast<unsigned char>((q[i] & 0xf) << (i % 2 ? 4 : 0));
  return out;
}

TEST(CudaGemmIndex, MmaBFragmentCoversTheTileOnce) {
  // 32 lanes x 2 registers x 2 halves = the 8 x 16 (n, k) B tile of one
  // m16n8k16 step, each element once; the halves of a register are adjacent
  // k (lower k low), so an int4 register is exactly one byte.
  std::vector<int> hits(8 * 16, 0);
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 2; ++reg) {
      const int k0 = g::mma_b_fragment_k(lane, reg, 0), k1 = g::mma_b_fragment_k(lane, reg, 1);
      EXPECT_EQ(k0 % 2, 0);
      EXPECT_EQ(k1, k0 + 1);
      EXPECT_EQ(g::quant_byte_of(g::kQuantInt4, k0), g::quant_byte_of(g::kQuantInt4, k1));
      EXPECT_EQ(g::quant_nibble_of(g::kQuantInt4, k0), 0);
      EXPECT_EQ(g::quant_nibble_of(g::kQuantInt4, k1), 1);
      for (int half = 0; half < 2; ++half) {
        const int n = g::mma_b_fragment_n(lane), k = g::mma_b_fragment_k(lane, reg, half);
        ASSERT_TRUE(n >= 0 && n < 8 && k >= 0 && k < 16) << lane;
        ++hits[n * 16 + k];
      }
    }
  for (int e = 0; e < 8 * 16; ++e)
    EXPECT_EQ(hits[e], 1) << "element n=" << e / 16 << " k=" << e % 16;
}

TEST(CudaGemmIndex, Int4DecodeAgreesWithThePacking) {
  // Every value in [-8, 7] at even and odd positions, odd row lengths too.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(-8, 7);
  for (int K : {1, 2, 7, 16, 33, 128}) {
    std::vector<int> q(K);
    for (int &v : q)
      v = value(rng);
    const std::vector<unsigned char> row = packInt4(q);
    ASSERT_EQ(static_cast<index_t>(row.size()), g::quant_row_bytes(g::kQuantInt4, K));
    for (int k = 0; k < K; ++k)
      EXPECT_EQ(g::unpack_int4(row[g::quant_byte_of(g::kQuantInt4, k)], g::quant_nibble_of(g::kQuantInt4, k)), q[k])
          << "K=" << K << " k=" << k;
    if (K % 2)
      EXPECT_EQ(row.back() >> 4, 0) << "the pad nibble is zero";
  }
  for (int v = -8; v <= 7; ++v)
    for (int w = -8; w <= 7; ++w) {
      const unsigned char byte = packInt4({v, w})[0];
      EXPECT_EQ(g::unpack_int4(byte, 0), v);
      EXPECT_EQ(g::unpack_int4(byte, 1), w);
    }
  EXPECT_EQ(g::quant_row_bytes(g::kQuantInt8, 33), 33);
  EXPECT_EQ(g::quant_row_bytes(g::kQuantFp8, 33), 33);
}

TEST(CudaGemmIndex, ScaleSlotsForEveryGroupSize) {
  // The slot the kernels read (quant_group_of) is floor(k / group) inside the
  // row's ceil(K / group) scales, for groups that split pairs and k steps
  // (odd, 7, 24), the common ones (16, 32, 64, 128) and one per row (K);
  // K-tile padding (k >= K) stays on the last scale. The hoisting the compute
  // core does is checked too: with group % 16 == 0 the 16 k of an aligned
  // step share one scale, with group % TK == 0 a whole K tile does.
  for (int K : {16, 33, 48, 96, 256, 2048})
    for (int group : {1, 3, 7, 16, 24, 32, 64, 128, K}) {
      const int groups = static_cast<int>(g::ceil_div(K, group));
      for (int k = 0; k < K + 128; ++k) {
        const int slot = g::quant_group_of(k, group, groups);
        const int want = k < K ? k / group : groups - 1;
        ASSERT_EQ(slot, want < groups ? want : groups - 1) << "K=" << K << " group=" << group << " k=" << k;
        ASSERT_LT(slot, groups);
        if (group % 16 == 0)
          ASSERT_EQ(slot, g::quant_group_of(k - k % 16, group, groups)) << "k step shares a scale";
        for (int tk : {32, 64, 128})
          if (group % tk == 0)
            ASSERT_EQ(slot, g::quant_group_of(k - k % tk, group, groups)) << "K tile shares a scale";
      }
    }
}

TEST(CudaGemmIndex, QuantizedSharedMemoryFormula) {
  // A tile as for 16-bit weights; B rows of TK * bits / 8 bytes + 16 padding.
  EXPECT_EQ(g::quant_tile_smem_bytes(2, 8, 16, 32, 64, 6, 1), 6u * (16 * 72 * 2 + 32 * (64 + 16)));
  EXPECT_EQ(g::quant_tile_smem_bytes(2, 4, 16, 32, 128, 6, 2), 6u * (16 * 136 * 2 + 64 * (64 + 16)));
  EXPECT_EQ(g::quant_tile_smem_bytes(4, 4, 16, 32, 32, 4, 1), 4u * (16 * 36 * 4 + 32 * (16 + 16)));
  EXPECT_EQ(g::quant_tile_smem_bytes(2, 0, 16, 32, 64, 6, 2), g::tile_smem_bytes(2, 16, 32, 64, 6, 2));
}

} // namespace
