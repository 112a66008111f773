//===- Status.h - moert_status construction (private) ----------*- C++ -*-===//

#ifndef MOERT_SRC_STATUS_H
#define MOERT_SRC_STATUS_H

#include "moert/moert.h"

#include <string>

struct moert_status_impl {
  moert_status_code_t code;
  std::string message;
};

namespace moert {

/// Returns a new status with `code` and `message`. Never throws: if the
/// status itself cannot be allocated it returns a shared static
/// RESOURCE_EXHAUSTED status (which moert_status_free knows not to delete).
moert_status makeStatus(moert_status_code_t code, std::string message) noexcept;

/// The shared status returned when memory runs out.
moert_status outOfMemoryStatus() noexcept;

/// Prefixes the message of `status` with `prefix` (e.g. a file name).
moert_status annotate(moert_status status, const std::string &prefix) noexcept;

} // namespace moert

#endif // MOERT_SRC_STATUS_H
