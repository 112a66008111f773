//===- Status.cpp - moert_status implementation ---------------------------===//

#include "runtime/src/Status.h"

#include <new>

namespace moert {
namespace {

// Reporting "out of memory" must not need memory, so that one status is a
// static object. Its message is set once, at static initialization.
moert_status_impl gOutOfMemory{MOERT_RESOURCE_EXHAUSTED, "out of memory"};

} // namespace

moert_status outOfMemoryStatus() noexcept { return &gOutOfMemory; }

moert_status makeStatus(moert_status_code_t code,
                        std::string message) noexcept {
  try {
    return new moert_status_impl{code, std::move(message)};
  } catch (...) {
    return &gOutOfMemory;
  }
}

moert_status annotate(moert_status status, const std::string &prefix) noexcept {
  if (status == nullptr || status == &gOutOfMemory)
    return status;
  try {
    status->message = prefix + status->message;
  } catch (...) {
    // Keep the unannotated message rather than lose the error.
  }
  return status;
}

} // namespace moert

extern "C" {

moert_status_code_t moert_status_code(moert_status status) {
  return status ? status->code : MOERT_OK;
}

const char *moert_status_message(moert_status status) {
  return status ? status->message.c_str() : "OK";
}

const char *moert_status_code_name(moert_status_code_t code) {
  switch (code) {
  case MOERT_OK:
    return "OK";
  case MOERT_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case MOERT_NOT_FOUND:
    return "NOT_FOUND";
  case MOERT_DATA_LOSS:
    return "DATA_LOSS";
  case MOERT_FAILED_PRECONDITION:
    return "FAILED_PRECONDITION";
  case MOERT_UNIMPLEMENTED:
    return "UNIMPLEMENTED";
  case MOERT_RESOURCE_EXHAUSTED:
    return "RESOURCE_EXHAUSTED";
  case MOERT_INTERNAL:
    return "INTERNAL";
  }
  return "UNKNOWN";
}

void moert_status_free(moert_status status) {
  if (status != nullptr && status != moert::outOfMemoryStatus())
    delete status;
}

} // extern "C"
