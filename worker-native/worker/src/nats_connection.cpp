#include "nats_connection.hpp"

#include "log.hpp"
#include "nkey.hpp"
#include "options.hpp"

#include <chrono>
#include <cstring>

namespace beamline::worker {

namespace {

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK)
    throw nats_error(what, s);
}

// The closure of the connection callbacks: the watch of the connection (its label, its outage).
void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  log_warn(static_cast<detail::connection_watch*>(closure)->label, ": asynchronous error: ",
           natsStatus_GetText(err));
}

void on_disconnected(natsConnection* nc, void* closure) {
  auto* watch = static_cast<detail::connection_watch*>(closure);
  if (natsConnection_IsClosed(nc)) // Close() reports a disconnect too: not worth a warning
    return;
  watch->away.store(true);
  log_warn(watch->label, ": disconnected; reconnecting");
}

void on_reconnected(natsConnection* nc, void* closure) {
  auto* watch = static_cast<detail::connection_watch*>(closure);
  watch->away.store(false);
  const auto held = watch->held.exchange(0);
  char url[512] = {};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  // The URL may carry a password.
  if (held > 0)
    log_info(watch->label, ": reconnected to ", redact_url(url), "; sending the ", held,
             " bytes published meanwhile");
  else
    log_info(watch->label, ": reconnected to ", redact_url(url));
}

void set_callbacks(natsOptions* opts, detail::connection_watch& watch) {
  void* closure = &watch;
  check(natsOptions_SetErrorHandler(opts, on_async_error, closure), "natsOptions_SetErrorHandler");
  check(natsOptions_SetDisconnectedCB(opts, on_disconnected, closure), "natsOptions_SetDisconnectedCB");
  check(natsOptions_SetReconnectedCB(opts, on_reconnected, closure), "natsOptions_SetReconnectedCB");
}

void on_subscription_closed(void* closure) {
  auto* state = static_cast<detail::subscription_state*>(closure);
  std::function<void()> then;
  {
    // Notified under the lock: once a waiter sees `closed`, this callback no longer touches state.
    std::lock_guard<std::mutex> guard{state->mutex};
    state->closed = true;
    then = std::move(state->on_closed);
    state->cv.notify_all();
  }
  if (then)
    then();
}

/// How long the flusher waits for the PONG of its PING. The write itself happens first; this only
/// bounds how long the flusher is away when the server does not answer.
constexpr int64_t flusher_pong_timeout_ms = 1000;

} // namespace

nats_error::nats_error(const std::string& what, natsStatus status)
  : std::runtime_error(what + ": " + natsStatus_GetText(status)
                       + [] {
                           const char* detail = nats_GetLastError(nullptr);
                           return detail != nullptr && *detail != '\0' ? std::string{" ("} + detail + ")"
                                                                       : std::string{};
                         }()),
    status_(status) {}

// --- subscriptions -------------------------------------------------------------------------------

nats_subscription::~nats_subscription() {
  if (sub_ == nullptr)
    return;
  natsSubscription_Unsubscribe(sub_); // fails harmlessly when already closed
  if (!wait_closed(5000)) {
    // A callback still runs and nats.c will call back when it returns: leave the state to it.
    log_warn("nats: a subscription callback did not return within 5 s of unsubscribing");
    static_cast<void>(state_.release());
  }
  natsSubscription_Destroy(sub_);
}

bool nats_subscription::stop(bool drain) noexcept {
  if (sub_ == nullptr)
    return true;
  if (drain && natsSubscription_Drain(sub_) == NATS_OK)
    return true;
  natsSubscription_Unsubscribe(sub_);
  return !drain;
}

bool nats_subscription::wait_closed(int64_t timeout_ms) noexcept {
  if (state_ == nullptr)
    return true;
  std::unique_lock<std::mutex> lock{state_->mutex};
  return state_->cv.wait_for(lock, std::chrono::milliseconds{timeout_ms > 0 ? timeout_ms : 0},
                             [&] { return state_->closed; });
}

void nats_subscription::on_closed(std::function<void()> fn) {
  if (state_ != nullptr) {
    std::unique_lock<std::mutex> lock{state_->mutex};
    if (!state_->closed) {
      state_->on_closed = std::move(fn);
      return;
    }
  }
  fn();
}

// --- the connection ------------------------------------------------------------------------------

