// The CP1 JSON messages: ExecAssignment decoding, ack / result / heartbeat encoding.

#include "cp1/messages.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace beamline::worker::cp1;
using json = nlohmann::json;

/// An ExecAssignment as beamline-otp-router's router_caf_adapter builds it.
json router_assignment() {
  return json::parse(R"({
    "version": "1",
    "assignment_id": "a-1",
    "request_id": "r-1",
    "tenant_id": "tenant-a",
    "executor": {"provider_id": "local-worker", "channel": "nats"},
    "job": {"type": "echo", "payload": {"text": "hi"}},
    "options": {"priority": 50, "deadline_ms": 5000, "retry": {"max_attempts": 2, "backoff_ms": 200}},
    "correlation": {"trace_id": "t-1"},
    "decision": {"provider_id": "local-worker", "priority": 50, "expected_latency_ms": 100,
                 "expected_cost": 0.01, "reason": "weighted"},
    "metadata": {}
  })");
}

TEST(Cp1MessagesTest, DecodesTheRoutersAssignment) {
  const auto r = decode_assignment(router_assignment().dump());
  ASSERT_TRUE(r.assignment) << r.error;
  const auto& a = *r.assignment;
  EXPECT_EQ(a.version, "1");
  EXPECT_EQ(a.assignment_id, "a-1");
  EXPECT_EQ(a.request_id, "r-1");
  EXPECT_EQ(a.tenant_id, "tenant-a");
  EXPECT_EQ(a.trace_id, "t-1");
  EXPECT_EQ(a.provider_id, "local-worker");
  EXPECT_EQ(a.job_type, "echo");
  EXPECT_EQ(a.payload, R"({"text":"hi"})"); // a JSON payload travels as its compact text
  EXPECT_EQ(a.deadline_ms, 5000u);
  EXPECT_TRUE(a.pool.empty());
}

TEST(Cp1MessagesTest, IgnoresUnknownFields) {
  auto doc = router_assignment();
  doc["something_new"] = {{"nested", true}};
  doc["job"]["extra"] = 1;
  const auto r = decode_assignment(doc.dump());
  ASSERT_TRUE(r.assignment) << r.error;
}

TEST(Cp1MessagesTest, StringPayloadIsItsBytesAndBase64IsDecoded) {
  auto doc = router_assignment();
  doc["job"]["payload"] = "plain text";
  auto r = decode_assignment(doc.dump());
  ASSERT_TRUE(r.assignment) << r.error;
  EXPECT_EQ(r.assignment->payload, "plain text");

  doc["job"].erase("payload");
  doc["job"]["payload_base64"] = "AAEC/w==";
  r = decode_assignment(doc.dump());
  ASSERT_TRUE(r.assignment) << r.error;
  EXPECT_EQ(r.assignment->payload, std::string("\x00\x01\x02\xff", 4));

  doc["job"]["payload"] = "both";
  r = decode_assignment(doc.dump());
  EXPECT_FALSE(r.assignment);
}

TEST(Cp1MessagesTest, DeadlineFallsBackToTopLevelThenJobTimeout) {
  auto doc = router_assignment();
  doc.erase("options");
  doc["deadline_ms"] = 1200;
  EXPECT_EQ(decode_assignment(doc.dump()).assignment->deadline_ms, 1200u);
  doc.erase("deadline_ms");
  doc["job"]["timeout_ms"] = 300;
  EXPECT_EQ(decode_assignment(doc.dump()).assignment->deadline_ms, 300u);
  doc["job"]["timeout_ms"] = -1;
  EXPECT_FALSE(decode_assignment(doc.dump()).assignment);
}

TEST(Cp1MessagesTest, RejectsMalformedInputWithAReasonAndKeepsTheIds) {
  struct bad_case {
    std::string text;
    std::string expected_in_error;
  };
  auto missing = [](const char* field) {
    auto doc = router_assignment();
    doc.erase(field);
    return doc.dump();
  };
  auto with = [](const char* field, json value) {
    auto doc = router_assignment();
    doc[field] = std::move(value);
    return doc.dump();
  };
  const bad_case cases[] = {
    {"", "not valid JSON"},
    {"{\"assignment_id\": ", "not valid JSON"},
    {"[1,2,3]", "JSON object"},
    {missing("request_id"), "request_id"},
    {missing("tenant_id"), "tenant_id"},
    {missing("job"), "job"},
    {with("job", "echo"), "job"},
    {with("job", {{"payload", 1}}), "job.type"},
    {with("request_id", 42), "request_id"},
    {with("version", "2"), "version"},
    {with("options", {{"deadline_ms", "soon"}}), "deadline_ms"},
    {with("executor", {{"provider_id", 1}}), "executor.provider_id"},
    {std::string(200, '[') + std::string(200, ']'), "nesting"},
  };
  for (const auto& c : cases) {
    const auto r = decode_assignment(c.text);
    EXPECT_FALSE(r.assignment) << c.text;
    EXPECT_NE(r.error.find(c.expected_in_error), std::string::npos) << r.error << " for " << c.text;
  }
  // A rejection can still name the assignment when its id was readable.
  const auto r = decode_assignment(missing("tenant_id"));
  EXPECT_EQ(r.assignment_id, "a-1");
  EXPECT_EQ(r.request_id, "r-1");
  EXPECT_EQ(r.trace_id, "t-1");
}

