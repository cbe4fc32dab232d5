#pragma once

// CP2 blocks at most once by (tenant, block_id), on a JetStream KV bucket (dedupe/block_rules.hpp,
// docs/worker.md "Block dedupe"): `--block-dedupe on`. Idempotent types run as before, with no
// KV round trip.

#include "dedupe/block_gate.hpp"
#include "nats_connection.hpp"

#include <chrono>
#include <string>
#include <unordered_set>

namespace beamline::worker::dedupe {

struct block_once_settings {
  /// How long claims and results stay in the bucket (its TTL, when this worker creates it).
  std::chrono::milliseconds ttl{86'400'000};
  /// Added to a block's deadline before its claim is given up as lost.
  std::chrono::milliseconds grace{5'000};
  /// Stands in for the deadline of a block that has none.
  std::chrono::milliseconds no_deadline{300'000};
  /// Types that run as before (dedupe::default_idempotent_types()).
  std::unordered_set<std::string> idempotent_types;
};

class block_once final : public block_gate {
public:
  /// Opens (or creates) the bucket; throws nats_error when JetStream is not there.
  block_once(nats_connection& nats, std::string worker_id, block_once_settings settings);
  ~block_once() override;
  block_once(const block_once&) = delete;
  block_once& operator=(const block_once&) = delete;

  [[nodiscard]] gate_decision before_run(const uint8_t* request, size_t size) noexcept override;
  [[nodiscard]] std::string after_run(const gate_decision& decision, std::string reply) noexcept override;

private:
  gate_decision decide(const uint8_t* request, size_t size);

  std::string worker_id_;
  block_once_settings settings_;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
};

}  // namespace beamline::worker::dedupe
