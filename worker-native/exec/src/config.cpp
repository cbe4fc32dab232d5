#include "config.hpp"

#include "execute.hpp"
#include "runtime.hpp"

namespace beamline::exec {

const nlohmann::json& executor_config(const bl_exec_context* ctx,
                                      std::string_view section) noexcept {
  static const nlohmann::json empty = nlohmann::json::object();
  if (ctx == nullptr || ctx->rt == nullptr)
    return empty;
  const auto& config = ctx->rt->config();
  if (!config.is_object())
    return empty;
  // Heterogeneous lookup without allocating: nlohmann's object_t is a std::map<std::string,..>.
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (it.key() == section)
      return it->is_object() ? *it : empty;
  }
  return empty;
}

} // namespace beamline::exec