nats_connection::nats_connection(const nats_settings& settings) {
  std::string shown; // for errors: never with a password or token
  for (const auto& url : settings.servers)
    shown += (shown.empty() ? "" : ",") + redact_url(url);
  try {
    check(natsOptions_Create(&opts_), "natsOptions_Create");
    std::vector<const char*> urls;
    bool tls = !settings.tls_ca.empty() || !settings.tls_cert.empty();
    for (const auto& url : settings.servers) {
      urls.push_back(url.c_str());
      tls = tls || url.rfind("tls://", 0) == 0;
    }
    check(natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size())),
          "invalid --nats " + shown);
    check(natsOptions_SetName(opts_, settings.name.c_str()), "natsOptions_SetName");
    // No SendAsap: publishes are buffered and written by request_flush (see the header).
    check(natsOptions_SetMaxReconnect(opts_, -1), "natsOptions_SetMaxReconnect"); // -1: forever
    check(natsOptions_SetReconnectWait(opts_, settings.reconnect_wait_ms), "natsOptions_SetReconnectWait");
    check(natsOptions_SetReconnectBufSize(opts_, reconnect_buffer_bytes), "natsOptions_SetReconnectBufSize");
    if (!settings.inbox_prefix.empty())
      check(natsOptions_SetCustomInboxPrefix(opts_, settings.inbox_prefix.c_str()), "--inbox-prefix");
    set_callbacks(opts_, main_watch_);

    if (!settings.creds_file.empty()) {
      check(natsOptions_SetUserCredentialsFromFiles(opts_, settings.creds_file.c_str(), nullptr),
            "--creds '" + settings.creds_file + "'");
    } else if (!settings.nkey_seed_file.empty()) {
      const auto key = nkey_public_key_of_file(settings.nkey_seed_file);
      if (!key.error.empty())
        throw std::runtime_error("--nkey: " + key.error);
      check(natsOptions_SetNKeyFromSeed(opts_, key.public_key.c_str(), settings.nkey_seed_file.c_str()),
            "--nkey '" + settings.nkey_seed_file + "'");
    } else if (!settings.user.empty()) {
      check(natsOptions_SetUserInfo(opts_, settings.user.c_str(),
                                    settings.password.empty() ? nullptr : settings.password.c_str()),
            "--user");
    } else if (!settings.token.empty()) {
      check(natsOptions_SetToken(opts_, settings.token.c_str()), "--token");
    }

    if (tls) {
      check(natsOptions_SetSecure(opts_, true), "natsOptions_SetSecure");
      if (!settings.tls_ca.empty())
        check(natsOptions_LoadCATrustedCertificates(opts_, settings.tls_ca.c_str()),
              "--tls-ca '" + settings.tls_ca + "'");
      if (!settings.tls_cert.empty())
        check(natsOptions_LoadCertificatesChain(opts_, settings.tls_cert.c_str(),
                                                settings.tls_key.c_str()),
              "--tls-cert '" + settings.tls_cert + "' / --tls-key '" + settings.tls_key + "'");
    }
    check(natsConnection_Connect(&conn_, opts_), "cannot connect to " + shown);
    // The second connection: the same servers and credentials, SendAsap (nats.c copies the
    // options when connecting, so changing them now leaves the first alone).
    check(natsOptions_SetName(opts_, (settings.name + " (replies)").c_str()), "natsOptions_SetName");
    check(natsOptions_SetSendAsap(opts_, true), "natsOptions_SetSendAsap");
    set_callbacks(opts_, now_watch_);
    check(natsConnection_Connect(&now_conn_, opts_), "cannot connect to " + shown);
    flusher_ = std::thread{[this] { flusher_loop(); }};
  } catch (...) {
    natsConnection_Destroy(now_conn_);
    natsConnection_Destroy(conn_);
    natsOptions_Destroy(opts_);
    throw;
  }
}

nats_connection::~nats_connection() {
  close();
  natsConnection_Destroy(now_conn_);
  natsConnection_Destroy(conn_);
  natsOptions_Destroy(opts_);
}

