#include "dedupe/block_once.hpp"

#include "dedupe/block_rules.hpp"
#include "jetstream_kv.hpp"
#include "log.hpp"
#include "request_handler.hpp"
#include "tracing/wire_scan.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <thread>

namespace beamline::worker::dedupe {

namespace {

constexpr int64_t ns_per_ms = 1'000'000;
/// Creates of a block's claim tried before the request is refused (each failed while the bucket
/// could be read and held neither claim nor result: NATS going away or coming back).
constexpr int max_claim_tries = 5;
/// The longest a runner keeps trying to store a result (NATS hung or restarting).
constexpr std::chrono::milliseconds max_store_retry{30'000};

/// Whether a failed store may succeed when tried again: not when the connection is closed for good
/// (the worker stops), the reply is too large for the bucket, or the worker may not write it.
bool store_may_succeed_later(natsStatus s) {
  return s != NATS_CONNECTION_CLOSED && s != NATS_MAX_PAYLOAD && s != NATS_INVALID_ARG
         && s != NATS_NOT_PERMITTED;
}

using jetstream::kv_get;
using jetstream::now_unix_ms;

/// The text of a NATS failure, naming --block-dedupe where the server has no JetStream.
std::string dedupe_error_text(natsStatus s) {
  return jetstream::error_text(s, "--block-dedupe");
}

} // namespace

block_once::block_once(nats_connection& nats, std::string worker_id, block_once_settings settings)
  : worker_id_(std::move(worker_id)), settings_(std::move(settings)) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = 5000;
  if (natsStatus s = natsConnection_JetStream(&js_, nats.native(), &options); s != NATS_OK)
    throw nats_error("block dedupe: JetStream context: " + dedupe_error_text(s), s);
  natsStatus s = js_KeyValue(&kv_, js_, blocks_bucket);
  if (s == NATS_NOT_FOUND) {
    kvConfig kv;
    kvConfig_Init(&kv);
    kv.Bucket = blocks_bucket;
    kv.Description = "Beamline CP2 block claims and results by tenant and block_id (docs/worker.md)";
    kv.History = 1;
    kv.TTL = settings_.ttl.count() * ns_per_ms;
    kv.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&kv_, js_, &kv);
    if (s != NATS_OK) // made by another worker meanwhile?
      s = js_KeyValue(&kv_, js_, blocks_bucket);
  }
  if (s != NATS_OK) {
    jsCtx_Destroy(js_);
    throw nats_error(
      std::string{"block dedupe: KV bucket "} + blocks_bucket + ": " + dedupe_error_text(s), s);
  }
  log_info("block dedupe: on; non-idempotent blocks run at most once by (tenant, block_id), bucket ",
           blocks_bucket);
}

block_once::~block_once() {
  kvStore_Destroy(kv_);
  jsCtx_Destroy(js_);
}

gate_decision block_once::before_run(const uint8_t* request, size_t size) noexcept {
  try {
    return decide(request, size);
  } catch (const std::exception& e) {
    log_error("block dedupe: ", e.what());
  } catch (...) {
    log_error("block dedupe: unknown failure");
  }
  gate_decision refused;
  refused.what = gate_decision::kind::answer;
  try {
    refused.answer = make_error_result(request, size, "internal_error",
                                       "the worker could not check whether the block already ran",
                                       worker_id_, 0);
  } catch (...) {
  }
  return refused;
}

