// debug.sleep: sleeps for the number of milliseconds given as the ASCII decimal payload, in
// small steps, and stops early when the block is cancelled or its deadline passes. Output: the
// milliseconds slept, in ASCII. Used by tests and drills for slow blocks and worker drain; a
// diagnostic executor, registered only when the configuration enables diagnostics.

#include "builtins/registry.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace beamline::exec::builtins {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// Longest accepted sleep: one hour.
constexpr uint64_t max_sleep_ms = 3'600'000;
/// How often cancellation is checked.
constexpr milliseconds step{2};

bl_status* fail(const bl_api* api, bl_errc code, const std::string& message) {
  return api->status_create(code, message.data(), message.size());
}

bl_status* BL_CALL run_debug_sleep(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                   uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  uint64_t total_ms = 0;
  if (payload_len == 0 || payload_len > 7)
    return fail(api, BL_ERR_INVALID_INPUT,
                "debug.sleep expects the milliseconds to sleep as ASCII digits (at most "
                  + std::to_string(max_sleep_ms) + ")");
  for (uint64_t i = 0; i < payload_len; ++i) {
    if (payload[i] < '0' || payload[i] > '9')
      return fail(api, BL_ERR_INVALID_INPUT, "debug.sleep expects ASCII digits only");
    total_ms = total_ms * 10 + (payload[i] - '0');
  }
  if (total_ms > max_sleep_ms)
    return fail(api, BL_ERR_INVALID_INPUT,
                "debug.sleep accepts at most " + std::to_string(max_sleep_ms) + " ms");

  const auto start = steady_clock::now();
  const auto until = start + milliseconds{total_ms};
  for (auto now = start; now < until; now = steady_clock::now()) {
    if (api->context_cancelled(ctx) != 0) {
      const auto slept = std::chrono::duration_cast<milliseconds>(now - start).count();
      const bl_exec_info* info = api->context_info(ctx);
      const bool deadline_passed =
        info->deadline_mono_ns != 0
        && std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()
             >= info->deadline_mono_ns;
      if (deadline_passed)
        return fail(api, BL_ERR_DEADLINE_EXCEEDED,
                    "debug.sleep stopped at the deadline after " + std::to_string(slept) + " of "
                      + std::to_string(total_ms) + " ms");
      return fail(api, BL_ERR_CANCELLED,
                  "debug.sleep cancelled after " + std::to_string(slept) + " of "
                    + std::to_string(total_ms) + " ms");
    }
    std::this_thread::sleep_for(std::min<steady_clock::duration>(step, until - now));
  }
  const std::string out = std::to_string(total_ms);
  return api->context_write(ctx, reinterpret_cast<const uint8_t*>(out.data()), out.size());
}

BEAMLINE_REGISTER_DIAGNOSTIC("debug.sleep", run_debug_sleep);

} // namespace

} // namespace beamline::exec::builtins
