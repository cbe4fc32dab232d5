#include "cp1/mapping.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <algorithm>

namespace beamline::worker::cp1 {

namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool offered(const std::vector<std::string>& pools, const std::string& name) {
  return std::find(pools.begin(), pools.end(), name) != pools.end();
}

} // namespace

std::string family_pool(const std::string& block_type) {
  if (starts_with(block_type, "http.") || starts_with(block_type, "fs.")
      || starts_with(block_type, "sql."))
    return "io";
  if (starts_with(block_type, "gpu."))
    return "gpu";
  return "cpu";
}

map_result map_assignment(const exec_assignment& a, const std::vector<std::string>& pools) {
  map_result out;
  if (pools.empty()) {
    out.error = "this worker offers no pools";
    return out;
  }
  std::string pool;
  if (!a.pool.empty()) {
    if (!offered(pools, a.pool)) {
      out.error = "pool '" + a.pool + "' is not offered by this worker";
      return out;
    }
    pool = a.pool;
  } else {
    pool = family_pool(a.job_type);
    // A gpu block never falls back to a CPU pool: it would run without a device.
    if (!offered(pools, pool) && pool != "gpu")
      pool = offered(pools, "cpu") ? "cpu" : pools.front();
    if (!offered(pools, pool)) {
      out.error = "block type '" + a.job_type + "' needs the gpu pool, which this worker does not offer";
      return out;
    }
  }
  beamline::worker::v2::ExecRequest req;
  req.set_block_id(a.assignment_id);
  req.set_tenant_id(a.tenant_id);
  req.set_type(a.job_type);
  req.set_payload(a.payload);
  req.set_deadline_ms(a.deadline_ms);
  req.set_pool(pool);
  req.set_stream(false);
  auto& meta = *req.mutable_metadata();
  meta["cp1.request_id"] = a.request_id;
  if (!a.trace_id.empty())
    meta["cp1.trace_id"] = a.trace_id;
  block_plan plan;
  plan.pool = std::move(pool);
  if (!req.SerializeToString(&plan.request)) {
    out.error = "could not encode the block request";
    return out;
  }
  out.plan = std::move(plan);
  return out;
}

} // namespace beamline::worker::cp1
