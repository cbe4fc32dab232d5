#include "supervision/runner.hpp"

#include "log.hpp"
#include "supervision/atoms.hpp"
#include "tracing/wire_scan.hpp"

#include <caf/all.hpp>

#include <utility>

namespace beamline::worker::detail {

namespace {

/// Sends replies of one block to its NATS reply subject.
class nats_reply_sink final : public reply_sink {
public:
  nats_reply_sink(nats_connection& nats, const char* subject, const run_queue<block_job>& queue)
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
      log_warn("could not publish a result to ", subject_, ": ", natsStatus_GetText(s),
               nats_.connected() ? "" : " (NATS is not connected and its reconnect buffer is full)");
  }
  [[nodiscard]] size_t max_result_size() const noexcept override {
    return nats_.max_reply_size(kind_result);
  }

private:
  nats_connection& nats_;
  const char* subject_;
  const run_queue<block_job>& queue_;
  bool streamed_ = false;
};

/// The runner's view of a block's sink: nothing gets through once the supervisor has answered
/// the block instead.
class guarded_sink final : public reply_sink {
public:
  guarded_sink(runner_slot& slot, reply_sink& inner, const std::string& pool)
    : slot_(slot), inner_(inner), pool_(pool) {}

  bool send_chunk(const uint8_t* data, size_t size) override {
    std::lock_guard<std::mutex> guard{slot_.mutex};
    return !slot_.abandoned && inner_.send_chunk(data, size);
  }
  void send_result(const uint8_t* data, size_t size) override {
    std::lock_guard<std::mutex> guard{slot_.mutex};
    if (slot_.abandoned) {
      log_warn("pool ", pool_, ": a given-up block returned at last; its result is discarded (its ",
               "caller was answered deadline_exceeded)");
      return;
    }
    slot_.answered = true;
    inner_.send_result(data, size);
  }
  [[nodiscard]] size_t max_result_size() const noexcept override { return inner_.max_result_size(); }
  [[nodiscard]] bool run_once_by_caller() const noexcept override { return inner_.run_once_by_caller(); }

private:
  runner_slot& slot_;
  reply_sink& inner_;
  const std::string& pool_;
};

void run_block(pool_state& state, runner_slot& slot, block_job& job) noexcept {
  std::optional<nats_reply_sink> nats_sink;
  reply_sink* sink = job.sink.get();
  natsMsg* msg = job.msg.get();
  if (msg != nullptr) {
    nats_sink.emplace(state.nats, natsMsg_GetReply(msg), state.queue);
    sink = &*nats_sink;
  }
  guarded_sink guarded{slot, *sink, state.name};
  const auto request = job.request_bytes();
  const auto* data = reinterpret_cast<const uint8_t*>(request.data());
  std::string_view traceparent;
  if (msg != nullptr && current_log_format() == log_format::json) {
    // Only the json log has a place for the block's span; the header is not even parsed otherwise.
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, "traceparent", &value) == NATS_OK && value != nullptr)
      traceparent = value;
  }
  if (state.slots == nullptr) {
    state.handler.run(data, request.size(), job.received_at, guarded, -1, traceparent);
    return;
  }
  // The gpu pool has one runner per slot, so a slot is free unless a given-up block still holds
  // one; the lease keeps the device to this block alone and returns it when the block is done.
  try {
    if (auto lease = state.slots->try_acquire()) {
      state.handler.run(data, request.size(), job.received_at, guarded, lease->device(), traceparent);
    } else {
      const auto reply = make_error_result(data, request.size(), "resource_unavailable",
                                           "no GPU device slot is free", state.handler.worker_id(), 0);
      guarded.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    }
  } catch (...) {
    log_error("a block on the gpu pool could not be run or answered");
  }
}