gate_decision block_once::decide(const uint8_t* request, size_t size) {
  gate_decision decision;
  // Most blocks are idempotent or carry no block_id: told from a scan, without decoding them.
  const auto fields = scan_request(request, size);
  if (fields.block_id.empty() || settings_.idempotent_types.count(std::string{fields.type}) != 0)
    return decision;
  v2::ExecRequest req;
  if (size > static_cast<size_t>(INT_MAX) || !req.ParseFromArray(request, static_cast<int>(size)))
    return decision; // the executor answers invalid_input; nothing runs
  if (req.block_id().empty() || settings_.idempotent_types.count(req.type()) != 0)
    return decision;

  const auto answer = [&](std::string_view code, std::string_view message) {
    decision.what = gate_decision::kind::answer;
    decision.answer = make_error_result(request, size, code, message, worker_id_, 0);
    return decision;
  };
  const int64_t started = now_unix_ms();
  const int64_t own_deadline = req.deadline_ms() > 0 ? started + req.deadline_ms() : 0;
  const auto ckey = block_claim_key(req.tenant_id(), req.block_id());
  const auto rkey = block_result_key(req.tenant_id(), req.block_id());
  claim mine;
  mine.worker_id = worker_id_;
  mine.claimed_at_ms = started;
  mine.stale_at_ms =
    claim_stale_at(started, req.deadline_ms(), settings_.no_deadline.count(), settings_.grace.count());
  const auto value = encode_claim(mine);
  const natsStatus created =
    kvStore_Create(nullptr, kv_, ckey.c_str(), value.data(), static_cast<int>(value.size()));
  if (created == NATS_OK) {
    decision.what = gate_decision::kind::run_claimed;
    decision.result_key = rkey;
    decision.store_until_ms = mine.stale_at_ms;
    return decision;
  }

  // Claimed before: by a run on this or another worker. Look until it answers or is lost.
  auto pause = std::chrono::milliseconds{10};
  bool logged = false;
  int claims_tried = 1;
  while (true) {
    const auto stored = kv_get(kv_, rkey);
    if (!stored.found && stored.status != NATS_NOT_FOUND)
      return answer("resource_unavailable",
                    "the block-results bucket could not be read: " + dedupe_error_text(stored.status));
    std::optional<claim> current;
    if (!stored.found) {
      const auto read = kv_get(kv_, ckey);
      if (!read.found && read.status != NATS_NOT_FOUND)
        return answer("resource_unavailable",
                      "the block-results bucket could not be read: " + dedupe_error_text(read.status));
      if (read.found)
        current = decode_claim(read.value);
    }
    switch (on_block_claimed(stored.found, current, now_unix_ms(), own_deadline)) {
    case block_step::reply_stored:
      log_info("block dedupe: block '", req.block_id(), "' already ran; replying its stored result");
      decision.what = gate_decision::kind::answer;
      decision.answer = stored.value;
      return decision;
    case block_step::answer_lost: {
      const std::string holder = current ? current->worker_id : std::string{"?"};
      log_warn("block dedupe: block '", req.block_id(), "' was claimed by worker '", holder,
               "' and has no result; '", req.type(), "' is not idempotent: answering worker_lost");
      return answer(worker_lost_code,
                    "worker '" + holder + "' took this block and was lost before it stored a result; "
                      "block type '" + req.type()
                      + "' is not idempotent, so it is not run again: its effect is unknown");
    }
    case block_step::claim_again:
      if (kvStore_Create(nullptr, kv_, ckey.c_str(), value.data(), static_cast<int>(value.size())) == NATS_OK) {
        decision.what = gate_decision::kind::run_claimed;
        decision.result_key = rkey;
        decision.store_until_ms = mine.stale_at_ms;
        return decision;
      }
      if (++claims_tried >= max_claim_tries)
        return answer("resource_unavailable", "the block could not be claimed in the block-results bucket");
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds{200});
      break;
    case block_step::answer_deadline:
      return answer("deadline_exceeded",
                    "the block runs on worker '" + (current ? current->worker_id : std::string{"?"})
                      + "' (the same block_id was sent before); its result did not come within "
                        "this request's deadline");
    case block_step::wait:
      if (!logged) {
        log_info("block dedupe: block '", req.block_id(), "' runs on worker '", current->worker_id,
                 "'; waiting for its result");
        logged = true;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds{200});
      break;
    }
  }
}

std::string block_once::after_run(const gate_decision& decision, std::string reply) noexcept {
  // Stored before it is sent: whatever is lost after this, a retry finds it. While NATS is away
  // (restarting, a partition) the store is tried again until the claim goes stale (30 s at most):
  // until then a retry elsewhere waits for this result rather than answering worker_lost.
  try {
    auto pause = std::chrono::milliseconds{50};
    bool logged = false;
    // Never longer than max_store_retry: the runner is held meanwhile.
    const int64_t until = std::min(decision.store_until_ms, now_unix_ms() + max_store_retry.count());
    while (true) {
      const natsStatus s = kvStore_Create(nullptr, kv_, decision.result_key.c_str(), reply.data(),
                                          static_cast<int>(reply.size()));
      if (s == NATS_OK) {
        if (logged)
          log_info("block dedupe: result stored under ", decision.result_key, " after NATS returned");
        return reply;
      }
      if (auto first = kv_get(kv_, decision.result_key); first.found)
        return std::move(first.value);
      if (!store_may_succeed_later(s) || now_unix_ms() + pause.count() >= until) {
        log_warn("block dedupe: result not stored under ", decision.result_key, ": ", dedupe_error_text(s),
                 "; a retry of the block answers worker_lost once its claim is stale");
        return reply;
      }
      if (!logged) {
        log_warn("block dedupe: result not stored under ", decision.result_key, " yet: ",
                 dedupe_error_text(s), "; trying again until its claim goes stale");
        logged = true;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds{1000});
    }
  } catch (...) {
    log_error("block dedupe: result not stored");
  }
  return reply;
}

} // namespace beamline::worker::dedupe
