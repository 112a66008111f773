//===- WeightsSegmentTest.cpp - Weights after the FlatBuffer --------------===//
//
// The weights segment (docs/artifact-format.md): used in place from the file
// mapping or the caller's buffer, 64-bit offsets (a sparse file puts a
// weight beyond 4 GiB without writing 4 GiB), the MOERT_VERIFY_WEIGHTS
// policies, and the CUDA executor's chunked upload with its on-the-way
// checksum (through the fake driver of FakeCudaDriver.h).
//
// Outputs are y = x + w on random non-zero floats, compared with the same
// float32 addition done here: exact equality, since both sides perform the
// same single correctly rounded float addition per element.
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/ArtifactBuilder.h"
#include "test/unit/runtime/CudaTestModels.h"
#include "test/unit/runtime/FakeCudaDriver.h"
#include "test/unit/runtime/FakeCudaFixture.h"
#include "test/unit/runtime/TestUtil.h"

#include "runtime/format/Container.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace moert::test {
namespace {

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old, hadOld_ = true;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (hadOld_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

private:
  const char *name_;
  std::string old_;
  bool hadOld_ = false;
};

uint64_t weightsOffsetOf(const std::vector<uint8_t> &file) {
  uint64_t offset = 0;
  for (int i = 0; i < 8; ++i)
    offset |= static_cast<uint64_t>(file[32 + i]) << (8 * i);
  return offset;
}

// Runs y = x + w for T = 3 on a host or CUDA session; returns y.
std::vector<float> runAddWeight(moert_model_t *model, std::string *error) {
  moert_session_t *raw = nullptr;
  Status created(moert_session_create(model, nullptr, &raw));
  SessionPtr session(raw);
  if (!created.ok()) {
    *error = created.message();
    return {};
  }
  std::vector<float> x = randomFloats(3 * kHidden, 77);
  std::vector<float> y(x.size(), NAN);
  int64_t dims[] = {3, kHidden};
  moert_tensor_t in = {x.data(), MOERT_DTYPE_F32, 2, dims, x.size() * 4};
  moert_tensor_t out = {y.data(), MOERT_DTYPE_F32, 2, dims, y.size() * 4};
  Status ran(moert_session_run(session.get(), &in, 1, &out, 1));
  if (!ran.ok()) {
    *error = ran.message();
    return {};
  }
  return y;
}

// What runAddWeight returns for weights `w`.
std::vector<float> expectedAddWeight(const std::vector<float> &w) {
  std::vector<float> x = randomFloats(3 * kHidden, 77), out(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    out[i] = x[i] + w[i % kHidden];
  return out;
}

std::string tempPath() {
  const char *dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/moert-segment-XXXXXX";
}

TEST(WeightsSegment, HostUsesTheMappedFileInPlace) {
  std::vector<float> w = randomFloats(kHidden, 1);
  std::vector<uint8_t> file = buildFile(addWeightModel(w));
  std::string path = tempPath();
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, file.data(), file.size()),
            static_cast<ssize_t>(file.size()));
  moert_model_t *raw = nullptr;
  Status loaded(moert_model_load_file(path.c_str(), &raw));
  ModelPtr model(raw);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  // Change w[0] in the file after the load: a session reading the mapping
  // sees it (Linux shows file writes through a private mapping until the
  // page is copied on write, which a read-only mapping never is); a copy
  // made at load would not.
  float changed = w[0] + 1.0f;
  ASSERT_EQ(pwrite(fd, &changed, 4, weightsOffsetOf(file)), 4);
  close(fd);
  std::vector<float> w2 = w;
  w2[0] = changed;
  std::string error;
  EXPECT_EQ(runAddWeight(model.get(), &error), expectedAddWeight(w2)) << error;
  unlink(path.c_str());
}

TEST(WeightsSegment, BorrowedBufferHoldsTheWeights) {
  std::vector<float> w = randomFloats(kHidden, 2);
  std::vector<uint8_t> file = buildFile(addWeightModel(w));
  void *memory = nullptr;
  ASSERT_EQ(posix_memalign(&memory, 64, file.size()), 0);
  std::unique_ptr<void, decltype(&free)> owner(memory, free);
  std::memcpy(memory, file.data(), file.size());
  moert_model_t *raw = nullptr;
  Status loaded(moert_model_load_buffer(memory, file.size(), "m.moe",
                                        MOERT_BUFFER_BORROW, &raw));
  ModelPtr model(raw);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  // Borrowed means no copy: the session reads the caller's bytes.
  float changed = -w[5];
  std::memcpy(static_cast<uint8_t *>(memory) + weightsOffsetOf(file) + 20,
              &changed, 4);
  std::vector<float> w2 = w;
  w2[5] = changed;
  std::string error;
  EXPECT_EQ(runAddWeight(model.get(), &error), expectedAddWeight(w2)) << error;
}

