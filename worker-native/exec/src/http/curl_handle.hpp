#pragma once

// libcurl plumbing for http.request: one-time global initialisation, a process-wide share (DNS
// cache and TLS sessions, locked per data kind) and a per-thread easy handle that keeps its
// connection cache between blocks, so that consecutive requests to one host reuse connections.

#include <curl/curl.h>

#include <memory>

namespace beamline::exec::http {

/// The share every handle joins, or nullptr when libcurl failed to initialise. Initialises
/// libcurl on first use (thread-safe).
[[nodiscard]] CURLSH* curl_share() noexcept;

struct curl_easy_deleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using curl_easy_ptr = std::unique_ptr<CURL, curl_easy_deleter>;

struct curl_url_deleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using curl_url_ptr = std::unique_ptr<CURLU, curl_url_deleter>;

struct curl_slist_deleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using curl_slist_ptr = std::unique_ptr<curl_slist, curl_slist_deleter>;

/// Lends the calling thread's easy handle (reset to defaults, its live connections kept); a
/// nested use on the same thread gets a fresh handle of its own.
class easy_lease {
public:
  easy_lease() noexcept;
  easy_lease(const easy_lease&) = delete;
  easy_lease& operator=(const easy_lease&) = delete;
  ~easy_lease();

  /// nullptr when no handle could be made.
  [[nodiscard]] CURL* get() const noexcept { return handle_; }

private:
  CURL* handle_ = nullptr;
  curl_easy_ptr own_;
  bool cached_ = false;
};

} // namespace beamline::exec::http