/// Runs one block in `slot`. False when the supervisor gave up on it meanwhile: the runner has
/// been replaced and must end. An exception (only from before_block, a test's fault) ends the
/// runner with the block still in its slot, for the supervisor to answer.
bool run_supervised(pool_state& state, runner_slot& slot, block_job job) {
  const auto request = job.request_bytes();
  const auto deadline_ms =
    scan_request(reinterpret_cast<const uint8_t*>(request.data()), request.size()).deadline_ms;
  {
    std::lock_guard<std::mutex> guard{slot.mutex};
    slot.hard_deadline = deadline_ms > 0 ? job.received_at + std::chrono::milliseconds{deadline_ms}
                                             + state.hard_deadline_grace
                                         : steady_clock::time_point::max();
    slot.answered = false;
    slot.abandoned = false;
    slot.current.emplace(std::move(job));
    state.admission.started();
  }
  if (state.before_block)
    state.before_block(slot.current->request_bytes());
  run_block(state, slot, *slot.current);
  std::optional<block_job> done; // released outside the lock
  {
    std::lock_guard<std::mutex> guard{slot.mutex};
    done = std::move(slot.current);
    slot.current.reset();
    slot.hard_deadline = steady_clock::time_point::max();
    if (slot.abandoned)
      return false; // the supervisor answered it and counted it finished
  }
  state.admission.finished();
  return true;
}

} // namespace

std::string_view block_job::request_bytes() const noexcept {
  if (natsMsg* m = msg.get(); m != nullptr)
    return {natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))};
  return request;
}

void pool_state::wake(uint32_t index) {
  caf::actor target;
  {
    std::lock_guard<std::mutex> guard{runners_mutex_};
    target = runners_[index];
  }
  caf::anon_send(target, wake_atom::value);
}

void pool_state::set_runner(uint32_t index, caf::actor runner) {
  std::lock_guard<std::mutex> guard{runners_mutex_};
  runners_[index] = std::move(runner);
}

/// Runs blocks one at a time: when woken, everything in the queue, then it lists itself idle.
/// Spawned detached: it keeps its own thread while the queue has work, so nothing waits for it.
caf::behavior runner(caf::event_based_actor* self, pool_state* state, uint32_t index,
                     std::shared_ptr<runner_slot> slot) {
  // A fault ends the runner (its supervisor replaces it); said in the worker's log, not CAF's.
  self->set_exception_handler([state, index](caf::scheduled_actor*, std::exception_ptr& fault) -> caf::error {
    try {
      std::rethrow_exception(fault);
    } catch (const std::exception& e) {
      log_error("pool ", state->name, ": runner ", index, " failed: ", e.what());
    } catch (...) {
      log_error("pool ", state->name, ": runner ", index, " failed");
    }
    return caf::exit_reason::unhandled_exception;
  });
  return {
    [=](wake_atom) {
      while (auto job = state->queue.next_or_idle(index)) {
        if (!run_supervised(*state, *slot, std::move(*job))) {
          // Replaced: the new runner has this index (and may be listed idle under it by now).
          self->quit(caf::exit_reason::user_shutdown);
          return;
        }
      }
      // The queue ran dry: the replies buffered meanwhile go out now, in one write, rather than
      // one write per reply while more blocks were waiting.
      state->nats.request_flush();
      if (state->draining.load())
        caf::anon_send(state->supervisor, idle_atom::value);
    },
  };
}

void answer_instead(pool_state& state, block_job& job, std::string_view code,
                    std::string_view message) noexcept {
  try {
    const auto request = job.request_bytes();
    const auto reply = make_error_result(
      reinterpret_cast<const uint8_t*>(request.data()), request.size(), code, message,
      state.handler.worker_id(),
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                              steady_clock::now() - job.received_at)
                              .count()));
    const auto* data = reinterpret_cast<const uint8_t*>(reply.data());
    if (job.sink) {
      job.sink->send_result(data, reply.size());
    } else if (natsMsg* msg = job.msg.get(); msg != nullptr) {
      if (natsStatus s = state.nats.publish_reply(natsMsg_GetReply(msg), kind_result, data, reply.size());
          s != NATS_OK)
        log_warn("pool ", state.name, ": could not publish ", code, ": ", natsStatus_GetText(s));
      state.nats.request_flush();
    }
  } catch (...) {
    log_error("pool ", state.name, ": could not answer a block with ", code);
  }
}

} // namespace beamline::worker::detail
