// The CP1 service in JetStream mode (docs/cp1-worker.md, "JetStream mode"): a pull loop over
// the durable consumer all workers share, and a finisher thread that stores each result in the
// KV bucket before it publishes and acks it, and keeps long blocks in progress.
//
// A delivery: claim → run → store → publish → ack; a claim that exists already: its stored
// result published again and acked (never run again), or the claimer was lost (cp1/claims.hpp).
// Fatal (undecodable) → term; retryable (full pool, pool not offered, KV unreachable) → nak with
// a delay, answered and termed on the consumer's last delivery.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cp1/claims.hpp"
#include "cp1/mapping.hpp"
#include "cp1/service.hpp"
#include "jetstream_kv.hpp"
#include "log.hpp"

namespace beamline::worker::cp1 {

namespace {

constexpr int64_t ns_per_ms = 1'000'000;
/// How long one fetch waits for assignments: also how soon the pull loop notices a stop.
constexpr int64_t fetch_timeout_ms = 1000;
/// Puller and finisher threads at most (each KV operation is a round trip).
constexpr uint32_t max_js_threads = 4;

using jetstream::kv_get;
using jetstream::now_unix_ms;

/// The text of a NATS failure, naming --cp1-jetstream where the server has no JetStream.
std::string js_error_text(natsStatus s, jsErrCode code) {
  return jetstream::error_text(s, "--cp1-jetstream", code);
}

}  // namespace

struct service::js_state {
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  /// One pull subscription per puller thread, all bound to the one durable consumer.
  std::vector<natsSubscription*> subs;
  /// What the consumer actually has (it may have been made by another worker).
  int64_t ack_wait_ms = 30'000;
  int64_t max_deliver = 5;
  int batch = 1;

  std::vector<std::thread> pullers;
  std::atomic<bool> stop_pulling{false};
  std::mutex puller_mutex;
  std::condition_variable puller_cv;
  size_t pullers_done = 0;  // guarded by puller_mutex

  std::vector<std::thread> finishers;
  std::mutex mutex;
  std::condition_variable cv;
  bool stop_finishing = false;                           // guarded by mutex
  std::deque<std::pair<std::string, std::string>> done;  // (assignment id, result JSON), by mutex
  /// The current delivery of each assignment running here, acked when its result is stored.
  std::unordered_map<std::string, natsMsg*> held;  // guarded by mutex
  /// Until when (unix ms) the result of each assignment claimed here may still be stored: its
  /// claim's stale time. A store that fails (NATS away) is tried again until then.
  std::unordered_map<std::string, int64_t> store_until;  // guarded by mutex

