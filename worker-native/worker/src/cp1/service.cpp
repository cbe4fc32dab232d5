#include "cp1/service.hpp"

#include "cp1/mapping.hpp"
#include "cp1/messages.hpp"
#include "log.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <climits>
#include <exception>

namespace beamline::worker::cp1 {

namespace {

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

const char* status_name(beamline::worker::v2::ExecStatus status) {
  switch (status) {
    case beamline::worker::v2::EXEC_STATUS_OK:
      return "success";
    case beamline::worker::v2::EXEC_STATUS_TIMEOUT:
      return "timeout";
    case beamline::worker::v2::EXEC_STATUS_CANCELLED:
      return "cancelled";
    default:
      return "error";
  }
}

/// Turns the block's ExecResult into a CP1 ExecResult on caf.exec.result.v1.
class result_sink final : public reply_sink {
public:
  result_sink(nats_connection& nats, service& owner, result_context ctx, std::string worker_id,
              steady_clock::time_point received_at)
    : nats_(nats), owner_(owner), ctx_(std::move(ctx)), worker_id_(std::move(worker_id)),
      received_at_(received_at) {}

  bool send_chunk(const uint8_t*, size_t) override { return true; } // CP1 blocks are not streamed

  // On JetStream the assignment's claim already runs it at most once; in core mode the block
  // gate (when on) is what keeps a redelivery on another worker from a second run.
  [[nodiscard]] bool run_once_by_caller() const noexcept override { return owner_.jetstream(); }

  void send_result(const uint8_t* data, size_t size) override {
    block_outcome outcome;
    beamline::worker::v2::ExecResult result;
    if (size <= static_cast<size_t>(INT_MAX) && result.ParseFromArray(data, static_cast<int>(size))) {
      outcome.status = status_name(result.status());
      outcome.error_code = result.error_code();
      outcome.error_message = result.error_message();
      outcome.output = std::move(*result.mutable_output());
      outcome.cost = result.cost();
    } else {
      outcome.error_code = "internal_error";
      outcome.error_message = "the block's result could not be decoded";
    }
    // From receipt, queueing included: what the router waited.
    outcome.latency_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 steady_clock::now() - received_at_)
                                                 .count());
    auto json = encode_result(ctx_, outcome, worker_id_, now_unix_ms());
    if (const int64_t max = nats_.max_payload(); static_cast<int64_t>(json.size()) > max) {
      // The server would refuse it and the router would never hear: say so instead.
      log_warn("cp1: result of assignment ", ctx_.assignment_id, " is ", json.size(),
               " bytes, over the server's max payload of ", max, "; answering result_too_large");
      const auto size_text = std::to_string(json.size());
      outcome.status = "error";
      outcome.error_code = "result_too_large";
      outcome.error_message = "the block's result of " + size_text
                              + " bytes as JSON exceeds the largest message the NATS server takes ("
                              + std::to_string(max) + " bytes)";
      outcome.output.clear();
      json = encode_result(ctx_, outcome, worker_id_, now_unix_ms());
    }
    owner_.finished(ctx_.assignment_id, std::move(json));
  }

private:
  nats_connection& nats_;
  service& owner_;
  result_context ctx_;
  std::string worker_id_;
  steady_clock::time_point received_at_;
};

} // namespace

std::unique_ptr<reply_sink> detail::make_result_sink(nats_connection& nats, service& owner,
                                                     result_context ctx, std::string worker_id,
                                                     steady_clock::time_point received_at) {
  return std::make_unique<result_sink>(nats, owner, std::move(ctx), std::move(worker_id),
                                       received_at);
}

// service::service and ~service are in service_jetstream.cpp, where js_state is complete.

void service::subscribe() {
  if (settings_.jetstream.enabled) {
    js_subscribe();
    return;
  }
  subscription_.emplace(
    nats_.queue_subscribe(assign_subject, settings_.queue_group, &service::on_message, this));
}

void service::stop_taking_work(bool drain) noexcept {
  if (js_)
    js_stop();
  if (subscription_ && !subscription_->stop(drain))
    log_warn("cp1: subscription drain failed; unsubscribed instead");
}

bool service::wait_stopped(int64_t timeout_ms) noexcept {
  if (js_)
    return js_wait_stopped(timeout_ms);
  return !subscription_ || subscription_->wait_closed(timeout_ms);
}

void service::finished(const std::string& assignment_id, std::string json) {
  if (js_) {
    js_store_and_publish(assignment_id, std::move(json));
    return;
  }
  // Kept first: a redelivery that comes once this one is lost must find it.
  dedupe_.finished(assignment_id, json);
  if (natsStatus s = nats_.publish(result_subject, json.data(), json.size()); s != NATS_OK)
    log_warn("cp1: result of assignment ", assignment_id, " not published: ", natsStatus_GetText(s));
}

void service::publish_heartbeat(const std::vector<pool_snapshot>& pools,
                                const std::vector<std::string>& executors, bool draining) {
  try {
    const auto json = encode_heartbeat(worker_id_, pools, executors, draining, now_unix_ms());
    if (natsStatus s = nats_.publish(heartbeat_subject, json.data(), json.size()); s != NATS_OK)
      log_warn("cp1 heartbeat not published: ", natsStatus_GetText(s));
  } catch (const std::exception& e) {
    log_warn("cp1 heartbeat not built: ", e.what());
  }
}

