// A pool against a real nats-server: replies, batching, oversized results, shutdown.

#include "pool.hpp"

#include "exec_client.hpp"
#include "nats_connection.hpp"
#include "nats_server.hpp"
#include "request_handler.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace {

namespace v2 = beamline::worker::v2;
using beamline::test::nats_server;
using beamline::test::test_client;
using beamline::test::test_subscription;
using beamline::worker::exec_client;
using beamline::worker::nats_connection;
using beamline::worker::pool;
using beamline::worker::request_handler;

std::string encode(const std::string& type, const std::string& payload) {
  v2::ExecRequest req;
  req.set_block_id("b-1");
  req.set_type(type);
  req.set_payload(payload);
  return req.SerializeAsString();
}

v2::ExecResult decode(const std::string& bytes) {
  v2::ExecResult result;
  EXPECT_TRUE(result.ParseFromString(bytes));
  return result;
}

caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

/// A worker's pieces against `server`: the connection, the executors and one pool "cpu".
/// Members are destroyed in reverse: the pool before the actor system, both before NATS.
struct worker_under_test {
  explicit worker_under_test(const nats_server& server, uint32_t size = 2, uint32_t queue_limit = 1024)
      : nats(server.settings()),
        exec("w-test"),
        handler(exec, "w-test"),
        sys(quiet(cfg)),
        cpu(std::make_unique<pool>(sys, nats, handler, "cpu", size, queue_limit)) {
    cpu->subscribe();
    EXPECT_EQ(nats.flush(5000), NATS_OK);  // the SUB has reached the server
  }
  nats_connection nats;
  exec_client exec;
  request_handler handler;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::unique_ptr<pool> cpu;
};

TEST(PoolTest, AnswersBlocksOneAtATimeAndManyAtOnce) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  worker_under_test worker{server};
  test_client client{server.url()};

  // One at a time: each reply leaves the pool idle and goes out at once.
  for (int i = 0; i < 3; ++i) {
    std::string reply;
    ASSERT_EQ(client.request("caf.exec.v2.cpu", encode("echo", "one"), reply), NATS_OK);
    EXPECT_EQ(decode(reply).output(), "one");
  }

  // Many at once: replies are batched, and every one arrives.
  test_subscription replies{client, "t.replies.*"};
  constexpr int count = 500;
  for (int i = 0; i < count; ++i) {
    const auto body = encode("echo", std::to_string(i));
    ASSERT_EQ(natsConnection_PublishRequest(client.get(), "caf.exec.v2.cpu",
                                            ("t.replies." + std::to_string(i)).c_str(), body.data(),
                                            static_cast<int>(body.size())),
              NATS_OK);
  }
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    const auto reply = replies.next();
    ASSERT_FALSE(reply.empty()) << "reply " << i << " did not come";
    ok += decode(reply).status() == v2::EXEC_STATUS_OK ? 1 : 0;
  }
  EXPECT_EQ(ok, count);
}

// The bug: a result over the server's max payload was refused by nats.c and dropped with a log
// line; the requester waited for its timeout.
TEST(PoolTest, AResultOverTheMaxPayloadIsAnsweredResultTooLarge) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server{"max_payload: 4096\n"};
  ASSERT_TRUE(server.started());
  worker_under_test worker{server};
  test_client client{server.url()};
  // The request fits; its echo, with the result's own fields and header, does not.
  const auto request = encode("echo", std::string(4050, 'x'));
  ASSERT_LT(request.size(), 4096u);
  std::string reply;
  ASSERT_EQ(client.request("caf.exec.v2.cpu", request, reply, 5000), NATS_OK);
  const auto result = decode(reply);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "result_too_large");
  EXPECT_EQ(result.block_id(), "b-1");
  // A smaller one still comes back whole.
  ASSERT_EQ(client.request("caf.exec.v2.cpu", encode("echo", std::string(3000, 'x')), reply, 5000), NATS_OK);
  EXPECT_EQ(decode(reply).output(), std::string(3000, 'x'));
}

// The bug: when a drain failed, shutdown() cleared the runners while the subscription was still
// live, and the next block made the NATS callback index into the cleared vector.
TEST(PoolTest, ShutdownUnsubscribesBeforeStoppingTheRunners) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  worker_under_test worker{server};
  test_client client{server.url()};
  std::string reply;
  ASSERT_EQ(client.request("caf.exec.v2.cpu", encode("echo", "before"), reply), NATS_OK);

  worker.cpu->shutdown();                       // without stop_taking_work first, as after a failed drain
  ASSERT_EQ(worker.nats.flush(5000), NATS_OK);  // the UNSUB has reached the server
  EXPECT_EQ(client.request("caf.exec.v2.cpu", encode("echo", "after"), reply, 2000), NATS_NO_RESPONDERS);
}

TEST(PoolTest, StopsTakingWorkAtOnceWhenTheServerIsGone) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  worker_under_test worker{server};
  server.stop();
  for (int i = 0; i < 500 && worker.nats.connected(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  ASSERT_FALSE(worker.nats.connected());
  // What main() does on SIGTERM: no drain without a server, the subscription closes at once.
  worker.cpu->stop_taking_work(worker.nats.connected());
  EXPECT_TRUE(worker.cpu->wait_stopped(10'000));
  EXPECT_TRUE(worker.cpu->idle());
}

TEST(PoolTest, DrainsWhileConnected) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  worker_under_test worker{server};
  worker.cpu->stop_taking_work(true);
  EXPECT_TRUE(worker.cpu->wait_stopped(10'000));
  test_client client{server.url()};
  std::string reply;
  EXPECT_EQ(client.request("caf.exec.v2.cpu", encode("echo", "late"), reply, 2000), NATS_NO_RESPONDERS);
}

}  // namespace
