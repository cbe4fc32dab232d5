#pragma once

// The drain coordinator: on SIGTERM, one actor asks every pool's supervisor to drain (stop taking
// work, answer `drained` once nothing is queued or running) and collects their answers against
// one deadline. Whichever comes first, all answers or the deadline, it reports once and ends; the
// caller then ends the actor system (main.cpp). Nothing in it waits on NATS: a supervisor drops
// its subscription at once when the connection is down.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <functional>
#include <vector>

namespace beamline::worker {

enum class drain_outcome {
  /// Every pool answered `drained`.
  drained,
  /// The timeout passed first; what still runs is abandoned.
  timed_out,
};

/// Spawns the coordinator. `done` is called once, on an actor thread, and must not block.
caf::actor start_drain(caf::actor_system& sys, std::vector<caf::actor> supervisors,
                       std::chrono::milliseconds timeout, std::function<void(drain_outcome)> done);

} // namespace beamline::worker
