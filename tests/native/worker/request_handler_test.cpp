// Request handling of the worker without NATS: admission, running blocks, building replies.

#include "log.hpp"
#include "request_handler.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace {

namespace v2 = beamline::worker::v2;
using beamline::worker::exec_client;
using beamline::worker::pool_admission;
using beamline::worker::request_handler;
using beamline::worker::steady_clock;

/// The executor configuration of a worker started with --enable-diagnostics (debug.sleep).
const std::string diagnostics_config = R"({"debug":{"enabled":true}})";

class recording_sink final : public beamline::worker::reply_sink {
public:
  bool send_chunk(const uint8_t* data, size_t size) override {
    chunks.emplace_back(reinterpret_cast<const char*>(data), size);
    return true;
  }
  void send_result(const uint8_t* data, size_t size) override {
    results.emplace_back(reinterpret_cast<const char*>(data), size);
  }
  std::vector<std::string> chunks;
  std::vector<std::string> results;
};

std::string encode(const std::string& type, const std::string& payload, uint32_t deadline_ms = 0) {
  v2::ExecRequest req;
  req.set_block_id("b-42");
  req.set_type(type);
  req.set_payload(payload);
  req.set_deadline_ms(deadline_ms);
  return req.SerializeAsString();
}

const uint8_t* bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

v2::ExecResult decode(const std::string& s) {
  v2::ExecResult result;
  EXPECT_TRUE(result.ParseFromString(s));
  return result;
}

TEST(PoolAdmissionTest, AdmitsUpToCapacityPlusQueueLimit) {
  pool_admission admission{2, 3};
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(admission.try_admit()) << i;
  EXPECT_FALSE(admission.try_admit());
  EXPECT_EQ(admission.queued(), 5u);
  admission.started();
  EXPECT_EQ(admission.in_flight(), 1u);
  EXPECT_EQ(admission.queued(), 4u);
  EXPECT_FALSE(admission.try_admit());
  admission.finished();
  EXPECT_TRUE(admission.try_admit());
}

TEST(PoolAdmissionTest, IsIdleOnlyWhenNothingIsAdmitted) {
  pool_admission admission{1, 0};
  EXPECT_TRUE(admission.idle());
  ASSERT_TRUE(admission.try_admit());
  EXPECT_FALSE(admission.idle());
  admission.started();
  admission.finished();
  EXPECT_TRUE(admission.idle());
}

TEST(RequestHandlerTest, RejectOverQueueLimitAnswersResourceUnavailable) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  const auto request = encode("echo", "hi");
  const auto result = decode(handler.reject(bytes(request), request.size(), "cpu"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "resource_unavailable");
  EXPECT_EQ(result.block_id(), "b-42");
  EXPECT_EQ(result.worker_id(), "w-test");
  EXPECT_NE(result.error_message().find("cpu"), std::string::npos);
}

TEST(RequestHandlerTest, RejectOfUndecodableBytesStillAnswers) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  const std::string junk = "\xff\xff\xff";
  const auto result = decode(handler.reject(bytes(junk), junk.size(), "io"));
  EXPECT_EQ(result.error_code(), "resource_unavailable");
  EXPECT_TRUE(result.block_id().empty());
}

TEST(RequestHandlerTest, RunsEchoAndRepliesWithTheResult) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  const auto request = encode("echo", "payload");
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_TRUE(sink.chunks.empty());
  const auto result = decode(sink.results[0]);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "payload");
  EXPECT_EQ(result.worker_id(), "w-test");
}

/// A gate with a fixed decision that keeps what it was told: the KV store it stands for is
/// tested against a real nats-server (BlockDedupeWorkerTests); here, only the handler's part.
class fixed_gate final : public beamline::worker::block_gate {
public:
  explicit fixed_gate(beamline::worker::gate_decision decision) : decision_(std::move(decision)) {}
  beamline::worker::gate_decision before_run(const uint8_t*, size_t) noexcept override {
    ++asked;
    return decision_;
  }
  std::string after_run(const beamline::worker::gate_decision& decision, std::string reply) noexcept override {
    stored_under = decision.result_key;
    stored = reply;
    return first_stored.empty() ? reply : first_stored;
  }
  int asked = 0;
  std::string stored_under;
  std::string stored;
  std::string first_stored;

private:
  beamline::worker::gate_decision decision_;
};

