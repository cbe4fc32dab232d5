#include "supervision/supervisor.hpp"

#include "log.hpp"
#include "supervision/atoms.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <utility>

namespace beamline::worker::detail {

namespace {

struct runner_record {
  caf::actor actor;
  std::shared_ptr<runner_slot> slot;
};

struct supervisor_state {
  /// The runner of each index.
  std::vector<runner_record> live;
  /// Runners given up on whose blocks still run.
  std::vector<runner_record> stuck;
  /// The coordinator's `drain`, answered once drained.
  caf::response_promise drained;
  bool draining = false;
  bool answered_drain = false;
  /// The subscription was dropped without a drain.
  bool dropped_subscription = false;
  /// Set by an exit message: runners that end now are not replaced.
  bool stopping = false;

  static inline const char* name = "beamline.pool_supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

std::chrono::milliseconds tick_interval(std::chrono::milliseconds grace) {
  return std::clamp(grace / 4, std::chrono::milliseconds{10}, std::chrono::milliseconds{200});
}

/// Replaces the runner of `index` by a fresh one, which takes what waits in the queue.
void replace(supervisor_actor* self, pool_state* state, uint32_t index) {
  auto slot = std::make_shared<runner_slot>();
  auto fresh = self->spawn<caf::detached + caf::monitored>(runner, state, index, slot);
  self->state.live[index] = {fresh, std::move(slot)};
  state->set_runner(index, fresh);
  // Like a runner that finished a block: it takes the next one or lists itself idle.
  self->send(fresh, wake_atom::value);
}

void check_drained(supervisor_actor* self, pool_state* state) {
  auto& st = self->state;
  if (!st.draining || st.answered_drain || !state->stopped() || !state->admission.idle())
    return;
  st.answered_drain = true;
  log_info("pool ", state->name, ": drained");
  st.drained.deliver(drained_atom::value);
}

/// A subscription drain waits for the server; when the connection is lost meanwhile, it would only
/// wait out nats.c's drain timeout, so the subscription is dropped instead (what the client still
/// holds is lost, as on a SIGTERM while NATS is gone).
void drop_subscription_when_nats_is_gone(supervisor_actor* self, pool_state* state) {
  auto& st = self->state;
  if (!st.draining || st.answered_drain || st.dropped_subscription || state->nats.connected()
      || state->stopped())
    return;
  st.dropped_subscription = true;
  log_warn("pool ", state->name, ": NATS went away during the drain; unsubscribing without it");
  state->stop_taking_work(false);
}

void quit_when_all_ended(supervisor_actor* self) {
  auto& st = self->state;
  const bool none_live = std::all_of(st.live.begin(), st.live.end(),
                                     [](const runner_record& r) { return !r.actor; });
  if (st.stopping && none_live && st.stuck.empty())
    self->quit(caf::exit_reason::user_shutdown);
}

/// Gives up on every runner whose block ran past its hard deadline.
void look_for_stuck(supervisor_actor* self, pool_state* state) {
  const auto now = steady_clock::now();
  auto& st = self->state;
  for (uint32_t index = 0; index < st.live.size(); ++index) {
    auto& record = st.live[index];
    if (!record.actor)
      continue;
    {
      auto& slot = *record.slot;
      std::lock_guard<std::mutex> guard{slot.mutex};
      if (!slot.current || slot.answered || slot.abandoned || now < slot.hard_deadline)
        continue;
      slot.abandoned = true;
      // Counted before the caller hears of it, so that what it sees next adds up.
      state->admission.finished(); // the capacity it held is the fresh runner's now
      state->stuck.fetch_add(1);
      state->replaced.fetch_add(1);
      answer_instead(*state, *slot.current, "deadline_exceeded",
                     "the block ran past its deadline and the worker's hard-deadline grace of "
                       + std::to_string(state->hard_deadline_grace.count())
                       + " ms; its runner was given up on");
    }
    log_warn("pool ", state->name, ": runner ", index, " is stuck in a block past its deadline plus ",
             state->hard_deadline_grace.count(), " ms; answered deadline_exceeded and replaced it");
    st.stuck.push_back(std::move(record));
    replace(self, state, index);
  }
}

/// A monitored runner ended.
void on_down(supervisor_actor* self, pool_state* state, const caf::down_msg& down) {
  auto& st = self->state;
  auto same = [&](const runner_record& r) { return r.actor && r.actor.address() == down.source; };
  if (auto it = std::find_if(st.stuck.begin(), st.stuck.end(), same); it != st.stuck.end()) {
    // A given-up runner's block returned at last (its result was discarded): it ended itself.
    st.stuck.erase(it);
    state->stuck.fetch_sub(1);
    quit_when_all_ended(self);
    return;
  }
  auto it = std::find_if(st.live.begin(), st.live.end(), same);
  if (it == st.live.end())
    return;
  const auto index = static_cast<uint32_t>(it - st.live.begin());
  if (st.stopping) {
    it->actor = nullptr;
    quit_when_all_ended(self);
    return;
  }
  log_error("pool ", state->name, ": runner ", index, " ended (", caf::to_string(down.reason),
            "); replacing it");
  {
    auto& slot = *it->slot;
    std::lock_guard<std::mutex> guard{slot.mutex};
    state->replaced.fetch_add(1);
    if (slot.current && !slot.abandoned) {
      state->admission.finished();
      if (!slot.answered)
        answer_instead(*state, *slot.current, "internal_error",
                       "the worker's runner failed while running this block");
      slot.current.reset();
    }
  }
  replace(self, state, index);
  check_drained(self, state);
}

caf::behavior supervisor(supervisor_actor* self, pool_state* state, std::vector<caf::actor> runners,
                         std::vector<std::shared_ptr<runner_slot>> slots) {
  for (size_t i = 0; i < runners.size(); ++i) {
    self->monitor(runners[i]);
    self->state.live.push_back({std::move(runners[i]), std::move(slots[i])});
  }
  self->set_down_handler([=](caf::down_msg& down) { on_down(self, state, down); });
  self->set_exit_handler([=](caf::exit_msg&) {
    auto& st = self->state;
    if (st.stopping)
      return;
    st.stopping = true;
    for (auto& r : st.live)
      if (r.actor)
        self->send_exit(r.actor, caf::exit_reason::user_shutdown);
    quit_when_all_ended(self);
  });
  const auto interval = tick_interval(state->hard_deadline_grace);
  self->delayed_send(self, interval, tick_atom::value);
  return {
    [=](tick_atom) {
      if (self->state.stopping)
        return;
      look_for_stuck(self, state);
      drop_subscription_when_nats_is_gone(self, state);
      check_drained(self, state);
      self->delayed_send(self, interval, tick_atom::value);
    },
    [=](idle_atom) { check_drained(self, state); },
    [=](closed_atom) { check_drained(self, state); },
    [=](drain_atom) -> caf::result<drained_atom> {
      auto& st = self->state;
      st.drained = self->make_response_promise();
      if (!st.draining) {
        st.draining = true;
        state->draining.store(true);
        // A drain needs the server (it flushes an UNSUB): while NATS is gone it could only wait
        // out the timeout, so then the subscription is dropped at once.
        st.dropped_subscription = !state->nats.connected();
        state->stop_taking_work(!st.dropped_subscription);
      }
      st.answered_drain = false;
      check_drained(self, state);
      return st.drained;
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, pool_state* state, std::vector<caf::actor> runners,
                            std::vector<std::shared_ptr<runner_slot>> slots) {
  return sys.spawn(supervisor, state, std::move(runners), std::move(slots));
}

} // namespace beamline::worker::detail
