// White-box tests of run_block: what the C ABI cannot reach, such as a block whose receipt
// lies further back than its deadline (a worker queue, a slow hop).

#include "execute.hpp"
#include "runtime.hpp"

#include "exec_wire.pb.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

namespace {

namespace wire = beamline::exec::wire;
using beamline::exec::steady_clock;

std::atomic<int> calls{0};

bl_status* BL_CALL counting_executor(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  calls.fetch_add(1);
  return nullptr;
}

wire::ExecResult run(bl_runtime& rt, const wire::ExecRequest& req, steady_clock::time_point received) {
  const auto bytes = req.SerializeAsString();
  bl_buffer out{};
  beamline::exec::run_block(rt, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                            received, nullptr, nullptr, &out);
  wire::ExecResult result;
  EXPECT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
  std::free(out.data);
  return result;
}

TEST(RunBlockTest, AnAlreadyExpiredDeadlineIsNotStarted) {
  bl_runtime rt{"test-worker"};
  ASSERT_TRUE(rt.add({"test.count", nullptr, counting_executor, nullptr}));
  wire::ExecRequest req;
  req.set_block_id("late");
  req.set_type("test.count");
  req.set_deadline_ms(10);
  calls = 0;
  const auto result = run(rt, req, steady_clock::now() - std::chrono::milliseconds{50});
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
  EXPECT_EQ(result.block_id(), "late");
  EXPECT_EQ(result.worker_id(), "test-worker");
  EXPECT_GE(result.latency_us(), 50'000u);
}

TEST(RunBlockTest, ADeadlineInTheFutureRunsTheBlock) {
  bl_runtime rt{"test-worker"};
  ASSERT_TRUE(rt.add({"test.count", nullptr, counting_executor, nullptr}));
  wire::ExecRequest req;
  req.set_type("test.count");
  req.set_deadline_ms(60'000);
  calls = 0;
  const auto result = run(rt, req, steady_clock::now());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_OK);
}

TEST(RunBlockTest, ScratchMessagesDoNotLeakFieldsBetweenBlocks) {
  bl_runtime rt{"w"};
  ASSERT_TRUE(rt.add({"test.count", nullptr, counting_executor, nullptr}));
  wire::ExecRequest first;
  first.set_block_id("first");
  first.set_type("missing");
  (void)run(rt, first, steady_clock::now());
  wire::ExecRequest second;
  second.set_type("test.count");
  const auto result = run(rt, second, steady_clock::now());
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_OK);
  EXPECT_TRUE(result.block_id().empty());
  EXPECT_TRUE(result.error_code().empty());
  EXPECT_TRUE(result.error_message().empty());
}

} // namespace