TEST(RequestHandlerTest, AGatedBlockWithAnAnswerIsNotRun_TheAnswerIsSentAsIs) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  beamline::worker::gate_decision decision;
  decision.what = beamline::worker::gate_decision::kind::answer;
  decision.answer = "stored bytes";
  fixed_gate gate{decision};
  handler.set_gate(&gate);
  recording_sink sink;
  const auto request = encode("echo", "payload");
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_EQ(sink.results[0], "stored bytes");
  EXPECT_TRUE(gate.stored.empty());
}

TEST(RequestHandlerTest, AClaimedBlocksReplyIsStoredBeforeItIsSent_TheFirstStoredWins) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  beamline::worker::gate_decision decision;
  decision.what = beamline::worker::gate_decision::kind::run_claimed;
  decision.result_key = "result.t61.b-42";
  fixed_gate gate{decision};
  handler.set_gate(&gate);
  recording_sink sink;
  const auto request = encode("echo", "payload");
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_EQ(gate.stored_under, "result.t61.b-42");
  EXPECT_EQ(gate.stored, sink.results[0]);
  EXPECT_EQ(decode(sink.results[0]).output(), "payload");

  gate.first_stored = "an answer stored meanwhile";
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 2u);
  EXPECT_EQ(sink.results[1], "an answer stored meanwhile");
  EXPECT_EQ(gate.asked, 2);
}

/// A sink whose transport takes results of at most `limit` bytes, like a NATS reply.
class limited_sink final : public beamline::worker::reply_sink {
public:
  explicit limited_sink(size_t limit) : limit_(limit) {}
  bool send_chunk(const uint8_t*, size_t) override { return true; }
  void send_result(const uint8_t* data, size_t size) override {
    results.emplace_back(reinterpret_cast<const char*>(data), size);
  }
  [[nodiscard]] size_t max_result_size() const noexcept override { return limit_; }
  std::vector<std::string> results;

private:
  size_t limit_;
};

// The bug: a result over the server's max payload was refused by the transport and the
// requester never heard anything.
TEST(RequestHandlerTest, AResultTooLargeForTheTransportIsAnsweredResultTooLarge) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  limited_sink sink{512};
  const auto request = encode("echo", std::string(4096, 'x'));
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_LE(sink.results[0].size(), 512u);
  const auto result = decode(sink.results[0]);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "result_too_large");
  EXPECT_EQ(result.block_id(), "b-42");
  EXPECT_EQ(result.worker_id(), "w-test");
  EXPECT_TRUE(result.output().empty());

  limited_sink roomy{8192}; // within the limit: the result itself
  handler.run(bytes(request), request.size(), steady_clock::now(), roomy);
  ASSERT_EQ(roomy.results.size(), 1u);
  EXPECT_EQ(decode(roomy.results[0]).output(), std::string(4096, 'x'));
}

TEST(RequestHandlerTest, ResultMatchesTheInProcessLibraryApartFromLatency) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  const auto request = encode("echo", std::string(200, 'z'));
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  auto via_worker = decode(sink.results[0]);
  const auto direct_buf = exec.execute(bytes(request), request.size(), nullptr);
  v2::ExecResult direct;
  ASSERT_TRUE(direct.ParseFromArray(direct_buf.data(), static_cast<int>(direct_buf.size())));
  via_worker.set_latency_us(0);
  direct.set_latency_us(0);
  // The worker adds its own timings; the library has no queue.
  EXPECT_EQ(direct.queue_us(), 0u);
  via_worker.set_queue_us(0);
  via_worker.set_exec_us(0);
  EXPECT_EQ(via_worker.SerializeAsString(), direct.SerializeAsString());
}

TEST(RequestHandlerTest, ABlockWhoseDeadlinePassedInTheQueueIsNotStarted) {
  exec_client exec{"w-test", diagnostics_config};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  const auto request = encode("debug.sleep", "1000", 20);
  const auto start = steady_clock::now();
  handler.run(bytes(request), request.size(), start - std::chrono::milliseconds{50}, sink);
  ASSERT_EQ(sink.results.size(), 1u);
  const auto result = decode(sink.results[0]);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
  EXPECT_NE(result.error_message().find("queue"), std::string::npos);
  EXPECT_EQ(result.block_id(), "b-42");
}

TEST(RequestHandlerTest, TimeInTheQueueShortensTheDeadline) {
  exec_client exec{"w-test", diagnostics_config};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  // 100 ms budget, 60 ms of it spent queued: the 1000 ms sleep must stop at the deadline.
  const auto request = encode("debug.sleep", "1000", 100);
  handler.run(bytes(request), request.size(), steady_clock::now() - std::chrono::milliseconds{60},
              sink);
  ASSERT_EQ(sink.results.size(), 1u);
  const auto result = decode(sink.results[0]);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
  EXPECT_NE(result.error_message().find("debug.sleep"), std::string::npos);
}

