#include "cp1/dedupe.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace beamline::worker::cp1 {

dedupe_window::dedupe_window(std::chrono::milliseconds ttl, size_t capacity, clock_fn now)
  : ttl_(ttl), capacity_(std::max<size_t>(capacity, 1)), now_(std::move(now)) {}

void dedupe_window::expire(clock::time_point now) {
  while (!order_.empty() && order_.front().first + ttl_ <= now) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second == order_.front().first)
      seen_.erase(it);
    order_.pop_front();
  }
}

bool dedupe_window::remember_if_new(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  const auto now = now_();
  expire(now);
  if (seen_.count(id) != 0)
    return false;
  while (seen_.size() >= capacity_ && !order_.empty()) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second == order_.front().first) {
      seen_.erase(it);
      ++evicted_early_;
    }
    order_.pop_front();
  }
  seen_.emplace(id, now);
  order_.emplace_back(now, id);
  // Forgotten ids leave stale entries behind; keep the queue within a constant of the map.
  if (order_.size() > 2 * capacity_ + 16) {
    // One entry per remembered id: its newest (an id forgotten and remembered again within one
    // clock tick leaves older entries with the same time).
    std::deque<std::pair<clock::time_point, std::string>> live;
    std::unordered_set<std::string_view> kept;
    for (auto entry = order_.rbegin(); entry != order_.rend(); ++entry) {
      auto it = seen_.find(entry->second);
      if (it != seen_.end() && it->second == entry->first && kept.insert(it->first).second)
        live.push_front(std::move(*entry));
    }
    order_.swap(live);
  }
  return true;
}

void dedupe_window::forget(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  seen_.erase(id);
}

size_t dedupe_window::size() {
  std::lock_guard<std::mutex> guard{mutex_};
  expire(now_());
  return seen_.size();
}

uint64_t dedupe_window::evicted_early() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return evicted_early_;
}

} // namespace beamline::worker::cp1
