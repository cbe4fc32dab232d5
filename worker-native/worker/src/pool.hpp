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
// Runners of a CPU-bound pool are scheduled actors on CAF's scheduler, which main() sizes to
// that pool, so they never compete with other actors for its threads. Runners of every other
// pool (io, gpu, custom ones, whose executors may block) are detached actors, a thread each,
// so that a blocking executor never holds a scheduler thread.

#include "nats_connection.hpp"
#include "request_handler.hpp"
#include "run_queue.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace beamline::worker {

namespace detail {

struct nats_msg_deleter {
  void operator()(natsMsg* msg) const noexcept { natsMsg_Destroy(msg); }
};

/// One admitted block: the NATS message (request bytes and reply subject) and when it came.
struct block_job {
  std::unique_ptr<natsMsg, nats_msg_deleter> msg;
  steady_clock::time_point received_at;
};

} // namespace detail

/// How a pool's runners are spawned.
enum class runner_kind : uint8_t {
  /// On CAF's scheduler threads: for executors that only compute.
  scheduled,
  /// A thread each: for executors that may block (I/O, sleeps, devices, plugins).
  detached,
};

class pool {
public:
  pool(caf::actor_system& sys, nats_connection& nats, const request_handler& handler,
       std::string name, uint32_t size, uint32_t queue_limit, runner_kind kind);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool();

  /// Subscribes to caf.exec.v2.<name> in queue group caf-workers-<name>.
  void subscribe();
  /// Stops taking work: drains the subscription (what the client already holds is still
  /// admitted). Returns once the drain has delivered everything or `timeout_ms` passed.
  void stop_taking_work(int64_t timeout_ms);
  /// Stops the actors; call when idle().
  void shutdown();

  [[nodiscard]] bool idle() const noexcept { return admission_.idle(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] uint32_t size() const noexcept { return size_; }
  [[nodiscard]] const pool_admission& admission() const noexcept { return admission_; }

  /// What a runner works with; owned by the pool, which outlives its runners' work.
  struct runner_context {
    nats_connection* nats;
    const request_handler* handler;
    pool_admission* admission;
    run_queue<detail::block_job>* queue;
  };

private:
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);

  std::string name_;
  uint32_t size_;
  nats_connection& nats_;
  const request_handler& handler_;
  pool_admission admission_;
  run_queue<detail::block_job> queue_;
  std::vector<caf::actor> runners_;
  std::optional<nats_subscription> subscription_;
};

} // namespace beamline::worker
