#pragma once

// A small HTTP/1.1 server on 127.0.0.1 (port 0) for the http.request tests: plain sockets, one
// thread per connection, keep-alive. Routes:
//   /json                 200, {"hello":"world"}
//   /echo                 200, JSON {"method", "body", "headers"{lower-case name: value}}
//   /status/<code>        <code>, body "status <code>"
//   /slow                 waits up to 10 s (until the server stops), then 200
//   /huge                 200, 8 MiB of 'x' in chunked encoding (no Content-Length)
//   /huge-length          200, 8 MiB of 'x' with a Content-Length
//   /loop                 302 to /loop
//   /redirect-to/<url>    302 to <url>, verbatim
//   /stream               chunked "data: 1\n\n" ... "data: 5\n\n"; waits, after the first event,
//                         until first_chunk_seen() is called (or 5 s), so a test can tell that
//                         chunks reach it while the response is still being sent.
//   /delay/<ms>           waits <ms> (or until the server stops), then 200, body "delayed"
//   /gate/<n>             holds each request until <n> of them wait at once (or 10 s), then
//                         200, body "open": proof that n transfers were in flight together

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace beamline::test {

class test_http_server {
public:
  test_http_server() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0)
      throw std::runtime_error("socket failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::listen(listen_fd_, 1024) != 0)
      throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  test_http_server(const test_http_server&) = delete;
  test_http_server& operator=(const test_http_server&) = delete;

  ~test_http_server() {
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
      for (const int fd : open_fds_)
        ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (auto& t : workers_)
      t.join();
  }

  [[nodiscard]] uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string url(const std::string& path) const { return base() + path; }
  [[nodiscard]] int connections() const noexcept { return connections_.load(); }

  /// Releases the /stream handler after its first event.
  void first_chunk_seen() {
    {
      std::lock_guard lock{mutex_};
      first_chunk_seen_ = true;
    }
    cv_.notify_all();
  }
  /// Whether a /gate/<n> opened because n requests waited at once (rather than by its timeout).
  [[nodiscard]] bool gate_opened_by_count() const noexcept { return gate_opened_by_count_.load(); }

  /// Whether /stream was released by first_chunk_seen (rather than by its 5 s fallback).
  [[nodiscard]] bool stream_released_by_client() const noexcept { return released_by_client_.load(); }

private:
  struct request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        return;
      std::lock_guard lock{mutex_};
      if (stopping_) {
        ::close(fd);
        return;
      }
      connections_.fetch_add(1);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  static bool send_chunk(int fd, std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return send_all(fd, size) && send_all(fd, data) && send_all(fd, "\r\n");
  }

  static std::string lower(std::string s) {
    for (auto& c : s)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    return s;
  }

  /// Reads one request; false at end of connection.
  static bool read_request(int fd, std::string& buffer, request& req) {
    size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0)
        return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buffer.substr(0, header_end);
    buffer.erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 + 1);
    req = {};
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t content_length = 0;
    while (line_end != std::string::npos && line_end < head.size()) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos)
        continue;
      std::string name = lower(line.substr(0, colon));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      if (name == "content-length")
        content_length = std::stoul(value);
      req.headers.emplace_back(std::move(name), std::move(value));
    }
    while (buffer.size() < content_length) {
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0)
        return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    req.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    return true;
  }

  static bool respond(int fd, int status, const std::string& body,
                      const std::string& extra_headers = {},
                      const std::string& content_type = "text/plain") {
    const std::string head = "HTTP/1.1 " + std::to_string(status) + " Test\r\nContent-Type: "
                             + content_type + "\r\nContent-Length: " + std::to_string(body.size())
                             + "\r\n" + extra_headers + "\r\n";
    return send_all(fd, head + body); // one write: no Nagle / delayed-ACK stall
  }

  bool wait_stopping(std::chrono::milliseconds for_how_long) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, for_how_long, [this] { return stopping_; });
  }

  bool handle(int fd, const request& req) {
    const std::string& t = req.target;
    if (t == "/json")
      return respond(fd, 200, R"({"hello":"world"})", {}, "application/json");
    if (t == "/echo") {
      nlohmann::json headers = nlohmann::json::object();
      for (const auto& [name, value] : req.headers)
        headers[name] = value;
      const nlohmann::json out{{"method", req.method}, {"body", req.body}, {"headers", headers}};
      return respond(fd, 200, out.dump(), {}, "application/json");
    }
    if (t.rfind("/delay/", 0) == 0) {
      if (wait_stopping(std::chrono::milliseconds{std::stoi(t.substr(7))}))
        return false;
      return respond(fd, 200, "delayed");
    }
    if (t.rfind("/gate/", 0) == 0) {
      const int n = std::stoi(t.substr(6));
      {
        std::unique_lock lock{mutex_};
        ++gate_waiting_;
        if (gate_waiting_ >= n) {
          gate_open_ = true;
          gate_opened_by_count_ = true;
          cv_.notify_all();
        }
        cv_.wait_for(lock, std::chrono::seconds{10}, [this] { return gate_open_ || stopping_; });
        gate_open_ = true;
      }
      return respond(fd, 200, "open");
    }
    if (t.rfind("/status/", 0) == 0) {
      const int code = std::stoi(t.substr(8));
      return respond(fd, code, "status " + std::to_string(code), "X-Multi: a\r\nX-Multi: b\r\n");
    }
    if (t == "/slow") {
      if (wait_stopping(std::chrono::seconds{10}))
        return false;
      return respond(fd, 200, "finally");
    }
    if (t == "/huge" || t == "/huge-length") {
      constexpr size_t total = size_t{8} << 20;
      const std::string piece(size_t{64} << 10, 'x');
      if (t == "/huge-length") {
        if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n"))
          return false;
        for (size_t sent = 0; sent < total; sent += piece.size())
          if (!send_all(fd, piece))
            return false;
        return true;
      }
      if (!send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        return false;
      for (size_t sent = 0; sent < total; sent += piece.size())
        if (!send_chunk(fd, piece))
          return false;
      return send_all(fd, "0\r\n\r\n");
    }
    if (t == "/loop")
      return respond(fd, 302, "again", "Location: /loop\r\n");
    if (t.rfind("/redirect-to/", 0) == 0)
      return respond(fd, 302, "elsewhere", "Location: " + t.substr(13) + "\r\n");
    if (t == "/stream") {
      if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n")
          || !send_chunk(fd, "data: 1\n\n"))
        return false;
      {
        std::unique_lock lock{mutex_};
        const bool seen = cv_.wait_for(lock, std::chrono::seconds{5},
                                       [this] { return first_chunk_seen_ || stopping_; });
        released_by_client_ = seen && first_chunk_seen_;
      }
      for (int i = 2; i <= 5; ++i)
        if (!send_chunk(fd, "data: " + std::to_string(i) + "\n\n"))
          return false;
      return send_all(fd, "0\r\n\r\n");
    }
    return respond(fd, 404, "no route " + t);
  }

  void serve(int fd) {
    std::string buffer;
    request req;
    while (read_request(fd, buffer, req)) {
      if (!handle(fd, req))
        break;
    }
    std::lock_guard lock{mutex_};
    // Closed here, under the lock, so the destructor never shuts down a reused descriptor.
    for (auto it = open_fds_.begin(); it != open_fds_.end(); ++it)
      if (*it == fd) {
        open_fds_.erase(it);
        break;
      }
    ::close(fd);
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool first_chunk_seen_ = false;
  std::atomic<bool> released_by_client_{false};
  int gate_waiting_ = 0;
  bool gate_open_ = false;
  std::atomic<bool> gate_opened_by_count_{false};
  std::atomic<int> connections_{0};
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
};

} // namespace beamline::test
