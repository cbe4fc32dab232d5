// The C ABI: bl_get_api and the function table (versions 1 to 3). Every body that can fail returns a
// status instead of letting an exception out (see status.hpp, guarded()).

#include "builtins/registry.hpp"
#include "execute.hpp"
#include "plugin.hpp"
#include "runtime.hpp"
#include "status.hpp"

#include "exec_wire.pb.h"

#include <nlohmann/json.hpp>

#include <beamline/beamline_exec.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

// --- the layout is frozen: x86_64 / LP64 values (version 1, then what version 2 appended) -----
// A change here breaks every binding (interop/dotnet holds the same numbers) and every plugin.
#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
static_assert(sizeof(bl_buffer) == 16, "bl_buffer layout changed");
static_assert(offsetof(bl_buffer, data) == 0, "bl_buffer layout changed");
static_assert(offsetof(bl_buffer, len) == 8, "bl_buffer layout changed");

static_assert(sizeof(bl_runtime_options) == 40, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, struct_size) == 0, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, flags) == 4, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, worker_id) == 8, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, worker_id_len) == 16, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, config_json) == 24, "bl_runtime_options layout changed");
static_assert(offsetof(bl_runtime_options, config_json_len) == 32, "bl_runtime_options layout changed");

static_assert(sizeof(bl_exec_info) == 72, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, struct_size) == 0, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, gpu_device) == 4, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, tenant_id) == 8, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, tenant_id_len) == 16, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, block_id) == 24, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, block_id_len) == 32, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, type) == 40, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, type_len) == 48, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, deadline_mono_ns) == 56, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, stream) == 64, "bl_exec_info layout changed");
static_assert(offsetof(bl_exec_info, reserved) == 68, "bl_exec_info layout changed");

static_assert(sizeof(bl_executor_def) == 48, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, struct_size) == 0, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, flags) == 4, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, type) == 8, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, type_len) == 16, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, user) == 24, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, execute) == 32, "bl_executor_def layout changed");
static_assert(offsetof(bl_executor_def, release) == 40, "bl_executor_def layout changed");

static_assert(sizeof(bl_exec_overrides) == 16, "bl_exec_overrides layout changed");
static_assert(offsetof(bl_exec_overrides, struct_size) == 0, "bl_exec_overrides layout changed");
static_assert(offsetof(bl_exec_overrides, gpu_device) == 4, "bl_exec_overrides layout changed");
static_assert(offsetof(bl_exec_overrides, cancel_flag) == 8, "bl_exec_overrides layout changed");

static_assert(sizeof(bl_async_callbacks) == 24, "bl_async_callbacks layout changed");
static_assert(offsetof(bl_async_callbacks, struct_size) == 0, "bl_async_callbacks layout changed");
static_assert(offsetof(bl_async_callbacks, reserved) == 4, "bl_async_callbacks layout changed");
static_assert(offsetof(bl_async_callbacks, on_chunk) == 8, "bl_async_callbacks layout changed");
static_assert(offsetof(bl_async_callbacks, on_result) == 16, "bl_async_callbacks layout changed");

// 136 bytes up to context_cancelled; members appended since then follow (append-only).
static_assert(sizeof(bl_api) == 152, "bl_api is append-only: members are only added at its end");
static_assert(offsetof(bl_api, struct_size) == 0, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, version) == 4, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, status_create) == 8, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, status_code) == 16, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, status_message) == 24, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, status_release) == 32, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, buffer_release) == 40, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, runtime_create) == 48, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, runtime_release) == 56, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, runtime_register_executor) == 64, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, runtime_load_plugin) == 72, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, runtime_list_executors) == 80, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, execute) == 88, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, execute_stream) == 96, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, context_info) == 104, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, context_write) == 112, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, context_emit_chunk) == 120, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, context_cancelled) == 128, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, execute_ex) == 136, "bl_api offsets are frozen");
static_assert(offsetof(bl_api, execute_async) == 144, "bl_api offsets are frozen");
#endif

