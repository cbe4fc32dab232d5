#include "heartbeat.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <chrono>

namespace beamline::worker {

std::string make_heartbeat(const std::string& worker_id, const std::vector<pool_snapshot>& pools,
                           const std::vector<std::string>& executors, bool draining) {
  beamline::worker::v2::WorkerHeartbeat hb;
  hb.set_worker_id(worker_id);
  for (const auto& p : pools) {
    auto* status = hb.add_pools();
    status->set_name(p.name);
    status->set_capacity(p.capacity);
    status->set_in_flight(p.in_flight);
    status->set_queued(p.queued);
    status->set_stuck(p.stuck);
    status->set_replaced(p.replaced);
  }
  for (const auto& e : executors)
    hb.add_executors(e);
  hb.set_version(BEAMLINE_WORKER_VERSION);
  hb.set_timestamp_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
  hb.set_draining(draining);
  return hb.SerializeAsString();
}

} // namespace beamline::worker
