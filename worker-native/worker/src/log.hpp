#pragma once

// Minimal logging: one line per call on stderr, "2024-01-01T12:00:00.123Z LEVEL message", or
// with --log-format json one JSON object a line: {"ts":"...","level":"info","msg":"..."}.

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace beamline::worker {

enum class log_level { info, warn, error };

enum class log_format { text, json };

/// Chooses how lines are written (text until called); call once at start-up, before any thread
/// logs.
void set_log_format(log_format format) noexcept;

/// The format chosen by set_log_format.
[[nodiscard]] log_format current_log_format() noexcept;

/// Writes one line to stderr with a UTC timestamp; a single write, so lines do not interleave.
void log_line(log_level level, std::string_view message) noexcept;

/// One traced block, as its log line carries it (ids in lowercase hex).
struct block_log_entry {
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view parent_span_id;
  std::string_view block_id;
  std::string_view type;
  std::string_view pool;
  /// ok, error, timeout or cancelled.
  std::string_view status;
  std::string_view error_code;
  std::string_view worker_id;
  uint64_t queue_us = 0;
  uint64_t exec_us = 0;
};

/// Writes the line of one traced block: in json format
/// {"ts":..,"level":"info","msg":"block","trace_id":..,"span_id":..,"parent_span_id":..,
/// "block_id":..,"type":..,"pool":..,"status":..,"queue_us":..,"exec_us":..,"worker_id":..}
/// (and "error_code" when the block failed); nothing in text format.
void log_block(const block_log_entry& entry) noexcept;

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
