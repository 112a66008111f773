// Host-side data for the GPU GEMM numerics tests (mma.sync and sm90): 16-bit
// encodings, random tensors with their exact values, random MoE routings,
// and the MoE activations in float64. Shared so both kernel families are
// checked against the same references.
#ifndef MOEC_TEST_UNIT_CUDA_GEMM_GEMMTESTDATA_H
#define MOEC_TEST_UNIT_CUDA_GEMM_GEMMTESTDATA_H

#include <cstdint>
#include <random>
#include <vector>

namespace moec_test {

// bf16 with round to nearest even, as the device's __float2bfloat16_rn.
uint16_t toBf16(float f);
double fromBf16(uint16_t h);
// f16 of a value that is a multiple of 2^-10 in (-2, 2) (exact; see randomTensor).
uint16_t toHalfExact(double v);
double fromHalf(uint16_t h);

// Random tensor and its exact values: bf16 of uniform(-scale, scale), or for
// f16 multiples of 2^-10 (exact in f16 below 2) of the same range.
struct Tensor {
  std::vector<uint16_t> bits;
  std::vector<double> values;
};
Tensor randomTensor(std::mt19937 &rng, size_t n, float scale, bool half = false);

// A routing of tokens*k slots to experts, grouped as moe_permute does:
// slots of expert 0, then expert 1, ...; expert 1 is never chosen (an empty
// group between non-empty ones).
struct Routing {
  std::vector<int> slots, offsets, expertOfSlot;
};
Routing randomRouting(std::mt19937 &rng, long long tokens, long long k, long long experts);

// The non-SwiGLU MoE activations: 0 relu, 1 gelu (tanh form), 2 silu, else identity.
double activation(int act, double v);

} // namespace moec_test

#endif // MOEC_TEST_UNIT_CUDA_GEMM_GEMMTESTDATA_H
