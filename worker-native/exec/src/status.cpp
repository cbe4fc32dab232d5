#include "status.hpp"

#include <exception>
#include <new>
#include <string>

namespace beamline::exec {

namespace {

bl_status* out_of_memory_status() noexcept {
  // The message fits the small-string buffer: constructing it allocates nothing.
  static bl_status oom{BL_ERR_INTERNAL, "out of memory", true};
  return &oom;
}

} // namespace

bl_status* make_status(int32_t code, std::string_view message) noexcept {
  try {
    return new bl_status{code, std::string{message}, false};
  } catch (...) {
    return out_of_memory_status();
  }
}

bl_status* status_from_current_exception() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return out_of_memory_status();
  } catch (const std::exception& e) {
    try {
      return make_status(BL_ERR_INTERNAL, std::string{"unexpected exception: "} + e.what());
    } catch (...) {
      return out_of_memory_status();
    }
  } catch (...) {
    return make_status(BL_ERR_INTERNAL, "unexpected non-standard exception");
  }
}

void release_status(bl_status* status) noexcept {
  if (status != nullptr && !status->is_static)
    delete status;
}

std::string_view error_code_name(int32_t code) noexcept {
  switch (code) {
    case BL_ERR_INVALID_ARGUMENT:
      return "invalid_argument";
    case BL_ERR_INVALID_INPUT:
      return "invalid_input";
    case BL_ERR_UNKNOWN_EXECUTOR:
      return "unknown_executor";
    case BL_ERR_DEADLINE_EXCEEDED:
      return "deadline_exceeded";
    case BL_ERR_RESOURCE_UNAVAILABLE:
      return "resource_unavailable";
    case BL_ERR_CANCELLED:
      return "cancelled";
    case BL_ERR_VERSION_MISMATCH:
      return "version_mismatch";
    case BL_ERR_ALREADY_EXISTS:
      return "already_exists";
    case BL_ERR_NOT_FOUND:
      return "not_found";
    case BL_ERR_PERMISSION_DENIED:
      return "permission_denied";
    case BL_ERR_NOT_ASYNC:
      return "not_async";
    case BL_ERR_INTERNAL:
    default:
      return "internal_error";
  }
}

} // namespace beamline::exec