  ~js_state() {
    for (auto& [id, msg] : held)
      natsMsg_Destroy(msg);  // not acked: redelivered after the ack wait, and found in KV
    for (auto* sub : subs) {
      natsSubscription_Unsubscribe(sub);  // bound to the durable consumer: it stays
      natsSubscription_Destroy(sub);
    }
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
  }
};

service::service(nats_connection& nats, std::string worker_id, std::vector<pool*> pools,
                 service_settings settings)
    : nats_(nats),
      worker_id_(std::move(worker_id)),
      pools_(std::move(pools)),
      settings_(std::move(settings)),
      dedupe_(settings_.dedupe_ttl, settings_.dedupe_capacity, settings_.dedupe_result_bytes) {
  for (const auto* p : pools_) pool_names_.push_back(p->name());
}

service::~service() {
  if (!js_) return;
  js_stop();
  for (auto& puller : js_->pullers) puller.join();
  {
    std::lock_guard lock{js_->mutex};
    js_->stop_finishing = true;
  }
  js_->cv.notify_all();
  for (auto& finisher : js_->finishers) finisher.join();  // they store, publish and ack what finished
  if (nats_.connected()) (void)nats_.flush(2000);
}

void service::js_subscribe() {
  auto state = std::make_unique<js_state>();
  const auto& cfg = settings_.jetstream;
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = 5000;
  jsErrCode code{};
  if (natsStatus s = natsConnection_JetStream(&state->js, nats_.native(), &options); s != NATS_OK)
    throw nats_error("cp1: JetStream context: " + js_error_text(s, code), s);

  // The stream: normally made by the control plane (with all its allowed subjects); made here
  // with the default subject when a worker starts first.
  jsStreamInfo* stream_info = nullptr;
  natsStatus s = js_GetStreamInfo(&stream_info, state->js, js_stream, nullptr, &code);
  jsStreamInfo_Destroy(stream_info);
  stream_info = nullptr;
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    const char* subjects[] = {assign_subject};
    jsStreamConfig stream;
    jsStreamConfig_Init(&stream);
    stream.Name = js_stream;
    stream.Subjects = subjects;
    stream.SubjectsLen = 1;
    stream.Retention = js_WorkQueuePolicy;
    stream.Storage = js_FileStorage;
    stream.Duplicates = int64_t{600'000} * ns_per_ms;
    stream.MaxAge = int64_t{3'600'000} * ns_per_ms;
    code = jsErrCode{};
    s = js_AddStream(&stream_info, state->js, &stream, nullptr, &code);
    jsStreamInfo_Destroy(stream_info);
    if (s != NATS_OK && code != JSStreamNameExistErr)
      throw nats_error(std::string{"cp1: creating stream "} + js_stream + ": " + js_error_text(s, code), s);
    if (s == NATS_OK) log_info("cp1: created the JetStream stream ", js_stream, " on ", assign_subject);
  } else if (s != NATS_OK) {
    throw nats_error(std::string{"cp1: stream "} + js_stream + ": " + js_error_text(s, code), s);
  }

  // The consumer all workers share.
  jsConsumerInfo* consumer = nullptr;
  code = jsErrCode{};
  s = js_GetConsumerInfo(&consumer, state->js, js_stream, js_consumer, nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = js_consumer;
    config.Description = "Beamline CP1 workers (docs/cp1-worker.md)";
    config.AckPolicy = js_AckExplicit;
    config.AckWait = cfg.ack_wait.count() * ns_per_ms;
    config.MaxDeliver = cfg.max_deliver;
    config.FilterSubject = assign_subject;
    config.DeliverPolicy = js_DeliverAll;
    code = jsErrCode{};
    s = js_AddConsumer(&consumer, state->js, js_stream, &config, nullptr, &code);
    if (s != NATS_OK) {  // another worker may have made it meanwhile
      code = jsErrCode{};
      s = js_GetConsumerInfo(&consumer, state->js, js_stream, js_consumer, nullptr, &code);
    }
  }
  if (s != NATS_OK || consumer == nullptr)
    throw nats_error(std::string{"cp1: consumer "} + js_consumer + ": " + js_error_text(s, code), s);
  if (consumer->Config != nullptr) {
    state->ack_wait_ms = std::max<int64_t>(1, consumer->Config->AckWait / ns_per_ms);
    state->max_deliver = consumer->Config->MaxDeliver;
  }
  jsConsumerInfo_Destroy(consumer);

  // The results and claims bucket.
  s = js_KeyValue(&state->kv, state->js, js_results_bucket);
  if (s == NATS_NOT_FOUND) {
    kvConfig kv;
    kvConfig_Init(&kv);
    kv.Bucket = js_results_bucket;
    kv.Description = "Beamline CP1 results and claims by assignment id (docs/cp1-worker.md)";
    kv.History = 1;
    kv.TTL = cfg.results_ttl.count() * ns_per_ms;
    kv.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&state->kv, state->js, &kv);
    if (s != NATS_OK)  // made by another worker meanwhile?
      s = js_KeyValue(&state->kv, state->js, js_results_bucket);
  }
  if (s != NATS_OK)
    throw nats_error(std::string{"cp1: KV bucket "} + js_results_bucket + ": " + js_error_text(s, {}), s);

  jsSubOptions bind;
  jsSubOptions_Init(&bind);
  bind.Stream = js_stream;
  bind.Consumer = js_consumer;  // bound: an unsubscribe never deletes the shared consumer
  // Every KV operation is a round trip, so deliveries are handled (and results stored) by a few
  // threads side by side; fetched together, no more than the pools can start (what waits
  // fetched counts its ack wait).
  uint32_t slots = 0;
  for (const auto* p : pools_) slots += p->size();
  const uint32_t threads = std::clamp<uint32_t>(slots, 1, max_js_threads);
  state->batch = static_cast<int>(std::clamp<uint32_t>((slots + threads - 1) / threads, 1, 256));
  for (uint32_t i = 0; i < threads; ++i) {
    natsSubscription* sub = nullptr;
    code = jsErrCode{};
    s = js_PullSubscribe(&sub, state->js, assign_subject, js_consumer, &options, &bind, &code);
    if (s != NATS_OK) throw nats_error("cp1: pull subscription: " + js_error_text(s, code), s);
    state->subs.push_back(sub);
  }
  log_info("cp1: JetStream mode: stream ", js_stream, ", consumer ", js_consumer, " (ack wait ",
           state->ack_wait_ms, " ms, max deliver ", state->max_deliver, "), results in ", js_results_bucket);
  js_ = std::move(state);
  for (size_t i = 0; i < js_->subs.size(); ++i) {
    js_->finishers.emplace_back([this, i] { js_finish_loop(i == 0); });
    js_->pullers.emplace_back([this, i] { js_pull_loop(js_->subs[i]); });
  }
}

