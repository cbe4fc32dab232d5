#pragma once

// Command-line options of beamline-worker.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::worker {

struct pool_spec {
  std::string name;
  uint32_t size = 0;
};

struct worker_options {
  /// --config FILE: a worker configuration (JSON, docs/operations.md); flags override it.
  std::string config_file;
  /// --nats URL[,URL...]: the servers, tried in turn when connecting and reconnecting (see
  /// split_servers). Defaults to nats://127.0.0.1:4222.
  std::string nats_url = "nats://127.0.0.1:4222";
  /// How the worker authenticates to NATS: at most one of creds, nkey, user (with password) and
  /// token. Flags given for any of them replace the file's choice as a whole.
  /// --creds FILE: a user JWT and NKey seed (the .creds file nsc writes).
  std::string creds_file;
  /// --nkey FILE: an NKey user seed ("SU..."); the public key is derived from it.
  std::string nkey_seed_file;
  /// --user NAME and --password PW.
  std::string user;
  std::string password;
  /// --token T.
  std::string token;
  /// --tls-ca FILE: CA certificates (PEM) to verify the server with; also turns TLS on.
  std::string tls_ca;
  /// --tls-cert FILE and --tls-key FILE: a client certificate chain and its key (PEM), given
  /// together; they also turn TLS on.
  std::string tls_cert;
  std::string tls_key;
  /// --inbox-prefix P (config file: "inbox_prefix"): the prefix of the worker's reply subjects
  /// (nats.c's inboxes, used by JetStream and KV), so that NATS permissions can give the worker
  /// its own (docs/operations.md, "NATS permissions"). Defaults to nats.c's "_INBOX".
  std::string inbox_prefix;
  /// --worker-id ID. Defaults to "<hostname>-<pid>".
  std::string worker_id;
  /// --pool NAME=N, repeatable; given flags replace the file's "pools". Defaults to
  /// cpu=<hardware threads>. "gpu" is not among them: its size comes from the GPU devices.
  std::vector<pool_spec> pools;
  /// --gpu-devices auto|none|0,1: the devices the gpu pool offers (see gpu/nvml.hpp).
  /// Defaults to auto (every device NVML reports; none without NVML).
  std::string gpu_devices = "auto";
  /// --gpu-slots-per-device N: blocks that may share one device at a time. Defaults to 1.
  uint32_t gpu_slots_per_device = 1;
  /// --queue-limit N: blocks that may wait per pool beyond those running. Defaults to 1024.
  uint32_t queue_limit = 1024;
  /// --plugin-dir DIR: every *.so in it is loaded as a plugin. Empty = none.
  std::string plugin_dir;
  /// --executor-config FILE: the executor configuration (JSON, see docs/executors.md).
  /// Empty = none (the executors' defaults).
  std::string executor_config;
  /// "executors" in the config file: the executor configuration inline (compact JSON). Used
  /// when no executor_config file is named.
  std::string executor_config_json;
  /// --enable-diagnostics (config file: "enable_diagnostics": true): register the diagnostic
  /// executors (debug.sleep, debug.hang), which let a caller hold a runner as long as it likes. Passed to the
  /// runtime as {"debug": {"enabled": true}} in the executor configuration (see
  /// runtime_config_json). Defaults to false.
  bool enable_diagnostics = false;
  /// --cp1 on|off: serve the CP1 contract (caf.exec.assign.v1). Defaults to on.
  bool cp1 = true;
  /// --cp1-queue-group NAME. Defaults to caf-workers-cp1.
  std::string cp1_queue_group = "caf-workers-cp1";
  /// --cp1-dedupe-ttl-ms N: how long an assignment id is remembered. Defaults to 600000.
  uint32_t cp1_dedupe_ttl_ms = 600'000;
  /// --cp1-dedupe-capacity N: at most this many ids are remembered. Defaults to 100000.
  uint32_t cp1_dedupe_capacity = 100'000;
  /// --cp1-dedupe-result-bytes N: bytes of published results kept, in all, so that a redelivered
  /// assignment gets its result again. Defaults to 67108864 (64 MiB).
  uint32_t cp1_dedupe_result_bytes = 64u << 20;
  /// --cp1-jetstream on|off: take assignments from the JetStream work-queue stream
  /// BEAMLINE_CP1_ASSIGN through the durable consumer all workers share, with results and claims
  /// in the KV bucket beamline-cp1-results (docs/cp1-worker.md). Defaults to off (core NATS).
  bool cp1_jetstream = false;
  /// --cp1-ack-wait-ms N: the consumer's ack wait (when this worker creates it): how long an
  /// assignment whose worker went silent waits before redelivery. Defaults to 30000.
  uint32_t cp1_ack_wait_ms = 30'000;
  /// --cp1-max-deliver N: deliveries of one assignment at most (consumer creation). Defaults to 5.
  uint32_t cp1_max_deliver = 5;
  /// --cp1-nak-delay-ms N: redelivery delay of an assignment refused by a full pool. Defaults to 1000.
  uint32_t cp1_nak_delay_ms = 1000;
  /// --cp1-results-ttl-ms N: how long results and claims stay in the KV bucket (bucket
  /// creation). Defaults to 86400000 (1 day).
  uint32_t cp1_results_ttl_ms = 86'400'000;
  /// --cp1-idempotent-types LIST: block types that may run again when their first worker was lost
  /// mid-block (comma-separated; "none" for none). Defaults to the read-only built-ins (cp1/claims.hpp).
  std::optional<std::string> cp1_idempotent_types;
  /// --block-dedupe on|off: run non-idempotent CP2 blocks at most once by (tenant, block_id),
  /// claims and results in the KV bucket beamline-block-results (needs JetStream; the types of
  /// --cp1-idempotent-types run as before). Defaults to off (docs/worker.md, "Block dedupe").
  bool block_dedupe = false;
  /// --block-dedupe-grace-ms N: added to a block's deadline before its claim counts as lost.
  uint32_t block_dedupe_grace_ms = 5'000;
  /// --block-dedupe-ttl-ms N: how long block claims and results are kept (bucket creation).
  uint32_t block_dedupe_ttl_ms = 86'400'000;
  /// --heartbeat-ms N. Defaults to 2000.
  uint32_t heartbeat_ms = 2000;
  /// --drain-timeout-ms N: how long SIGTERM waits for queued and running blocks. Defaults to 30000.
  uint32_t drain_timeout_ms = 30000;
  /// --hard-deadline-grace-ms N (config file: "hard_deadline_grace_ms"): how long past its
  /// deadline a block may still run before its runner is declared stuck: its caller is answered
  /// deadline_exceeded, a fresh runner takes its place and the old thread's late result is
  /// discarded (see pool.hpp). Blocks without a deadline are never declared stuck. Defaults to 5000.
  uint32_t hard_deadline_grace_ms = 5000;
  /// --reconnect-wait-ms N (config file: "reconnect_wait_ms"): how long nats.c waits before it
  /// tries a server again after losing it. Defaults to 500.
  uint32_t reconnect_wait_ms = 500;
  /// --log-format text|json (config file: "log_format"): how log lines on stderr are written.
  /// json: one JSON object a line, and a line per traced block with its trace and span ids (see
  /// log.hpp). Defaults to text.
  std::string log_format = "text";
  /// --help
  bool help = false;
};

