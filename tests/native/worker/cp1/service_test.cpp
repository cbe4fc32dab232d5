// The CP1 service against a real nats-server: redelivered assignments and oversized results.

#include "cp1/service.hpp"

#include "exec_client.hpp"
#include "nats_connection.hpp"
#include "nats_server.hpp"
#include "pool.hpp"
#include "request_handler.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace {

using beamline::test::nats_server;
using beamline::test::test_client;
using beamline::test::test_subscription;
using beamline::worker::exec_client;
using beamline::worker::nats_connection;
using beamline::worker::pool;
using beamline::worker::request_handler;
namespace cp1 = beamline::worker::cp1;
using json = nlohmann::json;

struct cp1_worker {
  explicit cp1_worker(const nats_server& server)
      : nats(server.settings()),
        exec("w-test"),
        handler(exec, "w-test"),
        sys(quiet()),
        cpu(std::make_unique<pool>(sys, nats, handler, "cpu", 1, 16)) {
    service.emplace(nats, "w-test", std::vector<pool*>{cpu.get()}, cp1::service_settings{});
    service->subscribe();
    EXPECT_EQ(nats.flush(5000), NATS_OK);
  }
  ~cp1_worker() {
    service.reset();
    cpu.reset();
  }
  caf::actor_system_config& quiet() {
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }
  nats_connection nats;
  exec_client exec;
  request_handler handler;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::unique_ptr<pool> cpu;
  std::optional<cp1::service> service;
};

std::string assignment(const std::string& id, const json& job) {
  return json{{"version", "1"},
              {"assignment_id", id},
              {"request_id", "req-" + id},
              {"tenant_id", "t"},
              {"executor", {{"provider_id", "local"}}},
              {"job", job}}
      .dump();
}

// The bug: the dedupe window remembered ids, not outcomes, so a redelivery whose first result
// was lost got a "duplicate" ack and never a result.
TEST(Cp1ServiceTest, ARedeliveredAssignmentGetsItsResultAgainWithoutRunningTwice) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  cp1_worker worker{server};
  test_client client{server.url()};
  test_subscription acks{client, cp1::ack_subject};
  test_subscription results{client, cp1::result_subject};

  const auto body = assignment("a-1", {{"type", "echo"}, {"payload", {{"answer", 42}}}});
  ASSERT_EQ(
      natsConnection_Publish(client.get(), cp1::assign_subject, body.data(), static_cast<int>(body.size())),
      NATS_OK);
  const auto first_ack = json::parse(acks.next());
  EXPECT_EQ(first_ack["status"], "accepted");
  const auto first = results.next();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(json::parse(first)["output"]["answer"], 42);

  // Redelivered (its result lost on the way, say): acked as a duplicate, and the same result again.
  ASSERT_EQ(
      natsConnection_Publish(client.get(), cp1::assign_subject, body.data(), static_cast<int>(body.size())),
      NATS_OK);
  const auto second_ack = json::parse(acks.next());
  EXPECT_EQ(second_ack["duplicate"], true);
  EXPECT_EQ(second_ack["status"], "accepted");
  EXPECT_EQ(results.next(), first);  // the same bytes: the block did not run again
}

TEST(Cp1ServiceTest, AResultOverTheMaxPayloadIsAnsweredResultTooLarge) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server{"max_payload: 4096\n"};
  ASSERT_TRUE(server.started());
  cp1_worker worker{server};
  test_client client{server.url()};
  test_subscription results{client, cp1::result_subject};
  // 1000 control bytes: 1336 characters of base64 in, 6000 of "\u0001" escapes out.
  const auto body = assignment(
      "a-big", {{"type", "echo"}, {"payload_base64", cp1::base64_encode(std::string(1000, '\x01'))}});
  ASSERT_LT(body.size(), 4096u);
  ASSERT_EQ(
      natsConnection_Publish(client.get(), cp1::assign_subject, body.data(), static_cast<int>(body.size())),
      NATS_OK);
  const auto result = json::parse(results.next());
  EXPECT_EQ(result["assignment_id"], "a-big");
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result["error_code"], "result_too_large");
}

}  // namespace
