#include "options.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
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

const std::string inbox_prefix_rule =
  "must be subject tokens of letters, digits, '-' and '_' joined by dots (e.g. _INBOX_worker)";

bool valid_inbox_prefix(std::string_view prefix) {
  // Replies go to <prefix>.<unique>: the prefix is whole tokens, no wildcards or whitespace.
  if (prefix.empty() || prefix.size() > 128 || prefix.front() == '.' || prefix.back() == '.')
    return false;
  bool dot = false;
  for (char c : prefix) {
    const bool token_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                            || c == '-' || c == '_';
    if (c == '.' ? dot : !token_char)
      return false;
    dot = c == '.';
  }
  return true;
}

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof(host), "worker");
  return std::string{host} + "-" + std::to_string(::getpid());
}

bool valid_gpu_spec(std::string_view spec) {
  if (spec == "auto" || spec == "none")
    return true;
  if (spec.empty() || spec.front() == ',' || spec.back() == ',')
    return false;
  return std::all_of(spec.begin(), spec.end(), [](char c) { return (c >= '0' && c <= '9') || c == ','; });
}

/// A path from the config file: relative ones are taken relative to the file's folder.
std::string resolve_path(const std::string& config_file, const std::string& path) {
  if (path.empty() || path.front() == '/')
    return path;
  const auto slash = config_file.rfind('/');
  return slash == std::string::npos ? path : config_file.substr(0, slash + 1) + path;
}

