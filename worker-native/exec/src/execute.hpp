#pragma once

// Running one block: decode the ExecRequest, find its executor, call it with a context, and
// encode the ExecResult (and, when streaming, ExecChunks).

#include "runtime.hpp"

#include <beamline/beamline_exec.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace beamline::exec {

using steady_clock = std::chrono::steady_clock;

/// What the host (not the request) decides about a block; see bl_exec_overrides.
struct block_overrides {
  /// bl_exec_info.gpu_device: a leased device ordinal, or -1.
  int32_t gpu_device = -1;
  /// bl_exec_overrides.cancel_flag: non-zero (set by the host from any thread) cancels the block.
  const int32_t* cancel_flag = nullptr;
};

/// Whether the host set `flag` (NULL = never). An atomic load: the host writes it from another
/// thread while the block runs.
[[nodiscard]] inline bool host_cancelled(const int32_t* flag) noexcept {
  return flag != nullptr && __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

/// Runs the block encoded in [request, request + request_len) that arrived at `received_at`
/// (the deadline counts from there). Chunks go to `on_chunk` when it is non-null and the
/// request asked for a stream. Always fills *out with an encoded ExecResult (malloc'd), unless
/// it throws (std::bad_alloc), in which case *out is untouched.
void run_block(runtime& rt, const uint8_t* request, uint64_t request_len,
               steady_clock::time_point received_at, bl_chunk_fn on_chunk, void* chunk_user,
               bl_buffer* out, const block_overrides& overrides = {});

/// What start_block_async did with a block.
enum class async_start {
  /// The block was taken: its result reaches the callbacks exactly once (maybe already has).
  taken,
  /// Its type has no asynchronous path; nothing was called.
  not_async,
};

/// Starts the block encoded in [request, request + request_len) through its executor's
/// asynchronous entry (execute_async). A request that does not decode, an unknown type, a
/// cancel flag already set or a deadline already passed end the block at once, through
/// `callbacks` on this thread. `callbacks` is copied. Throws only std::bad_alloc before the
/// block is taken.
[[nodiscard]] async_start start_block_async(runtime& rt, const uint8_t* request,
                                            uint64_t request_len,
                                            steady_clock::time_point received_at,
                                            const bl_async_callbacks& callbacks, void* user,
                                            const block_overrides& overrides = {});

struct async_block;

/// Ends a block that an executor's start_async took: `status` (nullptr = success; released
/// here) becomes its result, which goes to the host's on_result. Frees the block, `ctx` and its
/// payload included. Call exactly once, from any thread.
void complete_async(bl_exec_context* ctx, bl_status* status) noexcept;

} // namespace beamline::exec

/// The opaque per-block context handed to executors. Lives on run_block's stack.
struct bl_exec_context {
  bl_exec_info info{};
  /// The runtime running the block (for its executor configuration, see config.hpp).
  const beamline::exec::runtime* rt = nullptr;
  /// ExecResult.output, appended to by context_write (and emit_chunk when not streaming).
  std::string* output = nullptr;
  /// Non-null when chunks are streamed to the caller.
  bl_chunk_fn on_chunk = nullptr;
  void* chunk_user = nullptr;
  /// Reusable encoding buffers for chunks (owned by the thread's scratch).
  void* chunk_message = nullptr;
  std::string* chunk_bytes = nullptr;
  const std::string* block_id = nullptr;
  uint64_t next_seq = 0;
  bool cancelled_by_receiver = false;
  /// The host's cancel flag (bl_exec_overrides.cancel_flag), or null.
  const int32_t* cancel_flag = nullptr;
  bool has_deadline = false;
  beamline::exec::steady_clock::time_point deadline{};
  /// The block this context belongs to when it runs asynchronously (execute_async), else null.
  beamline::exec::async_block* async = nullptr;

  /// True when the block should stop: the receiver or the host cancelled, or the deadline passed.
  [[nodiscard]] bool cancelled() const noexcept {
    return cancelled_by_receiver || beamline::exec::host_cancelled(cancel_flag)
           || (has_deadline && beamline::exec::steady_clock::now() >= deadline);
  }
};
