// noop: does nothing and succeeds with an empty output. The cheapest block there is, used to
// measure dispatch overhead.

#include "builtins/registry.hpp"

namespace beamline::exec::builtins {

namespace {

bl_status* BL_CALL run_noop(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  return nullptr;
}

BEAMLINE_REGISTER_BUILTIN("noop", run_noop);

} // namespace

} // namespace beamline::exec::builtins