/// Applies the --config file to `opts`; returns an error text, empty on success.
std::string apply_config_file(const std::string& path, worker_options& opts) {
  using json = nlohmann::json;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return "cannot open --config '" + path + "'";
  const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return "--config '" + path + "' is not valid JSON: " + e.what();
  }
  if (!doc.is_object())
    return "--config '" + path + "' must hold a JSON object";
  const std::string where = "--config '" + path + "': ";
  auto u32 = [&](const json& v, const char* key, uint32_t min, uint32_t max, uint32_t& out) -> std::string {
    if (!v.is_number_unsigned() || v.get<uint64_t>() < min || v.get<uint64_t>() > max)
      return where + "\"" + key + "\" must be an integer in " + std::to_string(min) + ".."
             + std::to_string(max);
    out = static_cast<uint32_t>(v.get<uint64_t>());
    return {};
  };
  auto str = [&](const json& v, const char* key, std::string& out) -> std::string {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      return where + "\"" + key + "\" must be a non-empty string";
    out = v.get<std::string>();
    return {};
  };
  for (const auto& [key, value] : doc.items()) {
    std::string error;
    if (key == "nats") {
      if (value.is_array()) {
        std::string list;
        for (const auto& url : value) {
          if (!url.is_string() || url.get_ref<const std::string&>().empty())
            return where + "\"nats\" must be a URL or an array of URLs";
          list += (list.empty() ? "" : ",") + url.get<std::string>();
        }
        opts.nats_url = list;
      } else {
        error = str(value, "nats", opts.nats_url);
      }
      if (error.empty() && split_servers(opts.nats_url).empty())
        return where + "\"nats\" must be a URL or an array of URLs";
    } else if (key == "creds") {
      error = str(value, "creds", opts.creds_file);
      opts.creds_file = resolve_path(path, opts.creds_file);
    } else if (key == "nkey") {
      error = str(value, "nkey", opts.nkey_seed_file);
      opts.nkey_seed_file = resolve_path(path, opts.nkey_seed_file);
    } else if (key == "user") {
      error = str(value, "user", opts.user);
    } else if (key == "password") {
      error = str(value, "password", opts.password);
    } else if (key == "token") {
      error = str(value, "token", opts.token);
    } else if (key == "tls_ca") {
      error = str(value, "tls_ca", opts.tls_ca);
      opts.tls_ca = resolve_path(path, opts.tls_ca);
    } else if (key == "tls_cert") {
      error = str(value, "tls_cert", opts.tls_cert);
      opts.tls_cert = resolve_path(path, opts.tls_cert);
    } else if (key == "inbox_prefix") {
      error = str(value, "inbox_prefix", opts.inbox_prefix);
      if (error.empty() && !valid_inbox_prefix(opts.inbox_prefix))
        error = "inbox_prefix: " + inbox_prefix_rule;
    } else if (key == "tls_key") {
      error = str(value, "tls_key", opts.tls_key);
      opts.tls_key = resolve_path(path, opts.tls_key);
    } else if (key == "worker_id") {
      error = str(value, "worker_id", opts.worker_id);
    } else if (key == "pools") {
      if (!value.is_object())
        return where + "\"pools\" must be an object of NAME: N";
      opts.pools.clear();
      for (const auto& [name, size] : value.items()) {
        pool_spec spec;
        spec.name = name;
        if (!valid_pool_name(name))
          return where + "pool name '" + name + "' must be 1..64 of [A-Za-z0-9_-]";
        if (name == "gpu")
          return where + "the gpu pool's size comes from \"gpu_devices\", not \"pools\"";
        if (auto e = u32(size, "pools", 1, 4096, spec.size); !e.empty())
          return e;
        opts.pools.push_back(std::move(spec));
      }
    } else if (key == "queue_limit") {
      error = u32(value, "queue_limit", 0, 1'000'000, opts.queue_limit);
    } else if (key == "gpu_devices") {
      if (value.is_array()) {
        std::string list;
        for (const auto& d : value) {
          if (!d.is_number_unsigned() || d.get<uint64_t>() > 1023)
            return where + "\"gpu_devices\" must hold device ordinals 0..1023";
          list += (list.empty() ? "" : ",") + std::to_string(d.get<uint64_t>());
        }
        opts.gpu_devices = list.empty() ? "none" : list;
      } else if (value.is_string() && valid_gpu_spec(value.get_ref<const std::string&>())) {
        opts.gpu_devices = value.get<std::string>();
      } else {
        return where + "\"gpu_devices\" must be \"auto\", \"none\", \"0,1\" or [0, 1]";
      }
    } else if (key == "gpu_slots_per_device") {
      error = u32(value, "gpu_slots_per_device", 1, 64, opts.gpu_slots_per_device);
    } else if (key == "plugin_dir") {
      error = str(value, "plugin_dir", opts.plugin_dir);
      opts.plugin_dir = resolve_path(path, opts.plugin_dir);
    } else if (key == "executor_config") {
      error = str(value, "executor_config", opts.executor_config);
      opts.executor_config = resolve_path(path, opts.executor_config);
    } else if (key == "executors") {
      if (!value.is_object())
        return where + "\"executors\" must be an object, one member per executor family";
      opts.executor_config_json = value.dump();
    } else if (key == "enable_diagnostics") {
      if (!value.is_boolean())
        return where + "\"enable_diagnostics\" must be true or false";
      opts.enable_diagnostics = value.get<bool>();
    } else if (key == "log_format") {
      if (!value.is_string() || (value.get<std::string>() != "text" && value.get<std::string>() != "json"))
        return where + "\"log_format\" must be \"text\" or \"json\"";
      opts.log_format = value.get<std::string>();
    } else if (key == "heartbeat_ms") {
      error = u32(value, "heartbeat_ms", 10, 3'600'000, opts.heartbeat_ms);
    } else if (key == "drain_timeout_ms") {
      error = u32(value, "drain_timeout_ms", 0, 3'600'000, opts.drain_timeout_ms);
    } else if (key == "hard_deadline_grace_ms") {
      error = u32(value, "hard_deadline_grace_ms", 0, 3'600'000, opts.hard_deadline_grace_ms);
    } else if (key == "reconnect_wait_ms") {
      error = u32(value, "reconnect_wait_ms", 10, 60'000, opts.reconnect_wait_ms);
    } else if (key == "cp1") {
      if (!value.is_object())
        return where + "\"cp1\" must be an object";
      for (const auto& [k, v] : value.items()) {
        if (k == "enabled") {
          if (!v.is_boolean())
            return where + "\"cp1.enabled\" must be true or false";
          opts.cp1 = v.get<bool>();
        } else if (k == "queue_group") {
          error = str(v, "cp1.queue_group", opts.cp1_queue_group);
        } else if (k == "dedupe_ttl_ms") {
          error = u32(v, "cp1.dedupe_ttl_ms", 0, 86'400'000, opts.cp1_dedupe_ttl_ms);
        } else if (k == "dedupe_capacity") {
          error = u32(v, "cp1.dedupe_capacity", 1, 10'000'000, opts.cp1_dedupe_capacity);
        } else if (k == "dedupe_result_bytes") {
          error = u32(v, "cp1.dedupe_result_bytes", 0, UINT32_MAX, opts.cp1_dedupe_result_bytes);
        } else if (k == "jetstream") {
          if (!v.is_boolean())
            return where + "\"cp1.jetstream\" must be true or false";
          opts.cp1_jetstream = v.get<bool>();
        } else if (k == "ack_wait_ms") {
          error = u32(v, "cp1.ack_wait_ms", 100, 3'600'000, opts.cp1_ack_wait_ms);
        } else if (k == "max_deliver") {
          error = u32(v, "cp1.max_deliver", 1, 1000, opts.cp1_max_deliver);
        } else if (k == "nak_delay_ms") {
          error = u32(v, "cp1.nak_delay_ms", 0, 3'600'000, opts.cp1_nak_delay_ms);
        } else if (k == "results_ttl_ms") {
          error = u32(v, "cp1.results_ttl_ms", 1000, UINT32_MAX, opts.cp1_results_ttl_ms);
        } else if (k == "idempotent_types") {
          std::string list;
          error = str(v, "cp1.idempotent_types", list);
          opts.cp1_idempotent_types = list;
        } else {
          return where + "unknown key \"cp1." + k + "\"";
        }
        if (!error.empty())
          return error;
      }
    } else if (key == "block_dedupe") {
      if (!value.is_object())
        return where + "\"block_dedupe\" must be an object";
      for (const auto& [k, v] : value.items()) {
        if (k == "enabled") {
          if (!v.is_boolean())
            return where + "\"block_dedupe.enabled\" must be true or false";
          opts.block_dedupe = v.get<bool>();
        } else if (k == "grace_ms") {
          error = u32(v, "block_dedupe.grace_ms", 0, 3'600'000, opts.block_dedupe_grace_ms);
        } else if (k == "ttl_ms") {
          error = u32(v, "block_dedupe.ttl_ms", 1000, UINT32_MAX, opts.block_dedupe_ttl_ms);
        } else {
          return where + "unknown key \"block_dedupe." + k + "\"";
        }
        if (!error.empty())
          return error;
      }
    } else {
      return where + "unknown key \"" + key + "\"";
    }
    if (!error.empty())
      return error;
  }
  return {};
}

