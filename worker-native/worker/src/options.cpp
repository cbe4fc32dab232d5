#include "options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace beamline::worker {

namespace {

bool parse_u32(std::string_view text, uint32_t min, uint32_t max, uint32_t& out) {
  if (text.empty() || text.size() > 10)
    return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value < min || value > max)
    return false;
  out = static_cast<uint32_t>(value);
  return true;
}

bool valid_pool_name(std::string_view name) {
  // A pool name becomes one token of a NATS subject: no dots, wildcards or whitespace.
  return !name.empty() && name.size() <= 64
         && std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_';
            });
}

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof(host), "worker");
  return std::string{host} + "-" + std::to_string(::getpid());
}

} // namespace

std::string usage() {
  return "usage: beamline-worker [options]\n"
         "  --nats URL             NATS server (default nats://127.0.0.1:4222)\n"
         "  --worker-id ID         reported in results and heartbeats (default <host>-<pid>)\n"
         "  --pool NAME=N          a pool of N concurrent blocks on caf.exec.v2.NAME; repeatable\n"
         "                         (default cpu=<hardware threads>)\n"
         "  --queue-limit N        blocks that may wait per pool (default 1024); beyond it a block\n"
         "                         is answered resource_unavailable at once\n"
         "  --plugin-dir DIR       load every *.so in DIR as an executor plugin\n"
         "  --executor-config FILE executor configuration, a JSON object per executor family\n"
         "                         (fs, sql, http, cpu, gpu; default: none)\n"
         "  --heartbeat-ms N       heartbeat interval on caf.worker.heartbeat.v2 (default 2000)\n"
         "  --drain-timeout-ms N   on SIGTERM, how long to wait for queued and running blocks\n"
         "                         (default 30000)\n"
         "  --help                 this text\n";
}

parse_result parse_options(int argc, const char* const* argv) {
  worker_options opts;
  auto fail = [](std::string message) { return parse_result{std::nullopt, std::move(message)}; };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      opts.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--")
      return fail("unexpected argument '" + std::string{arg} + "'");
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take_value = [&]() -> bool {
      if (has_value)
        return true;
      if (i + 1 >= argc)
        return false;
      value = argv[++i];
      return true;
    };
    if (!take_value())
      return fail("option " + std::string{name} + " needs a value");
    const std::string shown = std::string{name} + " '" + std::string{value} + "'";
    if (name == "--nats") {
      if (value.empty())
        return fail("--nats needs a URL");
      opts.nats_url = std::string{value};
    } else if (name == "--worker-id") {
      if (value.empty())
        return fail("--worker-id may not be empty");
      opts.worker_id = std::string{value};
    } else if (name == "--pool") {
      const auto eq = value.find('=');
      pool_spec spec;
      if (eq == std::string_view::npos || !valid_pool_name(value.substr(0, eq))
          || !parse_u32(value.substr(eq + 1), 1, 4096, spec.size))
        return fail("invalid " + shown + ": expected NAME=N with NAME in [A-Za-z0-9_-] and N in 1..4096");
      spec.name = std::string{value.substr(0, eq)};
      for (const auto& p : opts.pools)
        if (p.name == spec.name)
          return fail("pool '" + spec.name + "' is given twice");
      opts.pools.push_back(std::move(spec));
    } else if (name == "--queue-limit") {
      if (!parse_u32(value, 0, 1'000'000, opts.queue_limit))
        return fail("invalid " + shown + ": expected 0..1000000");
    } else if (name == "--plugin-dir") {
      opts.plugin_dir = std::string{value};
    } else if (name == "--executor-config") {
      if (value.empty())
        return fail("--executor-config needs a file");
      opts.executor_config = std::string{value};
    } else if (name == "--heartbeat-ms") {
      if (!parse_u32(value, 10, 3'600'000, opts.heartbeat_ms))
        return fail("invalid " + shown + ": expected 10..3600000");
    } else if (name == "--drain-timeout-ms") {
      if (!parse_u32(value, 0, 3'600'000, opts.drain_timeout_ms))
        return fail("invalid " + shown + ": expected 0..3600000");
    } else {
      return fail("unknown option " + std::string{name});
    }
  }
  if (opts.worker_id.empty())
    opts.worker_id = default_worker_id();
  if (opts.pools.empty())
    opts.pools.push_back({"cpu", std::max(1u, std::thread::hardware_concurrency())});
  return parse_result{std::move(opts), {}};
}

} // namespace beamline::worker
