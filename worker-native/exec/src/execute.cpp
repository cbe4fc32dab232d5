#include "execute.hpp"

#include "status.hpp"

#include "exec_wire.pb.h"

#include <climits>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace beamline::exec {

namespace {

namespace wire = beamline::exec::wire;

/// Scratch messages reused by every block a thread runs, so that the hot path allocates only
/// the result buffer it hands out: a parse into a reused message keeps its strings' capacity.
struct scratch {
  wire::ExecRequest request;
  wire::ExecResult result;
  wire::ExecChunk chunk;
  std::string chunk_bytes;
  bool busy = false;
};

/// Past this size a scratch is dropped after use, so that one huge block does not pin memory
/// in every thread for good.
constexpr size_t scratch_keep_limit = size_t{1} << 20;

/// Lends the thread's scratch; an executor that runs a nested block on the same thread gets a
/// fresh one instead.
class scratch_lease {
public:
  scratch_lease() {
    auto& cached = cache();
    if (!cached)
      cached = std::make_unique<scratch>();
    if (!cached->busy) {
      item_ = cached.get();
    } else {
      own_ = std::make_unique<scratch>();
      item_ = own_.get();
    }
    item_->busy = true;
  }
  scratch_lease(const scratch_lease&) = delete;
  scratch_lease& operator=(const scratch_lease&) = delete;
  ~scratch_lease() {
    item_->busy = false;
    if (own_ == nullptr && too_big()) {
      cache().reset();
    }
  }
  scratch* operator->() const noexcept { return item_; }

private:
  static std::unique_ptr<scratch>& cache() {
    thread_local std::unique_ptr<scratch> instance;
    return instance;
  }
  bool too_big() const noexcept {
    return item_->request.payload().capacity() > scratch_keep_limit
           || item_->result.output().capacity() > scratch_keep_limit
           || item_->chunk_bytes.capacity() > scratch_keep_limit;
  }

  scratch* item_ = nullptr;
  std::unique_ptr<scratch> own_;
};

wire::ExecStatus status_for(int32_t code) noexcept {
  switch (code) {
    case BL_ERR_DEADLINE_EXCEEDED:
      return wire::EXEC_STATUS_TIMEOUT;
    case BL_ERR_CANCELLED:
      return wire::EXEC_STATUS_CANCELLED;
    default:
      return wire::EXEC_STATUS_ERROR;
  }
}

/// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms,
/// no surrogates, nothing above U+10FFFF), or 0 when there is none.
size_t utf8_sequence(std::string_view s) noexcept {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2) || (c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) > 0x9f))
      return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3) || (c == 0xf0 && b(1) < 0x90) || (c == 0xf4 && b(1) > 0x8f))
      return 0;
    return 4;
  }
  return 0;
}

/// `text` with every byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD.
/// Error messages quote tenant input (a URL's percent-decoded host, a path), and protobuf
/// refuses to parse a string field that is not UTF-8: the result would not decode.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      text.remove_prefix(1);
    } else {
      out.append(text.data(), n);
      text.remove_prefix(n);
    }
  }
  return out;
}

void fail(wire::ExecResult& result, int32_t code, std::string_view message) {
  result.clear_output();
  result.set_status(status_for(code));
  const auto name = error_code_name(code);
  result.set_error_code(name.data(), name.size());
  result.set_error_message(valid_utf8(message));
}

/// Serialises straight into the malloc'd buffer handed to the caller.
void encode(const wire::ExecResult& result, bl_buffer* out) {
  const size_t size = result.ByteSizeLong();
  auto* data = static_cast<uint8_t*>(std::malloc(size == 0 ? 1 : size));
  if (data == nullptr)
    throw std::bad_alloc{};
  result.SerializeWithCachedSizesToArray(data);
  out->data = data;
  out->len = size;
}

