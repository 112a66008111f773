//===- TestUtil.h - Helpers shared by the runtime tests --------*- C++ -*-===//

#ifndef MOEC_TEST_UNIT_RUNTIME_TESTUTIL_H
#define MOEC_TEST_UNIT_RUNTIME_TESTUTIL_H

#include "moert/moert.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace moert::test {

/// Owns a status; gives its code and message.
struct Status {
  explicit Status(moert_status status) : status(status) {}
  ~Status() { moert_status_free(status); }
  Status(const Status &) = delete;
  Status &operator=(const Status &) = delete;
  bool ok() const { return status == nullptr; }
  moert_status_code_t code() const { return moert_status_code(status); }
  std::string message() const { return moert_status_message(status); }
  moert_status status;
};

struct ModelDeleter {
  void operator()(moert_model_t *model) const { moert_model_release(model); }
};
struct SessionDeleter {
  void operator()(moert_session_t *session) const {
    moert_session_release(session);
  }
};
using ModelPtr = std::unique_ptr<moert_model_t, ModelDeleter>;
using SessionPtr = std::unique_ptr<moert_session_t, SessionDeleter>;

/// Loads `file` (copied) under `name`; the status goes to `*status`.
inline ModelPtr loadBuffer(const std::vector<uint8_t> &file,
                           std::unique_ptr<Status> *status,
                           const char *name = "model.moe") {
  moert_model_t *model = nullptr;
  *status = std::make_unique<Status>(moert_model_load_buffer(
      file.data(), file.size(), name, MOERT_BUFFER_COPY, &model));
  return ModelPtr(model);
}

/// `count` floats of magnitude in [0.5, 4), random sign: fresh, nonzero test
/// data, the same for the same seed.
inline std::vector<float> randomFloats(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.5f, 4.0f);
  std::vector<float> values(count);
  for (float &v : values)
    v = (rng() & 1) ? -dist(rng) : dist(rng);
  return values;
}

/// Expects `status` to fail with `code` and a message containing `text`.
#define EXPECT_STATUS(status, expectedCode, text)                              \
  do {                                                                         \
    const auto &_s = (status);                                                 \
    EXPECT_EQ(moert_status_code_name(_s.code()),                               \
              std::string(moert_status_code_name(expectedCode)))               \
        << _s.message();                                                       \
    EXPECT_NE(_s.message().find(text), std::string::npos)                      \
        << "message: " << _s.message() << "\nexpected to contain: " << (text); \
  } while (0)

} // namespace moert::test

#endif // MOEC_TEST_UNIT_RUNTIME_TESTUTIL_H
