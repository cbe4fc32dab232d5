#pragma once

// WorkerHeartbeat, published on caf.worker.heartbeat.v2.

#include <cstdint>
#include <string>
#include <vector>

namespace beamline::worker {

inline constexpr const char* heartbeat_subject = "caf.worker.heartbeat.v2";

struct pool_snapshot {
  std::string name;
  uint32_t capacity = 0;
  uint32_t in_flight = 0;
  uint32_t queued = 0;
  /// Runners given up on whose threads still run (PoolStatus.stuck).
  uint32_t stuck = 0;
  /// Runners replaced since the start (PoolStatus.replaced).
  uint64_t replaced = 0;
};

/// Encodes a WorkerHeartbeat stamped with the current wall-clock time.
[[nodiscard]] std::string make_heartbeat(const std::string& worker_id,
                                         const std::vector<pool_snapshot>& pools,
                                         const std::vector<std::string>& executors, bool draining);

} // namespace beamline::worker
