#pragma once

// The executor runtime behind the opaque bl_runtime handle: a registry of executors (read on
// every block, written rarely) and the plugins whose code those executors live in.

#include <beamline/beamline_exec.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace beamline::exec {

/// One registered executor. `type` is owned; `user` belongs to the executor until `release`.
struct executor_entry {
  std::string type;
  void* user = nullptr;
  bl_execute_fn execute = nullptr;
  bl_release_fn release = nullptr;
};

/// RAII owner of a dlopen handle.
class plugin_library {
public:
  explicit plugin_library(void* handle) noexcept : handle_(handle) {}
  plugin_library(plugin_library&& other) noexcept : handle_(other.handle_) {
    other.handle_ = nullptr;
  }
  plugin_library& operator=(plugin_library&& other) noexcept;
  plugin_library(const plugin_library&) = delete;
  plugin_library& operator=(const plugin_library&) = delete;
  ~plugin_library();

  [[nodiscard]] void* handle() const noexcept { return handle_; }

private:
  void* handle_;
};

/// Registry of executors. Reads are wait-free: the registry is an immutable snapshot behind an
/// atomic pointer; a registration copies it, adds the entry and publishes the copy. Old
/// snapshots are retired only when the runtime is released (no execute may run then), so a
/// reader never sees freed memory. Registrations are rare (start-up, plugin loads).
class runtime {
public:
  /// `config` is the executor configuration: an object of objects, one per executor family.
  explicit runtime(std::string worker_id, nlohmann::json config = nlohmann::json::object());
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  /// Releases every executor's user data, then unloads the plugins they came from.
  ~runtime();

  /// The executor registered for `type`, or nullptr. The entry lives as long as the runtime.
  [[nodiscard]] const executor_entry* find(const std::string& type) const noexcept {
    const auto* snap = current_.load(std::memory_order_acquire);
    auto it = snap->find(type);
    return it == snap->end() ? nullptr : &it->second;
  }

  /// Adds an executor; false when its type is taken (the entry is then not kept).
  [[nodiscard]] bool add(executor_entry entry);

  /// The registered types, sorted.
  [[nodiscard]] std::vector<std::string> types() const;

  /// Keeps a loaded plugin alive until the runtime is released.
  void keep(plugin_library library);

  [[nodiscard]] const std::string& worker_id() const noexcept { return worker_id_; }

  /// The executor configuration (see config.hpp); immutable after construction.
  [[nodiscard]] const nlohmann::json& config() const noexcept { return config_; }

private:
  using snapshot = std::unordered_map<std::string, executor_entry>;

  std::string worker_id_;
  nlohmann::json config_;
  std::atomic<const snapshot*> current_;
  mutable std::mutex write_mutex_;
  std::vector<std::unique_ptr<const snapshot>> snapshots_; // guarded by write_mutex_
  std::vector<plugin_library> plugins_;                      // guarded by write_mutex_
};

} // namespace beamline::exec

/// The opaque handle of the header is the runtime itself.
struct bl_runtime final : beamline::exec::runtime {
  using beamline::exec::runtime::runtime;
};
