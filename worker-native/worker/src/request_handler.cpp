#include "request_handler.hpp"

#include "log.hpp"
#include "tracing/trace_context.hpp"
#include "tracing/wire_scan.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <climits>
#include <optional>
#include <exception>

namespace beamline::worker {

namespace v2 = beamline::worker::v2;

namespace {

uint64_t micros_between(steady_clock::time_point from, steady_clock::time_point to) {
  return to > from ? static_cast<uint64_t>(
                       std::chrono::duration_cast<std::chrono::microseconds>(to - from).count())
                   : 0;
}

uint64_t micros_since(steady_clock::time_point t) { return micros_between(t, steady_clock::now()); }

/// The log line of one block of a sampled trace: a span of its own, a child of the caller's.
void log_traced_block(const trace_context& trace, const uint8_t* request, size_t request_size,
                      const uint8_t* result, size_t result_size, std::string_view worker_id,
                      uint64_t queue_us, uint64_t exec_us) noexcept {
  try {
    const auto req = scan_request(request, request_size);
    const auto res = scan_result(result, result_size);
    const auto trace_id = to_hex(trace.trace_id);
    const auto span_id = to_hex(new_span_id());
    const auto parent_id = to_hex(trace.parent_span_id);
    // C++17: no designated initializers, so the entry is filled field by field.
    block_log_entry entry;
    entry.trace_id = trace_id;
    entry.span_id = span_id;
    entry.parent_span_id = parent_id;
    entry.block_id = req.block_id;
    entry.type = req.type;
    entry.pool = req.pool;
    entry.status = status_name(res.status);
    entry.error_code = res.error_code;
    entry.worker_id = worker_id;
    entry.queue_us = queue_us;
    entry.exec_us = exec_us;
    log_block(entry);
  } catch (...) {
  }
}

/// The trace of a block whose caller records it; empty otherwise (the common, cheap case).
std::optional<trace_context> sampled_trace(std::string_view header, const uint8_t* request,
                                           size_t size) noexcept {
  if (current_log_format() != log_format::json)
    return std::nullopt; // nowhere to write the block's span
  const auto text = header.empty() ? scan_request(request, size).traceparent : header;
  if (text.empty())
    return std::nullopt;
  auto trace = parse_traceparent(text);
  if (!trace || !trace->sampled())
    return std::nullopt;
  return trace;
}

class sink_listener final : public chunk_listener {
public:
  explicit sink_listener(reply_sink& sink) : sink_(sink) {}
  bool on_chunk(const uint8_t* data, size_t size) override { return sink_.send_chunk(data, size); }

private:
  reply_sink& sink_;
};

} // namespace

std::string make_error_result(const uint8_t* request, size_t size, std::string_view error_code,
                              std::string_view message, std::string_view worker_id,
                              uint64_t latency_us, uint64_t queue_us) {
  v2::ExecResult result;
  v2::ExecRequest req;
  if (size <= static_cast<size_t>(INT_MAX) && req.ParseFromArray(request, static_cast<int>(size)))
    result.set_block_id(req.block_id());
  result.set_status(error_code == "deadline_exceeded" ? v2::EXEC_STATUS_TIMEOUT
                                                      : v2::EXEC_STATUS_ERROR);
  result.set_error_code(std::string{error_code});
  result.set_error_message(std::string{message});
  result.set_worker_id(std::string{worker_id});
  result.set_latency_us(latency_us);
  result.set_queue_us(queue_us);
  return result.SerializeAsString();
}

std::string request_handler::reject(const uint8_t* request, size_t size,
                                    std::string_view pool_name) const {
  return make_error_result(request, size, "resource_unavailable",
                           "pool '" + std::string{pool_name}
                             + "' is full: its running and queued blocks are at the limit",
                           worker_id_, 0);
}

void request_handler::run(const uint8_t* request, size_t size, steady_clock::time_point received_at,
                          reply_sink& sink, int32_t gpu_device,
                          std::string_view traceparent) const noexcept {
  const uint8_t* const original = request;
  const size_t original_size = size;
  std::optional<gate_decision> gated;
  // A claimed block's reply is stored before it is sent (the first stored one wins).
  const auto stored = [&](std::string reply) {
    return gated && gated->what == gate_decision::kind::run_claimed
             ? gate_->after_run(*gated, std::move(reply))
             : reply;
  };
  try {
    const auto started = steady_clock::now();
    const uint64_t queue_us = micros_between(received_at, started);
    const auto trace = sampled_trace(traceparent, request, size);
    const auto waited_ms = queue_us / 1000;
    std::string adjusted;
    // The library counts a deadline from when it is called; a block that waited here has
    // less left. Only then is the request decoded (the common case passes bytes through).
    if (waited_ms >= 1) {
      v2::ExecRequest req;
      if (size <= static_cast<size_t>(INT_MAX) && req.ParseFromArray(request, static_cast<int>(size))
          && req.deadline_ms() > 0) {
        if (waited_ms >= req.deadline_ms()) {
          const auto reply = make_error_result(
            request, size, "deadline_exceeded",
            "the block's deadline of " + std::to_string(req.deadline_ms())
              + " ms passed while it waited in the worker's queue",
            worker_id_, micros_since(received_at), queue_us);
          if (trace)
            log_traced_block(*trace, request, size, reinterpret_cast<const uint8_t*>(reply.data()),
                             reply.size(), worker_id_, queue_us, 0);
          sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
          return;
        }
        req.set_deadline_ms(req.deadline_ms() - static_cast<uint32_t>(waited_ms));
        adjusted = req.SerializeAsString();
        request = reinterpret_cast<const uint8_t*>(adjusted.data());
        size = adjusted.size();
      }
    }
    // Block dedupe: a block that ran before (or runs elsewhere) is answered, not run again.
    if (gate_ != nullptr && !sink.run_once_by_caller()) {
      gated = gate_->before_run(request, size);
      if (gated->what == gate_decision::kind::answer) {
        sink.send_result(reinterpret_cast<const uint8_t*>(gated->answer.data()), gated->answer.size());
        return;
      }
    }
    sink_listener listener{sink};
    const auto result = exec_.execute(request, size, &listener, gpu_device);
    const uint64_t exec_us = micros_since(started);
    // The library's bytes plus the worker's timings; one buffer per runner thread, reused.
    thread_local std::string reply;
    reply.assign(reinterpret_cast<const char*>(result.data()), result.size());
    append_timings(reply, queue_us, exec_us);
    if (const size_t limit = sink.max_result_size(); reply.size() > limit) {
      log_warn("a block's result of ", reply.size(), " bytes exceeds the ", limit,
               " that its reply can carry; answering result_too_large");
      const auto too_large = stored(make_error_result(
        original, original_size, "result_too_large",
        "the block's result of " + std::to_string(reply.size())
          + " bytes exceeds the largest reply the NATS server takes (" + std::to_string(limit)
          + " bytes)",
        worker_id_, micros_since(received_at), queue_us));
      sink.send_result(reinterpret_cast<const uint8_t*>(too_large.data()), too_large.size());
      return;
    }
    if (gated && gated->what == gate_decision::kind::run_claimed)
      reply = stored(std::move(reply));
    if (trace)
      log_traced_block(*trace, original, original_size, reinterpret_cast<const uint8_t*>(reply.data()),
                       reply.size(), worker_id_, queue_us, exec_us);
    sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    if (reply.capacity() > (1u << 20))
      std::string{}.swap(reply); // a rare huge result does not stay pinned to the thread
  } catch (const std::exception& e) {
    log_error("block failed inside the worker: ", e.what());
    try {
      const auto reply = stored(make_error_result(original, original_size, "internal_error", e.what(),
                                                  worker_id_, micros_since(received_at)));
      sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    } catch (...) {
      log_error("could not even build the internal_error reply");
    }
  } catch (...) {
    log_error("block failed inside the worker: unknown exception");
  }
}

} // namespace beamline::worker