void service::js_stop() noexcept {
  js_->stop_pulling = true;
}

bool service::js_wait_stopped(int64_t timeout_ms) noexcept {
  std::unique_lock lock{js_->puller_mutex};
  return js_->puller_cv.wait_for(lock, std::chrono::milliseconds{timeout_ms},
                                 [this] { return js_->pullers_done == js_->pullers.size(); });
}

void service::js_pull_loop(natsSubscription* sub) noexcept {
  bool failing = false;
  while (!js_->stop_pulling) {
    natsMsgList list{};
    jsErrCode code{};
    const natsStatus s = natsSubscription_Fetch(&list, sub, js_->batch, fetch_timeout_ms, &code);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      if (!failing)  // once per outage, not once per second
        log_warn("cp1: fetching assignments failed: ", js_error_text(s, code), "; retrying");
      failing = true;
      natsMsgList_Destroy(&list);
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
      continue;
    }
    failing = false;
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      list.Msgs[i] = nullptr;   // ours now, not the list's
      if (js_->stop_pulling) {  // fetched as the drain began: straight back to the other workers
        natsMsg_Nak(msg, nullptr);
        natsMsg_Destroy(msg);
        continue;
      }
      try {
        js_handle(msg);
      } catch (const std::exception& e) {
        log_error("cp1: could not handle an assignment: ", e.what());
      } catch (...) {
        log_error("cp1: could not handle an assignment");
      }
    }
    natsMsgList_Destroy(&list);
    nats_.request_flush();  // acks, naks and rejections go out now
  }
  {
    std::lock_guard lock{js_->puller_mutex};
    ++js_->pullers_done;
  }
  js_->puller_cv.notify_all();
}

