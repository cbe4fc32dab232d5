#include "tracing/trace_context.hpp"

#include <chrono>
#include <functional>
#include <random>
#include <thread>

namespace beamline::worker {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; // uppercase is not allowed by the specification
}

template <size_t N>
bool read_hex(std::string_view text, std::array<uint8_t, N>& out) noexcept {
  bool any = false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    any = any || out[i] != 0;
  }
  return any; // all zero is invalid for both ids
}

} // namespace

std::optional<trace_context> parse_traceparent(std::string_view text) noexcept {
  // version(2) - trace id(32) - parent id(16) - flags(2)
  constexpr size_t length = 55;
  if (text.size() < length || text[2] != '-' || text[35] != '-' || text[52] != '-')
    return std::nullopt;
  std::array<uint8_t, 1> version{};
  const int v_hi = hex_value(text[0]);
  const int v_lo = hex_value(text[1]);
  if (v_hi < 0 || v_lo < 0)
    return std::nullopt;
  version[0] = static_cast<uint8_t>(v_hi << 4 | v_lo);
  if (version[0] == 0xff)
    return std::nullopt;
  // Version 00 has exactly four fields; a later version may append more after a '-'.
  if (version[0] == 0 ? text.size() != length : (text.size() > length && text[length] != '-'))
    return std::nullopt;
  trace_context ctx;
  std::array<uint8_t, 1> flags{};
  if (!read_hex(text.substr(3, 32), ctx.trace_id) || !read_hex(text.substr(36, 16), ctx.parent_span_id))
    return std::nullopt;
  const int f_hi = hex_value(text[53]);
  const int f_lo = hex_value(text[54]);
  if (f_hi < 0 || f_lo < 0)
    return std::nullopt;
  flags[0] = static_cast<uint8_t>(f_hi << 4 | f_lo);
  ctx.flags = flags[0];
  return ctx;
}

std::array<uint8_t, 8> new_span_id() noexcept {
  thread_local std::mt19937_64 engine{[]() noexcept -> uint64_t {
    try {
      std::random_device device;
      return (static_cast<uint64_t>(device()) << 32) ^ device();
    } catch (...) {
      // No entropy source: ids must only differ, not be secret.
      return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())
             ^ std::hash<std::thread::id>{}(std::this_thread::get_id());
    }
  }()};
  std::array<uint8_t, 8> id{};
  uint64_t bits = 0;
  while (bits == 0)
    bits = engine();
  for (size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<uint8_t>(bits >> (8 * (7 - i)));
  return id;
}

std::string format_traceparent(const trace_context& parent, const std::array<uint8_t, 8>& span_id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(55);
  out.append("00-").append(to_hex(parent.trace_id)).push_back('-');
  out.append(to_hex(span_id)).push_back('-');
  out.push_back(digits[parent.flags >> 4]);
  out.push_back(digits[parent.flags & 0x0f]);
  return out;
}

} // namespace beamline::worker
