// A pool's supervisor and the drain coordinator (worker/src/supervision/), against a real
// nats-server: stuck runners, runners that die, drains that finish or time out.

#include "pool.hpp"

#include "exec_client.hpp"
#include "nats_connection.hpp"
#include "nats_server.hpp"
#include "request_handler.hpp"
#include "supervision/drain.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace v2 = beamline::worker::v2;
using beamline::test::nats_server;
using beamline::worker::drain_outcome;
using beamline::worker::exec_client;
using beamline::worker::nats_connection;
using beamline::worker::pool;
using beamline::worker::reply_sink;
using beamline::worker::request_handler;
using beamline::worker::start_drain;
using beamline::worker::steady_clock;
using beamline::worker::supervision_settings;
using namespace std::chrono_literals;

/// Waits for a condition that another thread makes true; false when it did not within `limit`
/// (a bound against hanging, never a measurement).
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 20s) {
  const auto until = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string encode(const std::string& type, const std::string& payload, uint32_t deadline_ms = 0) {
  v2::ExecRequest req;
  req.set_block_id(type + "-" + payload);
  req.set_type(type);
  req.set_payload(payload);
  req.set_deadline_ms(deadline_ms);
  return req.SerializeAsString();
}

/// The results of the blocks submitted with it, shared with the test.
struct results {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<v2::ExecResult> received;

  [[nodiscard]] size_t count() {
    std::lock_guard<std::mutex> guard{mutex};
    return received.size();
  }
  /// The first result, once there is one.
  v2::ExecResult first() {
    std::unique_lock<std::mutex> lock{mutex};
    EXPECT_TRUE(cv.wait_for(lock, 20s, [&] { return !received.empty(); })) << "no result came";
    return received.empty() ? v2::ExecResult{} : received.front();
  }
};

class collecting_sink final : public reply_sink {
public:
  explicit collecting_sink(std::shared_ptr<results> into) : into_(std::move(into)) {}
  bool send_chunk(const uint8_t*, size_t) override { return true; }
  void send_result(const uint8_t* data, size_t size) override {
    v2::ExecResult result;
    EXPECT_TRUE(result.ParseFromArray(data, static_cast<int>(size)));
    std::lock_guard<std::mutex> guard{into_->mutex};
    into_->received.push_back(std::move(result));
    into_->cv.notify_all();
  }

private:
  std::shared_ptr<results> into_;
};

caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

/// A worker's pieces with the diagnostic executors and one pool "cpu" (not subscribed: blocks
/// come through submit, as CP1 assignments do). Members go in reverse: the pool first.
struct supervised_worker {
  supervised_worker(const nats_server& server, uint32_t size, supervision_settings supervision)
      : nats(server.settings()),
        exec("w-test", R"({"debug":{"enabled":true}})"),
        handler(exec, "w-test"),
        sys(quiet(cfg)),
        cpu(std::make_unique<pool>(sys, nats, handler, "cpu", size, 16, nullptr, std::move(supervision))) {}

  /// Submits a block; its result lands in the returned collector.
  std::shared_ptr<results> submit(const std::string& request) {
    auto into = std::make_shared<results>();
    EXPECT_TRUE(cpu->submit(request, std::make_unique<collecting_sink>(into), steady_clock::now(), {}));
    return into;
  }

  nats_connection nats;
  exec_client exec;
  request_handler handler;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::unique_ptr<pool> cpu;
};

supervision_settings grace(std::chrono::milliseconds ms) {
  supervision_settings s;
  s.hard_deadline_grace = ms;
  return s;
}

TEST(SupervisionTest, AStuckRunnerIsAnsweredOnceReportedAndReplaced) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervised_worker worker{server, 1, grace(100ms)};

  // debug.hang ignores its deadline of 200 ms: past it plus the grace, the supervisor answers.
  auto hung = worker.submit(encode("debug.hang", "3000", 200));
  const auto answer = hung->first();
  EXPECT_EQ(answer.status(), v2::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(answer.error_code(), "deadline_exceeded");
  EXPECT_EQ(answer.block_id(), "debug.hang-3000");
  EXPECT_NE(answer.error_message().find("given up"), std::string::npos) << answer.error_message();

  // Reported, and the pool of one still serves while the old thread hangs on.
  auto snap = worker.cpu->snapshot();
  EXPECT_EQ(snap.stuck, 1u);
  EXPECT_EQ(snap.replaced, 1u);
  EXPECT_EQ(snap.in_flight, 0u);
  auto echo = worker.submit(encode("echo", "after"));
  const auto served = echo->first();
  EXPECT_EQ(served.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(served.output(), "after");
  EXPECT_EQ(worker.cpu->stuck(), 1u) << "the echo ran beside the hung thread, not after it";

  // The hang returns at last: its runner ends by itself and its late result is discarded.
  ASSERT_TRUE(eventually([&] { return worker.cpu->stuck() == 0; }));
  EXPECT_EQ(hung->count(), 1u) << "the caller must be answered exactly once";
  EXPECT_EQ(worker.cpu->snapshot().replaced, 1u);
  EXPECT_TRUE(worker.cpu->idle());
}

TEST(SupervisionTest, ABlockWithinItsDeadlinePlusGraceIsNotGivenUpOn) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervised_worker worker{server, 1, grace(5000ms)};
  // Over its deadline by 100 ms, well within the grace: its own result stands.
  auto slow = worker.submit(encode("debug.hang", "300", 200));
  const auto result = slow->first();
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "300");
  EXPECT_EQ(worker.cpu->snapshot().replaced, 0u);
  EXPECT_EQ(slow->count(), 1u);
}

