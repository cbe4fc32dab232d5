/* A plugin compiled against the frozen version-1 header (include/, see README.md): it reports
 * version 1, registers with a version-1 bl_executor_def and reads a version-1 bl_exec_info.
 * "test.v1.describe" writes "<type>|<tenant>|<block>|<gpu_device>|" and then its payload reversed,
 * one byte per chunk, checking context_cancelled as it goes. */
#include <beamline/beamline_exec.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if BL_API_VERSION != 1
#  error "this plugin must be compiled against the frozen version-1 header"
#endif

static const bl_api* g_api;

static bl_status* BL_CALL describe_execute(void* user, bl_exec_context* ctx,
                                           const uint8_t* payload, uint64_t payload_len) {
  (void)user;
  const bl_exec_info* info = g_api->context_info(ctx);
  if (info == NULL || info->struct_size < sizeof(bl_exec_info)) {
    return g_api->status_create(BL_ERR_INTERNAL, "short bl_exec_info", 18);
  }
  char head[256];
  const int n = snprintf(head, sizeof head, "%.*s|%.*s|%.*s|%d|", (int)info->type_len, info->type,
                         (int)info->tenant_id_len, info->tenant_id, (int)info->block_id_len,
                         info->block_id, (int)info->gpu_device);
  if (n < 0 || (size_t)n >= sizeof head) {
    return g_api->status_create(BL_ERR_INVALID_INPUT, "identity too long", 17);
  }
  bl_status* st = g_api->context_write(ctx, (const uint8_t*)head, (uint64_t)n);
  for (uint64_t i = 0; st == NULL && i < payload_len; ++i) {
    if (g_api->context_cancelled(ctx)) {
      return g_api->status_create(BL_ERR_CANCELLED, "stopped", 7);
    }
    st = g_api->context_emit_chunk(ctx, payload + (payload_len - 1 - i), 1);
  }
  return st;
}

BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return BL_API_VERSION;
}

BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
  /* What a version-1 plugin may rely on: a table of at least its version and size. */
  if (api->version < 1 || api->struct_size < sizeof(bl_api)) {
    static const char message[] = "the library's table is older than version 1";
    return api->status_create(BL_ERR_VERSION_MISMATCH, message, sizeof(message) - 1);
  }
  g_api = api;
  static const char type[] = "test.v1.describe";
  bl_executor_def def;
  memset(&def, 0, sizeof def);
  def.struct_size = sizeof def;
  def.type = type;
  def.type_len = sizeof(type) - 1;
  def.execute = describe_execute;
  return api->runtime_register_executor(runtime, &def);
}