/// Checks the NATS settings once file and flags are merged; returns an error text, empty when
/// they are consistent. Never quotes a password or token.
std::string check_nats_settings(const worker_options& opts) {
  if (split_servers(opts.nats_url).empty())
    return "--nats needs a URL or a comma-separated list of URLs";
  const int methods = static_cast<int>(!opts.creds_file.empty())
                      + static_cast<int>(!opts.nkey_seed_file.empty())
                      + static_cast<int>(!opts.user.empty()) + static_cast<int>(!opts.token.empty());
  if (methods > 1)
    return "--creds, --nkey, --user and --token are alternatives: give one of them";
  if (!opts.password.empty() && opts.user.empty())
    return "--password needs --user";
  if (opts.tls_cert.empty() != opts.tls_key.empty())
    return "--tls-cert and --tls-key go together";
  return {};
}

} // namespace

std::vector<std::string> split_servers(std::string_view list) {
  std::vector<std::string> result;
  for (;;) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (item.empty())
      return {};
    result.emplace_back(item);
    if (comma == std::string_view::npos)
      return result;
    list.remove_prefix(comma + 1);
  }
}

std::string redact_url(std::string_view url) {
  std::string result;
  for (;;) {
    const auto comma = url.find(',');
    std::string_view item = url.substr(0, comma);
    // scheme://[user[:password]@|token@]host:port: everything after the user goes.
    const auto scheme = item.find("://");
    const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
    const auto end = std::min(item.find('/', start), item.size());
    const auto at = item.substr(0, end).rfind('@');
    if (at != std::string_view::npos && at >= start) {
      const auto userinfo = item.substr(start, at - start);
      const auto colon = userinfo.find(':');
      result.append(item.substr(0, start));
      if (colon != std::string_view::npos)
        result.append(userinfo.substr(0, colon)).append(":***");
      else
        result.append("***");
      result.append(item.substr(at));
    } else {
      result.append(item);
    }
    if (comma == std::string_view::npos)
      return result;
    result.push_back(',');
    url.remove_prefix(comma + 1);
  }
}

