#pragma once

// RAII over nats.c: the connection (with its options) and subscriptions.

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace beamline::worker {

/// A failed nats.c call.
class nats_error : public std::runtime_error {
public:
  nats_error(const std::string& what, natsStatus status);
  [[nodiscard]] natsStatus status() const noexcept { return status_; }

private:
  natsStatus status_;
};

/// Header that tells a chunk from a result on a reply subject. A streamed block sends
/// `Beamline-Kind: chunk` messages (ExecChunk) and then one `Beamline-Kind: result` message
/// (ExecResult) to the same reply inbox; an unstreamed block sends only the result. Requesters
/// that never stream may ignore the header: their only reply is the result.
inline constexpr const char* kind_header = "Beamline-Kind";
inline constexpr const char* kind_chunk = "chunk";
inline constexpr const char* kind_result = "result";

class nats_subscription {
public:
  explicit nats_subscription(natsSubscription* sub) noexcept : sub_(sub) {}
  nats_subscription(nats_subscription&& other) noexcept : sub_(other.sub_) { other.sub_ = nullptr; }
  nats_subscription(const nats_subscription&) = delete;
  nats_subscription& operator=(const nats_subscription&) = delete;
  nats_subscription& operator=(nats_subscription&&) = delete;
  ~nats_subscription() {
    if (sub_ != nullptr)
      natsSubscription_Destroy(sub_);
  }

  /// Stops interest at the server; messages already received are still delivered.
  [[nodiscard]] natsStatus drain() noexcept { return natsSubscription_Drain(sub_); }
  /// Waits until the drain has delivered everything; timeout in ms.
  [[nodiscard]] natsStatus wait_drained(int64_t timeout_ms) noexcept {
    return natsSubscription_WaitForDrainCompletion(sub_, timeout_ms);
  }

private:
  natsSubscription* sub_;
};

class nats_connection {
public:
  /// Connects (with SendAsap, unlimited-ish reconnects). Throws nats_error.
  nats_connection(const std::string& url, const std::string& name);
  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;
  ~nats_connection();

  /// Queue-subscribes `handler` (which must not block) to `subject`. Throws nats_error.
  [[nodiscard]] nats_subscription queue_subscribe(const std::string& subject,
                                                  const std::string& queue, natsMsgHandler handler,
                                                  void* closure);

  /// Publishes `data` to `subject` with the Beamline-Kind header. Never throws.
  natsStatus publish_reply(const char* subject, const char* kind, const uint8_t* data,
                           size_t size) noexcept;

  /// Publishes without headers. Never throws.
  natsStatus publish(const char* subject, const void* data, size_t size) noexcept;

  /// Waits until the server has processed everything sent so far.
  natsStatus flush(int64_t timeout_ms) noexcept;

  /// Closes the connection (also done by the destructor).
  void close() noexcept;

private:
  natsOptions* opts_ = nullptr;
  natsConnection* conn_ = nullptr;
};

} // namespace beamline::worker
