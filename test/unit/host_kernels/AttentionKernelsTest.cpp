// attention_kv_append and attention (the two launches of moe.attention, i.e.
// com.microsoft.GroupQueryAttention with a fixed-capacity KV cache) against a
// float64 reference written here from the rules in the header's "Attention"
// section (checked against onnxruntime by gqa_semantics.py).
#include "test/unit/host_kernels/KernelTestUtil.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace moec_test {
namespace {

using moec_hk::AttentionShape;

// f32 against f64: each score is an f32 dot product of head_dim <= 64 terms
// of size <= 1 (rounding <= 64 * 2^-24 ~ 4e-6 of its magnitude in the worst
// case, ~5e-7 typically), then exp / tanh (a few ulp) and a weighted sum of
// <= capacity = 24 value rows (another <= 24 * 2^-24). Outputs are convex
// combinations of values of size <= 1, so 1e-5 of max(1, |output|) holds with
// a margin; a wrong key, position, rotation or head is off by ~0.1 or more.
constexpr double kRel = 1e-5;

struct Config {
  index_t batch = 1, heads = 4, kv_heads = 2, head_dim = 16, capacity = 24;
  index_t rotary_dim = 0;
  bool interleaved = false;
  bool packed = false; // query [B, S, (N + 2 KV) HD] holding key and value
  float softcap = 0.f;
  index_t window = -1;
  float scale = 0.f; // 0: 1 / sqrt(head_dim)
  index_t rotary_rows = -1; // -1: capacity
};

std::string describe(const Config &c) {
  return "B" + std::to_string(c.batch) + " N" + std::to_string(c.heads) + " KV" + std::to_string(c.kv_heads) +
         " HD" + std::to_string(c.head_dim) + " R" + std::to_string(c.rotary_dim) +
         (c.interleaved ? " interleaved" : "") + (c.packed ? " packed" : "") +
         " softcap " + std::to_string(c.softcap) + " window " + std::to_string(c.window);
}

AttentionShape shapeFor(const Config &c, index_t seq) {
  AttentionShape s{};
  const index_t qw = c.heads * c.head_dim, kvw = c.kv_heads * c.head_dim;
  s.batch = c.batch;
  s.seq = seq;
  s.num_heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.head_dim = c.head_dim;
  s.capacity = c.capacity;
  s.q_stride = c.packed ? qw + 2 * kvw : qw;
  s.k_stride = c.packed ? qw + 2 * kvw : kvw;
  s.v_stride = s.k_stride;
  s.rotary_dim = c.rotary_dim;
  s.rotary_rows = c.rotary_rows >= 0 ? c.rotary_rows : c.capacity;
  s.interleaved = c.interleaved;
  s.scale = c.scale != 0.f ? c.scale : 1.f / std::sqrt(static_cast<float>(c.head_dim));
  s.softcap = c.softcap;
  s.window = c.window;
  return s;
}

// One step's inputs: query/key/value (separate or packed), lengths, rotary caches.
struct StepInputs {
  index_t seq = 0;
  std::vector<int32_t> seqlens;
  int32_t total = 0;
  std::vector<float> q, k, v; // packed: all in q
  std::vector<float> cos, sin;
  const float *query() const { return q.data(); }
  const float *key(const Config &c) const { return c.packed ? q.data() + c.heads * c.head_dim : k.data(); }
  const float *value(const Config &c) const {
    return c.packed ? q.data() + (c.heads + c.kv_heads) * c.head_dim : v.data();
  }
};

StepInputs makeStep(std::mt19937 &rng, const Config &c, index_t seq, std::vector<int32_t> seqlens, int32_t total) {
  StepInputs in;
  in.seq = seq;
  in.seqlens = std::move(seqlens);
  in.total = total;
  const AttentionShape s = shapeFor(c, seq);
  in.q = randomFloats(rng, c.batch * seq * s.q_stride);
  if (!c.packed) {
    in.k = randomFloats(rng, c.batch * seq * s.k_stride);
    in.v = randomFloats(rng, c.batch * seq * s.v_stride);
  }
  // Real rotations: cos / sin of random angles, one row per position.
  std::uniform_real_distribution<double> angle(0.0, 6.283);
  const index_t half = c.rotary_dim / 2, rows = s.rotary_rows;
  in.cos.resize(static_cast<size_t>(std::max<index_t>(rows * half, 1)));
  in.sin.resize(in.cos.size());
  for (index_t i = 0; i < rows * half; ++i) {
    const double a = angle(rng);
    in.cos[i] = static_cast<float>(std::cos(a));
    in.sin[i] = static_cast<float>(std::sin(a));
  }
  return in;
}

// x rotated for position pos, in float64, written from the pair definition.
std::vector<double> referenceRotate(const float *x, index_t pos, const Config &c, const StepInputs &in) {
  std::vector<double> y(x, x + c.head_dim);
  const index_t half = c.rotary_dim / 2;
  for (index_t i = 0; i < half; ++i) {
    const index_t a = c.interleaved ? 2 * i : i, b = c.interleaved ? 2 * i + 1 : half + i;
    const double co = in.cos[pos * half + i], si = in.sin[pos * half + i];
    y[a] = x[a] * co - x[b] * si;
    y[b] = x[a] * si + x[b] * co;
  }
  return y;
}

struct Reference {
  std::vector<double> present_key, present_value, output;
};

// The step in float64: present from past and the new rows, then every query
// row over the keys its position allows.
Reference referenceStep(const Config &c, const StepInputs &in, const std::vector<float> &past_key,
                        const std::vector<float> &past_value) {
  const AttentionShape s = shapeFor(c, in.seq);
  const index_t B = c.batch, S = in.seq, N = c.heads, KV = c.kv_heads, HD = c.head_dim, C = c.capacity;
  Reference r;
  r.present_key = toDouble(past_key);
  r.present_value = toDouble(past_value);
  r.output.assign(B * S * N * HD, 0.0);
  const bool first_prompt = in.total == S;
  for (index_t b = 0; b < B; ++b) {
    const index_t total_b = in.seqlens[b] + 1, past = first_prompt ? 0 : total_b - S;
    for (index_t t = 0; t < S; ++t)
      for (index_t g = 0; g < KV; ++g) {
        const index_t row = ((b * KV + g) * C + past + t) * HD;
        const std::vector<double> k =
            referenceRotate(in.key(c) + (b * S + t) * s.k_stride + g * HD, past + t, c, in);
        const float *v = in.value(c) + (b * S + t) * s.v_stride + g * HD;
        for (index_t d = 0; d < HD; ++d) {
          r.present_key[row + d] = k[d];
          r.present_value[row + d] = v[d];
        }
      }
    for (index_t t = 0; t < S; ++t) {
      const index_t p = past + t;
      for (index_t h = 0; h < N; ++h) {
        const std::vector<double> q = referenceRotate(in.query() + (b * S + t) * s.q_stride + h * HD, p, c, in);
        const index_t kv = (b * KV + h / (N / KV)) * C * HD;
        std::vector<index_t> keys;
        std::vector<double> score;
        for (index_t j = 0; j < C; ++j) {
          const bool allowed = j <= p && j < total_b && (c.window <= 0 || j > p - c.window);
          if (!allowed)
            continue;
          double dot = 0;
          for (index_t d = 0; d < HD; ++d)
            dot += q[d] * r.present_key[kv + j * HD + d];
          dot *= s.scale;
          if (c.softcap > 0)
            dot = c.softcap * std::tanh(dot / c.softcap);
          keys.push_back(j);
          score.push_back(dot);
        }
        double* out = &r.output[((b * S + t) * N + h) * HD];
        if (keys.empty())
          continue; // no allowed key: zeros
        const double top = *std::max_element(score.begin(), score.end());
        double sum = 0;
        for (double &x : score)
          sum += x = std::exp(x - top);
        for (size_t i = 0; i < keys.size(); ++i)
          for (index_t d = 0; d < HD; ++d)
            out[d] += score[i] / sum * r.present_value[kv + keys[i] * HD + d];
      }
    }
  }
  return r;
}

struct Cache {
  std::vector<float> key, value;
};

int runAppend(const Config &c, const StepInputs &in, const Cache &past, Cache &present) {
  const AttentionShape s = shapeFor(c, in.seq);
  const bool rotary = c.rotary_dim > 0;
  return moec_hk::attention_kv_append<float, float>(
      in.key(c), in.value(c), past.key.data(), past.value.data(), in.seqlens.data(), &in.total,
      rotary ? in.cos.data() : nullptr, rotary ? in.sin.data() : nullptr, present.key.data(),
      present.value.data(), s);
}

int runAttention(const Config &c, const StepInputs &in, const Cache &present, std::vector<float> &out) {
  const AttentionShape s = shapeFor(c, in.seq);
  const bool rotary = c.rotary_dim > 0;
  return moec_hk::attention<float, float>(in.query(), present.key.data(), present.value.data(),
                                          in.seqlens.data(), &in.total, rotary ? in.cos.data() : nullptr,
                                          rotary ? in.sin.data() : nullptr, out.data(), s);
}

Cache randomCache(std::mt19937 &rng, const Config &c) {
  const index_t n = c.batch * c.kv_heads * c.capacity * c.head_dim;
  return {randomFloats(rng, n), randomFloats(rng, n)};
}

// Runs one step both ways (a separate present and in place) and checks both
// against the reference; returns the present for the next step.
Cache checkStep(std::mt19937 &rng, const Config &c, const StepInputs &in, const Cache &past,
                const std::string &what) {
  SCOPED_TRACE(describe(c) + ": " + what);
  const Reference want = referenceStep(c, in, past.key, past.value);
  const size_t outSize = static_cast<size_t>(c.batch * in.seq * c.heads * c.head_dim);

  Cache present = randomCache(rng, c); // garbage that must be overwritten
  EXPECT_EQ(runAppend(c, in, past, present), 0);
  EXPECT_TRUE(closeToReference(present.key, want.present_key, kRel)) << "present_key";
  EXPECT_TRUE(closeToReference(present.value, want.present_value, kRel)) << "present_value";
  std::vector<float> out(outSize, 99.f);
  EXPECT_EQ(runAttention(c, in, present, out), 0);
  EXPECT_TRUE(closeToReference(out, want.output, kRel)) << "output";

  Cache shared = past; // past == present: only the new rows are written
  EXPECT_EQ(runAppend(c, in, shared, shared), 0);
  EXPECT_TRUE(sameElements(shared.key, present.key)) << "in-place present_key";
  EXPECT_TRUE(sameElements(shared.value, present.value)) << "in-place present_value";
  return present;
}

// Prefill then decode steps (S = 1, then S = 3), each step's present the next
// step's past. B = 2 rows have different lengths: row 1's prompt is right-padded.
void checkChain(const Config &c, uint32_t seed) {
  std::mt19937 rng(seed);
  Cache cache = randomCache(rng, c); // random past: unwritten positions must survive
  const bool two = c.batch == 2;
  std::vector<int32_t> lens = two ? std::vector<int32_t>{7, 5} : std::vector<int32_t>{7};
  auto seqlens = [&] {
    std::vector<int32_t> v;
    for (int32_t l : lens)
      v.push_back(l - 1);
    return v;
  };
  const int32_t prompt = 7;
  cache = checkStep(rng, c, makeStep(rng, c, prompt, seqlens(), prompt), cache, "prefill S=7");
  for (int step = 0; step < 2; ++step) {
    for (int32_t &l : lens)
      l += 1;
    const int32_t total = *std::max_element(lens.begin(), lens.end());
    cache = checkStep(rng, c, makeStep(rng, c, 1, seqlens(), total), cache, "decode S=1");
  }
  for (int32_t &l : lens)
    l += 3;
  const int32_t total = *std::max_element(lens.begin(), lens.end());
  cache = checkStep(rng, c, makeStep(rng, c, 3, seqlens(), total), cache, "decode S=3");
}

TEST(Attention, PrefillAndDecodeChainsMatchReference) {
  uint32_t seed = 700;
  for (index_t batch : {1, 2})
    for (auto heads : {std::pair<index_t, index_t>{2, 2}, {4, 2}, {4, 1}})
      for (index_t hd : {16, 64})
        for (int rotary = 0; rotary < 4; ++rotary) { // off, full, partial, interleaved
          Config c;
          c.batch = batch;
          c.heads = heads.first;
          c.kv_heads = heads.second;
          c.head_dim = hd;
          c.rotary_dim = rotary == 0 ? 0 : rotary == 2 ? hd / 2 : hd;
          c.interleaved = rotary == 3;
          checkChain(c, seed++);
        }
}

TEST(Attention, PackedQkvSoftcapWindowAndScale) {
  uint32_t seed = 800;
  for (bool packed : {false, true})
    for (float softcap : {0.f, 1.5f})
      for (index_t window : {-1, 1, 3}) {
        Config c;
        c.batch = 2;
        c.heads = 4;
        c.kv_heads = 2;
        c.head_dim = 16;
        c.rotary_dim = 8;
        c.interleaved = seed % 2 == 0;
        c.packed = packed;
        c.softcap = softcap;
        c.window = window;
        c.scale = seed % 3 == 0 ? 0.9f : 0.f; // strong scores test the softmax and softcap
        checkChain(c, seed++);
      }
}

// A first prompt may claim more tokens than it brings (total_b > seq):
// onnxruntime accepts it, attends keys j <= s and leaves [seq, total_b) alone.
// With a window, padding rows of a right-padded prompt can have no key: zeros.
TEST(Attention, FirstPromptLongerOrShorterThanSeq) {
  std::mt19937 rng(900);
  Config c;
  c.batch = 2;
  c.rotary_dim = 16;
  Cache past = randomCache(rng, c);
  checkStep(rng, c, makeStep(rng, c, 3, {5, 9}, 3), past, "total_b > seq");
  c.window = 2;
  const StepInputs in = makeStep(rng, c, 6, {5, 1}, 6); // row 1: 2 real tokens, 4 padding rows
  checkStep(rng, c, in, past, "padding rows with a window");
  Cache present = past;
  ASSERT_EQ(runAppend(c, in, past, present), 0);
  std::vector<float> out(static_cast<size_t>(2 * 6 * c.heads * c.head_dim), 5.f);
  ASSERT_EQ(runAttention(c, in, present, out), 0);
  // Row 1, token 5 (position 5): window [4, 5], keys < 2: none.
  const float *row = &out[((1 * 6 + 5) * c.heads) * c.head_dim];
  EXPECT_TRUE(std::all_of(row, row + c.heads * c.head_dim, [](float x) { return x == 0.f; }));
}

TEST(Attention, EmptyStepCopiesPastAndWritesNoOutput) {
  std::mt19937 rng(901);
  Config c;
  Cache past = randomCache(rng, c), present = randomCache(rng, c);
  StepInputs in = makeStep(rng, c, 0, {3}, 0); // S = 0: the lengths are not even looked at
  EXPECT_EQ(runAppend(c, in, past, present), 0);
  EXPECT_TRUE(sameElements(present.key, past.key));
  EXPECT_TRUE(sameElements(present.value, past.value));
  std::vector<float> out(1, 42.f);
  EXPECT_EQ(runAttention(c, in, present, out), 0);
  EXPECT_EQ(out[0], 42.f);
}

// Every error code from both kernels; an append that fails writes nothing.
TEST(Attention, ErrorCodes) {
  constexpr int kContract = 2, kTotal = moec_hk::kAttentionBadTotalLength,
                kSeqlens = moec_hk::kAttentionBadSeqlens, kRotary = moec_hk::kAttentionRotaryTooShort;
  struct Bad {
    const char *what;
    int code;
    index_t seq;
    std::vector<int32_t> seqlens;
    int32_t total;
    void (*edit)(AttentionShape &);
    bool caches; // pass the cos / sin caches
  };
  auto none = [](AttentionShape &) {};
  const std::vector<Bad> cases = {
      {"heads not a multiple of kv_heads", kContract, 1, {3}, 4, [](AttentionShape &s) { s.num_heads = 3; }, true},
      {"odd rotary_dim", kContract, 1, {3}, 4, [](AttentionShape &s) { s.rotary_dim = 5; }, true},
      {"rotary_dim > head_dim", kContract, 1, {3}, 4, [](AttentionShape &s) { s.rotary_dim = 18; }, true},
      {"rotary without caches", kContract, 1, {3}, 4, none, false},
      {"q_stride too small", kContract, 1, {3}, 4, [](AttentionShape &s) { s.q_stride -= 1; }, true},
      {"negative softcap", kContract, 1, {3}, 4, [](AttentionShape &s) { s.softcap = -1.f; }, true},
      {"total_len 0", kTotal, 1, {0}, 0, none, true},
      {"total_len < seq", kTotal, 3, {3}, 2, none, true},
      {"total_len > capacity", kTotal, 1, {3}, 25, none, true},
      {"seqlens_k -1", kSeqlens, 1, {-1}, 4, none, true},
      {"total_b > capacity", kSeqlens, 1, {24}, 4, none, true},
      {"past_b < 0 after the first prompt", kSeqlens, 3, {1}, 5, none, true},
      {"rotary_rows < total_len", kRotary, 1, {3}, 9, [](AttentionShape &s) { s.rotary_rows = 8; }, true},
      {"rotary_rows < total_b (first prompt)", kRotary, 2, {9}, 2,
       [](AttentionShape &s) { s.rotary_rows = 8; }, true},
  };
  std::mt19937 rng(902);
  for (const Bad &bad : cases) {
    SCOPED_TRACE(bad.what);
    Config c;
    c.rotary_dim = 16;
    AttentionShape s = shapeFor(c, bad.seq);
    bad.edit(s);
    const StepInputs in = makeStep(rng, c, bad.seq, bad.seqlens, bad.total);
    const float *cos = bad.caches ? in.cos.data() : nullptr, *sin = bad.caches ? in.sin.data() : nullptr;
    const Cache past = randomCache(rng, c);
    Cache present = randomCache(rng, c);
    const Cache before = present;
    const int append = moec_hk::attention_kv_append<float, float>(
        in.key(c), in.value(c), past.key.data(), past.value.data(), in.seqlens.data(), &in.total, cos, sin,
        present.key.data(), present.value.data(), s);
    EXPECT_EQ(append, bad.code);
    EXPECT_TRUE(sameElements(present.key, before.key)) << "append wrote present_key";
    EXPECT_TRUE(sameElements(present.value, before.value)) << "append wrote present_value";
    std::vector<float> out(static_cast<size_t>(bad.seq * c.heads * c.head_dim) + 1);
    const int attend = moec_hk::attention<float, float>(in.query(), present.key.data(), present.value.data(),
                                                        in.seqlens.data(), &in.total, cos, sin, out.data(), s);
    EXPECT_EQ(attend, bad.code);
  }
}

} // namespace
} // namespace moec_test
