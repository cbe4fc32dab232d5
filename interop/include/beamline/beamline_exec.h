/*
 * beamline_exec.h — the C ABI of Beamline's block executors.
 *
 * This header is the one contract between the C# control plane (P/Invoke), the native worker
 * (beamline-worker) and native plugins. Rules (see docs/native-blocks.md):
 *   - One exported entry point, bl_get_api(), returns a versioned function table. The table is
 *     append-only: a new version only adds members at its end, and existing offsets are frozen
 *     (static_assert in the implementation, a layout test in C#).
 *   - Only fixed-width integers, {pointer, length} pairs and opaque handles cross the boundary.
 *     Strings are UTF-8 with explicit lengths and are not NUL-terminated unless stated.
 *   - Whoever allocates frees: every pointer's comment says who owns it.
 *   - Fallible calls return a bl_status* — NULL means success. A non-NULL status is owned by the
 *     caller and released with status_release. On error, outputs are left untouched.
 *   - No C++ exception crosses this boundary; each exported body turns one into a status.
 *   - Structs passed in begin with their size (struct_size), so that the library can accept
 *     callers compiled against an older, shorter version: each struct is accepted from the size
 *     it had in its first version up, and a member is read only when struct_size covers it.
 *
 * What each version guarantees (bl_get_api(v) returns the table for any v in 1..BL_API_VERSION;
 * plugins reporting any of those versions are loaded):
 *   1 — every table member up to context_cancelled. execute_ex and bl_exec_overrides (struct_size
 *       8: gpu_device) were appended later in version 1 without a bump, so a version-1 caller
 *       checks struct_size >= offsetof(bl_api, execute_ex) + sizeof(void*) before calling it.
 *   2 — everything of version 1, with execute_ex always present; bl_exec_overrides grows to
 *       cancel_flag (struct_size 16), which the library honours; size-prefixed structs of
 *       version 1 stay accepted; diagnostic executors (debug.sleep) are registered only when
 *       the configuration enables them ({"debug": {"enabled": true}}).
 *   3 — everything of version 2, plus execute_async (appended to the table) and
 *       bl_async_callbacks: a block of an async-capable type (http.request) runs without holding
 *       the calling thread — its transfers are driven by one event thread of the runtime — and
 *       ends through a callback; other types answer BL_ERR_NOT_ASYNC and the host runs them
 *       with execute_ex. BL_ERR_NOT_ASYNC (12) is new; nothing else changed.
 */
#ifndef BEAMLINE_EXEC_H
#define BEAMLINE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(BL_EXEC_BUILDING)
#    define BL_EXPORT __declspec(dllexport)
#  else
#    define BL_EXPORT __declspec(dllimport)
#  endif
#  define BL_CALL __cdecl
#else
#  define BL_EXPORT __attribute__((visibility("default")))
#  define BL_CALL
#endif

/** The version of the function table this header describes. */
#define BL_API_VERSION 3u

/**
 * Status codes. Values are stable; new codes are only appended. The control plane maps them
 * to ExecResult.error_code strings (given after each value).
 */
typedef enum bl_errc {
  BL_OK = 0,                       /* success (never carried by a non-NULL status) */
  BL_ERR_INVALID_ARGUMENT = 1,     /* API misuse: NULL handle, bad struct_size ("invalid_argument") */
  BL_ERR_INVALID_INPUT = 2,        /* a block's request or payload could not be decoded ("invalid_input") */
  BL_ERR_UNKNOWN_EXECUTOR = 3,     /* no executor registered for the block type ("unknown_executor") */
  BL_ERR_DEADLINE_EXCEEDED = 4,    /* the block's deadline passed ("deadline_exceeded") */
  BL_ERR_RESOURCE_UNAVAILABLE = 5, /* the pool is full or lacks the resource ("resource_unavailable") */
  BL_ERR_CANCELLED = 6,            /* the caller cancelled the block ("cancelled") */
  BL_ERR_VERSION_MISMATCH = 7,     /* a plugin or caller built for another ABI version ("version_mismatch") */
  BL_ERR_ALREADY_EXISTS = 8,       /* an executor of that type is already registered ("already_exists") */
  BL_ERR_NOT_FOUND = 9,            /* a file, plugin or symbol was not found ("not_found") */
  BL_ERR_PERMISSION_DENIED = 10,   /* refused by a sandbox or allow-list ("permission_denied") */
  BL_ERR_INTERNAL = 11,            /* a bug or an unexpected failure, e.g. an exception ("internal_error") */
  BL_ERR_NOT_ASYNC = 12            /* version 3: execute_async was given a block type that has no
                                      asynchronous path; run it with execute_ex ("not_async") */
} bl_errc;

