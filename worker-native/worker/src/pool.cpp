#include "pool.hpp"

#include "log.hpp"
#include "supervision/atoms.hpp"
#include "supervision/supervisor.hpp"

#include <caf/all.hpp>

#include <utility>

namespace beamline::worker {

pool::pool(caf::actor_system& sys, nats_connection& nats, const request_handler& handler,
           std::string name, uint32_t size, uint32_t queue_limit, device_slots* slots,
           supervision_settings supervision)
  : sys_(sys), size_(size),
    state_(std::make_unique<detail::pool_state>(std::move(name), nats, handler, size, queue_limit,
                                                slots, supervision.hard_deadline_grace,
                                                std::move(supervision.before_block))) {
  state_->stop_taking_work = [this](bool drain) { stop_taking_work(drain); };
  state_->stopped = [this] { return !subscription_ || subscription_->wait_closed(0); };
  // The runners exist before anything can wake them; the supervisor adopts them.
  std::vector<caf::actor> runners;
  std::vector<std::shared_ptr<detail::runner_slot>> runner_slots;
  for (uint32_t i = 0; i < size; ++i) {
    runner_slots.push_back(std::make_shared<detail::runner_slot>());
    runners.push_back(sys.spawn<caf::detached>(detail::runner, state_.get(), i, runner_slots.back()));
    state_->set_runner(i, runners.back());
  }
  state_->supervisor = detail::spawn_supervisor(sys, state_.get(), std::move(runners),
                                                std::move(runner_slots));
}

pool::~pool() {
  shutdown();
  try {
    caf::scoped_actor self{sys_};
    self->wait_for(state_->supervisor);
  } catch (...) {
    log_error("pool ", state_->name, ": could not wait for its runners to end");
  }
}

void pool::subscribe() {
  if (size_ == 0) {
    log_info("pool ", state_->name, ": capacity 0, not subscribing to caf.exec.v2.", state_->name);
    return;
  }
  subscription_.emplace(state_->nats.queue_subscribe("caf.exec.v2." + state_->name,
                                                     "caf-workers-" + state_->name,
                                                     &pool::on_message, this));
  // A draining supervisor hears when the last message has been delivered.
  subscription_->on_closed(
    [supervisor = state_->supervisor] { caf::anon_send(supervisor, closed_atom::value); });
}

void pool::stop_taking_work(bool drain) noexcept {
  if (subscription_ && !subscription_->stop(drain))
    log_warn("pool ", state_->name, ": subscription drain failed; unsubscribed instead");
}

bool pool::wait_stopped(int64_t timeout_ms) noexcept {
  return !subscription_ || subscription_->wait_closed(timeout_ms);
}

pool_snapshot pool::snapshot() const noexcept {
  pool_snapshot s;
  s.name = state_->name;
  s.capacity = size_;
  s.in_flight = state_->admission.in_flight();
  s.queued = state_->admission.queued();
  s.stuck = state_->stuck.load();
  s.replaced = state_->replaced.load();
  return s;
}

void pool::shutdown() {
  if (std::exchange(shut_down_, true))
    return;
  // The NATS callback wakes runners: no callback may run once the actors are gone.
  if (subscription_) {
    subscription_->stop(false);
    if (!subscription_->wait_closed(5000))
      log_warn("pool ", state_->name, ": the NATS callback did not return within 5 s of unsubscribing");
  }
  caf::anon_send_exit(state_->supervisor, caf::exit_reason::user_shutdown);
}

void pool::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  // Runs on the nats.c delivery thread: never block here, never let an exception out.
  auto* self = static_cast<pool*>(closure);
  auto& state = *self->state_;
  const auto received_at = steady_clock::now();
  try {
    const char* reply = natsMsg_GetReply(msg);
    if (reply == nullptr || *reply == '\0') {
      log_warn("pool ", state.name, ": dropped a block without a reply subject");
      natsMsg_Destroy(msg);
      return;
    }
    if (!state.admission.try_admit()) {
      const auto answer = state.handler.reject(
        reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg)),
        static_cast<size_t>(natsMsg_GetDataLength(msg)), state.name);
      state.nats.publish_reply(reply, kind_result, reinterpret_cast<const uint8_t*>(answer.data()),
                               answer.size());
      state.nats.request_flush();
      natsMsg_Destroy(msg);
      return;
    }
    detail::block_job job;
    job.msg.reset(msg);
    job.received_at = received_at;
    self->enqueue(std::move(job));
  } catch (const std::exception& e) {
    log_error("pool ", state.name, ": could not take a block: ", e.what());
  } catch (...) {
    log_error("pool ", state.name, ": could not take a block");
  }
}

void pool::enqueue(detail::block_job job) {
  std::optional<uint32_t> idle_runner;
  try {
    idle_runner = state_->queue.push(std::move(job));
  } catch (...) {
    state_->admission.withdraw(); // never queued: it must not keep the pool from draining
    throw;
  }
  if (idle_runner)
    state_->wake(*idle_runner);
}

bool pool::submit(std::string request, std::unique_ptr<reply_sink> sink,
                  steady_clock::time_point received_at, const std::function<void()>& on_admitted) {
  if (size_ == 0 || !state_->admission.try_admit())
    return false;
  try {
    if (on_admitted)
      on_admitted();
  } catch (...) {
    state_->admission.withdraw();
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
