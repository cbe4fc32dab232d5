#include "supervision/drain.hpp"

#include "log.hpp"
#include "supervision/atoms.hpp"

#include <caf/all.hpp>

#include <memory>
#include <utility>

namespace beamline::worker {

namespace {

struct coordinator_state {
  size_t pending = 0;
  bool reported = false;
  static inline const char* name = "beamline.drain_coordinator";
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

caf::behavior coordinator(coordinator_actor* self, std::vector<caf::actor> supervisors,
                          std::chrono::milliseconds timeout,
                          std::function<void(drain_outcome)> done) {
  auto report = std::make_shared<std::function<void(drain_outcome)>>(
    [self, done = std::move(done)](drain_outcome outcome) {
      if (std::exchange(self->state.reported, true))
        return;
      done(outcome);
      self->quit();
    });
  self->state.pending = supervisors.size();
  auto one_more = [self, report] {
    if (--self->state.pending == 0)
      (*report)(drain_outcome::drained);
  };
  for (const auto& supervisor : supervisors)
    self->request(supervisor, caf::infinite, drain_atom::value)
      .then([one_more](drained_atom) { one_more(); },
            [one_more](const caf::error& err) {
              // A supervisor that is gone has nothing left to drain.
              log_warn("drain: a pool did not answer (", caf::to_string(err), ")");
              one_more();
            });
  if (supervisors.empty())
    (*report)(drain_outcome::drained);
  else
    self->delayed_send(self, timeout, timeout_atom::value);
  return {
    [report](timeout_atom) { (*report)(drain_outcome::timed_out); },
  };
}

} // namespace

caf::actor start_drain(caf::actor_system& sys, std::vector<caf::actor> supervisors,
                       std::chrono::milliseconds timeout, std::function<void(drain_outcome)> done) {
  return sys.spawn(coordinator, std::move(supervisors), timeout, std::move(done));
}

} // namespace beamline::worker
