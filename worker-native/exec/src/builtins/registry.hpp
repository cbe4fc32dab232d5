#pragma once

// Built-in executors register themselves here, one translation unit each (like Envoy's
// REGISTER_FACTORY): adding one is adding a file with BEAMLINE_REGISTER_BUILTIN.
//
// A built-in is written exactly like a plugin executor, against the C ABI alone: its `user`
// pointer is the bl_api table, through which it writes output and checks cancellation.
//
// Diagnostic built-ins (BEAMLINE_REGISTER_DIAGNOSTIC, e.g. debug.sleep) let a caller hold a
// runner for as long as it likes: they exist only when the executor configuration says
// {"debug": {"enabled": true}} (the worker's --enable-diagnostics).

#include "runtime.hpp"

#include <beamline/beamline_exec.h>

#include <nlohmann/json.hpp>

#include <vector>

namespace beamline::exec::builtins {

struct factory {
  const char* type;
  bl_execute_fn execute;
  /// Registered only when diagnostics are enabled.
  bool diagnostic = false;
  /// The asynchronous entry (execute_async), or nullptr; see start_async_fn in runtime.hpp.
  start_async_fn start_async = nullptr;
};

/// Every built-in linked into the library, in registration order.
[[nodiscard]] std::vector<factory>& all();

struct registrar {
  registrar(const char* type, bl_execute_fn execute, bool diagnostic = false,
            start_async_fn start_async = nullptr) {
    all().push_back(factory{type, execute, diagnostic, start_async});
  }
};

/// Whether the executor configuration (an object of objects) enables the diagnostic built-ins:
/// {"debug": {"enabled": true}}.
[[nodiscard]] bool diagnostics_enabled(const nlohmann::json& config) noexcept;

/// Registers every built-in into `rt`, with `api` as each executor's user pointer; the
/// diagnostic ones only when `diagnostics` is true.
[[nodiscard]] bl_status* register_all(const bl_api* api, bl_runtime* rt, bool diagnostics);

} // namespace beamline::exec::builtins

#define BEAMLINE_BUILTIN_CONCAT_(a, b) a##b
#define BEAMLINE_BUILTIN_CONCAT(a, b) BEAMLINE_BUILTIN_CONCAT_(a, b)
/// Registers `fn` (a bl_execute_fn) as the built-in executor for block type `type`.
#define BEAMLINE_REGISTER_BUILTIN(type, fn)                                                        \
  static const ::beamline::exec::builtins::registrar BEAMLINE_BUILTIN_CONCAT(                      \
    beamline_builtin_registrar_, __LINE__){type, fn}
/// Registers `fn` as the built-in executor for block type `type`, with `start` (a start_async_fn)
/// as its asynchronous entry for execute_async.
#define BEAMLINE_REGISTER_ASYNC_BUILTIN(type, fn, start)                                          \
  static const ::beamline::exec::builtins::registrar BEAMLINE_BUILTIN_CONCAT(                      \
    beamline_builtin_registrar_, __LINE__){type, fn, false, start}
/// Registers `fn` as a diagnostic built-in: present only when diagnostics are enabled.
#define BEAMLINE_REGISTER_DIAGNOSTIC(type, fn)                                                     \
  static const ::beamline::exec::builtins::registrar BEAMLINE_BUILTIN_CONCAT(                      \
    beamline_builtin_registrar_, __LINE__){type, fn, true}
