#include "pool.hpp"

#include "log.hpp"

#include <caf/all.hpp>

#include <utility>

namespace beamline::worker {

namespace {

/// Tells an idle runner that the queue has work.
using wake_atom = caf::atom_constant<caf::atom("wake")>;

/// Sends replies of one block to its NATS reply subject.
class nats_reply_sink final : public reply_sink {
public:
  nats_reply_sink(nats_connection& nats, const char* subject,
                  const run_queue<detail::block_job>& queue)
    : nats_(nats), subject_(subject), queue_(queue) {}

  bool send_chunk(const uint8_t* data, size_t size) override {
    streamed_ = true;
    const natsStatus s = nats_.publish_reply(subject_, kind_chunk, data, size);
    if (s != NATS_OK)
      log_warn("could not publish a chunk to ", subject_, ": ", natsStatus_GetText(s));
    nats_.request_flush(); // a stream's reader waits for each chunk
    return s == NATS_OK;
  }
  void send_result(const uint8_t* data, size_t size) override {
    // The reply that leaves the pool idle goes out at once; while blocks wait, it is batched with
    // theirs. A streamed block's result follows its chunks on their connection.
    const bool now = !streamed_ && queue_.waiting() == 0;
    const natsStatus s = nats_.publish_reply(subject_, kind_result, data, size, now);
    if (s != NATS_OK)
      log_warn("could not publish a result to ", subject_, ": ", natsStatus_GetText(s));
  }
  [[nodiscard]] size_t max_result_size() const noexcept override {
    return nats_.max_reply_size(kind_result);
  }

private:
  nats_connection& nats_;
  const char* subject_;
  const run_queue<detail::block_job>& queue_;
  bool streamed_ = false;
};

void run_block(const pool::runner_context& ctx, detail::block_job& job) noexcept {
  ctx.admission->started();
  const uint8_t* request = reinterpret_cast<const uint8_t*>(job.request.data());
  size_t size = job.request.size();
  std::optional<nats_reply_sink> nats_sink;
  reply_sink* sink = job.sink.get();
  if (natsMsg* msg = job.msg.get(); msg != nullptr) {
    request = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
    size = static_cast<size_t>(natsMsg_GetDataLength(msg));
    nats_sink.emplace(*ctx.nats, natsMsg_GetReply(msg), *ctx.queue);
    sink = &*nats_sink;
  }
  std::string_view traceparent;
  if (natsMsg* msg = job.msg.get(); msg != nullptr && current_log_format() == log_format::json) {
    // Only the json log has a place for the block's span; the header is not even parsed otherwise.
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, "traceparent", &value) == NATS_OK && value != nullptr)
      traceparent = value;
  }
  if (ctx.slots == nullptr) {
    ctx.handler->run(request, size, job.received_at, *sink, -1, traceparent);
  } else {
    // The gpu pool has one runner per slot, so a slot is always free; the lease keeps the device
    // to this block alone and returns it when the block is done.
    try {
      if (auto lease = ctx.slots->try_acquire()) {
        ctx.handler->run(request, size, job.received_at, *sink, lease->device(), traceparent);
      } else {
        const auto reply = make_error_result(request, size, "resource_unavailable",
                                             "no GPU device slot is free",
                                             ctx.handler->worker_id(), 0);
        sink->send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
      }
    } catch (...) {
      log_error("a block on the gpu pool could not be run or answered");
    }
  }
  job.msg.reset();
  job.sink.reset();
  ctx.admission->finished();
}

/// Runs blocks one at a time: when woken, everything in the queue, then it lists itself idle.
/// Spawned detached: it keeps its own thread while the queue has work, so nothing waits for it.
caf::behavior runner(caf::event_based_actor*, pool::runner_context ctx, uint32_t index) {
  return {
    [=](wake_atom) {
      while (auto job = ctx.queue->next_or_idle(index))
        run_block(ctx, *job);
      // The queue ran dry: the replies buffered meanwhile go out now, in one write, rather than
      // one write per reply while more blocks were waiting.
      ctx.nats->request_flush();
    },
  };
}

} // namespace

