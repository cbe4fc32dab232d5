// beamline-worker: runs blocks from NATS (caf.exec.v2.<pool>) through libbeamline_exec.
//
// Lifecycle: parse options (and --config) → find GPU devices → load executors and plugins →
// connect to NATS → start the actor system, one pool per --pool and the gpu pool → subscribe
// (caf.exec.v2.<pool>, and caf.exec.assign.v1 for CP1) → print the ready line → heartbeat (v2
// protobuf and v1 JSON) until SIGTERM or SIGINT → drain, coordinated by actors (stop taking work,
// finish what was admitted, within --drain-timeout-ms; see supervision/drain.hpp) → when NATS is
// connected, flush replies and a final heartbeat with draining=true → close NATS → exit 0 (1 when
// the drain timed out or a second signal came).

#include "cp1/claims.hpp"
#include "cp1/service.hpp"
#include "dedupe/block_once.hpp"
#include "exec_client.hpp"
#include "gpu/device_slots.hpp"
#include "gpu/nvml.hpp"
#include "heartbeat.hpp"
#include "log.hpp"
#include "nats_connection.hpp"
#include "options.hpp"
#include "pool.hpp"
#include "request_handler.hpp"
#include "supervision/drain.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace beamline::worker {

namespace {

std::vector<std::string> plugin_files(const std::string& dir) {
  std::vector<std::string> result;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    log_error("cannot read --plugin-dir '", dir, "'");
    return result;
  }
  while (const dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0)
      result.push_back(dir + "/" + name);
  }
  closedir(d);
  std::sort(result.begin(), result.end());
  return result;
}

void load_plugins(exec_client& exec, const std::string& dir) {
  for (const auto& path : plugin_files(dir)) {
    try {
      exec.load_plugin(path);
      log_info("loaded plugin ", path);
    } catch (const exec_error& e) {
      log_error("skipping plugin ", path, ": ", e.what());
    }
  }
}

/// Tells the main thread that the drain coordinator has reported (see run()).
constexpr int drain_done_signal = SIGUSR1;

std::vector<pool_snapshot> snapshot(const std::vector<std::unique_ptr<pool>>& pools) {
  std::vector<pool_snapshot> result;
  for (const auto& p : pools)
    result.push_back(p->snapshot());
  return result;
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
    .count();
}

/// Waits up to `ms` for SIGTERM/SIGINT; returns the signal, or 0 on timeout.
int wait_for_signal(const sigset_t& set, uint32_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
  for (;;) {
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      return 0;
    // EINTR: another signal; wait again (a shorter wait is fine for a heartbeat loop).
  }
}

/// The contents of the --executor-config file; throws std::runtime_error when it is unreadable.
std::string read_executor_config(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot open --executor-config '" + path + "'");
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  if (in.bad())
    throw std::runtime_error("cannot read --executor-config '" + path + "'");
  return text;
}