runtime_config runtime_config_json(const std::string& executor_config, bool enable_diagnostics) {
  using json = nlohmann::json;
  if (!enable_diagnostics)
    return {executor_config, {}};
  json config = json::object();
  if (!executor_config.empty()) {
    try {
      config = json::parse(executor_config);
    } catch (const json::exception& e) {
      return {{}, std::string{"the executor configuration is not valid JSON: "} + e.what()};
    }
    if (!config.is_object())
      return {{}, "the executor configuration must be a JSON object, one member per executor family"};
  }
  auto& debug = config["debug"];
  if (debug.is_null())
    debug = json::object();
  if (!debug.is_object())
    return {{}, "the executor configuration's \"debug\" must be an object"};
  debug["enabled"] = true;
  return {config.dump(), {}};
}

std::string usage() {
  return "usage: beamline-worker [options]\n"
         "  --nats URL[,URL...]    NATS servers, tried in turn (default nats://127.0.0.1:4222)\n"
         "  --creds FILE           authenticate with a user JWT and NKey seed (.creds file)\n"
         "  --nkey FILE            authenticate with an NKey user seed (SU...) from FILE\n"
         "  --user NAME            authenticate with a user name, and --password PW\n"
         "  --token T              authenticate with a token\n"
         "  --tls-ca FILE          verify the server against these CA certificates (PEM); TLS on\n"
         "  --tls-cert FILE        client certificate chain (PEM), with --tls-key FILE; TLS on\n"
         "  --inbox-prefix P       prefix of the worker's reply subjects (default _INBOX), for\n"
         "                         NATS permissions that give the worker its own\n"
         "  --worker-id ID         reported in results and heartbeats (default <host>-<pid>)\n"
         "  --config FILE          worker configuration (JSON: pools, queue_limit, gpu_devices,\n"
         "                         plugin_dir, executors, cp1, ...); the flags below override it\n"
         "  --pool NAME=N          a pool of N concurrent blocks on caf.exec.v2.NAME; repeatable\n"
         "                         (default cpu=<hardware threads>)\n"
         "  --gpu-devices SPEC     the gpu pool's devices: auto (all NVML finds), none, or 0,1\n"
         "                         (default auto)\n"
         "  --gpu-slots-per-device N  blocks sharing one device at a time (default 1)\n"
         "  --queue-limit N        blocks that may wait per pool (default 1024); beyond it a block\n"
         "                         is answered resource_unavailable at once\n"
         "  --plugin-dir DIR       load every *.so in DIR as an executor plugin\n"
         "  --executor-config FILE executor configuration, a JSON object per executor family\n"
         "                         (fs, sql, http, cpu, gpu, debug; default: none)\n"
         "  --enable-diagnostics   register the diagnostic executors (debug.sleep, debug.hang);\n"
         "                         for tests and drills, not production (default off)\n"
         "  --log-format text|json how stderr lines are written; json adds a line per traced block\n"
         "                         (trace_id, span_id, parent_span_id, queue_us, exec_us)\n"
         "  --heartbeat-ms N       heartbeat interval on caf.worker.heartbeat.v2 and .v1 (default 2000)\n"
         "  --cp1 on|off           serve CP1 assignments on caf.exec.assign.v1 (default on)\n"
         "  --cp1-queue-group NAME queue group of caf.exec.assign.v1 (default caf-workers-cp1)\n"
         "  --cp1-dedupe-ttl-ms N  how long an assignment id is remembered (default 600000)\n"
         "  --cp1-dedupe-capacity N  at most this many remembered ids (default 100000)\n"
         "  --cp1-dedupe-result-bytes N  results kept for redelivered assignments, in bytes\n"
         "                         (default 67108864)\n"
         "  --cp1-jetstream on|off take assignments from the JetStream stream BEAMLINE_CP1_ASSIGN\n"
         "                         (durable consumer, results in KV; default off)\n"
         "  --cp1-ack-wait-ms N    JetStream: redelivery after a silent worker (default 30000)\n"
         "  --cp1-max-deliver N    JetStream: deliveries of one assignment at most (default 5)\n"
         "  --cp1-nak-delay-ms N   JetStream: redelivery delay after a full pool (default 1000)\n"
         "  --cp1-results-ttl-ms N JetStream: how long results and claims are kept (default 86400000)\n"
         "  --cp1-idempotent-types LIST  JetStream: block types re-run after a lost worker\n"
         "                         (comma-separated, or none; default: the read-only built-ins)\n"
         "  --block-dedupe on|off  run non-idempotent CP2 blocks at most once by (tenant, block_id)\n"
         "                         (JetStream KV beamline-block-results; default off)\n"
         "  --block-dedupe-grace-ms N  a claim is lost this long past its block's deadline (default 5000)\n"
         "  --block-dedupe-ttl-ms N  how long block claims and results are kept (default 86400000)\n"
         "  --drain-timeout-ms N   on SIGTERM, how long to wait for queued and running blocks\n"
         "                         (default 30000)\n"
         "  --hard-deadline-grace-ms N  how long past its deadline a block may run before its\n"
         "                         runner is declared stuck, answered deadline_exceeded and\n"
         "                         replaced (default 5000)\n"
         "  --reconnect-wait-ms N  wait before trying a lost NATS server again (default 500)\n"
         "  --help                 this text\n";
}

