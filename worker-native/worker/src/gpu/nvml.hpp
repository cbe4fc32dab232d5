#pragma once

// GPU discovery through NVML, loaded at run time: the worker never links libnvidia-ml, so one
// binary runs on machines with and without NVIDIA drivers. A machine without the library (or
// whose driver fails to initialise) simply has no devices.

#include <cstdint>
#include <string>
#include <vector>

namespace beamline::worker {

struct gpu_device {
  /// The NVML / CUDA device ordinal (CUDA_VISIBLE_DEVICES order is not applied).
  int32_t ordinal = -1;
  std::string name;
};

struct gpu_discovery {
  /// True when the library was loaded and nvmlInit_v2 succeeded.
  bool available = false;
  std::vector<gpu_device> devices;
  /// Why there are no devices (library missing, init failed, ...); empty when available.
  std::string reason;
};

/// The soname the worker loads; `library` overrides it (tests: a path that does not exist).
inline constexpr const char* nvml_library_name = "libnvidia-ml.so.1";

/// Loads NVML, lists the devices, shuts NVML down and unloads it. Never throws.
[[nodiscard]] gpu_discovery discover_gpus(const char* library = nvml_library_name) noexcept;

struct gpu_selection {
  /// The device ordinals the gpu pool offers (empty: none).
  std::vector<int32_t> ordinals;
  /// Set when the spec is invalid; ordinals is then empty.
  std::string error;
  /// A line for the log saying what was chosen and why (e.g. why there are no devices).
  std::string note;
};

/// Resolves --gpu-devices against what was discovered:
///   "auto"  every discovered device (none without NVML);
///   "none"  no device;
///   "0,2"   these ordinals. With NVML available each must exist (else an error); without
///           NVML the list is taken as configured (devices that NVML cannot see, e.g. another
///           vendor's accelerators driven by a plugin), with a warning in `note`.
[[nodiscard]] gpu_selection select_gpus(const std::string& spec, const gpu_discovery& found);

} // namespace beamline::worker
