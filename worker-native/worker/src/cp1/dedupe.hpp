#pragma once

// Remembers assignment ids for a while, with the result published for each, so that a
// redelivered ExecAssignment (the router retries a publish, JetStream redelivers) is not executed
// twice and still gets its result: the first one may have been lost on the way. Bounded: at most
// `capacity` ids (past that the oldest are forgotten early, counted in evicted_early) and
// `result_bytes` of results in all (past that the oldest results are dropped; their ids are still
// remembered).

#include <chrono>
#include <cstddef>
#include <cstdint>
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

  /// What a delivery of an assignment id is.
  enum class seen : uint8_t {
    /// Not seen within the TTL: remembered from now on; run it.
    first,
    /// Seen, and its block has not finished: its result will be published when it does.
    running,
    /// Seen and finished: `result` is the ExecResult published for it, or empty when it was not
    /// kept (over the result budget).
    finished,
  };
  struct delivery {
    seen kind = seen::first;
    std::string result;
  };

  dedupe_window(std::chrono::milliseconds ttl, size_t capacity, size_t result_bytes,
                clock_fn now = &clock::now);

  /// What `id` is; when it was not seen within the TTL it is remembered from now on.
  [[nodiscard]] delivery remember(const std::string& id);
  /// Keeps the result published for a remembered `id` (nothing when it is no longer remembered).
  void finished(const std::string& id, std::string result);
  /// Forgets `id` (an assignment that was refused may be delivered again and run).
  void forget(const std::string& id);
  /// Ids remembered now (expired ones are dropped first).
  [[nodiscard]] size_t size();
  /// Bytes of results kept now.
  [[nodiscard]] size_t result_bytes() const;
  /// How many ids were forgotten before their TTL because the window was full.
  [[nodiscard]] uint64_t evicted_early() const;

private:
  struct entry {
    clock::time_point at;
    bool finished = false;
    std::string result;
  };
  using order = std::deque<std::pair<clock::time_point, std::string>>;

  void expire(clock::time_point now);
  void erase(std::unordered_map<std::string, entry>::iterator it);
  /// Drops stale entries (forgotten or renewed ids) once a queue outgrows the ids it orders.
  void compact(order& queue, bool results_only);

  const std::chrono::milliseconds ttl_;
  const size_t capacity_;
  const size_t result_budget_;
  clock_fn now_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> seen_;
  /// Ids in the order they were remembered; an entry whose time differs from seen_'s is stale.
  order order_;
  /// Ids in the order their results were kept, for dropping the oldest results; stale likewise,
  /// or when the id's result is gone.
  order results_order_;
  size_t result_bytes_ = 0;
  uint64_t evicted_early_ = 0;
};

} // namespace beamline::worker::cp1