pool::pool(caf::actor_system& sys, nats_connection& nats, const request_handler& handler,
           std::string name, uint32_t size, uint32_t queue_limit, device_slots* slots)
  : sys_(sys), name_(std::move(name)), size_(size), nats_(nats), handler_(handler),
    admission_(size, queue_limit), queue_(size), slots_(slots) {
  const runner_context ctx{&nats_, &handler_, &admission_, &queue_, slots_};
  runners_.reserve(size);
  for (uint32_t i = 0; i < size; ++i)
    runners_.push_back(sys.spawn<caf::detached>(runner, ctx, i));
}

pool::~pool() {
  shutdown();
  try {
    caf::scoped_actor self{sys_};
    self->wait_for(runners_);
  } catch (...) {
    log_error("pool ", name_, ": could not wait for its runners to end");
  }
}

void pool::subscribe() {
  if (size_ == 0) {
    log_info("pool ", name_, ": capacity 0, not subscribing to caf.exec.v2.", name_);
    return;
  }
  subscription_.emplace(nats_.queue_subscribe("caf.exec.v2." + name_, "caf-workers-" + name_,
                                              &pool::on_message, this));
}

void pool::stop_taking_work(bool drain) noexcept {
  if (subscription_ && !subscription_->stop(drain))
    log_warn("pool ", name_, ": subscription drain failed; unsubscribed instead");
}

bool pool::wait_stopped(int64_t timeout_ms) noexcept {
  return !subscription_ || subscription_->wait_closed(timeout_ms);
}

void pool::shutdown() {
  // The NATS callback indexes into runners_: no callback may run once the actors are gone.
  if (subscription_) {
    subscription_->stop(false);
    if (!subscription_->wait_closed(5000))
      log_warn("pool ", name_, ": the NATS callback did not return within 5 s of unsubscribing");
  }
  for (auto& r : runners_)
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
}

void pool::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  // Runs on the nats.c delivery thread: never block here, never let an exception out.
  auto* self = static_cast<pool*>(closure);
  const auto received_at = steady_clock::now();
  try {
    const char* reply = natsMsg_GetReply(msg);
    if (reply == nullptr || *reply == '\0') {
      log_warn("pool ", self->name_, ": dropped a block without a reply subject");
      natsMsg_Destroy(msg);
      return;
    }
    if (!self->admission_.try_admit()) {
      const auto answer = self->handler_.reject(
        reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg)),
        static_cast<size_t>(natsMsg_GetDataLength(msg)), self->name_);
      self->nats_.publish_reply(reply, kind_result, reinterpret_cast<const uint8_t*>(answer.data()),
                                answer.size());
      self->nats_.request_flush();
      natsMsg_Destroy(msg);
      return;
    }
    detail::block_job job;
    job.msg.reset(msg);
    job.received_at = received_at;
    self->enqueue(std::move(job));
  } catch (const std::exception& e) {
    log_error("pool ", self->name_, ": could not take a block: ", e.what());
  } catch (...) {
    log_error("pool ", self->name_, ": could not take a block");
  }
}

void pool::enqueue(detail::block_job job) {
  std::optional<uint32_t> idle_runner;
  try {
    idle_runner = queue_.push(std::move(job));
  } catch (...) {
    admission_.withdraw(); // never queued: it must not keep the pool from draining
    throw;
  }
  if (idle_runner)
    caf::anon_send(runners_[*idle_runner], wake_atom::value);
}

bool pool::submit(std::string request, std::unique_ptr<reply_sink> sink,
                  steady_clock::time_point received_at, const std::function<void()>& on_admitted) {
  if (size_ == 0 || !admission_.try_admit())
    return false;
  try {
    if (on_admitted)
      on_admitted();
  } catch (...) {
    admission_.withdraw();
    throw;
  }
  detail::block_job job;
  job.received_at = received_at;
  job.request = std::move(request);
  job.sink = std::move(sink);
  enqueue(std::move(job));
  return true;
}

} // namespace beamline::worker
