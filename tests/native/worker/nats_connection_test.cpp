// The worker's NATS connection against a real nats-server: credentials, reconnects, flushing.

#include "nats_connection.hpp"
#include "nats_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace {

using beamline::test::nats_server;
using beamline::test::test_client;
using beamline::test::test_subscription;
using beamline::worker::nats_connection;
using beamline::worker::nats_error;

// A pair from nats.c's own tests.
constexpr const char* seed = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
constexpr const char* public_key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

TEST(NatsConnectionTest, AuthenticatesWithAUserAndPasswordOrAnNKey) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server{std::string{"authorization { users = [\n"
                                 "  {user: worker, password: \"s3cret\"}\n"
                                 "  {nkey: "} +
                     public_key + "}\n] }\n"};
  ASSERT_TRUE(server.started());

  auto settings = server.settings();
  settings.user = "worker";
  settings.password = "s3cret";
  EXPECT_TRUE(nats_connection{settings}.connected());

  const std::string seed_file = server.dir() + "/worker.nk";
  std::ofstream{seed_file} << seed << "\n";
  settings = server.settings();
  settings.nkey_seed_file = seed_file;
  EXPECT_TRUE(nats_connection{settings}.connected());

  settings = server.settings();
  settings.user = "worker";
  settings.password = "wrong-s3cret";
  try {
    nats_connection refused{settings};
    ADD_FAILURE() << "connected with a wrong password";
  } catch (const nats_error& e) {
    EXPECT_EQ(std::string{e.what()}.find("wrong-s3cret"), std::string::npos) << e.what();
  }
}

TEST(NatsConnectionTest, AuthenticatesWithAToken) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server{"authorization { token: \"t0ken\" }\n"};
  ASSERT_TRUE(server.started());
  auto settings = server.settings();
  settings.token = "t0ken";
  EXPECT_TRUE(nats_connection{settings}.connected());
  settings.token = "other";
  EXPECT_THROW(nats_connection{settings}, nats_error);
}

TEST(NatsConnectionTest, TriesEachServerOfTheList) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  auto settings = server.settings();
  // A port nobody listens on first (nats.c shuffles the list; either order must connect).
  settings.servers = {"nats://127.0.0.1:1", server.url()};
  EXPECT_TRUE(nats_connection{settings}.connected());
}

TEST(NatsConnectionTest, BufferedPublishesGoOutOnRequestFlush) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  nats_connection nats{server.settings()};
  test_client client{server.url()};
  test_subscription sub{client, "t.flush"};
  for (int i = 0; i < 100; ++i) {
    const std::string body = "m" + std::to_string(i);
    ASSERT_EQ(nats.publish("t.flush", body.data(), body.size()), NATS_OK);
  }
  nats.request_flush();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sub.next(), "m" + std::to_string(i));
  const uint8_t reply[] = {'r'};
  ASSERT_EQ(nats.publish_reply("t.flush", "result", reply, 1, /*now=*/true), NATS_OK);
  EXPECT_EQ(sub.next(), "r");
}

TEST(NatsConnectionTest, ReportsTheLargestReplyTheServerTakes) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server{"max_payload: 4096\n"};
  ASSERT_TRUE(server.started());
  nats_connection nats{server.settings()};
  EXPECT_EQ(nats.max_payload(), 4096);
  const size_t max = nats.max_reply_size("result");
  ASSERT_GT(max, 4000u);
  test_client client{server.url()};
  test_subscription sub{client, "t.max"};
  const std::string fits(max, 'x');
  const std::string over(max + 1, 'x');
  EXPECT_EQ(nats.publish_reply("t.max", "result", reinterpret_cast<const uint8_t*>(fits.data()), fits.size()),
            NATS_OK);
  EXPECT_EQ(nats.publish_reply("t.max", "result", reinterpret_cast<const uint8_t*>(over.data()), over.size()),
            NATS_MAX_PAYLOAD);
  nats.request_flush();
  EXPECT_EQ(sub.next().size(), max);
}

TEST(NatsConnectionTest, KnowsWhenTheServerIsGone) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  nats_connection nats{server.settings()};
  EXPECT_TRUE(nats.connected());
  server.stop();
  for (int i = 0; i < 500 && nats.connected(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  EXPECT_FALSE(nats.connected());  // reconnecting, forever
  nats.request_flush();            // nothing to wait for: returns at once
  nats.close();
}

TEST(NatsConnectionTest, CountsWhatIsPublishedWhileTheServerIsGone) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  nats_connection nats{server.settings()};
  const std::string body(100, 'x');
  ASSERT_EQ(nats.publish("t.before", body.data(), body.size()), NATS_OK);
  EXPECT_EQ(nats.held_while_away(), 0);
  server.stop();
  for (int i = 0; i < 500 && !nats.away(); ++i)  // both disconnect callbacks have run
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  ASSERT_TRUE(nats.away());
  ASSERT_FALSE(nats.connected());
  // Held in nats.c's reconnect buffer (so the publish succeeds), and counted.
  ASSERT_EQ(nats.publish("t.away", body.data(), body.size()), NATS_OK);
  ASSERT_EQ(nats.publish_reply("t.away", beamline::worker::kind_result,
                               reinterpret_cast<const uint8_t*>(body.data()), body.size(), true),
            NATS_OK);
  EXPECT_EQ(nats.held_while_away(), 200);
  nats.close();
}

}  // namespace