/// `signals`: SIGTERM and SIGINT; `drain_signals`: those and drain_done_signal. All blocked.
int run(const worker_options& opts, const sigset_t& signals, const sigset_t& drain_signals) {
  auto executor_config = runtime_config_json(!opts.executor_config.empty()
                                               ? read_executor_config(opts.executor_config)
                                               : opts.executor_config_json,
                                             opts.enable_diagnostics);
  if (!executor_config.error.empty())
    throw std::runtime_error(executor_config.error);
  if (opts.enable_diagnostics)
    log_info("diagnostic executors (debug.sleep, debug.hang) are enabled");

  // The gpu pool: one runner per device slot; without devices it exists with capacity 0, so
  // that heartbeats say this worker offers none.
  const auto found = opts.gpu_devices == "none" ? gpu_discovery{} : discover_gpus();
  const auto gpus = select_gpus(opts.gpu_devices, found);
  if (!gpus.error.empty())
    throw std::runtime_error(gpus.error);
  for (const auto& d : found.devices)
    log_info("gpu ", d.ordinal, ": ", d.name);
  log_info(gpus.note);
  device_slots gpu_slots{gpus.ordinals, opts.gpu_slots_per_device};

  exec_client exec{opts.worker_id, executor_config.json};
  if (!opts.plugin_dir.empty())
    load_plugins(exec, opts.plugin_dir);
  const auto executors = exec.executors();
  request_handler handler{exec, opts.worker_id};

  nats_settings connect_to;
  connect_to.servers = split_servers(opts.nats_url);
  connect_to.name = "beamline-worker " + opts.worker_id;
  connect_to.creds_file = opts.creds_file;
  connect_to.nkey_seed_file = opts.nkey_seed_file;
  connect_to.user = opts.user;
  connect_to.password = opts.password;
  connect_to.token = opts.token;
  connect_to.tls_ca = opts.tls_ca;
  connect_to.tls_cert = opts.tls_cert;
  connect_to.tls_key = opts.tls_key;
  connect_to.reconnect_wait_ms = opts.reconnect_wait_ms;
  connect_to.inbox_prefix = opts.inbox_prefix;
  nats_connection nats{connect_to};

  caf::actor_system_config cfg;
  // Every pool runner is a detached actor with its own thread (see pool.hpp), so no block runs on
  // CAF's scheduler: one thread is enough for the actor system's own actors.
  std::vector<pool_spec> specs = opts.pools;
  specs.push_back({"gpu", gpu_slots.capacity()});
  cfg.set("scheduler.max-threads", size_t{1});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};

  supervision_settings supervision;
  supervision.hard_deadline_grace = std::chrono::milliseconds{opts.hard_deadline_grace_ms};

  // Block dedupe (dedupe/block_once.hpp): declared before the pools, whose runners use it.
  std::optional<dedupe::block_once> block_once;
  if (opts.block_dedupe) {
    dedupe::block_once_settings settings;
    settings.ttl = std::chrono::milliseconds{opts.block_dedupe_ttl_ms};
    settings.grace = std::chrono::milliseconds{opts.block_dedupe_grace_ms};
    settings.idempotent_types = dedupe::idempotent_types(opts.cp1_idempotent_types);
    block_once.emplace(nats, opts.worker_id, std::move(settings));
    handler.set_gate(&*block_once);
  }

  std::vector<std::unique_ptr<pool>> pools;
  for (const auto& spec : specs)
    pools.push_back(std::make_unique<pool>(sys, nats, handler, spec.name, spec.size, opts.queue_limit,
                                           spec.name == "gpu" ? &gpu_slots : nullptr, supervision));
  for (auto& p : pools)
    p->subscribe();

  std::optional<cp1::service> cp1_service;
  if (opts.cp1) {
    std::vector<pool*> raw;
    for (auto& p : pools)
      raw.push_back(p.get());
    cp1::service_settings settings;
    settings.queue_group = opts.cp1_queue_group;
    settings.dedupe_ttl = std::chrono::milliseconds{opts.cp1_dedupe_ttl_ms};
    settings.dedupe_capacity = opts.cp1_dedupe_capacity;
    settings.dedupe_result_bytes = opts.cp1_dedupe_result_bytes;
    settings.jetstream.enabled = opts.cp1_jetstream;
    settings.jetstream.ack_wait = std::chrono::milliseconds{opts.cp1_ack_wait_ms};
    settings.jetstream.max_deliver = opts.cp1_max_deliver;
    settings.jetstream.nak_delay = std::chrono::milliseconds{opts.cp1_nak_delay_ms};
    settings.jetstream.results_ttl = std::chrono::milliseconds{opts.cp1_results_ttl_ms};
    settings.jetstream.idempotent_types = cp1::idempotent_types(opts.cp1_idempotent_types);
    cp1_service.emplace(nats, opts.worker_id, std::move(raw), std::move(settings));
    cp1_service->subscribe();
  }

  auto publish_heartbeat = [&](bool draining) {
    const auto pools_now = snapshot(pools);
    const auto hb = make_heartbeat(opts.worker_id, pools_now, executors, draining);
    if (natsStatus s = nats.publish(heartbeat_subject, hb.data(), hb.size()); s != NATS_OK)
      log_warn("heartbeat not published: ", natsStatus_GetText(s));
    if (cp1_service)
      cp1_service->publish_heartbeat(pools_now, executors, draining);
    nats.request_flush();
  };

  // The subscriptions are buffered like everything else: have the server confirm them before
  // saying ready, so that a block sent right after the ready line finds this worker.
  if (natsStatus s = nats.flush(5000); s != NATS_OK)
    log_warn("the server did not confirm the subscriptions: ", natsStatus_GetText(s));

  std::string pool_list;
  for (const auto& p : pools)
    pool_list += (pool_list.empty() ? "" : ",") + p->name() + ":" + std::to_string(p->size());
  publish_heartbeat(false);
  std::printf("beamline-worker ready worker_id=%s pools=%s\n", opts.worker_id.c_str(),
              pool_list.c_str());
  std::fflush(stdout);
  log_info("ready: worker_id=", opts.worker_id, " pools=", pool_list, " nats=", redact_url(opts.nats_url),
           " executors=", executors.size(), " cp1=", opts.cp1 ? (opts.cp1_jetstream ? "jetstream" : "on") : "off");

  int sig = 0;
  while ((sig = wait_for_signal(signals, opts.heartbeat_ms)) == 0)
    publish_heartbeat(false);

  // --- drain ---------------------------------------------------------------------------------
  // The pools' supervisors drain (supervision/supervisor.hpp) under a drain coordinator, an actor
  // that reports once: all drained, or the timeout. Nothing here waits on a dead connection.
  log_info("signal ", sig, ": draining (no new blocks; finishing queued and running ones)");
  const auto started = std::chrono::steady_clock::now();
  const auto drain_deadline = started + std::chrono::milliseconds{opts.drain_timeout_ms};
  auto ms_left = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      drain_deadline - std::chrono::steady_clock::now());
    return std::max<int64_t>(0, left.count());
  };
  // Kept for the final flush and heartbeat, so that the process still ends within the timeout.
  const auto reserve = std::chrono::milliseconds{std::min<uint32_t>(1000, opts.drain_timeout_ms / 10)};
  const bool connected = nats.connected();
  if (!connected)
    log_warn("NATS is not connected: unsubscribing without a drain (blocks the client holds but "
             "has not admitted are dropped); finishing the admitted ones");
  if (cp1_service) {
    cp1_service->stop_taking_work(connected);
    // Before the pools: an assignment still being delivered would be submitted to them.
    if (!cp1_service->wait_stopped(ms_left()))
      log_warn("cp1: subscription drain did not complete in time");
  }
  if (connected)
    publish_heartbeat(true); // control planes stop sending here at once

  std::promise<drain_outcome> reported;
  auto outcome = reported.get_future();
  const pthread_t main_thread = pthread_self();
  std::vector<caf::actor> supervisors;
  for (const auto& p : pools)
    supervisors.push_back(p->supervisor());
  const auto coordinator_timeout = std::max(
    std::chrono::milliseconds{0},
    std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline - reserve
                                                          - std::chrono::steady_clock::now()));
  start_drain(sys, std::move(supervisors), coordinator_timeout,
              [&reported, main_thread](drain_outcome result) {
                reported.set_value(result);
                pthread_kill(main_thread, drain_done_signal); // wakes the wait below
              });

  bool forced = false;
  for (;;) {
    const int s = wait_for_signal(drain_signals, static_cast<uint32_t>(ms_left()) + 1000);
    if (s == drain_done_signal) {
      if (outcome.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
        continue; // someone else's SIGUSR1
      // A drain that timed out with nothing left (a zero timeout beats every reply) is complete.
      const bool idle = std::all_of(pools.begin(), pools.end(), [](const auto& p) { return p->idle(); });
      if (outcome.get() == drain_outcome::timed_out && !idle) {
        log_warn("drain timed out after ", opts.drain_timeout_ms, " ms; blocks still running are abandoned");
        forced = true;
      }
    } else if (s == 0) {
      log_error("the drain coordinator did not report in time");
      forced = true;
    } else {
      log_warn("second signal: stopping without waiting for running blocks");
      forced = true;
    }
    break;
  }

  uint32_t stuck = 0;
  for (const auto& p : pools)
    stuck += p->stuck();
  // A flush waits for the server's PONG: without a server it would only wait out its timeout.
  if (!nats.connected()) {
    log_warn("NATS is not connected: ", nats.held_while_away(),
             " bytes of replies and heartbeats published since it went away are dropped");
  } else {
    const auto flush_ms = [&] { return std::max<int64_t>(1, std::min<int64_t>(ms_left(), 2000)); };
    if (natsStatus s = nats.flush(flush_ms()); s != NATS_OK)
      log_warn("flushing replies failed: ", natsStatus_GetText(s));
    publish_heartbeat(true);
    if (natsStatus s = nats.flush(flush_ms()); s != NATS_OK)
      log_warn("flushing the final heartbeat failed: ", natsStatus_GetText(s));
  }
  if (forced || stuck > 0) {
    // Runner threads may be inside an executor: do not wait for them.
    if (forced)
      log_warn("exiting with blocks unfinished after ", elapsed_ms(started), " ms");
    else
      log_warn("exiting with ", stuck, " stuck runner(s) still inside their executors (their ",
               "callers were answered deadline_exceeded)");
    if (nats.connected())
      nats.close();
    std::fflush(stderr);
    std::_Exit(forced ? 1 : 0);
  }
  for (auto& p : pools)
    p->shutdown();
  sys.await_all_actors_done();
  cp1_service.reset();
  pools.clear();
  nats.close();
  log_info("drained in ", elapsed_ms(started), " ms; bye");
  return 0;
}

} // namespace

} // namespace beamline::worker

int main(int argc, char** argv) {
  using namespace beamline::worker;
  // Block the stop signals before any thread starts, so that every thread (nats.c, CAF)
  // inherits the mask and only the main loop receives them, through sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigset_t drain_signals = signals;
  sigaddset(&drain_signals, drain_done_signal);
  pthread_sigmask(SIG_BLOCK, &drain_signals, nullptr);
  // A reply subject that vanished must not kill the process.
  signal(SIGPIPE, SIG_IGN);

  auto parsed = parse_options(argc, argv);
  if (!parsed.options) {
    std::fprintf(stderr, "beamline-worker: %s\n%s", parsed.error.c_str(), usage().c_str());
    return 2;
  }
  if (parsed.options->help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  set_log_format(parsed.options->log_format == "json" ? log_format::json : log_format::text);
  int rc = 1;
  try {
    rc = run(*parsed.options, signals, drain_signals);
  } catch (const std::exception& e) {
    log_error("fatal: ", e.what());
    rc = 1;
  }
  nats_CloseAndWait(2000);
  return rc;
}