void service::js_handle(natsMsg* msg) {
  uint64_t delivered = 1;
  if (jsMsgMetaData* meta = nullptr; natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    delivered = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
  }
  const auto received_at = steady_clock::now();
  const std::string_view data{natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))};
  auto decoded = decode_assignment(data);
  if (!decoded.assignment) {  // fatal: no delivery will ever decode it
    result_context ctx;
    ctx.assignment_id = decoded.assignment_id;
    ctx.request_id = decoded.request_id;
    ctx.tenant_id = decoded.tenant_id;
    ctx.trace_id = decoded.trace_id;
    reject(ctx, "invalid_request", decoded.error);
    natsMsg_Term(msg, nullptr);
    natsMsg_Destroy(msg);
    return;
  }
  const exec_assignment& a = *decoded.assignment;
  const result_context ctx = context_of(a);
  auto mapped = map_assignment(a, pool_names_);
  if (!mapped.plan) {  // another worker may offer the pool
    js_refuse(msg, delivered, ctx, "resource_unavailable", mapped.error);
    return;
  }
  pool* target = find_pool(mapped.plan->pool);
  if (target == nullptr) {
    js_refuse(msg, delivered, ctx, "internal_error", "pool '" + mapped.plan->pool + "' vanished");
    return;
  }
  ack_message ack;
  ack.assignment_id = a.assignment_id;
  ack.request_id = a.request_id;
  ack.tenant_id = a.tenant_id;
  ack.trace_id = a.trace_id;
  ack.status = ack_status::accepted;

  // Claim it: exactly one worker starts an assignment. The usual delivery wins at once (one KV
  // write); a result is only ever stored under a claim, so only a lost claim needs a look at it.
  const auto ckey = claim_key(a.assignment_id);
  const auto claimed_at = now_unix_ms();
  const auto stale_at = claim_stale_at(claimed_at, a.deadline_ms, js_->ack_wait_ms);
  const auto claim = encode_claim(worker_id_, claimed_at, stale_at);
  uint64_t revision = 0;
  if (kvStore_Create(&revision, js_->kv, ckey.c_str(), claim.data(), static_cast<int>(claim.size())) !=
      NATS_OK) {
    {
      std::lock_guard lock{js_->mutex};
      if (auto it = js_->held.find(a.assignment_id); it != js_->held.end()) {
        // on_claimed(running_here) == wait_running: a redelivery after a missed ack wait.
        natsMsg_Destroy(it->second);  // the newest delivery is the one to ack
        it->second = msg;
        natsMsg_InProgress(msg, nullptr);
        log_info("cp1: assignment '", a.assignment_id,
                 "' redelivered while it runs here; its "
                 "result follows once");
        return;
      }
    }
    const auto existing = kv_get(js_->kv, ckey);
    if (!existing.found) {
      js_refuse(msg, delivered, ctx, "resource_unavailable",
                std::string{"the claim could not be written: "} + natsStatus_GetText(existing.status));
      return;
    }
    // Answered before (here or on another worker): the stored result again, never a second run.
    const auto stored = kv_get(js_->kv, result_key(a.assignment_id));
    if (stored.found) {
      log_info("cp1: assignment '", a.assignment_id, "' (delivery ", delivered,
               ") has a stored result; publishing it again, not running it again");
      ack.duplicate = true;
      ack.reason =
          "duplicate assignment_id: already run, not run again; its stored result is "
          "published again";
      publish_ack(ack);
      if (natsStatus s = nats_.publish(result_subject, stored.value.data(), stored.value.size());
          s != NATS_OK)
        log_warn("cp1: stored result of ", a.assignment_id, " not published: ", natsStatus_GetText(s));
      natsMsg_Ack(msg, nullptr);
      natsMsg_Destroy(msg);
      return;
    }
    if (stored.status != NATS_NOT_FOUND) {
      js_refuse(msg, delivered, ctx, "resource_unavailable",
                std::string{"the results bucket could not be read: "} + natsStatus_GetText(stored.status));
      return;
    }
    const bool idempotent = settings_.jetstream.idempotent_types.count(a.job_type) != 0;
    const auto holder = claim_holder(existing.value).value_or("?");
    const auto now = now_unix_ms();
    const bool last = on_refused(delivered, js_->max_deliver) == refused_step::give_up;
    switch (on_claimed(false, idempotent, claim_live(existing.value, now), last)) {
      case claimed_step::wait_holder: {
        const auto wait = wait_for_claim_ms(existing.value, now, js_->ack_wait_ms);
        log_info("cp1: assignment '", a.assignment_id, "' (delivery ", delivered, ") is claimed by worker '", holder,
                 "', which may still store its result; looking again in ", wait, " ms");
        natsMsg_NakWithDelay(msg, wait, nullptr);
        natsMsg_Destroy(msg);
        return;
      }
      case claimed_step::wait_running:  // handled above
      case claimed_step::run_again:
        if (kvStore_Update(&revision, js_->kv, ckey.c_str(), claim.data(), static_cast<int>(claim.size()),
                           existing.revision) != NATS_OK) {
          js_refuse(msg, delivered, ctx, "resource_unavailable", "the claim was taken meanwhile");
          return;
        }
        log_warn("cp1: assignment '", a.assignment_id, "' was claimed by worker '", holder,
                 "' and has no result; '", a.job_type, "' is idempotent: running it again");
        break;
      case claimed_step::answer_lost: {
        log_warn("cp1: assignment '", a.assignment_id, "' was claimed by worker '", holder,
                 "' and has no result; '", a.job_type,
                 "' is not idempotent: answering worker_lost, not running it again");
        block_outcome outcome;
        outcome.status = "error";
        outcome.error_code = worker_lost_code;
        outcome.error_message = "worker '" + holder +
                                "' took this assignment and was lost before "
                                "it stored a result; block type '" +
                                a.job_type +
                                "' is not idempotent, so it is not run again: its effect is unknown";
        ack.status = ack_status::rejected;
        ack.reason = outcome.error_message;
        publish_ack(ack);
        {
          std::lock_guard lock{js_->mutex};
          js_->held.emplace(a.assignment_id, msg);  // acked once the answer is stored
        }
        js_store_and_publish(a.assignment_id, encode_result(ctx, outcome, worker_id_, now_unix_ms()));
        return;
      }
    }
  }

  {
    std::lock_guard lock{js_->mutex};
    js_->held[a.assignment_id] = msg;  // before submit: the block may finish at once
    js_->store_until[a.assignment_id] = stale_at;
  }
  auto sink = detail::make_result_sink(nats_, *this, ctx, worker_id_, received_at);
  const bool admitted = target->submit(std::move(mapped.plan->request), std::move(sink), received_at,
                                       [&] { publish_ack(ack); });
  if (!admitted) {
    {
      std::lock_guard lock{js_->mutex};
      js_->held.erase(a.assignment_id);
      js_->store_until.erase(a.assignment_id);
    }
    kvStore_Delete(js_->kv, ckey.c_str());  // not started: the next delivery claims it afresh
    js_refuse(msg, delivered, ctx, "resource_unavailable",
              target->size() == 0
                  ? "pool '" + target->name() + "' has no capacity on this worker"
                  : "pool '" + target->name() + "' is full: its running and queued blocks are at the limit");
  }
}

