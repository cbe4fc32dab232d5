#pragma once

// The executor configuration (bl_runtime_options.config_json), as executors see it.
//
// Built-ins reach it through the context of the block they run; the runtime parsed and
// validated it once at runtime_create (an object of objects), and it never changes afterwards,
// so a reference to it may be read concurrently for the life of the runtime.

#include <beamline/beamline_exec.h>

#include <nlohmann/json.hpp>

#include <string_view>

namespace beamline::exec {

/// The "section" object of the runtime's executor config, or an empty object.
[[nodiscard]] const nlohmann::json& executor_config(const bl_exec_context* ctx,
                                                    std::string_view section) noexcept;

} // namespace beamline::exec
