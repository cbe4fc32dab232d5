#pragma once

// Loading native plugins: dlopen, an ABI version check, then the plugin's init.

#include "runtime.hpp"

#include <beamline/beamline_exec.h>

#include <string>

namespace beamline::exec {

/// Loads the plugin at `path` into `rt`; NULL on success. The library stays loaded until the
/// runtime is released, also when its init fails (executors it registered before failing
/// point into its code).
[[nodiscard]] bl_status* load_plugin(bl_runtime& rt, const bl_api* api, const std::string& path);

} // namespace beamline::exec