pool* service::find_pool(const std::string& name) const noexcept {
  for (auto* p : pools_)
    if (p->name() == name)
      return p;
  return nullptr;
}

void service::publish_ack(const ack_message& ack) {
  const auto json = encode_ack(ack, worker_id_, now_unix_ms());
  if (natsStatus s = nats_.publish(ack_subject, json.data(), json.size()); s != NATS_OK)
    log_warn("cp1: ack of assignment ", ack.assignment_id, " not published: ", natsStatus_GetText(s));
}

void service::reject(const result_context& ctx, const std::string& error_code,
                     const std::string& reason) {
  log_warn("cp1: rejected assignment '", ctx.assignment_id, "': ", reason);
  ack_message ack;
  ack.assignment_id = ctx.assignment_id;
  ack.request_id = ctx.request_id;
  ack.tenant_id = ctx.tenant_id;
  ack.trace_id = ctx.trace_id;
  ack.status = ack_status::rejected;
  ack.reason = reason;
  publish_ack(ack);
  if (ctx.assignment_id.empty() && ctx.request_id.empty())
    return; // nothing a router could correlate a result with
  block_outcome outcome;
  outcome.status = "error";
  outcome.error_code = error_code;
  outcome.error_message = reason;
  const auto json = encode_result(ctx, outcome, worker_id_, now_unix_ms());
  if (natsStatus s = nats_.publish(result_subject, json.data(), json.size()); s != NATS_OK)
    log_warn("cp1: result of rejected assignment not published: ", natsStatus_GetText(s));
}

void service::handle(std::string_view data, steady_clock::time_point received_at) {
  auto decoded = decode_assignment(data);
  if (!decoded.assignment) {
    result_context ctx;
    ctx.assignment_id = decoded.assignment_id;
    ctx.request_id = decoded.request_id;
    ctx.tenant_id = decoded.tenant_id;
    ctx.trace_id = decoded.trace_id;
    reject(ctx, "invalid_request", decoded.error);
    return;
  }
  const exec_assignment& a = *decoded.assignment;
  const result_context ctx = context_of(a);
  auto mapped = map_assignment(a, pool_names_);
  if (!mapped.plan) {
    reject(ctx, "resource_unavailable", mapped.error);
    return;
  }
  pool* target = find_pool(mapped.plan->pool);
  if (target == nullptr) { // map_assignment only names offered pools
    reject(ctx, "internal_error", "pool '" + mapped.plan->pool + "' vanished");
    return;
  }
  if (auto earlier = dedupe_.remember(a.assignment_id); earlier.kind != dedupe_window::seen::first) {
    const bool again = !earlier.result.empty();
    log_info("cp1: assignment '", a.assignment_id, "' was already taken; not running it again",
             again ? "; publishing its result again" : "");
    ack_message ack;
    ack.assignment_id = a.assignment_id;
    ack.request_id = a.request_id;
    ack.tenant_id = a.tenant_id;
    ack.trace_id = a.trace_id;
    ack.status = ack_status::accepted;
    ack.duplicate = true;
    ack.reason = earlier.kind == dedupe_window::seen::running
                   ? "duplicate assignment_id: already accepted by this worker, not run again; "
                     "its result follows when it finishes"
                 : again ? "duplicate assignment_id: already run by this worker, not run again; "
                           "its result is published again"
                         : "duplicate assignment_id: already run by this worker, not run again; "
                           "its result is no longer kept";
    publish_ack(ack);
    // The first result may never have reached the router: the same bytes again, so that a
    // router which did get it sees an exact duplicate.
    if (again) {
      if (natsStatus s = nats_.publish(result_subject, earlier.result.data(), earlier.result.size());
          s != NATS_OK)
        log_warn("cp1: result of assignment ", a.assignment_id, " not published again: ",
                 natsStatus_GetText(s));
    }
    return;
  }
  auto sink = detail::make_result_sink(nats_, *this, ctx, worker_id_, received_at);
  const bool admitted = target->submit(std::move(mapped.plan->request), std::move(sink), received_at, [&] {
    ack_message ack;
    ack.assignment_id = a.assignment_id;
    ack.request_id = a.request_id;
    ack.tenant_id = a.tenant_id;
    ack.trace_id = a.trace_id;
    ack.status = ack_status::accepted;
    publish_ack(ack);
  });
  if (!admitted) {
    dedupe_.forget(a.assignment_id); // refused, not taken: a redelivery may run it
    reject(ctx, "resource_unavailable",
           target->size() == 0
             ? "pool '" + target->name() + "' has no capacity on this worker"
             : "pool '" + target->name() + "' is full: its running and queued blocks are at the limit");
  }
}

void service::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  // The nats.c delivery thread: never block, never let an exception out.
  auto* self = static_cast<service*>(closure);
  const auto received_at = steady_clock::now();
  try {
    self->handle(std::string_view{natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))},
                 received_at);
    self->nats_.request_flush(); // acks (and rejections) go out now
  } catch (const std::exception& e) {
    log_error("cp1: could not handle an assignment: ", e.what());
  } catch (...) {
    log_error("cp1: could not handle an assignment");
  }
  natsMsg_Destroy(msg);
}

} // namespace beamline::worker::cp1
