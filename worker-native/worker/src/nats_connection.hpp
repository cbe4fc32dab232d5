#pragma once

// RAII over nats.c: the connection (with its options and its reply flusher) and subscriptions.
//
// Replies are buffered, as a fast NATS client does: a publish only appends to the connection's
// write buffer, and the buffer goes out in one write() when the worker asks for it
// (request_flush, called when a pool's queue runs dry), when it fills (nats.c's 32 KiB), or at
// the latest about 1 ms later through nats.c's own flusher. So a busy worker sends many replies
// per write(). nats.c 3.4 has no flush that does not wait for the server, so request_flush hands
// the write to a thread of this class, which flushes with a PING and waits for its PONG: no
// runner ever waits for the network.
//
// That hand-off costs a thread wake-up, which an idle worker should not pay: the one reply that
// leaves a pool idle (nothing queued behind it) goes out at once instead, written by the runner
// itself through a second, publish-only connection with SendAsap (publish_reply with `now`).
// Only a reply subject's single message may take it: chunks and the result of a streamed block,
// and CP1 acks and results, stay on the main connection, whose order NATS keeps.

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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

/// Where and how the worker connects (see worker_options for each field).
struct nats_settings {
  /// Tried in turn when connecting and reconnecting. A tls:// URL turns TLS on.
  std::vector<std::string> servers;
  /// The connection name the server shows (`nats server report connections`).
  std::string name;
  /// Authentication: at most one of these four is set.
  std::string creds_file;
  std::string nkey_seed_file;
  std::string user;
  std::string password;
  std::string token;
  /// TLS: any of these turns it on; cert and key go together.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  /// How long nats.c waits before trying a lost server again (--reconnect-wait-ms).
  int64_t reconnect_wait_ms = 500;
  /// The prefix of reply subjects (--inbox-prefix); empty: nats.c's "_INBOX".
  std::string inbox_prefix;
};

/// What nats.c keeps of publishes made while it reconnects, per connection: sent once it is back,
/// and a publish that does not fit fails (the caller logs it and the requester times out). What
/// is left in it when the worker exits before the server returns is dropped.
inline constexpr int reconnect_buffer_bytes = 8 << 20;

namespace detail {
/// What the worker knows of one connection's outages, from nats.c's callbacks.
struct connection_watch {
  const char* label;
  /// Between a disconnect and the reconnect.
  std::atomic<bool> away{false};
  /// Bytes published while away: nats.c holds them in its reconnect buffer until it is back.
  std::atomic<int64_t> held{0};
};

/// Set by nats.c once a subscription is closed and its last callback has returned.
struct subscription_state {
  std::mutex mutex;
  std::condition_variable cv;
  bool closed = false;
  /// Called once, after `closed` is set (see nats_subscription::on_closed).
  std::function<void()> on_closed;
};
} // namespace detail

class nats_subscription {
public:
  nats_subscription(natsSubscription* sub, std::unique_ptr<detail::subscription_state> state) noexcept
    : sub_(sub), state_(std::move(state)) {}
  nats_subscription(nats_subscription&& other) noexcept
    : sub_(other.sub_), state_(std::move(other.state_)) {
    other.sub_ = nullptr;
  }
  nats_subscription(const nats_subscription&) = delete;
  nats_subscription& operator=(const nats_subscription&) = delete;
  nats_subscription& operator=(nats_subscription&&) = delete;
  /// Unsubscribes when still subscribed and waits (a bounded while) for a running callback, so
  /// that no callback outlives what it works on.
  ~nats_subscription();

