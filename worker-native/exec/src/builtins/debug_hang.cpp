// debug.hang: sleeps for the number of milliseconds given as the ASCII decimal payload and, unlike
// debug.sleep, ignores cancellation and the block's deadline, as a misbehaving executor (a stuck
// device call, a plugin without deadline checks) would. Output: the milliseconds slept, in ASCII.
// Used by tests and drills of the worker's stuck-runner supervision; a diagnostic executor,
// registered only when the configuration enables diagnostics.

#include "builtins/registry.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace beamline::exec::builtins {

namespace {

/// Longest accepted hang: ten minutes (a test or drill never needs more).
constexpr uint64_t max_hang_ms = 600'000;

bl_status* BL_CALL run_debug_hang(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                  uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  uint64_t total_ms = 0;
  bool digits = payload_len > 0 && payload_len <= 6;
  for (uint64_t i = 0; digits && i < payload_len; ++i) {
    digits = payload[i] >= '0' && payload[i] <= '9';
    total_ms = total_ms * 10 + (payload[i] - '0');
  }
  if (!digits || total_ms > max_hang_ms) {
    const std::string message = "debug.hang expects the milliseconds to hang as ASCII digits (at most "
                                + std::to_string(max_hang_ms) + ")";
    return api->status_create(BL_ERR_INVALID_INPUT, message.data(), message.size());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{total_ms});
  const std::string out = std::to_string(total_ms);
  return api->context_write(ctx, reinterpret_cast<const uint8_t*>(out.data()), out.size());
}

BEAMLINE_REGISTER_DIAGNOSTIC("debug.hang", run_debug_hang);

} // namespace

} // namespace beamline::exec::builtins