parse_result parse_options(int argc, const char* const* argv) {
  worker_options opts;
  auto fail = [](std::string message) { return parse_result{std::nullopt, std::move(message)}; };
  // The file first, so that every flag overrides it wherever it stands.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc)
      opts.config_file = argv[i + 1];
    else if (arg.rfind("--config=", 0) == 0)
      opts.config_file = std::string{arg.substr(9)};
  }
  if (!opts.config_file.empty()) {
    if (auto error = apply_config_file(opts.config_file, opts); !error.empty())
      return fail(error);
  }
  std::vector<pool_spec> flag_pools;
  bool auth_from_flags = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      opts.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--")
      return fail("unexpected argument '" + std::string{arg} + "'");
    if (arg == "--enable-diagnostics") { // a switch: it takes no value
      opts.enable_diagnostics = true;
      continue;
    }
    if (arg.rfind("--enable-diagnostics=", 0) == 0)
      return fail("--enable-diagnostics takes no value");
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
    if (name == "--config") {
      if (value.empty())
        return fail("--config needs a file");
    } else if (name == "--nats") {
      if (split_servers(value).empty())
        return fail("--nats needs a URL or a comma-separated list of URLs");
      opts.nats_url = std::string{value};
    } else if (name == "--creds" || name == "--nkey" || name == "--user" || name == "--password"
               || name == "--token") {
      // Never echo the value: it may be a secret.
      if (value.empty())
        return fail(std::string{name} + " may not be empty");
      if (!auth_from_flags) {
        // Flags choose the authentication as a whole: the file's choice would conflict.
        auth_from_flags = true;
        opts.creds_file.clear();
        opts.nkey_seed_file.clear();
        opts.user.clear();
        opts.password.clear();
        opts.token.clear();
      }
      (name == "--creds"      ? opts.creds_file
       : name == "--nkey"     ? opts.nkey_seed_file
       : name == "--user"     ? opts.user
       : name == "--password" ? opts.password
                              : opts.token) = std::string{value};
    } else if (name == "--tls-ca" || name == "--tls-cert" || name == "--tls-key") {
      if (value.empty())
        return fail(std::string{name} + " needs a file");
      (name == "--tls-ca" ? opts.tls_ca : name == "--tls-cert" ? opts.tls_cert : opts.tls_key) =
        std::string{value};
    } else if (name == "--inbox-prefix") {
      if (!valid_inbox_prefix(value))
        return fail("--inbox-prefix: " + inbox_prefix_rule);
      opts.inbox_prefix = std::string{value};
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
      if (spec.name == "gpu")
        return fail("the gpu pool's size comes from --gpu-devices (and --gpu-slots-per-device), "
                    "not --pool");
      for (const auto& p : flag_pools)
        if (p.name == spec.name)
          return fail("pool '" + spec.name + "' is given twice");
      flag_pools.push_back(std::move(spec));
    } else if (name == "--gpu-devices") {
      if (!valid_gpu_spec(value))
        return fail("invalid " + shown + ": expected auto, none or a list of device ordinals like 0,1");
      opts.gpu_devices = std::string{value};
    } else if (name == "--gpu-slots-per-device") {
      if (!parse_u32(value, 1, 64, opts.gpu_slots_per_device))
        return fail("invalid " + shown + ": expected 1..64");
    } else if (name == "--log-format") {
      if (value != "text" && value != "json")
        return fail("invalid " + shown + ": expected text or json");
      opts.log_format = std::string{value};
    } else if (name == "--cp1") {
      if (value != "on" && value != "off")
        return fail("invalid " + shown + ": expected on or off");
      opts.cp1 = value == "on";
    } else if (name == "--cp1-queue-group") {
      if (value.empty())
        return fail("--cp1-queue-group may not be empty");
      opts.cp1_queue_group = std::string{value};
    } else if (name == "--cp1-dedupe-ttl-ms") {
      if (!parse_u32(value, 0, 86'400'000, opts.cp1_dedupe_ttl_ms))
        return fail("invalid " + shown + ": expected 0..86400000");
    } else if (name == "--cp1-dedupe-capacity") {
      if (!parse_u32(value, 1, 10'000'000, opts.cp1_dedupe_capacity))
        return fail("invalid " + shown + ": expected 1..10000000");
    } else if (name == "--cp1-dedupe-result-bytes") {
      if (!parse_u32(value, 0, UINT32_MAX, opts.cp1_dedupe_result_bytes))
        return fail("invalid " + shown + ": expected 0..4294967295");
    } else if (name == "--cp1-jetstream") {
      if (value != "on" && value != "off")
        return fail("invalid " + shown + ": expected on or off");
      opts.cp1_jetstream = value == "on";
    } else if (name == "--cp1-ack-wait-ms") {
      if (!parse_u32(value, 100, 3'600'000, opts.cp1_ack_wait_ms))
        return fail("invalid " + shown + ": expected 100..3600000");
    } else if (name == "--cp1-max-deliver") {
      if (!parse_u32(value, 1, 1000, opts.cp1_max_deliver))
        return fail("invalid " + shown + ": expected 1..1000");
    } else if (name == "--cp1-nak-delay-ms") {
      if (!parse_u32(value, 0, 3'600'000, opts.cp1_nak_delay_ms))
        return fail("invalid " + shown + ": expected 0..3600000");
    } else if (name == "--cp1-results-ttl-ms") {
      if (!parse_u32(value, 1000, UINT32_MAX, opts.cp1_results_ttl_ms))
        return fail("invalid " + shown + ": expected 1000..4294967295");
    } else if (name == "--cp1-idempotent-types") {
      opts.cp1_idempotent_types = std::string{value};
    } else if (name == "--block-dedupe") {
      if (value != "on" && value != "off")
        return fail("invalid " + shown + ": expected on or off");
      opts.block_dedupe = value == "on";
    } else if (name == "--block-dedupe-grace-ms") {
      if (!parse_u32(value, 0, 3'600'000, opts.block_dedupe_grace_ms))
        return fail("invalid " + shown + ": expected 0..3600000");
    } else if (name == "--block-dedupe-ttl-ms") {
      if (!parse_u32(value, 1000, UINT32_MAX, opts.block_dedupe_ttl_ms))
        return fail("invalid " + shown + ": expected 1000..4294967295");
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
    } else if (name == "--hard-deadline-grace-ms") {
      if (!parse_u32(value, 0, 3'600'000, opts.hard_deadline_grace_ms))
        return fail("invalid " + shown + ": expected 0..3600000");
    } else if (name == "--reconnect-wait-ms") {
      if (!parse_u32(value, 10, 60'000, opts.reconnect_wait_ms))
        return fail("invalid " + shown + ": expected 10..60000");
    } else {
      return fail("unknown option " + std::string{name});
    }
  }
  if (!flag_pools.empty())
    opts.pools = std::move(flag_pools);
  if (auto error = check_nats_settings(opts); !error.empty())
    return fail(error);
  if (opts.worker_id.empty())
    opts.worker_id = default_worker_id();
  if (opts.pools.empty())
    opts.pools.push_back({"cpu", std::max(1u, std::thread::hardware_concurrency())});
  return parse_result{std::move(opts), {}};
}

} // namespace beamline::worker
