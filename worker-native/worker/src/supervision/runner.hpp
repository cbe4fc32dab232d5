#pragma once

// The runners of a pool and what they share with their supervisor (supervisor.hpp).
//
// A runner is a detached actor (a thread of its own, see pool.hpp) that takes blocks from the
// pool's run_queue. Before it runs one, it moves the block into its runner_slot, which its
// supervisor can see: the supervisor answers for a block whose runner died (internal_error) or
// ran past the block's hard deadline (deadline_exceeded). Every reply of a block goes through the
// slot's mutex, and whoever answers first marks it there, so a caller is answered exactly once:
// a given-up runner's late result (and any chunk it still streams) is discarded.

#include "gpu/device_slots.hpp"
#include "nats_connection.hpp"
#include "request_handler.hpp"
#include "run_queue.hpp"

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::worker::detail {

struct nats_msg_deleter {
  void operator()(natsMsg* msg) const noexcept { natsMsg_Destroy(msg); }
};

/// One admitted block and when it came: either a CP2 NATS message (request bytes and reply
/// subject), or request bytes with their own reply sink (a CP1 assignment).
struct block_job {
  std::unique_ptr<natsMsg, nats_msg_deleter> msg;
  steady_clock::time_point received_at;
  std::string request;
  std::unique_ptr<reply_sink> sink;

  /// The encoded ExecRequest.
  [[nodiscard]] std::string_view request_bytes() const noexcept;
};

/// What a runner shares with its supervisor about the block it runs; every member under `mutex`.
/// Owned by both (shared_ptr): a runner that died leaves its block here for the supervisor.
struct runner_slot {
  std::mutex mutex;
  /// The block being run; empty while the runner is idle.
  std::optional<block_job> current;
  /// When the supervisor gives up on `current`: its deadline plus the grace (max: never).
  steady_clock::time_point hard_deadline = steady_clock::time_point::max();
  /// The block's result was handed to its sink: nobody else may answer it.
  bool answered = false;
  /// The supervisor answered the block and replaced the runner: the runner discards what the
  /// block still produces and ends when the block returns.
  bool abandoned = false;
};

/// What the runners and the supervisor of one pool work with. Owned by the pool, which waits for
/// all of them (also for given-up runners, whose blocks have to return first) before it goes.
struct pool_state {
  pool_state(std::string pool_name, nats_connection& connection, const request_handler& block_handler,
             uint32_t size, uint32_t queue_limit, device_slots* device_slots_or_null,
             std::chrono::milliseconds grace, std::function<void(std::string_view)> hook)
    : name(std::move(pool_name)), nats(connection), handler(block_handler),
      admission(size, queue_limit), queue(size), slots(device_slots_or_null),
      hard_deadline_grace(grace), before_block(std::move(hook)), runners_(size) {}

  const std::string name;
  nats_connection& nats;
  const request_handler& handler;
  pool_admission admission;
  run_queue<block_job> queue;
  device_slots* const slots;
  const std::chrono::milliseconds hard_deadline_grace;
  /// For tests (supervision_settings::before_block); empty otherwise.
  const std::function<void(std::string_view)> before_block;

  /// Stops the pool's subscription (the argument: drain it) and tells whether it has stopped
  /// delivering; set by the pool before any actor starts.
  std::function<void(bool)> stop_taking_work;
  std::function<bool()> stopped;

  /// The supervisor; set before the pool takes work.
  caf::actor supervisor;
  /// Set by the supervisor when a drain starts: runners that run dry then say so.
  std::atomic<bool> draining{false};
  /// Given-up runners whose blocks still run, and replacements since the start.
  std::atomic<uint32_t> stuck{0};
  std::atomic<uint64_t> replaced{0};

  /// Wakes the runner of `index` (whichever runs it now). Thread-safe.
  void wake(uint32_t index);
  /// Makes `runner` the one of `index`.
  void set_runner(uint32_t index, caf::actor runner);

private:
  std::mutex runners_mutex_;
  std::vector<caf::actor> runners_;
};

/// A runner of `state`'s pool, number `index`, with its `slot`.
caf::behavior runner(caf::event_based_actor* self, pool_state* state, uint32_t index,
                     std::shared_ptr<runner_slot> slot);

/// Answers `job` with an error result of `code` on its reply subject or sink. The caller holds
/// the job's slot mutex (so that the runner cannot answer it at the same time). Never throws.
void answer_instead(pool_state& state, block_job& job, std::string_view code,
                    std::string_view message) noexcept;

} // namespace beamline::worker::detail
