#include "cp1/claims.hpp"

#include <algorithm>
#include <utility>

namespace beamline::worker::cp1 {

std::string result_key(std::string_view id) {
  return "result." + kv_key_part(id);
}

std::string claim_key(std::string_view id) {
  return "claim." + kv_key_part(id);
}

std::string encode_claim(std::string_view worker_id, int64_t unix_ms, int64_t stale_at_ms) {
  dedupe::claim claim;
  claim.worker_id = std::string{worker_id};
  claim.claimed_at_ms = unix_ms;
  claim.stale_at_ms = stale_at_ms;
  return dedupe::encode_claim(claim);
}

std::optional<std::string> claim_holder(std::string_view value) {
  auto claim = dedupe::decode_claim(value);
  if (!claim) return std::nullopt;
  return std::move(claim->worker_id);
}

int64_t claim_stale_at(int64_t claimed_at_ms, uint32_t deadline_ms, int64_t grace_ms) noexcept {
  const int64_t grace = std::max<int64_t>(0, grace_ms);
  // Without a deadline a run is given one grace: a longer one whose worker is cut off that long
  // is answered for (worker_lost, or run again) while it may still be going on.
  const int64_t run = deadline_ms > 0 ? static_cast<int64_t>(deadline_ms) : grace;
  return claimed_at_ms + run + grace;
}

bool claim_live(std::string_view value, int64_t now_ms) noexcept {
  try {
    const auto claim = dedupe::decode_claim(value);
    return claim && claim->stale_at_ms > 0 && now_ms < claim->stale_at_ms;
  } catch (...) {
    return false;
  }
}

int64_t wait_for_claim_ms(std::string_view value, int64_t now_ms, int64_t max_ms) noexcept {
  int64_t wait = 100;
  try {
    if (const auto claim = dedupe::decode_claim(value); claim && claim->stale_at_ms > now_ms)
      wait = claim->stale_at_ms - now_ms + 100;
  } catch (...) {
  }
  return std::clamp<int64_t>(wait, 100, std::max<int64_t>(100, max_ms));
}

claimed_step on_claimed(bool running_here, bool idempotent, bool holder_live, bool last_delivery) noexcept {
  if (running_here) return claimed_step::wait_running;
  // Its worker may only have been cut off from NATS: its result is better than a guess.
  if (holder_live && !last_delivery) return claimed_step::wait_holder;
  return idempotent ? claimed_step::run_again : claimed_step::answer_lost;
}

refused_step on_refused(uint64_t delivered, int64_t max_deliver) noexcept {
  if (max_deliver > 0 && delivered >= static_cast<uint64_t>(max_deliver)) return refused_step::give_up;
  return refused_step::retry;
}

}  // namespace beamline::worker::cp1