/** Opaque status: a code and a UTF-8 message. Owned by whoever received it. */
typedef struct bl_status bl_status;
/** Opaque executor runtime: a registry of executors. Thread-safe for execute. */
typedef struct bl_runtime bl_runtime;
/** Opaque per-block context handed to an executor for the duration of one execute call. */
typedef struct bl_exec_context bl_exec_context;

/**
 * A byte buffer allocated by the library (e.g. an encoded ExecResult). The caller owns it and
 * frees it with buffer_release, which also resets both fields.
 */
typedef struct bl_buffer {
  uint8_t* data;
  uint64_t len;
} bl_buffer;

/** Options for runtime_create. Zero-initialise, then set struct_size = sizeof(bl_runtime_options). */
typedef struct bl_runtime_options {
  uint32_t struct_size;
  /** Bit 0: do not register the built-in executors (noop, echo, ...). */
  uint32_t flags;
  /** Reported as ExecResult.worker_id. NULL/0 = "in-process". Copied; the caller keeps ownership. */
  const char* worker_id;
  uint64_t worker_id_len;
  /**
   * Executor configuration as UTF-8 JSON, one object per executor family ("fs", "sql", "http",
   * "cpu", "gpu", "debug"), e.g. {"fs": {"root": "/srv/sandbox"}}; see docs/executors.md. NULL/0
   * = defaults. The diagnostic executors (debug.sleep) are registered only with
   * {"debug": {"enabled": true}}. Copied; the caller keeps ownership. Malformed JSON fails
   * runtime_create with BL_ERR_INVALID_ARGUMENT. Callers compiled before this field (struct_size
   * up to offsetof(bl_runtime_options, config_json)) get the defaults.
   */
  const char* config_json;
  uint64_t config_json_len;
} bl_runtime_options;

#define BL_RUNTIME_NO_BUILTINS 0x1u

/** What an executor may read about the block it runs. Valid only during that execute call. */
typedef struct bl_exec_info {
  uint32_t struct_size;
  /** GPU device ordinal given to the block, or -1 when it has none. */
  int32_t gpu_device;
  const char* tenant_id;
  uint64_t tenant_id_len;
  const char* block_id;
  uint64_t block_id_len;
  const char* type;
  uint64_t type_len;
  /** Absolute deadline on CLOCK_MONOTONIC (steady clock) in nanoseconds; 0 = none. */
  int64_t deadline_mono_ns;
  /** 1 when the caller asked for a streamed result (chunks), else 0. */
  uint32_t stream;
  uint32_t reserved;
} bl_exec_info;

/**
 * An executor's entry: runs one block. Reads the payload (owned by the runtime, valid during
 * the call), writes output through context_write / context_emit_chunk, and returns NULL on
 * success or a status made with status_create (its code and message become the block's
 * error). Must be thread-safe: the runtime calls it concurrently.
 */
typedef bl_status*(BL_CALL* bl_execute_fn)(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                          uint64_t payload_len);
/** Releases an executor's user data when its runtime is released. May be NULL. */
typedef void(BL_CALL* bl_release_fn)(void* user);

/**
 * An executor definition for register_executor. The runtime copies the type name. Accepted from
 * struct_size 48 (version 1: up to release) up.
 */
typedef struct bl_executor_def {
  uint32_t struct_size;
  uint32_t flags;
  /** Block type, e.g. "example.reverse". UTF-8, not NUL-terminated. */
  const char* type;
  uint64_t type_len;
  void* user;
  bl_execute_fn execute;
  bl_release_fn release;
} bl_executor_def;

/**
 * Receives one encoded ExecChunk (owned by the runtime, valid during the call). Return 0 to go
 * on; non-zero cancels the block, which then ends with status "cancelled".
 */
typedef int32_t(BL_CALL* bl_chunk_fn)(void* user, const uint8_t* chunk, uint64_t chunk_len);

/**
 * What the host decides about one block, for execute_ex. Zero-initialise, then set
 * struct_size = sizeof(bl_exec_overrides). Read during the call (cancel_flag: for its whole
 * duration). Accepted from struct_size 8 (version 1: gpu_device) up.
 */
typedef struct bl_exec_overrides {
  uint32_t struct_size;
  /** Becomes bl_exec_info.gpu_device: the leased GPU device ordinal, or -1 for none. */
  int32_t gpu_device;
  /* --- version 2 (struct_size >= 16) ------------------------------------------------------ */
  /**
   * NULL, or a flag that the host sets to non-zero, from any thread, to cancel the block. The
   * runtime reads it atomically; executors see it through context_cancelled, and the block then
   * ends with status cancelled, error_code "cancelled" and a message saying the caller
   * cancelled it (a block whose flag is already set when the call starts is not run). Owned by
   * the host, which keeps it valid until execute_ex returns and writes it atomically (e.g.
   * __atomic_store_n, Interlocked.Exchange / Volatile.Write).
   */
  const int32_t* cancel_flag;
} bl_exec_overrides;

