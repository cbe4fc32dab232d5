#include "request_handler.hpp"

#include "log.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <climits>
#include <exception>

namespace beamline::worker {

namespace v2 = beamline::worker::v2;

namespace {

uint64_t micros_since(steady_clock::time_point t) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - t).count());
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
                              uint64_t latency_us) {
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
                          reply_sink& sink, int32_t gpu_device) const noexcept {
  const uint8_t* const original = request;
  const size_t original_size = size;
  try {
    const auto waited = steady_clock::now() - received_at;
    const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
    std::string adjusted;
    // The library counts a deadline from when it is called; a block that waited here has
    // less left. Only then is the request decoded (the common case passes bytes through).
    if (waited_ms >= 1) {
      v2::ExecRequest req;
      if (size <= static_cast<size_t>(INT_MAX) && req.ParseFromArray(request, static_cast<int>(size))
          && req.deadline_ms() > 0) {
        if (static_cast<uint64_t>(waited_ms) >= req.deadline_ms()) {
          const auto reply = make_error_result(
            request, size, "deadline_exceeded",
            "the block's deadline of " + std::to_string(req.deadline_ms())
              + " ms passed while it waited in the worker's queue",
            worker_id_, micros_since(received_at));
          sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
          return;
        }
        req.set_deadline_ms(req.deadline_ms() - static_cast<uint32_t>(waited_ms));
        adjusted = req.SerializeAsString();
        request = reinterpret_cast<const uint8_t*>(adjusted.data());
        size = adjusted.size();
      }
    }
    sink_listener listener{sink};
    const auto result = exec_.execute(request, size, &listener, gpu_device);
    if (const size_t limit = sink.max_result_size(); result.size() > limit) {
      log_warn("a block's result of ", result.size(), " bytes exceeds the ", limit,
               " that its reply can carry; answering result_too_large");
      const auto reply = make_error_result(
        original, original_size, "result_too_large",
        "the block's result of " + std::to_string(result.size())
          + " bytes exceeds the largest reply the NATS server takes (" + std::to_string(limit)
          + " bytes)",
        worker_id_, micros_since(received_at));
      sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
      return;
    }
    sink.send_result(result.data(), result.size());
  } catch (const std::exception& e) {
    log_error("block failed inside the worker: ", e.what());
    try {
      const auto reply = make_error_result(original, original_size, "internal_error", e.what(), worker_id_,
                                           micros_since(received_at));
      sink.send_result(reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    } catch (...) {
      log_error("could not even build the internal_error reply");
    }
  } catch (...) {
    log_error("block failed inside the worker: unknown exception");
  }
}

} // namespace beamline::worker