struct parse_result {
  std::optional<worker_options> options;
  /// Set when options is empty.
  std::string error;
};

/// Parses argv (both "--flag value" and "--flag=value"), after the --config file when one is
/// named (flags override it); fills the defaults that depend on the machine (worker id,
/// default pool).
[[nodiscard]] parse_result parse_options(int argc, const char* const* argv);

/// The URLs of a --nats list ("nats://a:4222,nats://b:4222"), spaces around commas dropped;
/// empty when an element is empty.
[[nodiscard]] std::vector<std::string> split_servers(std::string_view list);

/// `url` without the password or token it may carry ("nats://u:pw@h" -> "nats://u:***@h"),
/// for logs and error messages.
[[nodiscard]] std::string redact_url(std::string_view url);

/// The executor configuration handed to the runtime, or an error.
struct runtime_config {
  std::string json;
  /// Set when json could not be built.
  std::string error;
};

/// `executor_config` (the --executor-config file's text or the file's "executors", JSON; empty =
/// none), with {"debug": {"enabled": true}} merged in when `enable_diagnostics`. Unchanged
/// otherwise: then the runtime itself reports malformed JSON.
[[nodiscard]] runtime_config runtime_config_json(const std::string& executor_config,
                                                 bool enable_diagnostics);

/// The usage text printed by --help.
[[nodiscard]] std::string usage();

} // namespace beamline::worker
