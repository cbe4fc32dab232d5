#pragma once

// Reads a few top-level fields of an encoded ExecRequest or ExecResult without decoding it (no
// allocation, no copy of the payload), and appends the worker's timings to an encoded
// ExecResult. Used on every block, so it must stay cheaper than a parse.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace beamline::worker {

/// Fields of an ExecRequest (views into its bytes; empty when absent or malformed).
struct request_fields {
  std::string_view block_id;    // 1
  std::string_view type;        // 3
  std::string_view pool;        // 8
  std::string_view traceparent; // 9
  uint64_t deadline_ms = 0;     // 6 (0: none)
};

/// Fields of an ExecResult.
struct result_fields {
  uint64_t status = 0;         // 2 (ExecStatus)
  std::string_view error_code; // 3
};

/// Scans an encoded ExecRequest; stops at the first malformed field, keeping what it read.
[[nodiscard]] request_fields scan_request(const uint8_t* data, size_t size) noexcept;

/// Scans an encoded ExecResult; stops at the first malformed field, keeping what it read.
[[nodiscard]] result_fields scan_result(const uint8_t* data, size_t size) noexcept;

/// Appends ExecResult.queue_us (9) and exec_us (10) to an encoded ExecResult: protobuf reads a
/// field that appears again as its last value, so this is the same as setting them.
void append_timings(std::string& result, uint64_t queue_us, uint64_t exec_us);

/// ExecStatus as a word: ok, error, timeout, cancelled (unspecified for anything else).
[[nodiscard]] std::string_view status_name(uint64_t status) noexcept;

} // namespace beamline::worker