void service::js_refuse(natsMsg* msg, uint64_t delivered, const result_context& ctx,
                        const std::string& error_code, const std::string& reason) {
  if (on_refused(delivered, js_->max_deliver) == refused_step::retry) {
    log_info("cp1: assignment '", ctx.assignment_id, "' (delivery ", delivered, ") nak'd: ", reason,
             "; redelivered in ", settings_.jetstream.nak_delay.count(), " ms");
    natsMsg_NakWithDelay(msg, settings_.jetstream.nak_delay.count(), nullptr);
  } else {
    reject(ctx, error_code, reason + " (last of " + std::to_string(js_->max_deliver) + " deliveries)");
    natsMsg_Term(msg, nullptr);
  }
  natsMsg_Destroy(msg);
}

void service::js_store_and_publish(const std::string& assignment_id, std::string json) {
  {
    std::lock_guard lock{js_->mutex};
    js_->done.emplace_back(assignment_id, std::move(json));
  }
  js_->cv.notify_one();
}

void service::js_store_result(const std::string& id, std::string& json, int64_t store_until) {
  // Stored before it is published and acked: whatever is lost after this, a redelivery finds it.
  // The first stored answer wins (a worker_lost written meanwhile, say): publish that one. While
  // NATS is away the store is tried again until the claim goes stale, so that a worker cut off
  // mid-block still answers with its result rather than leave the redelivery to guess worker_lost.
  const auto key = result_key(id);
  auto wait = std::chrono::milliseconds{50};
  while (true) {
    if (kvStore_Create(nullptr, js_->kv, key.c_str(), json.data(), static_cast<int>(json.size())) == NATS_OK)
      return;
    auto first = kv_get(js_->kv, key);
    if (first.found) {
      log_warn("cp1: assignment '", id, "' already has a stored answer; publishing that one");
      json = std::move(first.value);
      return;
    }
    if (now_unix_ms() + wait.count() >= store_until) {
      log_warn("cp1: result of assignment '", id, "' not stored: ", natsStatus_GetText(first.status));
      return;
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds{500});
  }
}

void service::js_finish_loop(bool ticks) noexcept {
  // In-progress acks well inside the ack wait keep a long block's assignment from redelivery
  // (sent by one finisher for all).
  const auto tick = std::chrono::milliseconds{std::max<int64_t>(50, js_->ack_wait_ms / 3)};
  auto next_tick = steady_clock::now() + tick;
  std::unique_lock lock{js_->mutex};
  while (true) {
    js_->cv.wait_until(lock, next_tick, [this] { return js_->stop_finishing || !js_->done.empty(); });
    if (steady_clock::now() >= next_tick) {
      if (ticks) {
        for (auto& [id, msg] : js_->held) natsMsg_InProgress(msg, nullptr);
        nats_.request_flush();
      }
      next_tick = steady_clock::now() + tick;
    }
    if (js_->done.empty()) {
      if (js_->stop_finishing) return;
      continue;
    }
    auto [id, json] = std::move(js_->done.front());
    js_->done.pop_front();
    int64_t store_until = 0;
    if (auto it = js_->store_until.find(id); it != js_->store_until.end()) {
      store_until = it->second;
      js_->store_until.erase(it);
    }
    lock.unlock();
    try {
      js_store_result(id, json, store_until);
      if (natsStatus s = nats_.publish(result_subject, json.data(), json.size()); s != NATS_OK)
        log_warn("cp1: result of assignment ", id, " not published: ", natsStatus_GetText(s));
    } catch (const std::exception& e) {
      log_error("cp1: result of assignment '", id, "': ", e.what());
    }
    lock.lock();
    if (auto it = js_->held.find(id); it != js_->held.end()) {
      natsMsg_Ack(it->second, nullptr);
      natsMsg_Destroy(it->second);
      js_->held.erase(it);
    }
    nats_.request_flush();
  }
}

}  // namespace beamline::worker::cp1
