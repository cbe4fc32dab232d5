#pragma once

// CP2 blocks run at most once by (tenant, block_id) (docs/worker.md, "Block dedupe"), free of
// NATS so that they are unit-tested alone. A non-idempotent block on caf.exec.v2.<pool> first
// creates `claim.<tenant>.<block>` in the KV bucket beamline-block-results (only one worker wins),
// runs, stores its reply bytes as `result.<tenant>.<block>` and then replies. A second request with
// the same tenant and block_id never runs it: it replies the stored bytes, waits for a claim still
// running, or answers worker_lost for a claim whose worker is gone.

#include "dedupe/claims.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::worker::dedupe {

/// The bucket of block claims and results.
inline constexpr const char* blocks_bucket = "beamline-block-results";

/// The error code of a block whose first run was lost with its worker: its effect is unknown,
/// and it is not run again.
inline constexpr const char* worker_lost_code = "worker_lost";

/// `result.<tenant part>.<block part>`: a tenant's key is never another tenant's.
[[nodiscard]] std::string block_result_key(std::string_view tenant, std::string_view block_id);
/// `claim.<tenant part>.<block part>`.
[[nodiscard]] std::string block_claim_key(std::string_view tenant, std::string_view block_id);

/// When a claim made at `claimed_at_ms` for a block with `deadline_ms` (0: none, then
/// `no_deadline_ms` stands in) is given up as lost: its run cannot still be going on past its
/// deadline, and `grace_ms` covers the storing of its result and clock skew between machines.
[[nodiscard]] int64_t claim_stale_at(int64_t claimed_at_ms, uint32_t deadline_ms, int64_t no_deadline_ms,
                                     int64_t grace_ms) noexcept;

/// What a request that found a claim (and whose own claim failed) does next.
enum class block_step : uint8_t {
  /// The result is stored: reply it, byte for byte.
  reply_stored,
  /// The claim still runs somewhere: look again shortly.
  wait,
  /// The claim is stale and no result came: answer worker_lost, never run it again.
  answer_lost,
  /// Neither a claim nor a result: nobody ran it (this request's own claim did not get
  /// through, NATS being away) — claim it again. Both expire with the bucket's TTL, so a block
  /// run longer ago than that is not remembered.
  claim_again,
  /// This request's own deadline passed while it waited: answer deadline_exceeded.
  answer_deadline,
};

/// One look at the bucket: `result_found`, the `claim` if there is one, the time now and this
/// request's own deadline (unix ms; 0: none).
[[nodiscard]] block_step on_block_claimed(bool result_found, const std::optional<claim>& claim,
                                          int64_t now_ms, int64_t own_deadline_at_ms) noexcept;

}  // namespace beamline::worker::dedupe