  /// Stops taking messages. With `drain`, the server stops sending and what the client already
  /// holds is still delivered; a drain needs the server (a flush), so without it, or when the
  /// drain cannot start, this unsubscribes at once and what the client holds is dropped.
  /// Returns false when it had to fall back to an unsubscribe. Idempotent.
  bool stop(bool drain) noexcept;
  /// Waits until no callback runs any more and none will; false when `timeout_ms` passed first.
  [[nodiscard]] bool wait_closed(int64_t timeout_ms) noexcept;
  /// Has `fn` called once when no callback runs any more and none will: at once (on this thread)
  /// when that is already so, else on nats.c's thread. `fn` must not block or throw.
  void on_closed(std::function<void()> fn);

private:
  natsSubscription* sub_;
  std::unique_ptr<detail::subscription_state> state_;
};

class nats_connection {
public:
  /// Connects (unlimited reconnects, replies buffered) and starts the reply flusher. Throws
  /// nats_error, whose text never holds the password or token.
  explicit nats_connection(const nats_settings& settings);
  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;
  ~nats_connection();

  /// Queue-subscribes `handler` (which must not block) to `subject`. Throws nats_error.
  [[nodiscard]] nats_subscription queue_subscribe(const std::string& subject,
                                                  const std::string& queue, natsMsgHandler handler,
                                                  void* closure);

  /// Publishes `data` to `subject` with the Beamline-Kind header. Never throws. Buffered: call
  /// request_flush when no more replies follow soon. With `now`, written at once through the
  /// second connection: only for the single message of a reply subject (see above).
  natsStatus publish_reply(const char* subject, const char* kind, const uint8_t* data, size_t size,
                           bool now = false) noexcept;

  /// Publishes without headers. Never throws. Buffered, like publish_reply.
  natsStatus publish(const char* subject, const void* data, size_t size) noexcept;

  /// Has what was published so far written to the server soon, without waiting for it: wakes the
  /// flusher thread (one wake-up however many calls come while it is busy). Never blocks.
  void request_flush() noexcept;

  /// Waits until the server has processed everything sent so far.
  natsStatus flush(int64_t timeout_ms) noexcept;

  /// The largest message (headers and data) the server takes.
  [[nodiscard]] int64_t max_payload() const noexcept;
  /// The largest reply body publish_reply can send with `kind` (max_payload less the header).
  [[nodiscard]] size_t max_reply_size(const char* kind) const noexcept;

  /// The nats.c connection, for JetStream (cp1/service_jetstream.cpp); owned by this object.
  [[nodiscard]] natsConnection* native() const noexcept { return conn_; }

  /// True while connected; false while reconnecting or once closed.
  [[nodiscard]] bool connected() const noexcept;
  /// Bytes published since the connections were lost, which nats.c holds in its reconnect buffers
  /// until the server is back (0 while connected). Counted from nats.c's disconnect callbacks,
  /// which run a moment after the loss: a publish in between is not counted.
  [[nodiscard]] int64_t held_while_away() const noexcept;
  /// True once both connections have reported losing the server, until they are back.
  [[nodiscard]] bool away() const noexcept { return main_watch_.away.load() && now_watch_.away.load(); }

  /// Stops the flusher and closes the connection (also done by the destructor).
  void close() noexcept;

private:
  void flusher_loop() noexcept;

  /// Count what is published while away (see held_while_away).
  void note_published(detail::connection_watch& watch, size_t size) noexcept {
    if (watch.away.load(std::memory_order_relaxed))
      watch.held.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  }

  detail::connection_watch main_watch_{"nats"};
  /// Of now_conn_.
  detail::connection_watch now_watch_{"nats (replies)"};
  natsOptions* opts_ = nullptr;
  natsConnection* conn_ = nullptr;
  /// Publish-only, SendAsap: replies that leave a pool idle.
  natsConnection* now_conn_ = nullptr;

  std::mutex flush_mutex_;
  std::condition_variable flush_cv_;
  std::atomic<bool> flush_requested_{false};
  /// Set by a buffered publish, cleared by the flusher: a request with nothing to write is free.
  std::atomic<bool> unflushed_{false};
  bool flusher_stop_ = false; // guarded by flush_mutex_
  std::thread flusher_;
};

} // namespace beamline::worker