namespace beamline::exec {

namespace {

namespace wire = beamline::exec::wire;

// --- the smallest struct_size accepted for each struct passed in: its size in its first version.
// A caller compiled against an older header passes the shorter struct; members beyond its
// struct_size are never read.
constexpr uint32_t runtime_options_v1_size = offsetof(bl_runtime_options, config_json);
constexpr uint32_t executor_def_v1_size = offsetof(bl_executor_def, release) + sizeof(bl_release_fn);
constexpr uint32_t exec_overrides_v1_size = offsetof(bl_exec_overrides, gpu_device) + sizeof(int32_t);
constexpr uint32_t async_callbacks_v3_size = sizeof(bl_async_callbacks);
static_assert(runtime_options_v1_size == 24 && executor_def_v1_size == 48
                && exec_overrides_v1_size == 8,
              "the first versions' struct sizes are frozen");

/// True when a struct of `struct_size` bytes holds the member at [offset, offset + size).
constexpr bool covers(uint32_t struct_size, size_t offset, size_t size) noexcept {
  return struct_size >= offset + size;
}

const bl_api* api_table() noexcept;

bl_status* invalid_argument(std::string_view message) noexcept {
  return make_status(BL_ERR_INVALID_ARGUMENT, message);
}

// --- status ----------------------------------------------------------------------------------

bl_status* BL_CALL status_create(int32_t code, const char* message, uint64_t message_len) noexcept {
  if (message == nullptr)
    message_len = 0;
  return make_status(code, std::string_view{message == nullptr ? "" : message,
                                            static_cast<size_t>(message_len)});
}

int32_t BL_CALL status_code(const bl_status* status) noexcept {
  return status == nullptr ? BL_OK : status->code;
}

const char* BL_CALL status_message(const bl_status* status, uint64_t* len) noexcept {
  if (status == nullptr) {
    if (len != nullptr)
      *len = 0;
    return "";
  }
  if (len != nullptr)
    *len = status->message.size();
  return status->message.c_str();
}

void BL_CALL status_release(bl_status* status) noexcept {
  release_status(status);
}

// --- buffers ---------------------------------------------------------------------------------

void BL_CALL buffer_release(bl_buffer* buffer) noexcept {
  if (buffer == nullptr)
    return;
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->len = 0;
}

// --- runtime ---------------------------------------------------------------------------------

bl_status* BL_CALL runtime_create(const bl_runtime_options* options, bl_runtime** out) noexcept {
  return guarded([&]() -> bl_status* {
    if (out == nullptr)
      return invalid_argument("runtime_create: out is NULL");
    std::string worker_id = "in-process";
    uint32_t flags = 0;
    nlohmann::json config = nlohmann::json::object();
    if (options != nullptr) {
      // The oldest accepted layout ends at worker_id_len; config_json came later.
      if (options->struct_size < runtime_options_v1_size)
        return invalid_argument("runtime_create: options->struct_size is "
                                + std::to_string(options->struct_size) + ", expected at least "
                                + std::to_string(runtime_options_v1_size));
      if ((options->flags & ~BL_RUNTIME_NO_BUILTINS) != 0)
        return invalid_argument("runtime_create: unknown bits in options->flags");
      flags = options->flags;
      if (options->worker_id != nullptr && options->worker_id_len > 0)
        worker_id.assign(options->worker_id, static_cast<size_t>(options->worker_id_len));
      if (covers(options->struct_size, offsetof(bl_runtime_options, config_json_len), sizeof(uint64_t))
          && options->config_json != nullptr
          && options->config_json_len > 0) {
        const char* text = options->config_json;
        nlohmann::json parsed;
        try {
          parsed = nlohmann::json::parse(text, text + options->config_json_len);
        } catch (const nlohmann::json::exception& e) {
          return invalid_argument(std::string{"runtime_create: config_json is not valid JSON: "}
                                  + e.what());
        }
        if (!parsed.is_object())
          return invalid_argument("runtime_create: config_json must be a JSON object, one "
                                  "member per executor family (\"fs\", \"sql\", ...)");
        for (const auto& [family, section] : parsed.items()) {
          if (!section.is_object())
            return invalid_argument("runtime_create: config_json: \"" + family
                                    + "\" must be an object");
        }
        if (auto it = parsed.find("debug"); it != parsed.end()) {
          if (auto enabled = it->find("enabled"); enabled != it->end() && !enabled->is_boolean())
            return invalid_argument("runtime_create: config_json: \"debug.enabled\" must be "
                                    "true or false");
        }
        config = std::move(parsed);
      }
    }
    const bool diagnostics = builtins::diagnostics_enabled(config);
    auto rt = std::make_unique<bl_runtime>(std::move(worker_id), std::move(config));
    if ((flags & BL_RUNTIME_NO_BUILTINS) == 0) {
      if (bl_status* st = builtins::register_all(api_table(), rt.get(), diagnostics); st != nullptr)
        return st;
    }
    *out = rt.release();
    return nullptr;
  });
}

void BL_CALL runtime_release(bl_runtime* runtime) noexcept {
  delete runtime; // ~runtime catches what executors' release functions throw
}

bl_status* BL_CALL runtime_register_executor(bl_runtime* runtime,
                                             const bl_executor_def* def) noexcept {
  return guarded([&]() -> bl_status* {
    if (runtime == nullptr || def == nullptr)
      return invalid_argument("runtime_register_executor: runtime or def is NULL");
    if (def->struct_size < executor_def_v1_size)
      return invalid_argument("runtime_register_executor: def->struct_size is "
                              + std::to_string(def->struct_size) + ", expected at least "
                              + std::to_string(executor_def_v1_size));
    if (def->flags != 0)
      return invalid_argument("runtime_register_executor: def->flags must be 0");
    if (def->type == nullptr || def->type_len == 0 || def->execute == nullptr)
      return invalid_argument("runtime_register_executor: type and execute are required");
    std::string type{def->type, static_cast<size_t>(def->type_len)};
    if (type.find_first_of(std::string_view{"\n\0", 2}) != std::string::npos)
      return invalid_argument("runtime_register_executor: a block type may not contain a "
                              "newline or NUL");
    executor_entry entry{type, def->user, def->execute, def->release};
    if (!runtime->add(std::move(entry)))
      return make_status(BL_ERR_ALREADY_EXISTS,
                         "an executor for block type '" + type + "' is already registered");
    return nullptr;
  });
}

bl_status* BL_CALL runtime_load_plugin(bl_runtime* runtime, const char* path,
                                       uint64_t path_len) noexcept {
  return guarded([&]() -> bl_status* {
    if (runtime == nullptr || path == nullptr || path_len == 0)
      return invalid_argument("runtime_load_plugin: runtime or path is NULL or empty");
    std::string file{path, static_cast<size_t>(path_len)};
    if (file.find('\0') != std::string::npos)
      return invalid_argument("runtime_load_plugin: path contains NUL");
    return load_plugin(*runtime, api_table(), file);
  });
}

bl_status* BL_CALL runtime_list_executors(bl_runtime* runtime, bl_buffer* out) noexcept {
  return guarded([&]() -> bl_status* {
    if (runtime == nullptr || out == nullptr)
      return invalid_argument("runtime_list_executors: runtime or out is NULL");
    std::string joined;
    for (const auto& type : runtime->types()) {
      if (!joined.empty())
        joined += '\n';
      joined += type;
    }
    auto* data = static_cast<uint8_t*>(std::malloc(joined.empty() ? 1 : joined.size()));
    if (data == nullptr)
      throw std::bad_alloc{};
    std::memcpy(data, joined.data(), joined.size());
    out->data = data;
    out->len = joined.size();
    return nullptr;
  });
}

// --- execution -------------------------------------------------------------------------------

/// Reads what the host decided (overrides may be NULL); a status when the struct is malformed.
bl_status* read_overrides(const char* fn, const bl_exec_overrides* overrides, block_overrides& host) {
  if (overrides == nullptr)
    return nullptr;
  if (overrides->struct_size < exec_overrides_v1_size)
    return invalid_argument(std::string{fn} + ": overrides->struct_size is "
                            + std::to_string(overrides->struct_size) + ", expected at least "
                            + std::to_string(exec_overrides_v1_size));
  if (overrides->gpu_device < -1)
    return invalid_argument(std::string{fn} + ": overrides->gpu_device must be -1 or a device ordinal");
  host.gpu_device = overrides->gpu_device;
  if (covers(overrides->struct_size, offsetof(bl_exec_overrides, cancel_flag),
             sizeof(overrides->cancel_flag)))
    host.cancel_flag = overrides->cancel_flag;
  return nullptr;
}

bl_status* BL_CALL execute_ex(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                              const bl_exec_overrides* overrides, bl_chunk_fn on_chunk, void* user,
                              bl_buffer* out_result) noexcept {
  const auto received_at = steady_clock::now();
  return guarded([&]() -> bl_status* {
    if (runtime == nullptr || out_result == nullptr)
      return invalid_argument("execute: runtime or out_result is NULL");
    if (request == nullptr && request_len != 0)
      return invalid_argument("execute: request is NULL but request_len is not 0");
    block_overrides host;
    if (bl_status* st = read_overrides("execute_ex", overrides, host); st != nullptr)
      return st;
    run_block(*runtime, request, request_len, received_at, on_chunk, user, out_result, host);
    return nullptr;
  });
}

bl_status* BL_CALL execute_async(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                                 const bl_exec_overrides* overrides,
                                 const bl_async_callbacks* callbacks, void* user) noexcept {
  const auto received_at = steady_clock::now();
  return guarded([&]() -> bl_status* {
    if (runtime == nullptr || callbacks == nullptr)
      return invalid_argument("execute_async: runtime or callbacks is NULL");
    if (request == nullptr && request_len != 0)
      return invalid_argument("execute_async: request is NULL but request_len is not 0");
    if (callbacks->struct_size < async_callbacks_v3_size)
      return invalid_argument("execute_async: callbacks->struct_size is "
                              + std::to_string(callbacks->struct_size) + ", expected at least "
                              + std::to_string(async_callbacks_v3_size));
    if (callbacks->on_result == nullptr)
      return invalid_argument("execute_async: callbacks->on_result is NULL");
    block_overrides host;
    if (bl_status* st = read_overrides("execute_async", overrides, host); st != nullptr)
      return st;
    // Nothing below throws once the block is taken (start_block_async's contract), so a status
    // returned from here always means that no callback will come.
    if (start_block_async(*runtime, request, request_len, received_at, *callbacks, user, host)
        == async_start::not_async)
      return make_status(BL_ERR_NOT_ASYNC, "execute_async: this block type has no asynchronous "
                                           "path; run it with execute_ex");
    return nullptr;
  });
}

bl_status* BL_CALL execute_stream(bl_runtime* runtime, const uint8_t* request,
                                  uint64_t request_len, bl_chunk_fn on_chunk, void* user,
                                  bl_buffer* out_result) noexcept {
  return execute_ex(runtime, request, request_len, nullptr, on_chunk, user, out_result);
}

bl_status* BL_CALL execute(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                           bl_buffer* out_result) noexcept {
  return execute_stream(runtime, request, request_len, nullptr, nullptr, out_result);
}

// --- for executors ---------------------------------------------------------------------------

const bl_exec_info* BL_CALL context_info(const bl_exec_context* ctx) noexcept {
  return ctx == nullptr ? nullptr : &ctx->info;
}

bl_status* BL_CALL context_write(bl_exec_context* ctx, const uint8_t* data, uint64_t len) noexcept {
  return guarded([&]() -> bl_status* {
    if (ctx == nullptr || (data == nullptr && len != 0))
      return invalid_argument("context_write: ctx is NULL, or data is NULL with a length");
    ctx->output->append(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
    return nullptr;
  });
}

bl_status* BL_CALL context_emit_chunk(bl_exec_context* ctx, const uint8_t* data,
                                      uint64_t len) noexcept {
  return guarded([&]() -> bl_status* {
    if (ctx == nullptr || (data == nullptr && len != 0))
      return invalid_argument("context_emit_chunk: ctx is NULL, or data is NULL with a length");
    if (ctx->cancelled_by_receiver)
      return make_status(BL_ERR_CANCELLED, "the receiver cancelled the streamed block");
    if (ctx->on_chunk == nullptr) {
      ctx->output->append(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
      return nullptr;
    }
    auto& chunk = *static_cast<wire::ExecChunk*>(ctx->chunk_message);
    chunk.set_block_id(*ctx->block_id);
    chunk.set_seq(ctx->next_seq++);
    chunk.set_data(data, static_cast<size_t>(len));
    auto& bytes = *ctx->chunk_bytes;
    bytes.clear();
    chunk.AppendToString(&bytes);
    const int32_t rc = ctx->on_chunk(ctx->chunk_user,
                                     reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (rc != 0) {
      ctx->cancelled_by_receiver = true;
      return make_status(BL_ERR_CANCELLED, "the receiver cancelled the streamed block");
    }
    return nullptr;
  });
}

int32_t BL_CALL context_cancelled(const bl_exec_context* ctx) noexcept {
  return ctx == nullptr || ctx->cancelled() ? 1 : 0;
}

const bl_api* api_table() noexcept {
  static const bl_api table{
    sizeof(bl_api),
    BL_API_VERSION,
    &status_create,
    &status_code,
    &status_message,
    &status_release,
    &buffer_release,
    &runtime_create,
    &runtime_release,
    &runtime_register_executor,
    &runtime_load_plugin,
    &runtime_list_executors,
    &execute,
    &execute_stream,
    &context_info,
    &context_write,
    &context_emit_chunk,
    &context_cancelled,
    &execute_ex,
    &execute_async,
  };
  return &table;
}

} // namespace

} // namespace beamline::exec

extern "C" BL_EXPORT const bl_api* BL_CALL bl_get_api(uint32_t version) {
  // One table serves every version: each only appended to the one before. A caller built
  // against a newer header gets NULL.
  if (version == 0 || version > BL_API_VERSION)
    return nullptr;
  return beamline::exec::api_table();
}
