#pragma once

// A pool of the worker: a NATS queue subscription on caf.exec.v2.<name>, admission, and CAF
// actors that run the admitted blocks.
//
// Flow: the nats.c callback (which must not block) admits a message or refuses it at once,
// then puts it on the pool's run_queue; if a runner is idle, the callback wakes it with one
// message. Runners take blocks from the queue until it is empty, so a busy pool costs no
// message per block. At most `size` blocks run (one per runner), and a slow block never holds
// up others behind it (see run_queue.hpp).
//
// Every runner is a detached actor, a thread of its own that sleeps until it is woken, so a
// woken runner starts at once and a blocking executor (I/O, sleeps, devices, plugins) never holds
// a thread that another runner needs. Scheduled actors would not give that: CAF 0.17 puts an
// actor woken from outside its scheduler (here, the NATS callback) on the next scheduler thread
// in turn, and when that thread is running a long block the runner waits there until an idle
// thread steals it, which an idle thread tries only every 10 ms (work-stealing's relaxed
// polling). See "Runners: detached or scheduled" in docs/benchmarks.md for the figures.
//
// A supervisor actor per pool monitors the runners, replaces one that dies or is stuck past a
// block's hard deadline, and drains the pool when the drain coordinator asks
// (supervision/supervisor.hpp, supervision/drain.hpp).

#include "gpu/device_slots.hpp"
#include "heartbeat.hpp"
#include "nats_connection.hpp"
#include "request_handler.hpp"
#include "supervision/runner.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::worker {

/// How a pool's supervisor watches its runners (supervision/supervisor.hpp).
struct supervision_settings {
  /// How long past its deadline a block may run before its runner is given up on
  /// (--hard-deadline-grace-ms). Defaults to 5 s.
  std::chrono::milliseconds hard_deadline_grace{5000};
  /// For tests: called on the runner before each block with its request; an exception from it
  /// ends the runner, as a fault of the runner itself would. Empty (the default): nothing.
  std::function<void(std::string_view)> before_block;
};

class pool {
public:
  /// `slots`, when given (the gpu pool), leases a device slot to every block it runs; its
  /// capacity must equal `size`. A pool of size 0 never subscribes and refuses every block.
  pool(caf::actor_system& sys, nats_connection& nats, const request_handler& handler,
       std::string name, uint32_t size, uint32_t queue_limit, device_slots* slots = nullptr,
       supervision_settings supervision = {});
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  /// Shuts down and waits for the supervisor and every runner to end (given-up runners too,
  /// whose blocks must return first): they work on this pool's members.
  ~pool();

  /// Subscribes to caf.exec.v2.<name> in queue group caf-workers-<name> (not when size is 0).
  void subscribe();
  /// Runs an encoded ExecRequest that did not come from caf.exec.v2 (a CP1 assignment): its
  /// replies go to `sink`. False when the pool has no capacity or is full: nothing was queued
  /// and `on_admitted` was not called. Otherwise `on_admitted` runs once the block is admitted
  /// and before any runner can start it (so that an ack precedes its result). Thread-safe.
  [[nodiscard]] bool submit(std::string request, std::unique_ptr<reply_sink> sink,
                            steady_clock::time_point received_at,
                            const std::function<void()>& on_admitted);
  /// Stops taking work, without waiting: with `drain`, drains the subscription (what the client
  /// already holds is still admitted); without (NATS is not connected, so a drain could not
  /// finish), or when the drain cannot start, unsubscribes (what the client holds is dropped).
  void stop_taking_work(bool drain) noexcept;
  /// Waits until the subscription delivers nothing more; false when `timeout_ms` passed first.
  [[nodiscard]] bool wait_stopped(int64_t timeout_ms) noexcept;
  /// Unsubscribes if still subscribed and waits for the NATS callback to return, then stops the
  /// actors; call when idle(). Blocks that come through submit() afterwards are never run.
  void shutdown();

  /// The pool's supervisor: the drain coordinator sends it `drain`.
  [[nodiscard]] const caf::actor& supervisor() const noexcept { return state_->supervisor; }
  /// Capacity, running, queued, stuck and replaced runners, for the heartbeat.
  [[nodiscard]] pool_snapshot snapshot() const noexcept;

  [[nodiscard]] bool idle() const noexcept { return state_->admission.idle(); }
  [[nodiscard]] const std::string& name() const noexcept { return state_->name; }
  [[nodiscard]] uint32_t size() const noexcept { return size_; }
  [[nodiscard]] const pool_admission& admission() const noexcept { return state_->admission; }
  /// Runners given up on whose blocks still run.
  [[nodiscard]] uint32_t stuck() const noexcept { return state_->stuck.load(); }

private:
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  /// Queues an admitted job and wakes an idle runner; withdraws the admission on failure.
  void enqueue(detail::block_job job);

  caf::actor_system& sys_;
  uint32_t size_;
  std::unique_ptr<detail::pool_state> state_;
  std::optional<nats_subscription> subscription_;
  bool shut_down_ = false;
};

} // namespace beamline::worker