TEST(RequestHandlerTest, TheResultCarriesTheTimeQueuedAndTheTimeRunning) {
  exec_client exec{"w-test", diagnostics_config};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  const auto request = encode("debug.sleep", "20");
  handler.run(bytes(request), request.size(), steady_clock::now() - std::chrono::milliseconds{30},
              sink);
  ASSERT_EQ(sink.results.size(), 1u);
  const auto result = decode(sink.results[0]);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_GE(result.queue_us(), 30'000u);
  EXPECT_GE(result.exec_us(), 20'000u);
}

/// Runs `request` with the json log on and returns what went to stderr.
std::string run_logged(const request_handler& handler, const std::string& request,
                       std::string_view traceparent) {
  beamline::worker::set_log_format(beamline::worker::log_format::json);
  recording_sink sink;
  testing::internal::CaptureStderr();
  handler.run(bytes(request), request.size(), steady_clock::now(), sink, -1, traceparent);
  auto output = testing::internal::GetCapturedStderr();
  beamline::worker::set_log_format(beamline::worker::log_format::text);
  EXPECT_EQ(sink.results.size(), 1u);
  return output;
}

TEST(RequestHandlerTest, ASampledBlockLogsItsSpanAsAChildOfTheCallers) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  v2::ExecRequest req;
  req.set_block_id("b-traced");
  req.set_type("echo");
  req.set_pool("cpu");
  req.set_payload("x");
  const auto request = req.SerializeAsString();

  const auto output =
    run_logged(handler, request, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  const auto line = nlohmann::json::parse(output);
  EXPECT_EQ(line["msg"], "block");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(line["parent_span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(line["span_id"].get<std::string>().size(), 16u);
  EXPECT_NE(line["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(line["block_id"], "b-traced");
  EXPECT_EQ(line["type"], "echo");
  EXPECT_EQ(line["pool"], "cpu");
  EXPECT_EQ(line["status"], "ok");
  EXPECT_EQ(line["worker_id"], "w-test");
  EXPECT_TRUE(line["queue_us"].is_number_unsigned());
  EXPECT_TRUE(line["exec_us"].is_number_unsigned());
}

TEST(RequestHandlerTest, TheRequestsOwnTraceparentServesWithoutAHeader) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  v2::ExecRequest req;
  req.set_block_id("b-field");
  req.set_type("nope.unknown");
  req.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  const auto output = run_logged(handler, req.SerializeAsString(), {});

  const auto line = nlohmann::json::parse(output);
  EXPECT_EQ(line["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(line["parent_span_id"], "b7ad6b7169203331");
  EXPECT_EQ(line["status"], "error");
  EXPECT_EQ(line["error_code"], "unknown_executor");
}

TEST(RequestHandlerTest, AnUnsampledOrAbsentTraceLogsNothing) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  const auto request = encode("echo", "x");
  EXPECT_EQ(run_logged(handler, request, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), "");
  EXPECT_EQ(run_logged(handler, request, {}), "");
  EXPECT_EQ(run_logged(handler, request, "garbage"), "");
}

TEST(RequestHandlerTest, UnknownTypeIsAnsweredNotDropped) {
  exec_client exec{"w-test"};
  request_handler handler{exec, "w-test"};
  recording_sink sink;
  const auto request = encode("gpu.render", "");
  handler.run(bytes(request), request.size(), steady_clock::now(), sink);
  ASSERT_EQ(sink.results.size(), 1u);
  EXPECT_EQ(decode(sink.results[0]).error_code(), "unknown_executor");
}

TEST(RequestHandlerTest, ExecutorsListIncludesTheBuiltins) {
  exec_client exec{"w-test"};
  const auto types = exec.executors();
  for (const char* type : {"echo", "noop", "http.request", "cpu.hash"})
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  // Diagnostic executors only when the configuration enables them (--enable-diagnostics).
  EXPECT_EQ(std::find(types.begin(), types.end(), "debug.sleep"), types.end());
  const auto with_diagnostics = exec_client{"w-test", diagnostics_config}.executors();
  EXPECT_NE(std::find(with_diagnostics.begin(), with_diagnostics.end(), "debug.sleep"),
            with_diagnostics.end());
}

} // namespace
