#pragma once

// The event loop behind execute_async for http.request: one thread per runtime drives every
// asynchronous transfer through one libcurl multi handle (curl_multi_poll, woken by
// curl_multi_wakeup when work is handed in), so a thousand slow upstream calls hold one thread,
// not a thousand. What a transfer does (hops, limits, the result) is the job's business; the
// loop only adds, removes and re-adds easy handles and asks jobs whether to stop.

#include "runtime.hpp"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace beamline::exec::http {

/// Why a job's transfer was taken off the loop before it ended.
enum class abort_reason {
  stopped,     ///< the job's should_stop() said so (cancelled, deadline)
  shutdown,    ///< the runtime is being released
  multi_error, ///< libcurl refused to add the handle
};

/// One asynchronous block's transfers. Every member is called on the loop thread, never
/// concurrently, and must not throw; a job that returns nullptr has completed its block and is
/// then destroyed by the loop.
class multi_job {
public:
  multi_job() = default;
  multi_job(const multi_job&) = delete;
  multi_job& operator=(const multi_job&) = delete;
  virtual ~multi_job() = default;

  /// Sets up the first transfer: its easy handle, or nullptr when the block already ended.
  [[nodiscard]] virtual CURL* start() noexcept = 0;
  /// The handle's transfer ended with `rc` (the handle is off the multi): the same handle set
  /// up for another transfer (a redirect), or nullptr when the block ended.
  [[nodiscard]] virtual CURL* transfer_done(CURLcode rc) noexcept = 0;
  /// Whether the block must stop now (asked about every poll_interval while it runs).
  [[nodiscard]] virtual bool should_stop() const noexcept = 0;
  /// The transfer was taken off the loop (or never started): end the block.
  virtual void abort(abort_reason why) noexcept = 0;
};

class multi_loop final : public runtime_service {
public:
  /// How often running jobs are asked should_stop() (a set cancel flag is noticed within it).
  static constexpr std::chrono::milliseconds poll_interval{20};

  /// Starts the thread. Throws std::runtime_error when libcurl cannot make a multi handle, and
  /// what std::thread throws.
  multi_loop();
  /// Stops the thread; jobs still running or waiting end with abort(shutdown).
  ~multi_loop() override;

  /// Hands `job` to the loop (thread-safe); it starts on the loop thread. Throws only
  /// std::bad_alloc, and then has not taken the job.
  void submit(std::unique_ptr<multi_job> job);

  /// The loop thread's id (tests).
  [[nodiscard]] std::thread::id thread_id() const noexcept { return thread_.get_id(); }

private:
  void run() noexcept;
  void add(std::unique_ptr<multi_job> job, CURL* handle) noexcept;
  void finished_transfers() noexcept;
  void stop_requested() noexcept;

  CURLM* multi_ = nullptr;
  std::mutex mutex_;
  std::vector<std::unique_ptr<multi_job>> incoming_; // guarded by mutex_
  bool stopping_ = false;                            // guarded by mutex_
  // Loop thread only: the jobs whose handle is on the multi.
  std::unordered_map<CURL*, std::unique_ptr<multi_job>> active_;
  std::thread thread_;
};

} // namespace beamline::exec::http
