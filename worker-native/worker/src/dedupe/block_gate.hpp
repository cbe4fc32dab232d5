#pragma once

// The hook through which the request handler runs a CP2 block at most once (dedupe/block_once.hpp
// is the JetStream implementation): asked before a block runs, told its reply before it is sent.

#include <cstddef>
#include <cstdint>
#include <string>

namespace beamline::worker {

/// What the gate decided for one block.
struct gate_decision {
  enum class kind : uint8_t {
    /// Not guarded (an idempotent type, or no block_id): run it as usual.
    run,
    /// Claimed by this worker: run it, and hand its reply to after_run() before sending it.
    run_claimed,
    /// Do not run it: send `answer` (a stored reply, worker_lost, deadline_exceeded).
    answer,
  };
  kind what = kind::run;
  /// run_claimed: the KV key of its result.
  std::string result_key;
  /// run_claimed: when its claim goes stale (Unix ms). Until then a retry waits for the result, so
  /// a store that fails (NATS away) is tried again until then.
  int64_t store_until_ms = 0;
  /// answer: the encoded ExecResult to send.
  std::string answer;
};

class block_gate {
public:
  virtual ~block_gate() = default;
  /// Decides for the encoded ExecRequest `request` (may block: waits for a claim running elsewhere,
  /// up to the request's deadline). Never throws.
  [[nodiscard]] virtual gate_decision before_run(const uint8_t* request, size_t size) noexcept = 0;
  /// Stores the reply of a run_claimed block; returns the reply to send (the first stored one
  /// wins, so a reply stored meanwhile replaces `reply`). Never throws.
  [[nodiscard]] virtual std::string after_run(const gate_decision& decision, std::string reply) noexcept = 0;
};

} // namespace beamline::worker
