#pragma once

// The supervisor of a pool: an actor that owns the pool's runners.
//
// - It monitors every runner. A runner that ends while the pool runs (an exception in the runner,
//   an exit sent to it) is replaced by a fresh one under the same index, and the block it held is
//   answered internal_error.
// - Every tick (a quarter of the hard-deadline grace, 10..200 ms) it looks for a runner whose
//   block has run past its deadline plus the grace: that block is answered deadline_exceeded, the
//   runner is given up on (counted in PoolStatus.stuck until its block returns, when it ends by
//   itself and its late result is discarded) and a fresh runner takes its index, so the pool keeps
//   its capacity. Blocking executors run on detached runners, so the abandoned thread holds no
//   thread that another runner needs.
// - On `drain` (from the drain coordinator, drain.hpp) it stops the pool's subscription and
//   answers `drained` once the subscription delivers nothing more and nothing is queued or
//   running; runners that run dry while draining tell it (`idle`), as does the subscription when
//   it closes (`closed`), so nothing polls.
// - On an exit message (pool::shutdown) it stops its runners and ends once all of them, given-up
//   ones included, have ended.

#include "supervision/runner.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <vector>

namespace beamline::worker::detail {

/// Spawns the supervisor of `state`'s pool, which adopts `runners` (index i: runners[i], with
/// slots[i]) and monitors them.
caf::actor spawn_supervisor(caf::actor_system& sys, pool_state* state, std::vector<caf::actor> runners,
                            std::vector<std::shared_ptr<runner_slot>> slots);

} // namespace beamline::worker::detail