// Small models are checked at load (auto); MOERT_VERIFY_WEIGHTS changes that.
TEST(WeightsSegment, VerificationPolicies) {
  std::vector<float> w = randomFloats(kHidden, 3);
  std::vector<uint8_t> bad = buildFile(addWeightModel(w));
  bad[weightsOffsetOf(bad) + 9] ^= 0x20; // inside w[2]
  for (const char *policy : {(const char *)nullptr, "", "auto", "load"}) {
    ScopedEnv env("MOERT_VERIFY_WEIGHTS", policy);
    std::unique_ptr<Status> status;
    EXPECT_EQ(loadBuffer(bad, &status), nullptr);
    EXPECT_STATUS(*status, MOERT_DATA_LOSS,
                  "model.moe: weights checksum mismatch (header 0x");
  }
  for (const char *policy : {"lazy", "off"}) {
    ScopedEnv env("MOERT_VERIFY_WEIGHTS", policy);
    std::unique_ptr<Status> status;
    ModelPtr model = loadBuffer(bad, &status);
    ASSERT_NE(model, nullptr) << policy << ": " << status->message();
    // A host session never checks lazily: it computes with the bad byte.
    std::vector<float> flipped = w;
    std::memcpy(&flipped[2], bad.data() + weightsOffsetOf(bad) + 8, 4);
    std::string error;
    EXPECT_EQ(runAddWeight(model.get(), &error), expectedAddWeight(flipped))
        << error;
  }
  ScopedEnv env("MOERT_VERIFY_WEIGHTS", "yes");
  std::unique_ptr<Status> status;
  EXPECT_EQ(loadBuffer(bad, &status), nullptr);
  EXPECT_STATUS(*status, MOERT_INVALID_ARGUMENT,
                "model.moe: MOERT_VERIFY_WEIGHTS='yes' is not one of auto, "
                "load, lazy, off");
}

// 64-bit offsets end to end without 4 GiB of disk or memory: a sparse file
// whose only weight sits 4 GiB + 192 bytes into the segment. Its header
// checksum is deliberately wrong: above 1 GiB `auto` does not read the
// segment at load, and host sessions never do, so the model loads and runs
// touching only the pages it uses.
TEST(WeightsSegment, WeightBeyondFourGiBInASparseFile) {
  constexpr uint64_t kFar = (uint64_t(4) << 30) + 192;
  std::vector<float> w = randomFloats(kHidden, 4);
  ModelSpec spec = addWeightModel(w);
  spec.weights[0].offset = kFar;
  std::vector<uint8_t> payload = buildPayload(spec);
  format::Layout layout;
  layout.payloadSize = payload.size();
  layout.payloadChecksum = format::checksum(payload.data(), payload.size());
  ASSERT_TRUE(format::weightsOffsetFor(payload.size(), &layout.weightsOffset));
  layout.weightsSize = kFar + 64;
  layout.weightsChecksum = 0; // wrong, and never checked here
  auto header = format::encodeHeader(layout);

  std::string path = tempPath();
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  struct Cleanup {
    int fd;
    std::string path;
    ~Cleanup() {
      close(fd);
      unlink(path.c_str());
    }
  } cleanup{fd, path};
  ASSERT_EQ(pwrite(fd, header.data(), header.size(), 0), 64);
  ASSERT_EQ(pwrite(fd, payload.data(), payload.size(), 64),
            static_cast<ssize_t>(payload.size()));
  ASSERT_EQ(pwrite(fd, w.data(), 64, layout.weightsOffset + kFar), 64);
  struct stat info;
  ASSERT_EQ(fstat(fd, &info), 0);
  ASSERT_EQ(static_cast<uint64_t>(info.st_size),
            layout.weightsOffset + layout.weightsSize);
  if (static_cast<uint64_t>(info.st_blocks) * 512 > (uint64_t(64) << 20))
    GTEST_SKIP() << "the file system does not keep holes";

  ScopedEnv env("MOERT_VERIFY_WEIGHTS", nullptr);
  moert_model_t *raw = nullptr;
  Status loaded(moert_model_load_file(path.c_str(), &raw));
  ModelPtr model(raw);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(moert_model_weight_bytes(model.get()), 64u);
  std::string error;
  EXPECT_EQ(runAddWeight(model.get(), &error), expectedAddWeight(w)) << error;

  // The same file checked at load would read 4 GiB of holes; a segment that
  // ends before the weight does is refused without reading it.
  layout.weightsSize = kFar;
  header = format::encodeHeader(layout);
  ASSERT_EQ(pwrite(fd, header.data(), header.size(), 0), 64);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(layout.weightsOffset + kFar)), 0);
  raw = nullptr;
  Status refused(moert_model_load_file(path.c_str(), &raw));
  ModelPtr none(raw);
  EXPECT_STATUS(refused, MOERT_DATA_LOSS,
                "weight 0 'w': bytes [4294967488, 4294967552) lie outside "
                "the weights segment (4294967488 bytes)");
}

