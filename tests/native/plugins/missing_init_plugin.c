/* A test plugin that exports its version but no bl_plugin_init. */
#include <beamline/beamline_exec.h>

BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return BL_API_VERSION;
}
