#pragma once

// Built-in executors register themselves here, one translation unit each (like Envoy's
// REGISTER_FACTORY): adding one is adding a file with BEAMLINE_REGISTER_BUILTIN.
//
// A built-in is written exactly like a plugin executor, against the C ABI alone: its `user`
// pointer is the bl_api table, through which it writes output and checks cancellation.

#include <beamline/beamline_exec.h>

#include <vector>

namespace beamline::exec::builtins {

struct factory {
  const char* type;
  bl_execute_fn execute;
};

/// Every built-in linked into the library, in registration order.
[[nodiscard]] std::vector<factory>& all();

struct registrar {
  registrar(const char* type, bl_execute_fn execute) { all().push_back(factory{type, execute}); }
};

/// Registers every built-in into `rt`, with `api` as each executor's user pointer.
[[nodiscard]] bl_status* register_all(const bl_api* api, bl_runtime* rt);

} // namespace beamline::exec::builtins

#define BEAMLINE_BUILTIN_CONCAT_(a, b) a##b
#define BEAMLINE_BUILTIN_CONCAT(a, b) BEAMLINE_BUILTIN_CONCAT_(a, b)
/// Registers `fn` (a bl_execute_fn) as the built-in executor for block type `type`.
#define BEAMLINE_REGISTER_BUILTIN(type, fn)                                                        \
  static const ::beamline::exec::builtins::registrar BEAMLINE_BUILTIN_CONCAT(                      \
    beamline_builtin_registrar_, __LINE__){type, fn}