class CudaWeights : public FakeCudaTest {};

// A 4.5 MB table crosses the 4 MiB upload chunk: two copies, and rows on
// both sides of the boundary (row 65536 starts exactly at 4 MiB) arrive.
TEST_F(CudaWeights, UploadIsChunkedAndExact) {
  constexpr int64_t kRows = 70000;
  std::vector<float> table = randomFloats(kRows * kHidden, 5);
  std::vector<uint8_t> file = buildFile(cudaGatherModel(table));
  std::unique_ptr<Status> status;
  ModelPtr model = loadBuffer(file, &status);
  ASSERT_TRUE(status->ok()) << status->message();
  moert_session_t *raw = nullptr;
  Status created(moert_session_create(model.get(), nullptr, &raw));
  SessionPtr session(raw);
  ASSERT_TRUE(created.ok()) << created.message();
  EXPECT_EQ(fake->hostToDeviceCopies, 2);

  std::vector<int64_t> ids = {0, 65535, 65536, 65537, kRows - 1};
  std::vector<float> y(ids.size() * kHidden, NAN);
  int64_t inDims[] = {static_cast<int64_t>(ids.size())};
  int64_t outDims[] = {static_cast<int64_t>(ids.size()), kHidden};
  moert_tensor_t in = {ids.data(), MOERT_DTYPE_I64, 1, inDims, ids.size() * 8};
  moert_tensor_t out = {y.data(), MOERT_DTYPE_F32, 2, outDims, y.size() * 4};
  Status ran(moert_session_run(session.get(), &in, 1, &out, 1));
  ASSERT_TRUE(ran.ok()) << ran.message();
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t c = 0; c < kHidden; ++c)
      ASSERT_EQ(y[t * kHidden + c], table[ids[t] * kHidden + c])
          << "id " << ids[t] << " column " << c;
}

// `lazy` skips the load-time check; the first CUDA session checks while it
// uploads (no second pass over the file) and refuses a corrupt segment.
TEST_F(CudaWeights, LazyCheckHappensDuringTheUpload) {
  std::vector<float> w = randomFloats(kHidden, 6);
  std::vector<uint8_t> file = buildFile(cudaAddWeightModel(w));
  std::vector<uint8_t> bad = file;
  bad[weightsOffsetOf(bad) + 33] ^= 0x01;
  ScopedEnv env("MOERT_VERIFY_WEIGHTS", "lazy");
  std::unique_ptr<Status> status;
  ModelPtr corrupt = loadBuffer(bad, &status);
  ASSERT_NE(corrupt, nullptr) << status->message();
  std::string error;
  EXPECT_TRUE(runAddWeight(corrupt.get(), &error).empty());
  EXPECT_NE(error.find("model.moe: weights checksum mismatch (header 0x"),
            std::string::npos)
      << error;
  EXPECT_EQ(fake->liveAllocations, 0); // the failed session freed its memory

  ModelPtr good = loadBuffer(file, &status);
  ASSERT_NE(good, nullptr) << status->message();
  error.clear();
  EXPECT_EQ(runAddWeight(good.get(), &error), expectedAddWeight(w)) << error;

  // `off` trusts the bytes: the corrupt model runs with them.
  ScopedEnv off("MOERT_VERIFY_WEIGHTS", "off");
  ModelPtr trusted = loadBuffer(bad, &status);
  ASSERT_NE(trusted, nullptr) << status->message();
  std::vector<float> flipped = w;
  std::memcpy(&flipped[8], bad.data() + weightsOffsetOf(bad) + 32, 4);
  error.clear();
  EXPECT_EQ(runAddWeight(trusted.get(), &error), expectedAddWeight(flipped))
      << error;
}

} // namespace
} // namespace moert::test
