#pragma once

// Remembers assignment ids for a while, so that a redelivered ExecAssignment (the router
// retries a publish, JetStream redelivers) is not executed twice. Bounded: at most `capacity`
// ids; past that the oldest are forgotten early (logged by the caller as a warning).

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace beamline::worker::cp1 {

class dedupe_window {
public:
  using clock = std::chrono::steady_clock;
  using clock_fn = std::function<clock::time_point()>;

  dedupe_window(std::chrono::milliseconds ttl, size_t capacity, clock_fn now = &clock::now);

  /// True when `id` was not seen within the TTL; it is then remembered from now on.
  [[nodiscard]] bool remember_if_new(const std::string& id);
  /// Forgets `id` (an assignment that was refused may be delivered again and run).
  void forget(const std::string& id);
  /// Ids remembered now (expired ones are dropped first).
  [[nodiscard]] size_t size();
  /// How many ids were forgotten before their TTL because the window was full.
  [[nodiscard]] uint64_t evicted_early() const;

private:
  void expire(clock::time_point now);

  const std::chrono::milliseconds ttl_;
  const size_t capacity_;
  clock_fn now_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, clock::time_point> seen_;
  /// In insertion order; an entry whose time differs from seen_'s is stale (forgotten or renewed).
  std::deque<std::pair<clock::time_point, std::string>> order_;
  uint64_t evicted_early_ = 0;
};

} // namespace beamline::worker::cp1