nats_subscription nats_connection::queue_subscribe(const std::string& subject,
                                                   const std::string& queue,
                                                   natsMsgHandler handler, void* closure) {
  auto state = std::make_unique<detail::subscription_state>();
  natsSubscription* sub = nullptr;
  check(natsConnection_QueueSubscribe(&sub, conn_, subject.c_str(), queue.c_str(), handler, closure),
        "cannot subscribe to " + subject);
  if (natsStatus s = natsSubscription_SetOnCompleteCB(sub, on_subscription_closed, state.get());
      s != NATS_OK) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    throw nats_error("cannot watch the subscription to " + subject, s);
  }
  // Pending limits: admission bounds the work; let the client buffer generously meanwhile.
  natsSubscription_SetPendingLimits(sub, 1'000'000, 512 * 1024 * 1024);
  return nats_subscription{sub, std::move(state)};
}

natsStatus nats_connection::publish_reply(const char* subject, const char* kind,
                                          const uint8_t* data, size_t size, bool now) noexcept {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject, nullptr, reinterpret_cast<const char*>(data),
                                static_cast<int>(size));
  if (s == NATS_OK)
    s = natsMsgHeader_Set(msg, kind_header, kind);
  if (s == NATS_OK)
    s = natsConnection_PublishMsg(now ? now_conn_ : conn_, msg);
  natsMsg_Destroy(msg);
  if (s == NATS_OK)
    note_published(now ? now_watch_ : main_watch_, size);
  if (!now)
    unflushed_.store(true, std::memory_order_release);
  return s;
}

natsStatus nats_connection::publish(const char* subject, const void* data, size_t size) noexcept {
  const natsStatus s = natsConnection_Publish(conn_, subject, data, static_cast<int>(size));
  unflushed_.store(true, std::memory_order_release);
  if (s == NATS_OK)
    note_published(main_watch_, size);
  return s;
}

void nats_connection::request_flush() noexcept {
  if (!unflushed_.load(std::memory_order_acquire))
    return; // nothing published on the buffered connection since the last flush
  if (flush_requested_.exchange(true, std::memory_order_acq_rel))
    return; // the flusher has not taken the last request yet: it will write this too
  { std::lock_guard<std::mutex> guard{flush_mutex_}; } // the flusher is waiting or will see the flag
  flush_cv_.notify_one();
}

void nats_connection::flusher_loop() noexcept {
  std::unique_lock<std::mutex> lock{flush_mutex_};
  for (;;) {
    flush_cv_.wait(lock, [&] { return flusher_stop_ || flush_requested_.load(std::memory_order_acquire); });
    if (flusher_stop_)
      return;
    // Cleared before the write: whatever is published after this point asks again.
    flush_requested_.store(false, std::memory_order_release);
    unflushed_.store(false, std::memory_order_release);
    lock.unlock();
    // Only with something to write and a server to take it: while reconnecting, the PING would
    // wait for a PONG that never comes (and what is buffered goes out on reconnect anyway).
    if (natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED && natsConnection_Buffered(conn_) > 0)
      static_cast<void>(natsConnection_FlushTimeout(conn_, flusher_pong_timeout_ms));
    lock.lock();
  }
}

natsStatus nats_connection::flush(int64_t timeout_ms) noexcept {
  const natsStatus s = natsConnection_FlushTimeout(conn_, timeout_ms);
  const natsStatus now = natsConnection_FlushTimeout(now_conn_, timeout_ms);
  return s != NATS_OK ? s : now;
}

int64_t nats_connection::max_payload() const noexcept {
  return natsConnection_GetMaxPayload(conn_);
}

size_t nats_connection::max_reply_size(const char* kind) const noexcept {
  // What nats.c counts against max_payload besides the body: "NATS/1.0\r\n", the header line
  // "Beamline-Kind: <kind>\r\n" and the closing "\r\n".
  const auto header = static_cast<int64_t>(10 + std::strlen(kind_header) + 2 + std::strlen(kind) + 2 + 2);
  const int64_t max = max_payload();
  return max > header ? static_cast<size_t>(max - header) : 0;
}

int64_t nats_connection::held_while_away() const noexcept {
  return main_watch_.held.load() + now_watch_.held.load();
}

bool nats_connection::connected() const noexcept {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

void nats_connection::close() noexcept {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> guard{flush_mutex_};
      flusher_stop_ = true;
    }
    flush_cv_.notify_one();
  }
  // Closing also ends a flush that waits for its PONG.
  for (natsConnection* nc : {conn_, now_conn_})
    if (nc != nullptr && !natsConnection_IsClosed(nc))
      natsConnection_Close(nc);
  if (flusher_.joinable())
    flusher_.join();
}

} // namespace beamline::worker
