#include "log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace beamline::worker {

namespace {

std::atomic<log_format> format_{log_format::text};

/// "2024-01-01T12:00:00.123Z" (24 chars) into `out`; returns its length.
int timestamp(char (&out)[32]) noexcept {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[24];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::snprintf(out, sizeof(out), "%s.%03dZ", stamp, static_cast<int>(ms));
}

void write_all(const std::string& line) noexcept {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0)
      break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

/// Appends `text` as a JSON string (quoted, escaped).
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
    case '"': out.append("\\\""); break;
    case '\\': out.append("\\\\"); break;
    case '\n': out.append("\\n"); break;
    case '\r': out.append("\\r"); break;
    case '\t': out.append("\\t"); break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        out.append("\\u00");
        out.push_back(digits[(c >> 4) & 0x0f]);
        out.push_back(digits[c & 0x0f]);
      } else {
        out.push_back(c);
      }
    }
  }
  out.push_back('"');
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  append_json_string(out, value);
}

void append_field(std::string& out, std::string_view name, uint64_t value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  out.append(std::to_string(value));
}

const char* level_name(log_level level, bool lower) noexcept {
  switch (level) {
  case log_level::info: return lower ? "info" : "INFO";
  case log_level::warn: return lower ? "warn" : "WARN";
  default: return lower ? "error" : "ERROR";
  }
}

} // namespace

void set_log_format(log_format format) noexcept { format_.store(format, std::memory_order_relaxed); }

log_format current_log_format() noexcept { return format_.load(std::memory_order_relaxed); }

void log_line(log_level level, std::string_view message) noexcept {
  char stamp[32];
  const int stamp_len = timestamp(stamp);
  try {
    std::string line;
    if (current_log_format() == log_format::json) {
      line.reserve(message.size() + 64);
      line.append("{\"ts\":\"").append(stamp, static_cast<size_t>(stamp_len)).append("\",\"level\":\"");
      line.append(level_name(level, true)).push_back('"');
      append_field(line, "msg", message);
      line.append("}\n");
    } else {
      line.reserve(static_cast<size_t>(stamp_len) + message.size() + 8);
      line.append(stamp, static_cast<size_t>(stamp_len)).push_back(' ');
      line.append(level_name(level, false)).push_back(' ');
      line.append(message);
      line.push_back('\n');
    }
    write_all(line);
  } catch (...) {
  }
}

void log_block(const block_log_entry& entry) noexcept {
  if (current_log_format() != log_format::json)
    return;
  char stamp[32];
  const int stamp_len = timestamp(stamp);
  try {
    std::string line;
    line.reserve(320);
    line.append("{\"ts\":\"").append(stamp, static_cast<size_t>(stamp_len));
    line.append("\",\"level\":\"info\",\"msg\":\"block\"");
    append_field(line, "trace_id", entry.trace_id);
    append_field(line, "span_id", entry.span_id);
    append_field(line, "parent_span_id", entry.parent_span_id);
    append_field(line, "block_id", entry.block_id);
    append_field(line, "type", entry.type);
    append_field(line, "pool", entry.pool);
    append_field(line, "status", entry.status);
    if (!entry.error_code.empty())
      append_field(line, "error_code", entry.error_code);
    append_field(line, "queue_us", entry.queue_us);
    append_field(line, "exec_us", entry.exec_us);
    append_field(line, "worker_id", entry.worker_id);
    line.append("}\n");
    write_all(line);
  } catch (...) {
  }
}

} // namespace beamline::worker