/**
 * Version 3: how execute_async hands a block's output back. Zero-initialise, then set
 * struct_size = sizeof(bl_async_callbacks). Copied by execute_async; `user` (its argument) is
 * passed back to both functions and must stay valid until on_result has returned.
 */
typedef struct bl_async_callbacks {
  uint32_t struct_size;
  uint32_t reserved; /* 0 */
  /**
   * NULL, or receives each chunk of a streamed block (request stream=true), encoded as
   * ExecChunk and owned by the runtime (valid during the call), in order, before on_result.
   * Called on the runtime's event thread: it must not block (a slow receiver buffers; the
   * block's max_response_bytes bounds what it holds). Return 0 to go on; non-zero cancels the
   * block, which then ends with status "cancelled". Without on_chunk, chunks are appended to
   * the output as with execute_ex.
   */
  bl_chunk_fn on_chunk;
  /**
   * Required. Receives the block's encoded ExecResult (owned by the runtime, valid during the
   * call; empty only when it could not be encoded, out of memory) exactly once, after the last chunk: on the event thread, or on the thread that called
   * execute_async before it returns when the block ended before any I/O (a malformed request
   * or payload, a refused credential, a cancel flag already set, a deadline already passed). Must not block: the event thread serves every
   * other block of the runtime.
   */
  void(BL_CALL* on_result)(void* user, const uint8_t* result, uint64_t result_len);
} bl_async_callbacks;

