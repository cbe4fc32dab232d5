#include "http/curl_handle.hpp"

#include <mutex>

namespace beamline::exec::http {

namespace {

struct globals {
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];
};

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<globals*>(user)->locks[data].lock();
}

void unlock_share(CURL*, curl_lock_data data, void* user) {
  static_cast<globals*>(user)->locks[data].unlock();
}

/// Never freed: handles in other threads' thread-local storage may outlive static
/// destruction, and curl_global_cleanup is not safe while any of them exists.
globals* make_globals() noexcept {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return nullptr;
  auto* g = new (std::nothrow) globals;
  if (g == nullptr)
    return nullptr;
  g->share = curl_share_init();
  if (g->share != nullptr) {
    curl_share_setopt(g->share, CURLSHOPT_LOCKFUNC, lock_share);
    curl_share_setopt(g->share, CURLSHOPT_UNLOCKFUNC, unlock_share);
    curl_share_setopt(g->share, CURLSHOPT_USERDATA, g);
    curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  return g;
}

struct thread_handle {
  curl_easy_ptr handle;
  bool busy = false;
};

thread_handle& this_thread_handle() noexcept {
  thread_local thread_handle instance;
  return instance;
}

} // namespace

CURLSH* curl_share() noexcept {
  static globals* const g = make_globals();
  return g == nullptr ? nullptr : g->share;
}

easy_lease::easy_lease() noexcept {
  if (curl_share() == nullptr)
    return; // libcurl could not be initialised
  auto& cached = this_thread_handle();
  if (!cached.busy) {
    if (!cached.handle)
      cached.handle.reset(curl_easy_init());
    if (cached.handle) {
      cached.busy = true;
      cached_ = true;
      handle_ = cached.handle.get();
      curl_easy_reset(handle_); // options back to defaults; connections and caches stay
      return;
    }
  }
  own_.reset(curl_easy_init());
  handle_ = own_.get();
}

easy_lease::~easy_lease() {
  if (cached_) {
    // Drop the options, which point into the finished block's memory; connections stay.
    curl_easy_reset(handle_);
    this_thread_handle().busy = false;
  }
}

} // namespace beamline::exec::http
