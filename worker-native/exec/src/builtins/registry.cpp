#include "builtins/registry.hpp"

#include <cstring>

namespace beamline::exec::builtins {

std::vector<factory>& all() {
  static std::vector<factory> factories;
  return factories;
}

bool diagnostics_enabled(const nlohmann::json& config) noexcept {
  if (!config.is_object())
    return false;
  const auto debug = config.find("debug");
  if (debug == config.end() || !debug->is_object())
    return false;
  const auto enabled = debug->find("enabled");
  return enabled != debug->end() && enabled->is_boolean() && enabled->get<bool>();
}

bl_status* register_all(const bl_api* api, bl_runtime* rt, bool diagnostics) {
  for (const auto& f : all()) {
    if (f.diagnostic && !diagnostics)
      continue;
    if (f.start_async != nullptr) {
      // The asynchronous entry is internal (not in bl_executor_def): added to the runtime directly.
      if (!rt->add(executor_entry{f.type, const_cast<bl_api*>(api), f.execute, nullptr, f.start_async}))
        return api->status_create(BL_ERR_ALREADY_EXISTS, f.type, std::strlen(f.type));
      continue;
    }
    bl_executor_def def{};
    def.struct_size = sizeof(bl_executor_def);
    def.type = f.type;
    def.type_len = std::strlen(f.type);
    def.user = const_cast<bl_api*>(api); // read-only use; the ABI's user pointer is void*
    def.execute = f.execute;
    if (bl_status* st = api->runtime_register_executor(rt, &def); st != nullptr)
      return st;
  }
  return nullptr;
}

} // namespace beamline::exec::builtins
