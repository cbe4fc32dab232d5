#pragma once

// The CP1 execution messages (JSON over NATS), as an existing Beamline router speaks them:
//   ExecAssignment     router → worker  on caf.exec.assign.v1
//   ExecAssignmentAck  worker → router  on caf.exec.assign.v1.ack
//   ExecResult         worker → router  on caf.exec.result.v1
//   heartbeat          worker → router  on caf.worker.heartbeat.v1
// Field by field in docs/cp1-worker.md. Decoding is strict about what it needs (types, required
// fields) and tolerant of everything else (unknown fields are ignored); it never throws.

#include "heartbeat.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::worker::cp1 {

inline constexpr const char* assign_subject = "caf.exec.assign.v1";
inline constexpr const char* ack_subject = "caf.exec.assign.v1.ack";
inline constexpr const char* result_subject = "caf.exec.result.v1";
inline constexpr const char* heartbeat_subject = "caf.worker.heartbeat.v1";
inline constexpr const char* default_queue_group = "caf-workers-cp1";

/// Larger assignments are rejected without being parsed.
inline constexpr size_t max_assignment_bytes = size_t{64} << 20;
/// Deeper JSON nesting is rejected while parsing (bounded recursion everywhere after it).
inline constexpr int max_json_depth = 64;

/// A decoded ExecAssignment: what the worker needs from it, and the ids it echoes back.
struct exec_assignment {
  std::string version;       ///< "1" (absent is taken as "1")
  std::string assignment_id; ///< required
  std::string request_id;    ///< required
  std::string tenant_id;     ///< required
  std::string trace_id;      ///< trace_id, else correlation.trace_id
  std::string provider_id;   ///< executor.provider_id (echoed as ExecResult.provider_id)
  std::string job_type;      ///< job.type: the block type
  std::string payload;       ///< job.payload as bytes (see docs/cp1-worker.md)
  std::string pool;          ///< options.pool, else job.pool; empty = chosen by type
  uint32_t deadline_ms = 0;  ///< options.deadline_ms, else deadline_ms, else job.timeout_ms
  std::string run_id, flow_id, step_id; ///< optional correlation, echoed back
};

/// The outcome of decoding. On failure `assignment` is empty, `error` says why, and the ids
/// that could be read are kept for the rejection.
struct decode_result {
  std::optional<exec_assignment> assignment;
  std::string error;
  std::string assignment_id, request_id, tenant_id, trace_id;
};

[[nodiscard]] decode_result decode_assignment(std::string_view json) noexcept;

enum class ack_status : uint8_t { accepted, rejected };

struct ack_message {
  std::string assignment_id, request_id, tenant_id, trace_id;
  ack_status status = ack_status::accepted;
  /// Why it was rejected (or "duplicate ..."); empty for a plain accept.
  std::string reason;
  bool duplicate = false;
};

[[nodiscard]] std::string encode_ack(const ack_message& ack, std::string_view worker_id,
                                     int64_t now_unix_ms);

/// What a block ended with, free of protobuf.
struct block_outcome {
  /// "success", "error", "timeout" or "cancelled".
  std::string status = "error";
  std::string error_code;
  std::string error_message;
  std::string output;
  uint64_t latency_ms = 0;
  double cost = 0.0;
};

/// The ids and names a result echoes from its assignment.
struct result_context {
  std::string assignment_id, request_id, tenant_id, trace_id, provider_id, job_type;
  std::string run_id, flow_id, step_id;
};

[[nodiscard]] result_context context_of(const exec_assignment& a);

[[nodiscard]] std::string encode_result(const result_context& ctx, const block_outcome& outcome,
                                        std::string_view worker_id, int64_t now_unix_ms);

[[nodiscard]] std::string encode_heartbeat(std::string_view worker_id,
                                           const std::vector<pool_snapshot>& pools,
                                           const std::vector<std::string>& executors,
                                           bool draining, int64_t now_unix_ms);

/// Standard base64 (RFC 4648, padded); decode accepts missing padding, refuses other junk.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

} // namespace beamline::worker::cp1
