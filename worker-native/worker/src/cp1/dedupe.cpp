#include "cp1/dedupe.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace beamline::worker::cp1 {

dedupe_window::dedupe_window(std::chrono::milliseconds ttl, size_t capacity, size_t result_bytes,
                             clock_fn now)
  : ttl_(ttl), capacity_(std::max<size_t>(capacity, 1)), result_budget_(result_bytes),
    now_(std::move(now)) {}

void dedupe_window::erase(std::unordered_map<std::string, entry>::iterator it) {
  result_bytes_ -= it->second.result.size();
  seen_.erase(it);
}

void dedupe_window::expire(clock::time_point now) {
  while (!order_.empty() && order_.front().first + ttl_ <= now) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second.at == order_.front().first)
      erase(it);
    order_.pop_front();
  }
}

void dedupe_window::compact(order& queue, bool results_only) {
  if (queue.size() <= 2 * capacity_ + 16)
    return;
  // One entry per live id: its newest (an id forgotten and remembered again within one clock
  // tick leaves older entries with the same time).
  order live;
  std::unordered_set<std::string_view> kept;
  for (auto it = queue.rbegin(); it != queue.rend(); ++it) {
    auto found = seen_.find(it->second);
    if (found != seen_.end() && found->second.at == it->first
        && (!results_only || !found->second.result.empty()) && kept.insert(found->first).second)
      live.push_front(std::move(*it));
  }
  queue.swap(live);
}

dedupe_window::delivery dedupe_window::remember(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  const auto now = now_();
  expire(now);
  if (auto it = seen_.find(id); it != seen_.end())
    return it->second.finished ? delivery{seen::finished, it->second.result} : delivery{seen::running, {}};
  while (seen_.size() >= capacity_ && !order_.empty()) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second.at == order_.front().first) {
      erase(it);
      ++evicted_early_;
    }
    order_.pop_front();
  }
  seen_.emplace(id, entry{now, false, {}});
  order_.emplace_back(now, id);
  compact(order_, false);
  return {};
}

void dedupe_window::finished(const std::string& id, std::string result) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = seen_.find(id);
  if (it == seen_.end())
    return;
  it->second.finished = true;
  if (result.size() > result_budget_)
    return; // kept as finished, without its result
  // Oldest results first, until this one fits.
  while (result_bytes_ + result.size() > result_budget_ && !results_order_.empty()) {
    auto old = seen_.find(results_order_.front().second);
    if (old != seen_.end() && old->second.at == results_order_.front().first) {
      result_bytes_ -= old->second.result.size();
      std::string{}.swap(old->second.result);
    }
    results_order_.pop_front();
  }
  result_bytes_ += result.size();
  it->second.result = std::move(result);
  results_order_.emplace_back(it->second.at, id);
  compact(results_order_, true);
}

void dedupe_window::forget(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (auto it = seen_.find(id); it != seen_.end())
    erase(it);
}

size_t dedupe_window::size() {
  std::lock_guard<std::mutex> guard{mutex_};
  expire(now_());
  return seen_.size();
}

size_t dedupe_window::result_bytes() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return result_bytes_;
}

uint64_t dedupe_window::evicted_early() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return evicted_early_;
}

} // namespace beamline::worker::cp1
