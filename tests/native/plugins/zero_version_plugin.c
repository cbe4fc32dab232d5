/* A test plugin that reports version 0, which no header ever had: the runtime must refuse it
 * before calling bl_plugin_init. */
#include <beamline/beamline_exec.h>

BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return 0u;
}

BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
  static const char message[] = "bl_plugin_init must not be called on a refused plugin";
  (void)runtime;
  return api->status_create(BL_ERR_INTERNAL, message, sizeof(message) - 1);
}
