#include "dedupe/block_rules.hpp"

namespace beamline::worker::dedupe {

namespace {

std::string block_key(std::string_view prefix, std::string_view tenant, std::string_view block_id) {
  std::string key{prefix};
  key += tenant_key_part(tenant);
  key += '.';
  key += kv_key_part(block_id);
  return key;
}

}  // namespace

std::string block_result_key(std::string_view tenant, std::string_view block_id) {
  return block_key("result.", tenant, block_id);
}

std::string block_claim_key(std::string_view tenant, std::string_view block_id) {
  return block_key("claim.", tenant, block_id);
}

int64_t claim_stale_at(int64_t claimed_at_ms, uint32_t deadline_ms, int64_t no_deadline_ms,
                       int64_t grace_ms) noexcept {
  const int64_t run_ms = deadline_ms > 0 ? static_cast<int64_t>(deadline_ms) : no_deadline_ms;
  return claimed_at_ms + run_ms + grace_ms;
}

block_step on_block_claimed(bool result_found, const std::optional<claim>& claim, int64_t now_ms,
                            int64_t own_deadline_at_ms) noexcept {
  if (result_found) return block_step::reply_stored;
  // A claim is written before a run and a result before the claim can expire: with neither,
  // nothing ran (a create whose reply was lost with the connection need not have happened).
  if (!claim) return block_step::claim_again;
  if (claim->stale_at_ms > 0 && now_ms >= claim->stale_at_ms) return block_step::answer_lost;
  if (own_deadline_at_ms > 0 && now_ms >= own_deadline_at_ms) return block_step::answer_deadline;
  return block_step::wait;
}

}  // namespace beamline::worker::dedupe
