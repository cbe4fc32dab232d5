#pragma once

// A real nats-server per test (as NATS.Net's own tests do): it binds a port of its own choosing
// (-p -1) and reports it through --ports_file_dir; stopped with the test. Tests that need it
// skip when nats-server is not installed (BL_NATS_SERVER, found by CMake).

#include "nats_connection.hpp"

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace beamline::test {

inline bool nats_server_installed() {
  return BL_NATS_SERVER[0] != '\0' && ::access(BL_NATS_SERVER, X_OK) == 0;
}

#define SKIP_WITHOUT_NATS_SERVER()                                                                  \
  do {                                                                                              \
    if (!::beamline::test::nats_server_installed()) GTEST_SKIP() << "nats-server is not installed"; \
  } while (false)

class nats_server {
 public:
  /// `config`: the text of a nats-server configuration file (authorization, max_payload, ...).
  explicit nats_server(const std::string& config = {}) {
    char dir[] = "/tmp/beamline-nats-test-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    const std::string conf = dir_ + "/nats.conf";
    if (!config.empty()) std::ofstream{conf} << config;
    const std::string log = dir_ + "/nats-server.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM); // a test that crashes takes its server along
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (config.empty())
        ::execl(BL_NATS_SERVER, "nats-server", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir",
                dir_.c_str(), static_cast<char*>(nullptr));
      else
        ::execl(BL_NATS_SERVER, "nats-server", "-c", conf.c_str(), "-a", "127.0.0.1", "-p", "-1",
                "--ports_file_dir", dir_.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    // The ports file appears once the server listens.
    for (int i = 0; i < 1000 && url_.empty() && pid_ > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
      url_ = read_ports_file();
    }
  }
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;
  ~nats_server() {
    stop();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  [[nodiscard]] bool started() const noexcept { return !url_.empty(); }
  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

  /// Stops the server (SIGTERM) and waits for it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// Settings for a worker connection to this server.
  [[nodiscard]] worker::nats_settings settings() const {
    worker::nats_settings s;
    s.servers = {url_};
    s.name = "beamline-worker test";
    return s;
  }

 private:
  std::string read_ports_file() const {
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return {};
    std::string path;
    while (const dirent* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name.size() > 6 && name.compare(name.size() - 6, 6, ".ports") == 0) path = dir_ + "/" + name;
    }
    ::closedir(d);
    if (path.empty()) return {};
    std::ifstream in{path};
    const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.contains("nats") || !doc["nats"].is_array() || doc["nats"].empty())
      return {};
    return doc["nats"][0].get<std::string>();
  }

  std::string dir_;
  std::string url_;
  pid_t pid_ = -1;
};

/// A plain nats.c client on the test's side.
class test_client {
 public:
  explicit test_client(const std::string& url) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, true);
    natsConnection_Connect(&conn_, opts);
    natsOptions_Destroy(opts);
  }
  test_client(const test_client&) = delete;
  test_client& operator=(const test_client&) = delete;
  ~test_client() { natsConnection_Destroy(conn_); }

  [[nodiscard]] natsConnection* get() const noexcept { return conn_; }

  /// A request and its reply's body; the status says why there is none.
  [[nodiscard]] natsStatus request(const std::string& subject, const std::string& body, std::string& reply,
                                   int64_t timeout_ms = 10'000) const {
    natsMsg* msg = nullptr;
    const natsStatus s = natsConnection_Request(&msg, conn_, subject.c_str(), body.data(),
                                                static_cast<int>(body.size()), timeout_ms);
    if (s == NATS_OK) reply.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    return s;
  }

 private:
  natsConnection* conn_ = nullptr;
};

/// A synchronous subscription of the test's client.
class test_subscription {
 public:
  test_subscription(const test_client& client, const std::string& subject) {
    natsConnection_SubscribeSync(&sub_, client.get(), subject.c_str());
    natsConnection_FlushTimeout(client.get(), 5000);  // interest is registered before anything is sent
  }
  test_subscription(const test_subscription&) = delete;
  test_subscription& operator=(const test_subscription&) = delete;
  ~test_subscription() { natsSubscription_Destroy(sub_); }

  /// The next message's body; empty when none came within `timeout_ms`.
  [[nodiscard]] std::string next(int64_t timeout_ms = 10'000) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub_, timeout_ms) != NATS_OK) return {};
    std::string body{natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))};
    natsMsg_Destroy(msg);
    return body;
  }

 private:
  natsSubscription* sub_ = nullptr;
};

}  // namespace beamline::test
