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
#include <utility>
#include <vector>

namespace beamline::exec {

/// An executor's asynchronous entry (built-ins only; not part of the C ABI): starts the block
/// and returns without waiting for its I/O. Returns nullptr when it took the block — it then
/// calls complete_async(ctx, status) exactly once, from any thread (execute.hpp) — or a status
/// when it did not, with which the block then ends (complete_async is not called).
using start_async_fn = bl_status* (*)(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                      uint64_t payload_len);

/// One registered executor. `type` is owned; `user` belongs to the executor until `release`.
struct executor_entry {
  std::string type;
  void* user = nullptr;
  bl_execute_fn execute = nullptr;
  bl_release_fn release = nullptr;
  /// Non-null for a type with an asynchronous path (execute_async); `execute` still runs it
  /// synchronously.
  start_async_fn start_async = nullptr;
};

/// Something a runtime owns and stops before its executors are released, e.g. http.request's
/// event loop: made on first use (runtime::service), destroyed first by ~runtime.
class runtime_service {
public:
  runtime_service() = default;
  runtime_service(const runtime_service&) = delete;
  runtime_service& operator=(const runtime_service&) = delete;
  virtual ~runtime_service() = default;
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

  /// The runtime's one `T` (a runtime_service with a default constructor), made on first use.
  /// Thread-safe; lives until the runtime is released. Throws what T's constructor throws.
  template <class T>
  [[nodiscard]] T& service() const {
    static const char tag = 0; // one address per T
    std::lock_guard<std::mutex> guard{service_mutex_};
    for (const auto& [key, svc] : services_)
      if (key == &tag)
        return static_cast<T&>(*svc);
    services_.emplace_back(&tag, std::make_unique<T>());
    return static_cast<T&>(*services_.back().second);
  }

private:
  using snapshot = std::unordered_map<std::string, executor_entry>;

  std::string worker_id_;
  nlohmann::json config_;
  std::atomic<const snapshot*> current_;
  mutable std::mutex write_mutex_;
  std::vector<std::unique_ptr<const snapshot>> snapshots_; // guarded by write_mutex_
  std::vector<plugin_library> plugins_;                      // guarded by write_mutex_
  mutable std::mutex service_mutex_;
  mutable std::vector<std::pair<const void*, std::unique_ptr<runtime_service>>>
    services_; // guarded by service_mutex_
};

} // namespace beamline::exec

/// The opaque handle of the header is the runtime itself.
struct bl_runtime final : beamline::exec::runtime {
  using beamline::exec::runtime::runtime;
};
