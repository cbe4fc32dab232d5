#pragma once

// Request handling of the worker, free of NATS and actors: admission per pool, running an
// admitted block through the C ABI, and building replies.

#include "dedupe/block_gate.hpp"
#include "exec_client.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace beamline::worker {

using steady_clock = std::chrono::steady_clock;

/// Admission of one pool: at most `capacity` blocks run and `queue_limit` wait; past that a
/// block is refused at once (resource_unavailable) rather than queued without bound.
class pool_admission {
public:
  pool_admission(uint32_t capacity, uint32_t queue_limit) noexcept
    : capacity_(capacity), queue_limit_(queue_limit) {}

  /// Reserves a place (queued); false when the pool is full. Thread-safe, lock-free.
  [[nodiscard]] bool try_admit() noexcept {
    const uint32_t before = admitted_.fetch_add(1, std::memory_order_acq_rel);
    if (before >= capacity_ + queue_limit_) {
      admitted_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    return true;
  }
  /// An admitted block that will never start (the worker could not hand it on).
  void withdraw() noexcept { admitted_.fetch_sub(1, std::memory_order_acq_rel); }
  /// An admitted block starts running.
  void started() noexcept { in_flight_.fetch_add(1, std::memory_order_acq_rel); }
  /// A started block has finished and its reply was handed to the transport.
  void finished() noexcept {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    admitted_.fetch_sub(1, std::memory_order_acq_rel);
  }

  [[nodiscard]] uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] uint32_t queue_limit() const noexcept { return queue_limit_; }
  [[nodiscard]] uint32_t in_flight() const noexcept {
    return in_flight_.load(std::memory_order_acquire);
  }
  /// Admitted but not started. A snapshot: the two counters are read one after the other.
  [[nodiscard]] uint32_t queued() const noexcept {
    const uint32_t admitted = admitted_.load(std::memory_order_acquire);
    const uint32_t running = in_flight();
    return admitted > running ? admitted - running : 0;
  }
  /// True when nothing is queued or running.
  [[nodiscard]] bool idle() const noexcept { return admitted_.load(std::memory_order_acquire) == 0; }

private:
  const uint32_t capacity_;
  const uint32_t queue_limit_;
  std::atomic<uint32_t> admitted_{0};
  std::atomic<uint32_t> in_flight_{0};
};

/// Where the replies of one block go (a NATS reply subject in the worker, a vector in tests).
class reply_sink {
public:
  virtual ~reply_sink() = default;
  /// One encoded ExecChunk; false when it could not be sent (the block is then cancelled).
  virtual bool send_chunk(const uint8_t* data, size_t size) = 0;
  /// The encoded ExecResult, always last.
  virtual void send_result(const uint8_t* data, size_t size) = 0;
  /// The largest ExecResult this sink can deliver (a NATS reply: the server's max payload less
  /// the header). A larger one is replaced by a result_too_large error, so that the requester
  /// hears of it instead of waiting for a reply that the transport refused.
  [[nodiscard]] virtual size_t max_result_size() const noexcept { return SIZE_MAX; }
  /// True when whoever sent the block already runs it at most once (CP1 on JetStream claims
  /// its assignment): the block gate is skipped, so that one run is not claimed twice.
  [[nodiscard]] virtual bool run_once_by_caller() const noexcept { return false; }
};

/// An encoded ExecResult with status ERROR (or TIMEOUT for deadline_exceeded) for a block that
/// the worker answers itself. `block_id` is taken from the request when it can be decoded.
[[nodiscard]] std::string make_error_result(const uint8_t* request, size_t size,
                                            std::string_view error_code, std::string_view message,
                                            std::string_view worker_id, uint64_t latency_us,
                                            uint64_t queue_us = 0);

class request_handler {
public:
  request_handler(const exec_client& exec, std::string worker_id)
    : exec_(exec), worker_id_(std::move(worker_id)) {}

  /// The reply to a block refused by admission.
  [[nodiscard]] std::string reject(const uint8_t* request, size_t size,
                                   std::string_view pool_name) const;

  /// Runs one admitted block received at `received_at`: time spent queued counts against its
  /// deadline (a block whose deadline passed in the queue is not started). Sends streamed chunks
  /// and then the result to `sink`. Never throws: failures become an internal_error result, a
  /// result over sink.max_result_size() a result_too_large one.
  /// `gpu_device` is the device ordinal leased for the block (-1: none).
  /// The result carries queue_us (from `received_at` to this call) and exec_us (the executor).
  /// `traceparent` is the caller's W3C trace context (the NATS header; when empty, the request's
  /// own field): when it is sampled, the block gets a child span whose ids go into a log line
  /// (log_block).
  void run(const uint8_t* request, size_t size, steady_clock::time_point received_at,
           reply_sink& sink, int32_t gpu_device = -1,
           std::string_view traceparent = {}) const noexcept;

  [[nodiscard]] const std::string& worker_id() const noexcept { return worker_id_; }

  /// Runs non-idempotent blocks at most once (--block-dedupe; null: off). Set before any run.
  void set_gate(block_gate* gate) noexcept { gate_ = gate; }

private:
  const exec_client& exec_;
  std::string worker_id_;
  block_gate* gate_ = nullptr;
};

} // namespace beamline::worker
