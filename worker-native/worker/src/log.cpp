#include "log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace beamline::worker {

void log_line(log_level level, std::string_view message) noexcept {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  const char* name = level == log_level::info ? "INFO" : level == log_level::warn ? "WARN" : "ERROR";
  char head[64];
  const int head_len = std::snprintf(head, sizeof(head), "%s.%03dZ %s ", stamp, static_cast<int>(ms), name);
  try {
    std::string line;
    line.reserve(static_cast<size_t>(head_len) + message.size() + 1);
    line.append(head, static_cast<size_t>(head_len));
    line.append(message);
    line.push_back('\n');
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n <= 0)
        break;
      p += n;
      left -= static_cast<size_t>(n);
    }
  } catch (...) {
  }
}

} // namespace beamline::worker
