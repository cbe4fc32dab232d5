#pragma once

// Status objects of the C ABI: a code and a NUL-terminated UTF-8 message.

#include <beamline/beamline_exec.h>

#include <cstdint>
#include <string>
#include <string_view>

/// The opaque bl_status of the header. `is_static` marks the preallocated out-of-memory
/// status, which status_release leaves alone.
struct bl_status {
  int32_t code;
  std::string message;
  bool is_static;
};

namespace beamline::exec {

/// Creates a status; never throws. When memory runs out it returns a static
/// "out of memory" status instead (releasing it is a no-op).
[[nodiscard]] bl_status* make_status(int32_t code, std::string_view message) noexcept;

/// Call inside a catch block: turns the exception in flight into a BL_ERR_INTERNAL status.
[[nodiscard]] bl_status* status_from_current_exception() noexcept;

/// Frees a status made by make_status. Accepts NULL and the static status.
void release_status(bl_status* status) noexcept;

/// The ExecResult.error_code string for a bl_errc value ("internal_error" for unknown ones).
[[nodiscard]] std::string_view error_code_name(int32_t code) noexcept;

/// Runs `fn` (which returns bl_status*) and turns any exception into a status. Every exported
/// body that returns a status goes through it.
template <class F>
[[nodiscard]] bl_status* guarded(F&& fn) noexcept {
  try {
    return fn();
  } catch (...) {
    return status_from_current_exception();
  }
}

} // namespace beamline::exec
