#include "runtime.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <utility>

namespace beamline::exec {

plugin_library& plugin_library::operator=(plugin_library&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr)
      dlclose(handle_);
    handle_ = other.handle_;
    other.handle_ = nullptr;
  }
  return *this;
}

plugin_library::~plugin_library() {
  if (handle_ != nullptr)
    dlclose(handle_);
}

runtime::runtime(std::string worker_id, nlohmann::json config)
  : worker_id_(std::move(worker_id)), config_(std::move(config)) {
  snapshots_.push_back(std::make_unique<const snapshot>());
  current_.store(snapshots_.back().get(), std::memory_order_release);
}

runtime::~runtime() {
  // Services first (they stop their threads, which may still call into executors), newest first.
  {
    std::lock_guard<std::mutex> guard{service_mutex_};
    while (!services_.empty())
      services_.pop_back();
  }
  // Executors first: their release functions may live in plugin code.
  for (const auto& [type, entry] : *current_.load(std::memory_order_acquire)) {
    if (entry.release != nullptr) {
      try {
        entry.release(entry.user);
      } catch (...) {
        // A release function must not throw; one that does cannot stop the teardown.
      }
    }
  }
  // Unload plugins in reverse order of loading.
  while (!plugins_.empty())
    plugins_.pop_back();
}

bool runtime::add(executor_entry entry) {
  std::lock_guard<std::mutex> guard{write_mutex_};
  const auto* snap = current_.load(std::memory_order_relaxed);
  if (snap->count(entry.type) != 0)
    return false;
  auto next = std::make_unique<snapshot>(*snap);
  auto type = entry.type;
  next->emplace(std::move(type), std::move(entry));
  snapshots_.push_back(std::move(next));
  current_.store(snapshots_.back().get(), std::memory_order_release);
  return true;
}

std::vector<std::string> runtime::types() const {
  const auto* snap = current_.load(std::memory_order_acquire);
  std::vector<std::string> result;
  result.reserve(snap->size());
  for (const auto& kv : *snap)
    result.push_back(kv.first);
  std::sort(result.begin(), result.end());
  return result;
}

void runtime::keep(plugin_library library) {
  std::lock_guard<std::mutex> guard{write_mutex_};
  plugins_.push_back(std::move(library));
}

} // namespace beamline::exec
