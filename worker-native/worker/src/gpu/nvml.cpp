#include "gpu/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <exception>

namespace beamline::worker {

namespace {

// The few NVML declarations needed, from its public ABI (nvml.h): results are an int enum,
// NVML_SUCCESS = 0; a device handle is an opaque pointer.
using nvml_return = int;
using nvml_device = struct nvml_device_st*;
constexpr nvml_return nvml_success = 0;
constexpr unsigned nvml_device_name_buffer = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using nvml_init_fn = nvml_return (*)();
using nvml_shutdown_fn = nvml_return (*)();
using nvml_count_fn = nvml_return (*)(unsigned*);
using nvml_handle_fn = nvml_return (*)(unsigned, nvml_device*);
using nvml_name_fn = nvml_return (*)(nvml_device, char*, unsigned);
using nvml_error_fn = const char* (*)(nvml_return);

/// RAII over the dlopen handle.
class shared_library {
public:
  explicit shared_library(const char* name) noexcept : handle_(dlopen(name, RTLD_NOW | RTLD_LOCAL)) {}
  shared_library(const shared_library&) = delete;
  shared_library& operator=(const shared_library&) = delete;
  ~shared_library() {
    if (handle_ != nullptr)
      dlclose(handle_);
  }
  [[nodiscard]] bool loaded() const noexcept { return handle_ != nullptr; }

  template <class Fn>
  [[nodiscard]] Fn symbol(const char* name) const noexcept {
    void* sym = dlsym(handle_, name);
    Fn fn = nullptr;
    static_assert(sizeof(fn) == sizeof(sym), "function and data pointers differ");
    std::memcpy(&fn, &sym, sizeof(fn)); // POSIX: a dlsym result converts to a function pointer
    return fn;
  }

private:
  void* handle_;
};

/// RAII over nvmlInit_v2 / nvmlShutdown.
class nvml_session {
public:
  nvml_session(nvml_init_fn init, nvml_shutdown_fn shutdown) noexcept
    : shutdown_(shutdown), result_(init()) {}
  nvml_session(const nvml_session&) = delete;
  nvml_session& operator=(const nvml_session&) = delete;
  ~nvml_session() {
    if (result_ == nvml_success)
      shutdown_();
  }
  [[nodiscard]] nvml_return result() const noexcept { return result_; }

private:
  nvml_shutdown_fn shutdown_;
  nvml_return result_;
};

std::string error_text(nvml_error_fn error_string, nvml_return rc) {
  const char* text = error_string != nullptr ? error_string(rc) : nullptr;
  return (text != nullptr ? std::string{text} : std::string{"NVML error"}) + " (" + std::to_string(rc)
         + ")";
}

} // namespace

gpu_discovery discover_gpus(const char* library) noexcept {
  gpu_discovery found;
  try {
    dlerror();
    shared_library nvml{library};
    if (!nvml.loaded()) {
      const char* why = dlerror();
      found.reason = std::string{"NVML ("} + library + ") is not loadable: "
                     + (why != nullptr ? why : "unknown dlopen error");
      return found;
    }
    const auto init = nvml.symbol<nvml_init_fn>("nvmlInit_v2");
    const auto shutdown = nvml.symbol<nvml_shutdown_fn>("nvmlShutdown");
    const auto count = nvml.symbol<nvml_count_fn>("nvmlDeviceGetCount_v2");
    const auto handle = nvml.symbol<nvml_handle_fn>("nvmlDeviceGetHandleByIndex_v2");
    const auto name = nvml.symbol<nvml_name_fn>("nvmlDeviceGetName");
    const auto error_string = nvml.symbol<nvml_error_fn>("nvmlErrorString");
    if (init == nullptr || shutdown == nullptr || count == nullptr || handle == nullptr) {
      found.reason = std::string{"NVML ("} + library + ") lacks nvmlInit_v2, nvmlShutdown, "
                     "nvmlDeviceGetCount_v2 or nvmlDeviceGetHandleByIndex_v2";
      return found;
    }
    nvml_session session{init, shutdown};
    if (session.result() != nvml_success) {
      found.reason = "nvmlInit_v2 failed: " + error_text(error_string, session.result());
      return found;
    }
    unsigned n = 0;
    if (const nvml_return rc = count(&n); rc != nvml_success) {
      found.reason = "nvmlDeviceGetCount_v2 failed: " + error_text(error_string, rc);
      return found;
    }
    found.available = true;
    for (unsigned i = 0; i < n && i < 1024; ++i) {
      gpu_device device;
      device.ordinal = static_cast<int32_t>(i);
      nvml_device h = nullptr;
      char buffer[nvml_device_name_buffer] = {};
      if (handle(i, &h) == nvml_success && name != nullptr
          && name(h, buffer, sizeof(buffer)) == nvml_success)
        device.name = std::string{buffer, strnlen(buffer, sizeof(buffer))};
      else
        device.name = "unknown";
      found.devices.push_back(std::move(device));
    }
    if (found.devices.empty())
      found.reason = "NVML reports no devices";
  } catch (const std::exception& e) {
    found = {};
    found.reason = std::string{"GPU discovery failed: "} + e.what();
  } catch (...) {
    found = {};
    found.reason = "GPU discovery failed";
  }
  return found;
}

gpu_selection select_gpus(const std::string& spec, const gpu_discovery& found) {
  gpu_selection result;
  if (spec == "none") {
    result.note = "gpu pool: no devices (--gpu-devices none)";
    return result;
  }
  if (spec == "auto") {
    for (const auto& d : found.devices)
      result.ordinals.push_back(d.ordinal);
    if (result.ordinals.empty())
      result.note = "gpu pool: no devices (" + found.reason + ")";
    else
      result.note = "gpu pool: " + std::to_string(result.ordinals.size()) + " device(s) found by NVML";
    return result;
  }
  // An explicit, comma-separated list of ordinals.
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    if (item.empty() || item.size() > 4
        || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      result = {};
      result.error = "invalid --gpu-devices '" + spec + "': expected auto, none or a list like 0,1";
      return result;
    }
    const int32_t ordinal = std::stoi(item);
    if (std::find(result.ordinals.begin(), result.ordinals.end(), ordinal) != result.ordinals.end()) {
      result = {};
      result.error = "invalid --gpu-devices '" + spec + "': device " + item + " is given twice";
      return result;
    }
    if (found.available
        && std::none_of(found.devices.begin(), found.devices.end(),
                        [&](const gpu_device& d) { return d.ordinal == ordinal; })) {
      result = {};
      result.error = "--gpu-devices names device " + item + ", but NVML reports "
                     + std::to_string(found.devices.size()) + " device(s)";
      return result;
    }
    result.ordinals.push_back(ordinal);
    start = comma + 1;
  }
  result.note = found.available
                  ? "gpu pool: " + std::to_string(result.ordinals.size())
                      + " configured device(s), all present in NVML"
                  : "gpu pool: " + std::to_string(result.ordinals.size())
                      + " configured device(s) taken as given, unverified (" + found.reason + ")";
  return result;
}

} // namespace beamline::worker