int64_t mono_ns(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// The message of a block the host cancelled; `detail` is what the executor said, if anything.
std::string host_cancel_message(std::string_view detail) {
  std::string message = "the caller cancelled the block";
  if (!detail.empty())
    message.append(" (").append(detail).append(")");
  return message;
}

/// Turns what an executor returned (`st`, released here) into the block's result. Once the host
/// cancelled, the block ends cancelled whatever the executor made of it (it may have stopped
/// with its own status, or finished just as the flag was set).
void settle(const executor_entry& entry, const bl_exec_context& ctx, bl_status* st,
            wire::ExecResult& result) {
  if (host_cancelled(ctx.cancel_flag)) {
    fail(result, BL_ERR_CANCELLED,
         host_cancel_message(st != nullptr && st->code != BL_OK ? std::string_view{st->message}
                                                                 : std::string_view{}));
    release_status(st);
    return;
  }
  if (st != nullptr) {
    const int32_t code = st->code == BL_OK ? BL_ERR_INTERNAL : st->code;
    if (st->code == BL_OK)
      fail(result, code, "executor '" + entry.type + "' returned a status with code BL_OK");
    else
      fail(result, code, st->message);
    release_status(st);
    return;
  }
  if (ctx.cancelled_by_receiver) {
    fail(result, BL_ERR_CANCELLED, "the receiver cancelled the streamed block");
    return;
  }
  result.set_status(wire::EXEC_STATUS_OK);
}

void call_executor(const executor_entry& entry, bl_exec_context& ctx,
                   const wire::ExecRequest& request, wire::ExecResult& result) {
  bl_status* st = nullptr;
  try {
    const auto& payload = request.payload();
    st = entry.execute(entry.user, &ctx, reinterpret_cast<const uint8_t*>(payload.data()),
                       payload.size());
  } catch (const std::exception& e) {
    fail(result, BL_ERR_INTERNAL,
         "executor '" + entry.type + "' threw an exception: " + e.what());
    return;
  } catch (...) {
    fail(result, BL_ERR_INTERNAL, "executor '" + entry.type + "' threw a non-standard exception");
    return;
  }
  settle(entry, ctx, st, result);
}

/// Decodes the request into `req` and finds its executor, or fails `res` and returns nullptr.
/// Also fails a block that the host cancelled or whose deadline passed before it started.
/// Otherwise fills `ctx` (but not its output and chunk members) and returns the executor.
const executor_entry* admit(runtime& rt, const uint8_t* request, uint64_t request_len,
                            steady_clock::time_point received_at, const block_overrides& overrides,
                            wire::ExecRequest& req, wire::ExecResult& res, bl_exec_context& ctx) {
  if (request_len > static_cast<uint64_t>(INT_MAX)
      || !req.ParseFromArray(request, static_cast<int>(request_len))) {
    req.Clear();
    fail(res, BL_ERR_INVALID_INPUT, "the request is not a valid beamline.worker.v2.ExecRequest");
    return nullptr;
  }
  const auto* entry = rt.find(req.type());
  if (entry == nullptr) {
    fail(res, BL_ERR_UNKNOWN_EXECUTOR, "no executor is registered for block type '" + req.type() + "'");
    return nullptr;
  }
  ctx.rt = &rt;
  if (req.deadline_ms() > 0) {
    ctx.has_deadline = true;
    ctx.deadline = received_at + std::chrono::milliseconds{req.deadline_ms()};
    ctx.info.deadline_mono_ns = mono_ns(ctx.deadline);
  }
  if (host_cancelled(overrides.cancel_flag)) {
    fail(res, BL_ERR_CANCELLED, host_cancel_message("before it was started"));
    return nullptr;
  }
  if (ctx.has_deadline && steady_clock::now() >= ctx.deadline) {
    fail(res, BL_ERR_DEADLINE_EXCEEDED,
         "the block's deadline of " + std::to_string(req.deadline_ms())
           + " ms passed before it was started");
    return nullptr;
  }
  ctx.info.struct_size = sizeof(bl_exec_info);
  ctx.info.gpu_device = overrides.gpu_device;
  ctx.cancel_flag = overrides.cancel_flag;
  ctx.info.tenant_id = req.tenant_id().data();
  ctx.info.tenant_id_len = req.tenant_id().size();
  ctx.info.block_id = req.block_id().data();
  ctx.info.block_id_len = req.block_id().size();
  ctx.info.type = req.type().data();
  ctx.info.type_len = req.type().size();
  ctx.block_id = &req.block_id();
  return entry;
}

/// The members every result carries, whatever became of the block.
void stamp(const runtime& rt, const wire::ExecRequest& req, steady_clock::time_point received_at,
           wire::ExecResult& res) {
  res.set_block_id(req.block_id());
  res.set_worker_id(rt.worker_id());
  const auto elapsed = steady_clock::now() - received_at;
  res.set_latency_us(static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
}

} // namespace

void run_block(runtime& rt, const uint8_t* request, uint64_t request_len,
               steady_clock::time_point received_at, bl_chunk_fn on_chunk, void* chunk_user,
               bl_buffer* out, const block_overrides& overrides) {
  scratch_lease s;
  auto& req = s->request;
  auto& res = s->result;
  res.Clear();

  bl_exec_context ctx;
  if (const auto* entry = admit(rt, request, request_len, received_at, overrides, req, res, ctx)) {
    const bool stream = on_chunk != nullptr && req.stream();
    ctx.info.stream = stream ? 1u : 0u;
    ctx.output = res.mutable_output();
    if (stream) {
      ctx.on_chunk = on_chunk;
      ctx.chunk_user = chunk_user;
      ctx.chunk_message = &s->chunk;
      ctx.chunk_bytes = &s->chunk_bytes;
    }
    call_executor(*entry, ctx, req, res);
  }
  stamp(rt, req, received_at, res);
  encode(res, out);
}

/// A block running asynchronously: everything run_block keeps on its stack, on the heap until
/// complete_async.
struct async_block {
  wire::ExecRequest request;
  wire::ExecResult result;
  wire::ExecChunk chunk;
  std::string chunk_bytes;
  bl_exec_context ctx;
  const executor_entry* entry = nullptr;
  runtime* rt = nullptr;
  steady_clock::time_point received_at;
  bl_async_callbacks callbacks{};
  void* user = nullptr;
};

namespace {

/// Hands the finished result to the host. Never throws: a result that cannot be encoded (out
/// of memory) is replaced by a fixed one, so that on_result is still called exactly once.
void deliver(async_block& b) noexcept {
  std::string bytes;
  try {
    stamp(*b.rt, b.request, b.received_at, b.result);
    b.result.SerializeToString(&bytes);
  } catch (...) {
    bytes.clear(); // an empty ExecResult: status unspecified, read as an error by the host
  }
  b.callbacks.on_result(b.user, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

} // namespace

async_start start_block_async(runtime& rt, const uint8_t* request, uint64_t request_len,
                              steady_clock::time_point received_at,
                              const bl_async_callbacks& callbacks, void* user,
                              const block_overrides& overrides) {
  auto b = std::make_unique<async_block>();
  b->rt = &rt;
  b->received_at = received_at;
  b->callbacks = callbacks;
  b->user = user;
  b->entry = admit(rt, request, request_len, received_at, overrides, b->request, b->result, b->ctx);
  if (b->entry != nullptr && b->entry->start_async == nullptr)
    return async_start::not_async;
  if (b->entry == nullptr) {
    // An unknown type, a cancelled or late block: no executor to ask, the block ends here.
    const auto* known = rt.find(b->request.type());
    if (known != nullptr && known->start_async == nullptr)
      return async_start::not_async;
    deliver(*b);
    return async_start::taken;
  }
  auto& ctx = b->ctx;
  ctx.async = b.get();
  const bool stream = callbacks.on_chunk != nullptr && b->request.stream();
  ctx.info.stream = stream ? 1u : 0u;
  ctx.output = b->result.mutable_output();
  if (stream) {
    ctx.on_chunk = callbacks.on_chunk;
    ctx.chunk_user = user;
    ctx.chunk_message = &b->chunk;
    ctx.chunk_bytes = &b->chunk_bytes;
  }
  const auto& entry = *b->entry;
  const auto& payload = b->request.payload();
  bl_status* st = nullptr;
  try {
    st = entry.start_async(entry.user, &ctx, reinterpret_cast<const uint8_t*>(payload.data()),
                           payload.size());
  } catch (const std::exception& e) {
    st = make_status(BL_ERR_INTERNAL, "executor '" + entry.type + "' threw an exception: " + e.what());
  } catch (...) {
    st = make_status(BL_ERR_INTERNAL, "executor '" + entry.type + "' threw a non-standard exception");
  }
  if (st != nullptr) {
    complete_async(&b.release()->ctx, st); // refused at the start: ends here, on this thread
    return async_start::taken;
  }
  (void)b.release(); // the executor owns it now, until complete_async
  return async_start::taken;
}

void complete_async(bl_exec_context* ctx, bl_status* status) noexcept {
  std::unique_ptr<async_block> b{ctx->async};
  try {
    settle(*b->entry, b->ctx, status, b->result);
  } catch (...) {
    try {
      fail(b->result, BL_ERR_INTERNAL, "out of memory");
    } catch (...) {
      b->result.Clear();
    }
  }
  deliver(*b);
}

} // namespace beamline::exec
