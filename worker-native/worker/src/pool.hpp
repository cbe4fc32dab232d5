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

#include "gpu/device_slots.hpp"
#include "nats_connection.hpp"
#include "request_handler.hpp"
#include "run_queue.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace beamline::worker {

namespace detail {

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
};

} // namespace detail

class pool {
public:
  /// `slots`, when given (the gpu pool), leases a device slot to every block it runs; its
  /// capacity must equal `size`. A pool of size 0 never subscribes and refuses every block.
  pool(caf::actor_system& sys, nats_connection& nats, const request_handler& handler,
       std::string name, uint32_t size, uint32_t queue_limit, device_slots* slots = nullptr);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  /// Shuts down and waits for the runners to end: they work on this pool's members.
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

  [[nodiscard]] bool idle() const noexcept { return admission_.idle(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] uint32_t size() const noexcept { return size_; }
  [[nodiscard]] const pool_admission& admission() const noexcept { return admission_; }

  /// What a runner works with; owned by the pool, which outlives its runners' work.
  /// `runners_` is never shrunk while the pool lives: a NATS or CP1 callback may still be waking
  /// one of them while the pool shuts down.
  struct runner_context {
    nats_connection* nats;
    const request_handler* handler;
    pool_admission* admission;
    run_queue<detail::block_job>* queue;
    device_slots* slots;
  };

private:
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  /// Queues an admitted job and wakes an idle runner; withdraws the admission on failure.
  void enqueue(detail::block_job job);

  caf::actor_system& sys_;
  std::string name_;
  uint32_t size_;
  nats_connection& nats_;
  const request_handler& handler_;
  pool_admission admission_;
  run_queue<detail::block_job> queue_;
  device_slots* slots_;
  std::vector<caf::actor> runners_;
  std::optional<nats_subscription> subscription_;
};

} // namespace beamline::worker
