#include "nats_connection.hpp"

#include "log.hpp"

namespace beamline::worker {

namespace {

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK)
    throw nats_error(what, s);
}

void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void*) {
  log_warn("nats: asynchronous error: ", natsStatus_GetText(err));
}

void on_disconnected(natsConnection* nc, void*) {
  if (!natsConnection_IsClosed(nc)) // Close() reports a disconnect too: not worth a warning
    log_warn("nats: disconnected; reconnecting");
}

void on_reconnected(natsConnection* nc, void*) {
  char url[256] = {};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  log_info("nats: reconnected to ", url);
}

} // namespace

nats_error::nats_error(const std::string& what, natsStatus status)
  : std::runtime_error(what + ": " + natsStatus_GetText(status)
                       + [] {
                           const char* detail = nats_GetLastError(nullptr);
                           return detail != nullptr && *detail != '\0' ? std::string{" ("} + detail + ")"
                                                                       : std::string{};
                         }()),
    status_(status) {}

nats_connection::nats_connection(const std::string& url, const std::string& name) {
  try {
    check(natsOptions_Create(&opts_), "natsOptions_Create");
    check(natsOptions_SetURL(opts_, url.c_str()), "natsOptions_SetURL");
    check(natsOptions_SetName(opts_, name.c_str()), "natsOptions_SetName");
    // Replies are written from callbacks and actors: send at once instead of waiting for the
    // flusher (about 1 ms per reply otherwise).
    check(natsOptions_SetSendAsap(opts_, true), "natsOptions_SetSendAsap");
    check(natsOptions_SetMaxReconnect(opts_, 1'000'000), "natsOptions_SetMaxReconnect");
    check(natsOptions_SetReconnectWait(opts_, 500), "natsOptions_SetReconnectWait");
    check(natsOptions_SetErrorHandler(opts_, on_async_error, nullptr), "natsOptions_SetErrorHandler");
    check(natsOptions_SetDisconnectedCB(opts_, on_disconnected, nullptr),
          "natsOptions_SetDisconnectedCB");
    check(natsOptions_SetReconnectedCB(opts_, on_reconnected, nullptr),
          "natsOptions_SetReconnectedCB");
    check(natsConnection_Connect(&conn_, opts_), "cannot connect to " + url);
  } catch (...) {
    natsOptions_Destroy(opts_);
    throw;
  }
}

nats_connection::~nats_connection() {
  close();
  natsConnection_Destroy(conn_);
  natsOptions_Destroy(opts_);
}

nats_subscription nats_connection::queue_subscribe(const std::string& subject,
                                                   const std::string& queue,
                                                   natsMsgHandler handler, void* closure) {
  natsSubscription* sub = nullptr;
  check(natsConnection_QueueSubscribe(&sub, conn_, subject.c_str(), queue.c_str(), handler, closure),
        "cannot subscribe to " + subject);
  // Pending limits: admission bounds the work; let the client buffer generously meanwhile.
  natsSubscription_SetPendingLimits(sub, 1'000'000, 512 * 1024 * 1024);
  return nats_subscription{sub};
}

natsStatus nats_connection::publish_reply(const char* subject, const char* kind,
                                          const uint8_t* data, size_t size) noexcept {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject, nullptr, reinterpret_cast<const char*>(data),
                                static_cast<int>(size));
  if (s == NATS_OK)
    s = natsMsgHeader_Set(msg, kind_header, kind);
  if (s == NATS_OK)
    s = natsConnection_PublishMsg(conn_, msg);
  natsMsg_Destroy(msg);
  return s;
}

natsStatus nats_connection::publish(const char* subject, const void* data, size_t size) noexcept {
  return natsConnection_Publish(conn_, subject, data, static_cast<int>(size));
}

natsStatus nats_connection::flush(int64_t timeout_ms) noexcept {
  return natsConnection_FlushTimeout(conn_, timeout_ms);
}

void nats_connection::close() noexcept {
  if (conn_ != nullptr && !natsConnection_IsClosed(conn_))
    natsConnection_Close(conn_);
}

} // namespace beamline::worker
