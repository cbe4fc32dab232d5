#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/) for the worker: the `traceparent` of
// a block (its NATS header, or ExecRequest.traceparent) is parsed, and the block gets a span of
// its own, a child of the caller's, whose ids go into the worker's log line for that block.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::worker {

/// The parts of a traceparent header ("00-<trace id>-<parent id>-<flags>").
struct trace_context {
  std::array<uint8_t, 16> trace_id{};
  /// The caller's span: the parent of the worker's span for the block.
  std::array<uint8_t, 8> parent_span_id{};
  uint8_t flags = 0;

  /// The caller recorded its span (flag 01): the worker logs this block's span too.
  [[nodiscard]] bool sampled() const noexcept { return (flags & 0x01) != 0; }
};

/// Parses a traceparent value. Empty when it is not one: wrong length or separators, uppercase
/// or non-hex digits, version ff, or an all-zero trace or parent id. A version above 00 is read
/// by its first four fields, as the specification asks; a 00 value must be exactly 55 chars.
[[nodiscard]] std::optional<trace_context> parse_traceparent(std::string_view text) noexcept;

/// A new span id: 8 random bytes, never all zero. Thread-safe (one generator per thread).
[[nodiscard]] std::array<uint8_t, 8> new_span_id() noexcept;

/// Lowercase hex of `bytes`, as trace and span ids are written.
template <size_t N>
[[nodiscard]] std::string to_hex(const std::array<uint8_t, N>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(N * 2, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return out;
}

/// "00-<trace id>-<span id>-<flags>": the traceparent of `span_id` as a child in `parent`'s trace.
[[nodiscard]] std::string format_traceparent(const trace_context& parent,
                                             const std::array<uint8_t, 8>& span_id);

} // namespace beamline::worker
