//===- MakeFakeCudaArtifact.cpp - A cubin artifact for the fake driver ----===//
//
// usage: moec_bench_make_fake_cuda_artifact OUT.moe
// Writes the CUDA test model y = x + w (x, y (T, 16) float32, one kernel,
// sm_80) whose "cubin" only test/unit/runtime/FakeCudaDriver.cpp runs, so
// that test_moec_bench.py can drive moec-bench's CUDA path (events, peak
// copy, L2 flush) through MOERT_LIBCUDA without a GPU.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/CudaTestModels.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.moe\n", argv[0]);
    return 2;
  }
  std::vector<float> w(moert::test::kHidden);
  for (size_t h = 0; h < w.size(); ++h)
    w[h] = 0.5f * static_cast<float>(h) - 3.0f;
  std::vector<uint8_t> file =
      moert::test::buildFile(moert::test::cudaAddWeightModel(w));
  FILE *out = std::fopen(argv[1], "wb");
  if (!out || std::fwrite(file.data(), 1, file.size(), out) != file.size() ||
      std::fclose(out) != 0) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[1]);
    return 2;
  }
  return 0;
}