/** The function table. Append-only; offsets frozen per version. */
typedef struct bl_api {
  uint32_t struct_size; /* sizeof(bl_api) of the library */
  uint32_t version;     /* BL_API_VERSION of the library */

  /* --- status ------------------------------------------------------------------------ */
  /** Creates a status (for executors to return). The message is copied. */
  bl_status*(BL_CALL* status_create)(int32_t code, const char* message, uint64_t message_len);
  /** The status's code (a bl_errc value). */
  int32_t(BL_CALL* status_code)(const bl_status* status);
  /** The status's UTF-8 message, NUL-terminated, owned by the status; *len gets its length. */
  const char*(BL_CALL* status_message)(const bl_status* status, uint64_t* len);
  /** Frees a status. Accepts NULL. */
  void(BL_CALL* status_release)(bl_status* status);

  /* --- buffers ------------------------------------------------------------------------ */
  /** Frees a buffer's data and zeroes it. Accepts NULL and empty buffers. */
  void(BL_CALL* buffer_release)(bl_buffer* buffer);

  /* --- runtime ------------------------------------------------------------------------ */
  /** Creates a runtime. options may be NULL (defaults). *out is owned by the caller. */
  bl_status*(BL_CALL* runtime_create)(const bl_runtime_options* options, bl_runtime** out);
  /** Releases a runtime and its executors' user data. Accepts NULL. No execute may be running. */
  void(BL_CALL* runtime_release)(bl_runtime* runtime);
  /** Registers an executor (the hook that native plugins use). */
  bl_status*(BL_CALL* runtime_register_executor)(bl_runtime* runtime, const bl_executor_def* def);
  /**
   * Loads a native plugin (dlopen) and lets it register its executors. The plugin must export
   * bl_plugin_api_version() and bl_plugin_init(); one that reports a version outside
   * 1..BL_API_VERSION (built against a newer header) is refused with BL_ERR_VERSION_MISMATCH.
   * Its init gets this library's table, a superset of the one it was built for. path is UTF-8.
   */
  bl_status*(BL_CALL* runtime_load_plugin)(bl_runtime* runtime, const char* path, uint64_t path_len);
  /** Writes the registered block types, '\n'-separated and sorted, into *out (caller frees). */
  bl_status*(BL_CALL* runtime_list_executors)(bl_runtime* runtime, bl_buffer* out);

  /* --- execution ---------------------------------------------------------------------- */
  /**
   * Runs one block: request is an encoded beamline.worker.v2.ExecRequest; *out_result gets an
   * encoded ExecResult, which the caller frees with buffer_release. A block that fails
   * (malformed request, unknown type, executor error, deadline) still returns NULL and a result
   * whose status says so; a non-NULL status means the call itself was wrong (NULL runtime ...).
   */
  bl_status*(BL_CALL* execute)(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                               bl_buffer* out_result);
  /**
   * Like execute, but when the request has stream=true, chunks that the executor emits are
   * passed, encoded as ExecChunk, to on_chunk as they come, on the calling thread, before the
   * call returns with the ExecResult. Without stream=true they are appended to the output.
   */
  bl_status*(BL_CALL* execute_stream)(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                                      bl_chunk_fn on_chunk, void* user, bl_buffer* out_result);

  /* --- for executors, during execute ---------------------------------------------------- */
  /** The block's identity and limits. Owned by the runtime; valid during the execute call. */
  const bl_exec_info*(BL_CALL* context_info)(const bl_exec_context* ctx);
  /** Appends bytes to the block's output (ExecResult.output). Data is copied. */
  bl_status*(BL_CALL* context_write)(bl_exec_context* ctx, const uint8_t* data, uint64_t len);
  /**
   * Sends one chunk of streamed output. When the caller did not ask for a stream, the data is
   * appended to the output instead, so executors need not care. Returns BL_ERR_CANCELLED when
   * the receiver cancelled.
   */
  bl_status*(BL_CALL* context_emit_chunk)(bl_exec_context* ctx, const uint8_t* data, uint64_t len);
  /**
   * 1 when the block should stop (its deadline passed, the receiver of its chunks cancelled, or
   * the host set bl_exec_overrides.cancel_flag), else 0.
   */
  int32_t(BL_CALL* context_cancelled)(const bl_exec_context* ctx);

  /* --- appended later in version 1 (so a version-1 caller checks
   *     struct_size >= offsetof(bl_api, execute_ex) + sizeof(void*)); always present in 2 ---- */
  /**
   * Like execute_stream (on_chunk may be NULL), with what the host — not the request — decides
   * about the block: overrides may be NULL (= execute_stream). The worker passes the GPU device
   * ordinal it leased for a block on the gpu pool here; it is never read from the request,
   * whose sender is not trusted with device placement. In-process hosts pass a cancel_flag to
   * cancel a running block (version 2).
   */
  bl_status*(BL_CALL* execute_ex)(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                                  const bl_exec_overrides* overrides, bl_chunk_fn on_chunk,
                                  void* user, bl_buffer* out_result);

  /* --- version 3 ------------------------------------------------------------------------ */
  /**
   * Starts one block without holding the calling thread for its I/O, when its type has an
   * asynchronous path (http.request: libcurl's multi interface, many transfers on one event
   * thread per runtime, started on first use). Returns NULL when the block was taken: its
   * chunks and its result then arrive through `callbacks` (see bl_async_callbacks), the result
   * exactly once — failures included (deadline, refusals, executor errors). Returns a status
   * BL_ERR_NOT_ASYNC, and calls nothing, when the type has no asynchronous path (run the block
   * with execute_ex instead); any other status means the call itself was wrong (NULL runtime,
   * bad struct_size), and nothing is called either.
   *
   * overrides as for execute_ex; its cancel_flag must stay valid until on_result is called (not
   * only until execute_async returns): the runtime reads neither it nor `user` afterwards. Setting it stops the block's transfer within about
   * 20 ms; the block then ends with status "cancelled". The block's deadline and every rule of
   * its executor apply exactly as with execute_ex. runtime_release must not be called before
   * every taken block's on_result has returned, nor from a callback (it joins the event
   * thread); a block still running at release ends "cancelled".
   */
  bl_status*(BL_CALL* execute_async)(bl_runtime* runtime, const uint8_t* request, uint64_t request_len,
                                     const bl_exec_overrides* overrides,
                                     const bl_async_callbacks* callbacks, void* user);
} bl_api;

/**
 * The one exported entry point. Returns the function table for the requested version (any of
 * 1..BL_API_VERSION: the one table, whose version member is the library's), or NULL when the
 * library does not implement it (0, or the caller was built against a newer header).
 * The table is static: never freed.
 */
BL_EXPORT const bl_api* BL_CALL bl_get_api(uint32_t version);

/* --- what a native plugin exports (see worker-native/plugins/example/) ------------------ */

/** A plugin returns BL_API_VERSION as it was compiled; the library loads 1..its own version. */
typedef uint32_t(BL_CALL* bl_plugin_api_version_fn)(void);
/** A plugin registers its executors into runtime through api->runtime_register_executor. */
typedef bl_status*(BL_CALL* bl_plugin_init_fn)(const bl_api* api, bl_runtime* runtime);

#define BL_PLUGIN_API_VERSION_SYMBOL "bl_plugin_api_version"
#define BL_PLUGIN_INIT_SYMBOL "bl_plugin_init"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BEAMLINE_EXEC_H */
