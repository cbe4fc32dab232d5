#pragma once

// The messages of a pool's actors (runners, supervisor) and of the drain coordinator.

#include <caf/atom.hpp>

namespace beamline::worker {

/// To a runner: its pool's queue has work.
using wake_atom = caf::atom_constant<caf::atom("wake")>;
/// A supervisor to itself: look for runners past their hard deadline.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// A runner to its supervisor, while draining: it found the queue empty.
using idle_atom = caf::atom_constant<caf::atom("idle")>;
/// To a supervisor: its pool's subscription delivers nothing more.
using closed_atom = caf::atom_constant<caf::atom("closed")>;
/// The drain coordinator to a supervisor: stop taking work, answer `drained` once idle.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
/// A supervisor's answer to `drain`: nothing is queued or running any more.
using drained_atom = caf::atom_constant<caf::atom("drained")>;
/// The drain coordinator to itself: the drain timeout has passed.
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;

} // namespace beamline::worker
