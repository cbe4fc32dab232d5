#pragma once

// Minimal logging: one line per call on stderr, "2024-01-01T12:00:00.123Z LEVEL message".

#include <sstream>
#include <string>
#include <string_view>

namespace beamline::worker {

enum class log_level { info, warn, error };

/// Writes one line to stderr with a UTC timestamp; a single write, so lines do not interleave.
void log_line(log_level level, std::string_view message) noexcept;

namespace detail {
template <class... Ts>
std::string concat(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  return out.str();
}
} // namespace detail

template <class... Ts>
void log_info(const Ts&... xs) noexcept {
  try {
    log_line(log_level::info, detail::concat(xs...));
  } catch (...) {
  }
}

template <class... Ts>
void log_warn(const Ts&... xs) noexcept {
  try {
    log_line(log_level::warn, detail::concat(xs...));
  } catch (...) {
  }
}

template <class... Ts>
void log_error(const Ts&... xs) noexcept {
  try {
    log_line(log_level::error, detail::concat(xs...));
  } catch (...) {
  }
}

} // namespace beamline::worker
