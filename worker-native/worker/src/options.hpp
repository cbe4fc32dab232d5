#pragma once

// Command-line options of beamline-worker.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace beamline::worker {

struct pool_spec {
  std::string name;
  uint32_t size = 0;
};

struct worker_options {
  /// --nats URL. Defaults to nats://127.0.0.1:4222.
  std::string nats_url = "nats://127.0.0.1:4222";
  /// --worker-id ID. Defaults to "<hostname>-<pid>".
  std::string worker_id;
  /// --pool NAME=N, repeatable. Defaults to cpu=<hardware threads>.
  std::vector<pool_spec> pools;
  /// --queue-limit N: blocks that may wait per pool beyond those running. Defaults to 1024.
  uint32_t queue_limit = 1024;
  /// --plugin-dir DIR: every *.so in it is loaded as a plugin. Empty = none.
  std::string plugin_dir;
  /// --executor-config FILE: the executor configuration (JSON, see docs/executors.md).
  /// Empty = none (the executors' defaults).
  std::string executor_config;
  /// --heartbeat-ms N. Defaults to 2000.
  uint32_t heartbeat_ms = 2000;
  /// --drain-timeout-ms N: how long SIGTERM waits for queued and running blocks. Defaults to 30000.
  uint32_t drain_timeout_ms = 30000;
  /// --help
  bool help = false;
};

struct parse_result {
  std::optional<worker_options> options;
  /// Set when options is empty.
  std::string error;
};

/// Parses argv (both "--flag value" and "--flag=value"); fills the defaults that depend on the
/// machine (worker id, default pool).
[[nodiscard]] parse_result parse_options(int argc, const char* const* argv);

/// The usage text printed by --help.
[[nodiscard]] std::string usage();

} // namespace beamline::worker
