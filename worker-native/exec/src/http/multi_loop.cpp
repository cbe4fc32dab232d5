#include "http/multi_loop.hpp"

#include "http/curl_handle.hpp"

#include <pthread.h>

#include <stdexcept>
#include <utility>

namespace beamline::exec::http {

multi_loop::multi_loop() {
  if (curl_share() == nullptr) // initialises libcurl globally
    throw std::runtime_error("libcurl could not be initialised");
  multi_ = curl_multi_init();
  if (multi_ == nullptr)
    throw std::runtime_error("curl_multi_init failed");
  thread_ = std::thread([this] { run(); });
}

multi_loop::~multi_loop() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

void multi_loop::submit(std::unique_ptr<multi_job> job) {
  {
    std::lock_guard lock{mutex_};
    incoming_.push_back(std::move(job));
  }
  curl_multi_wakeup(multi_);
}

void multi_loop::add(std::unique_ptr<multi_job> job, CURL* handle) noexcept {
  if (curl_multi_add_handle(multi_, handle) != CURLM_OK) {
    job->abort(abort_reason::multi_error);
    return;
  }
  try {
    active_.emplace(handle, std::move(job));
  } catch (...) {
    curl_multi_remove_handle(multi_, handle);
    job->abort(abort_reason::multi_error);
  }
}

void multi_loop::finished_transfers() noexcept {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL* handle = msg->easy_handle;
    const CURLcode rc = msg->data.result;
    curl_multi_remove_handle(multi_, handle);
    const auto it = active_.find(handle);
    if (it == active_.end())
      continue;
    auto job = std::move(it->second);
    active_.erase(it);
    if (CURL* next = job->transfer_done(rc); next != nullptr)
      add(std::move(job), next);
  }
}

void multi_loop::stop_requested() noexcept {
  for (auto it = active_.begin(); it != active_.end();) {
    if (!it->second->should_stop()) {
      ++it;
      continue;
    }
    curl_multi_remove_handle(multi_, it->first);
    auto job = std::move(it->second);
    it = active_.erase(it);
    job->abort(abort_reason::stopped);
  }
}

void multi_loop::run() noexcept {
  // A name operators can find in top/perf/schedstat (else it keeps its starter's, e.g. a .NET pool thread's).
  pthread_setname_np(pthread_self(), "bl-http-events");
  std::vector<std::unique_ptr<multi_job>> batch;
  auto last_check = std::chrono::steady_clock::now();
  for (;;) {
    bool stopping = false;
    {
      std::lock_guard lock{mutex_};
      batch.swap(incoming_);
      stopping = stopping_;
    }
    for (auto& job : batch) {
      if (stopping) {
        job->abort(abort_reason::shutdown);
      } else if (CURL* handle = job->start(); handle != nullptr) {
        add(std::move(job), handle);
      }
    }
    batch.clear();
    if (stopping)
      break;

    int running = 0;
    curl_multi_perform(multi_, &running);
    finished_transfers();
    const auto now = std::chrono::steady_clock::now();
    if (!active_.empty() && now - last_check >= poll_interval) {
      last_check = now;
      stop_requested();
    }
    // Idle: sleep until work is handed in. Busy: wake at least every poll_interval to ask the
    // jobs whether to stop (libcurl shortens the wait to its own timers).
    const int timeout_ms = active_.empty() ? 60'000 : static_cast<int>(poll_interval.count());
    curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
  }
  for (auto& [handle, job] : active_) {
    curl_multi_remove_handle(multi_, handle);
    job->abort(abort_reason::shutdown);
  }
  active_.clear();
}

} // namespace beamline::exec::http
