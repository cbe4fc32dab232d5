#pragma once

// The CP1 worker contract on NATS (docs/cp1-worker.md): takes ExecAssignments from
// caf.exec.assign.v1 (queue group caf-workers-cp1), acknowledges each on
// caf.exec.assign.v1.ack, runs it through the same pools as CP2 blocks and publishes its
// ExecResult on caf.exec.result.v1. Redelivered assignment ids are not run twice; one whose block
// has finished gets its result published again (the first may have been lost).

#include "cp1/dedupe.hpp"
#include "cp1/messages.hpp"
#include "heartbeat.hpp"
#include "nats_connection.hpp"
#include "pool.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace beamline::worker::cp1 {

struct service_settings {
  std::string queue_group = default_queue_group;
  std::chrono::milliseconds dedupe_ttl{600'000};
  size_t dedupe_capacity = 100'000;
  /// Bytes of published results kept for redeliveries, in all.
  size_t dedupe_result_bytes = size_t{64} << 20;
};

class service {
public:
  /// `pools` outlive the service.
  service(nats_connection& nats, std::string worker_id, std::vector<pool*> pools,
          service_settings settings);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Subscribes to caf.exec.assign.v1.
  void subscribe();
  /// Stops taking assignments, without waiting: drains the subscription when `drain` (what the
  /// client already holds is still handled), else unsubscribes (see pool::stop_taking_work).
  void stop_taking_work(bool drain) noexcept;
  /// Waits until the subscription delivers nothing more; false when `timeout_ms` passed first.
  [[nodiscard]] bool wait_stopped(int64_t timeout_ms) noexcept;
  /// Publishes a JSON heartbeat on caf.worker.heartbeat.v1.
  void publish_heartbeat(const std::vector<pool_snapshot>& pools,
                         const std::vector<std::string>& executors, bool draining);

private:
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  void handle(std::string_view data, steady_clock::time_point received_at);
  void publish_ack(const ack_message& ack);
  /// A rejected assignment: ack `rejected`, and when its ids are known an error ExecResult too,
  /// so that a router without an ack consumer still hears of it.
  void reject(const result_context& ctx, const std::string& error_code, const std::string& reason);
  [[nodiscard]] pool* find_pool(const std::string& name) const noexcept;

  nats_connection& nats_;
  std::string worker_id_;
  std::vector<pool*> pools_;
  std::vector<std::string> pool_names_;
  service_settings settings_;
  dedupe_window dedupe_;
  std::optional<nats_subscription> subscription_;
};

} // namespace beamline::worker::cp1
