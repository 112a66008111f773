//===- MakeTestArtifact.cpp - Write the add-weight test artifact ----------===//
//
// usage: moert_make_test_artifact OUT.moe
// Writes y = x + w with x, y (T, 16) float32 and w[h] = 0.25*h - 1.5, for
// moec_run_numpy_test.py.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/ArtifactBuilder.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.moe\n", argv[0]);
    return 2;
  }
  if (moert::test::kernelBinary().empty()) {
    std::fprintf(stderr, "error: cannot read %s\n", MOERT_TEST_KERNELS_PATH);
    return 2;
  }
  std::vector<float> w(moert::test::kHidden);
  for (size_t h = 0; h < w.size(); ++h)
    w[h] = 0.25f * static_cast<float>(h) - 1.5f;
  std::vector<uint8_t> file =
      moert::test::buildFile(moert::test::addWeightModel(w));
  FILE *out = std::fopen(argv[1], "wb");
  if (!out || std::fwrite(file.data(), 1, file.size(), out) != file.size() ||
      std::fclose(out) != 0) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[1]);
    return 2;
  }
  return 0;
}