TEST(SupervisionTest, ARunnerThatDiesIsReplacedAndItsBlockAnsweredInternalError) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervision_settings settings;
  settings.before_block = [](std::string_view request) {
    if (request.find("boom") != std::string_view::npos)
      throw std::runtime_error("a fault in the runner");
  };
  supervised_worker worker{server, 1, settings};

  auto failed = worker.submit(encode("echo", "boom"));
  const auto answer = failed->first();
  EXPECT_EQ(answer.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(answer.error_code(), "internal_error");
  EXPECT_EQ(answer.block_id(), "echo-boom");

  // The fresh runner takes the next block; nothing stays counted as running.
  auto echo = worker.submit(encode("echo", "next"));
  EXPECT_EQ(echo->first().output(), "next");
  EXPECT_EQ(worker.cpu->snapshot().replaced, 1u);
  EXPECT_EQ(worker.cpu->stuck(), 0u);
  ASSERT_TRUE(eventually([&] { return worker.cpu->idle(); }));
  EXPECT_EQ(failed->count(), 1u);
}

TEST(SupervisionTest, BlocksQueuedBehindADyingRunnerAreStillRun) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervision_settings settings;
  settings.before_block = [](std::string_view request) {
    if (request.find("boom") != std::string_view::npos)
      throw std::runtime_error("a fault in the runner");
  };
  supervised_worker worker{server, 1, settings};
  auto slow = worker.submit(encode("debug.sleep", "100"));
  auto failed = worker.submit(encode("echo", "boom"));
  std::vector<std::shared_ptr<results>> behind;
  for (int i = 0; i < 5; ++i)
    behind.push_back(worker.submit(encode("echo", std::to_string(i))));
  EXPECT_EQ(slow->first().status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(failed->first().error_code(), "internal_error");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(behind[i]->first().output(), std::to_string(i));
}

drain_outcome drain(supervised_worker& worker, std::chrono::milliseconds timeout) {
  std::promise<drain_outcome> reported;
  auto outcome = reported.get_future();
  start_drain(worker.sys, {worker.cpu->supervisor()}, timeout,
              [&reported](drain_outcome o) { reported.set_value(o); });
  EXPECT_EQ(outcome.wait_for(30s), std::future_status::ready);
  return outcome.get();
}

TEST(SupervisionTest, TheDrainCoordinatorReportsDrainedOnceTheRunningBlocksFinish) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervised_worker worker{server, 2, {}};
  worker.cpu->subscribe();
  auto first = worker.submit(encode("debug.sleep", "300"));
  auto second = worker.submit(encode("debug.sleep", "200"));
  EXPECT_EQ(drain(worker, 30s), drain_outcome::drained);
  // Drained means answered.
  EXPECT_EQ(first->count(), 1u);
  EXPECT_EQ(second->count(), 1u);
  EXPECT_EQ(first->first().status(), v2::EXEC_STATUS_OK);
  EXPECT_TRUE(worker.cpu->wait_stopped(0));
}

TEST(SupervisionTest, TheDrainCoordinatorTimesOutOnABlockThatOutlastsIt) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervised_worker worker{server, 1, {}};
  auto long_block = worker.submit(encode("debug.sleep", "1500"));
  ASSERT_TRUE(eventually([&] { return worker.cpu->admission().in_flight() == 1; }));
  EXPECT_EQ(drain(worker, 100ms), drain_outcome::timed_out);
  EXPECT_EQ(long_block->count(), 0u);
  // The pool still finishes it before it goes (its destructor waits for the runners).
  EXPECT_EQ(long_block->first().status(), v2::EXEC_STATUS_OK);
}

TEST(SupervisionTest, DrainsWithoutWaitingOnNatsWhenTheServerIsGone) {
  SKIP_WITHOUT_NATS_SERVER();
  nats_server server;
  ASSERT_TRUE(server.started());
  supervised_worker worker{server, 1, {}};
  worker.cpu->subscribe();
  ASSERT_EQ(worker.nats.flush(5000), NATS_OK);
  server.stop();
  ASSERT_TRUE(eventually([&] { return !worker.nats.connected(); }));
  auto running = worker.submit(encode("debug.sleep", "100"));
  EXPECT_EQ(drain(worker, 30s), drain_outcome::drained);
  EXPECT_EQ(running->first().status(), v2::EXEC_STATUS_OK);
}

} // namespace