TEST(Cp1MessagesTest, AckCarriesStatusReasonAndIds) {
  ack_message ack;
  ack.assignment_id = "a-1";
  ack.request_id = "r-1";
  ack.tenant_id = "tenant-a";
  ack.status = ack_status::rejected;
  ack.reason = "pool 'io' is full";
  const auto j = json::parse(encode_ack(ack, "w-1", 1700000000000));
  EXPECT_EQ(j["assignment_id"], "a-1");
  EXPECT_EQ(j["status"], "rejected");
  EXPECT_EQ(j["message"], "pool 'io' is full");
  EXPECT_EQ(j["reason"], "pool 'io' is full");
  EXPECT_EQ(j["worker_id"], "w-1");
  EXPECT_EQ(j["request_id"], "r-1");
  EXPECT_EQ(j["acknowledged_at"], 1700000000000);
  EXPECT_FALSE(j.contains("duplicate"));

  ack_message dup;
  dup.assignment_id = "a-1";
  dup.duplicate = true;
  const auto d = json::parse(encode_ack(dup, "w-1", 1));
  EXPECT_EQ(d["status"], "accepted");
  EXPECT_EQ(d["duplicate"], true);
}

TEST(Cp1MessagesTest, ResultHasNumericLatencyAndCostAndEchoesTheAssignment) {
  const auto a = *decode_assignment(router_assignment().dump()).assignment;
  block_outcome ok;
  ok.status = "success";
  ok.output = R"({"answer":42})";
  ok.latency_ms = 12;
  ok.cost = 0.25;
  const auto j = json::parse(encode_result(context_of(a), ok, "w-1", 5));
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["assignment_id"], "a-1");
  EXPECT_EQ(j["request_id"], "r-1");
  EXPECT_EQ(j["tenant_id"], "tenant-a");
  EXPECT_EQ(j["trace_id"], "t-1");
  EXPECT_EQ(j["provider_id"], "local-worker");
  EXPECT_EQ(j["job"]["type"], "echo");
  EXPECT_TRUE(j["latency_ms"].is_number_unsigned());
  EXPECT_EQ(j["latency_ms"], 12);
  EXPECT_TRUE(j["cost"].is_number());
  EXPECT_DOUBLE_EQ(j["cost"].get<double>(), 0.25);
  EXPECT_EQ(j["output"]["answer"], 42); // JSON output is embedded as JSON
  EXPECT_FALSE(j.contains("error_code"));
  EXPECT_EQ(j["worker_id"], "w-1");
}

TEST(Cp1MessagesTest, ResultOutputFallsBackToStringThenBase64) {
  result_context ctx;
  ctx.assignment_id = "a";
  ctx.request_id = "r";
  block_outcome text;
  text.status = "success";
  text.output = "not json";
  EXPECT_EQ(json::parse(encode_result(ctx, text, "w", 0))["output"], "not json");
  block_outcome binary;
  binary.status = "success";
  binary.output = std::string("\xff\x00\x01", 3);
  const auto j = json::parse(encode_result(ctx, binary, "w", 0));
  EXPECT_FALSE(j.contains("output"));
  EXPECT_EQ(j["output_base64"], "/wAB");
  EXPECT_EQ(j["provider_id"], "w"); // no executor.provider_id: the worker names itself
}

TEST(Cp1MessagesTest, ErrorResultCarriesCodeAndMessage) {
  result_context ctx;
  ctx.assignment_id = "a";
  block_outcome timeout;
  timeout.status = "timeout";
  timeout.error_code = "deadline_exceeded";
  timeout.error_message = "too slow \xff"; // not UTF-8: replaced, never thrown
  const auto j = json::parse(encode_result(ctx, timeout, "w", 0));
  EXPECT_EQ(j["status"], "timeout");
  EXPECT_EQ(j["error_code"], "deadline_exceeded");
  EXPECT_NE(j["error_message"].get<std::string>().find("too slow"), std::string::npos);
}

TEST(Cp1MessagesTest, HeartbeatReportsPoolsAndLoad) {
  const std::vector<beamline::worker::pool_snapshot> pools{{"cpu", 4, 2, 1}, {"gpu", 0, 0, 0}};
  const auto j = json::parse(encode_heartbeat("w-1", pools, {"echo", "noop"}, false, 1700000000123));
  EXPECT_EQ(j["worker_id"], "w-1");
  EXPECT_EQ(j["status"], "busy");
  EXPECT_DOUBLE_EQ(j["load"].get<double>(), 0.5);
  ASSERT_EQ(j["pools"].size(), 2u);
  EXPECT_EQ(j["pools"][1]["name"], "gpu");
  EXPECT_EQ(j["pools"][1]["capacity"], 0);
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(json::parse(encode_heartbeat("w", {}, {}, true, 0))["status"], "draining");
}

TEST(Cp1MessagesTest, Base64RoundTrips) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_decode("Zm9vYg"), "foob"); // padding may be left out
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
}

} // namespace
