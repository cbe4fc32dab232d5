#pragma once

// The CP1 worker contract on NATS (docs/cp1-worker.md): takes ExecAssignments from
// caf.exec.assign.v1 (queue group caf-workers-cp1), acknowledges each on
// caf.exec.assign.v1.ack, runs it through the same pools as CP2 blocks and publishes its
// ExecResult on caf.exec.result.v1. Redelivered assignment ids are not run twice; one whose block
// has finished gets its result published again (the first may have been lost).
//
// With `jetstream.enabled` the assignments come instead from the work-queue stream
// BEAMLINE_CP1_ASSIGN through the durable consumer all workers share, and results and claims
// live in the KV bucket beamline-cp1-results, so that "not run twice" holds across workers
// (cp1/claims.hpp; the JetStream half is in service_jetstream.cpp).

#include "cp1/dedupe.hpp"
#include "cp1/messages.hpp"
#include "heartbeat.hpp"
#include "nats_connection.hpp"
#include "pool.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace beamline::worker::cp1 {

struct service_settings {
  std::string queue_group = default_queue_group;
  std::chrono::milliseconds dedupe_ttl{600'000};
  size_t dedupe_capacity = 100'000;
  /// Bytes of published results kept for redeliveries, in all.
  size_t dedupe_result_bytes = size_t{64} << 20;

  /// JetStream mode (worker_options::cp1_jetstream and the flags after it).
  struct jetstream_settings {
    bool enabled = false;
    /// The consumer's ack wait and deliveries when this worker creates it; one that exists is
    /// taken as it is.
    std::chrono::milliseconds ack_wait{30'000};
    int64_t max_deliver = 5;
    /// Redelivery delay of an assignment a full pool refused.
    std::chrono::milliseconds nak_delay{1'000};
    /// The results bucket's TTL when this worker creates it.
    std::chrono::milliseconds results_ttl{86'400'000};
    /// Block types that may run again after their first worker was lost (cp1/claims.hpp).
    std::unordered_set<std::string> idempotent_types;
  } jetstream;
};

class service {
public:
  /// `pools` outlive the service.
  service(nats_connection& nats, std::string worker_id, std::vector<pool*> pools,
          service_settings settings);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  ~service();

  /// Subscribes to caf.exec.assign.v1; in JetStream mode makes the stream, consumer and bucket
  /// when missing and starts pulling. Throws nats_error.
  void subscribe();
  /// Stops taking assignments, without waiting: drains the subscription when `drain` (what the
  /// client already holds is still handled), else unsubscribes (see pool::stop_taking_work).
  void stop_taking_work(bool drain) noexcept;
  /// Waits until the subscription delivers nothing more; false when `timeout_ms` passed first.
  [[nodiscard]] bool wait_stopped(int64_t timeout_ms) noexcept;
  /// Publishes a JSON heartbeat on caf.worker.heartbeat.v1.
  void publish_heartbeat(const std::vector<pool_snapshot>& pools,
                         const std::vector<std::string>& executors, bool draining);

  /// A block's ExecResult JSON, from the runner that finished it: kept for redeliveries and
  /// published (core NATS), or handed to the JetStream finisher (stored in KV, published, acked).
  void finished(const std::string& assignment_id, std::string json);
  /// True in JetStream mode, where each assignment's claim makes it run at most once.
  [[nodiscard]] bool jetstream() const noexcept { return settings_.jetstream.enabled; }

private:
  struct js_state;
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  void handle(std::string_view data, steady_clock::time_point received_at);
  void publish_ack(const ack_message& ack);
  /// A rejected assignment: ack `rejected`, and when its ids are known an error ExecResult too,
  /// so that a router without an ack consumer still hears of it.
  void reject(const result_context& ctx, const std::string& error_code, const std::string& reason);
  [[nodiscard]] pool* find_pool(const std::string& name) const noexcept;

  // JetStream mode (service_jetstream.cpp).
  void js_subscribe();
  void js_stop() noexcept;
  [[nodiscard]] bool js_wait_stopped(int64_t timeout_ms) noexcept;
  void js_pull_loop(natsSubscription* sub) noexcept;
  /// `ticks`: this one also sends the in-progress acks.
  void js_finish_loop(bool ticks) noexcept;
  /// One delivery; owns `msg` (acks, naks, terms, holds or destroys it).
  void js_handle(natsMsg* msg);
  /// A retryable refusal: nak with a delay, or on the last delivery answer the error and term.
  void js_refuse(natsMsg* msg, uint64_t delivered, const result_context& ctx,
                 const std::string& error_code, const std::string& reason);
  void js_store_and_publish(const std::string& assignment_id, std::string json);
  /// Stores `json` as the result of `assignment_id` (retrying while NATS is away, until
  /// `store_until`, unix ms); `json` becomes the stored answer when another was there first.
  void js_store_result(const std::string& assignment_id, std::string& json, int64_t store_until);

  nats_connection& nats_;
  std::string worker_id_;
  std::vector<pool*> pools_;
  std::vector<std::string> pool_names_;
  service_settings settings_;
  dedupe_window dedupe_;
  std::optional<nats_subscription> subscription_;
  std::unique_ptr<js_state> js_;
};

namespace detail {
/// The sink of an assignment's block: turns its ExecResult into the CP1 ExecResult JSON (latency
/// from `received_at`, result_too_large past the server's max payload) and hands it to
/// service::finished.
[[nodiscard]] std::unique_ptr<reply_sink> make_result_sink(nats_connection& nats, service& owner,
                                                           result_context ctx,
                                                           std::string worker_id,
                                                           steady_clock::time_point received_at);
} // namespace detail

} // namespace beamline::worker::cp1
