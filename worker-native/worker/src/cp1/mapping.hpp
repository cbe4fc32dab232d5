#pragma once

// How a CP1 ExecAssignment becomes a block (docs/cp1-worker.md, "Mapping"):
//   block type  = job.type, as registered (e.g. "http.request", "fs.read", "echo", a plugin's)
//   payload     = job.payload (string: its bytes; other JSON: its compact text) or job.payload_base64
//   pool        = options.pool / job.pool when given (it must be offered); else by type family:
//                 http.*, fs.*, sql.* → "io"; gpu.* → "gpu"; everything else → "cpu"; a family
//                 pool that this worker does not offer falls back to "cpu", then to the first pool
//   block_id    = assignment_id; tenant_id, deadline_ms as given; request_id and trace_id go
//                 into ExecRequest.metadata ("cp1.request_id", "cp1.trace_id").

#include "cp1/messages.hpp"

#include <string>
#include <vector>

namespace beamline::worker::cp1 {

struct block_plan {
  /// The pool to run on.
  std::string pool;
  /// The encoded beamline.worker.v2.ExecRequest.
  std::string request;
};

struct map_result {
  std::optional<block_plan> plan;
  /// Why the assignment cannot be mapped (then plan is empty).
  std::string error;
};

/// `pools` are the names of the pools this worker offers, in configuration order.
[[nodiscard]] map_result map_assignment(const exec_assignment& a,
                                        const std::vector<std::string>& pools);

/// The pool a block type runs on when the assignment names none (before fallback).
[[nodiscard]] std::string family_pool(const std::string& block_type);

} // namespace beamline::worker::cp1
