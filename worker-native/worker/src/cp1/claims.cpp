#include "cp1/claims.hpp"

#include <utility>

namespace beamline::worker::cp1 {

std::string result_key(std::string_view id) {
  return "result." + kv_key_part(id);
}

std::string claim_key(std::string_view id) {
  return "claim." + kv_key_part(id);
}

std::string encode_claim(std::string_view worker_id, int64_t unix_ms) {
  dedupe::claim claim;
  claim.worker_id = std::string{worker_id};
  claim.claimed_at_ms = unix_ms;
  return dedupe::encode_claim(claim);
}

std::optional<std::string> claim_holder(std::string_view value) {
  auto claim = dedupe::decode_claim(value);
  if (!claim) return std::nullopt;
  return std::move(claim->worker_id);
}

claimed_step on_claimed(bool running_here, bool idempotent) noexcept {
  if (running_here) return claimed_step::wait_running;
  return idempotent ? claimed_step::run_again : claimed_step::answer_lost;
}

refused_step on_refused(uint64_t delivered, int64_t max_deliver) noexcept {
  if (max_deliver > 0 && delivered >= static_cast<uint64_t>(max_deliver)) return refused_step::give_up;
  return refused_step::retry;
}

}  // namespace beamline::worker::cp1
