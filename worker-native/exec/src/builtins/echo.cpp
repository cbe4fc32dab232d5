// echo: the output is the payload, byte for byte.

#include "builtins/registry.hpp"

namespace beamline::exec::builtins {

namespace {

bl_status* BL_CALL run_echo(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return payload_len == 0 ? nullptr : api->context_write(ctx, payload, payload_len);
}

BEAMLINE_REGISTER_BUILTIN("echo", run_echo);

} // namespace

} // namespace beamline::exec::builtins
