#pragma once

// The exactly-once rules of CP1 on JetStream (docs/cp1-worker.md, "JetStream mode"), free of
// NATS so that they are unit-tested alone. Every assignment has two keys in the KV bucket
// beamline-cp1-results: `claim.<id>` (which worker started it) and `result.<id>` (the ExecResult
// published for it). A delivery first looks for the result (found: published again, never run
// again), then creates the claim (kvStore_Create: only one worker wins); a delivery that finds a
// claim and no result is what these rules decide.

#include "dedupe/claims.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::worker::cp1 {

/// The stream, consumer and bucket the control plane and the workers agree on.
inline constexpr const char* js_stream = "BEAMLINE_CP1_ASSIGN";
inline constexpr const char* js_consumer = "beamline-cp1-workers";
inline constexpr const char* js_results_bucket = "beamline-cp1-results";

/// The CP1 error code of an assignment whose first worker was lost mid-block and which may not
/// run again: whether its effect happened is unknown.
inline constexpr const char* worker_lost_code = "worker_lost";

/// The key part of assignment `id` (dedupe/claims.hpp).
using dedupe::kv_key_part;
/// `result.<part>`.
[[nodiscard]] std::string result_key(std::string_view id);
/// `claim.<part>`.
[[nodiscard]] std::string claim_key(std::string_view id);

/// A claim's value: `{"worker_id":"w-1","claimed_at":1700000000000[,"stale_at":...]}`.
[[nodiscard]] std::string encode_claim(std::string_view worker_id, int64_t unix_ms, int64_t stale_at_ms = 0);
/// The worker id of a claim's value; nullopt when it is not one.
[[nodiscard]] std::optional<std::string> claim_holder(std::string_view value);

/// Until when a claim made at `claimed_at_ms` may still be answered by its worker: the block's
/// deadline, then `grace_ms` (the ack wait) to store its result — a worker cut off from NATS
/// keeps trying that long. A block without a deadline counts `grace_ms` as its run time.
[[nodiscard]] int64_t claim_stale_at(int64_t claimed_at_ms, uint32_t deadline_ms, int64_t grace_ms) noexcept;
/// Whether the claim in `value` is another worker's that may still store its result at
/// `now_ms`: the redelivery that found it waits for that result instead of answering for it.
[[nodiscard]] bool claim_live(std::string_view value, int64_t now_ms) noexcept;
/// How long a delivery waiting for a live claim is put back: until the claim is stale (plus a
/// little), at least 100 ms, at most `max_ms`.
[[nodiscard]] int64_t wait_for_claim_ms(std::string_view value, int64_t now_ms, int64_t max_ms) noexcept;

/// The block types that may run again after their first worker was lost (dedupe/claims.hpp).
using dedupe::default_idempotent_types;
using dedupe::idempotent_types;

/// What a delivery that finds `claim.<id>` (and no `result.<id>`) does.
enum class claimed_step : uint8_t {
  /// The claim is this worker's and its block still runs here (the delivery is a redelivery
  /// after a missed ack wait): hold the new delivery, keep it in progress, answer once.
  wait_running,
  /// Another worker's claim that may still be answered (its worker was cut off from NATS, not
  /// necessarily lost): put the delivery back until it is answered or stale.
  wait_holder,
  /// The claimer is gone (or the claim is this worker's from before a restart) and the block is
  /// idempotent: take the claim over and run it.
  run_again,
  /// As above, but the block is not idempotent: it must not run twice; answer `worker_lost`.
  answer_lost,
};
/// `holder_live`: claim_live() of the claim; `last_delivery`: the consumer allows no other
/// delivery after this one, so it cannot wait any more.
[[nodiscard]] claimed_step on_claimed(bool running_here, bool idempotent, bool holder_live = false,
                                      bool last_delivery = false) noexcept;

/// What a delivery refused for a retryable reason (a full pool, a pool this worker lacks) does.
enum class refused_step : uint8_t {
  /// Nak it (with a delay): another delivery, here or on another worker, will try again.
  retry,
  /// It was the last delivery the consumer allows: answer the error and terminate it.
  give_up,
};
/// `delivered` counts this delivery (1 = first); `max_deliver` <= 0 means unlimited.
[[nodiscard]] refused_step on_refused(uint64_t delivered, int64_t max_deliver) noexcept;

}  // namespace beamline::worker::cp1
