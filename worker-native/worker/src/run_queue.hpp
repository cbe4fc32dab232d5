#pragma once

// The hand-off between a pool's NATS callback and its runners, free of NATS and actors.
//
// Admitted blocks wait here in arrival order, and the runners with nothing to do are listed
// here too. A new block wakes one idle runner (one message, one thread wake-up); a busy runner
// takes the next block itself when it finishes, so under load a block costs no message and no
// wake-up at all. This replaces a dispatcher actor, which cost two more thread hops per block
// (callback → dispatcher, dispatcher → runner) plus a `ready` message back.
//
// Invariant (all under one mutex): while a job waits, no runner is listed idle. A runner only
// lists itself idle after finding the queue empty, and a push that finds an idle runner takes
// it off the list before anyone else can see the job; so a slow block never holds up the ones
// behind it while another runner could take them.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace beamline::worker {

template <class Job>
class run_queue {
public:
  /// Runners are numbered 0..runners-1; all start idle.
  explicit run_queue(uint32_t runners) {
    idle_.reserve(runners);
    for (uint32_t i = runners; i > 0; --i)
      idle_.push_back(i - 1);
  }
  run_queue(const run_queue&) = delete;
  run_queue& operator=(const run_queue&) = delete;

  /// Queues `job` behind the others. Returns the runner to wake when one was idle; it is no
  /// longer listed idle, and must call next_or_idle until that returns nothing.
  [[nodiscard]] std::optional<uint32_t> push(Job job) {
    std::lock_guard<std::mutex> guard{mutex_};
    jobs_.push_back(std::move(job));
    if (idle_.empty())
      return std::nullopt;
    // The most recently idle runner: its stack and caches are the warmest.
    const uint32_t runner = idle_.back();
    idle_.pop_back();
    return runner;
  }

  /// The next job for `runner`; when there is none, the runner is listed idle and will be
  /// woken by a later push. A woken runner may find nothing (a busy one took the job first).
  [[nodiscard]] std::optional<Job> next_or_idle(uint32_t runner) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (jobs_.empty()) {
      // A runner that replaced one that died while idle finds its index listed already.
      if (std::find(idle_.begin(), idle_.end(), runner) == idle_.end())
        idle_.push_back(runner);
      return std::nullopt;
    }
    std::optional<Job> job{std::move(jobs_.front())};
    jobs_.pop_front();
    return job;
  }

  /// Jobs waiting (a snapshot).
  [[nodiscard]] size_t waiting() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return jobs_.size();
  }
  /// Runners listed idle (a snapshot).
  [[nodiscard]] size_t idle_runners() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return idle_.size();
  }

private:
  mutable std::mutex mutex_;
  std::deque<Job> jobs_;
  std::vector<uint32_t> idle_;
};

} // namespace beamline::worker
