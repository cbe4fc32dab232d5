// The dedupe window of CP1 assignment ids and their results, on a fake clock.

#include "cp1/dedupe.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using beamline::worker::cp1::dedupe_window;
using seen = dedupe_window::seen;
using namespace std::chrono_literals;

constexpr size_t budget = 1 << 20;

struct fake_clock {
  dedupe_window::clock::time_point now{};
  dedupe_window::clock_fn fn() {
    return [this] { return now; };
  }
};

bool is_new(dedupe_window& window, const std::string& id) {
  return window.remember(id).kind == seen::first;
}

TEST(Cp1DedupeTest, SecondDeliveryWithinTtlIsADuplicate) {
  fake_clock clock;
  dedupe_window window{10min, 100, budget, clock.fn()};
  EXPECT_TRUE(is_new(window, "a-1"));
  clock.now += 9min;
  EXPECT_EQ(window.remember("a-1").kind, seen::running);
  EXPECT_TRUE(is_new(window, "a-2"));
}

TEST(Cp1DedupeTest, AnIdIsForgottenAfterTheTtl) {
  fake_clock clock;
  dedupe_window window{10min, 100, budget, clock.fn()};
  EXPECT_TRUE(is_new(window, "a-1"));
  window.finished("a-1", "result");
  clock.now += 10min;
  EXPECT_EQ(window.size(), 0u);
  EXPECT_EQ(window.result_bytes(), 0u);
  EXPECT_TRUE(is_new(window, "a-1"));
}

TEST(Cp1DedupeTest, ForgetLetsARefusedAssignmentRunWhenRedelivered) {
  fake_clock clock;
  dedupe_window window{10min, 100, budget, clock.fn()};
  EXPECT_TRUE(is_new(window, "a-1"));
  window.forget("a-1");
  EXPECT_TRUE(is_new(window, "a-1"));
  EXPECT_FALSE(is_new(window, "a-1"));
}

TEST(Cp1DedupeTest, MemoryIsBoundedByCapacity) {
  fake_clock clock;
  dedupe_window window{10min, 3, budget, clock.fn()};
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(is_new(window, "a-" + std::to_string(i)));
    window.finished("a-" + std::to_string(i), "r");
    clock.now += 1s;
  }
  EXPECT_EQ(window.size(), 3u);
  EXPECT_EQ(window.result_bytes(), 3u);
  EXPECT_EQ(window.evicted_early(), 7u);
  // The newest are remembered, the oldest were forgotten early.
  EXPECT_FALSE(is_new(window, "a-9"));
  EXPECT_TRUE(is_new(window, "a-0"));
}

TEST(Cp1DedupeTest, ForgetAndRememberCyclesStayBounded) {
  fake_clock clock;
  dedupe_window window{10min, 4, budget, clock.fn()};
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_TRUE(is_new(window, "same"));
    window.finished("same", "result");
    window.forget("same");
  }
  EXPECT_EQ(window.size(), 0u);
  EXPECT_EQ(window.result_bytes(), 0u);
  EXPECT_EQ(window.evicted_early(), 0u);
}

// The bug: a redelivery whose first result was lost got only a "duplicate" ack, never a result.
TEST(Cp1DedupeTest, ARedeliveryOfAFinishedAssignmentGetsItsResult) {
  fake_clock clock;
  dedupe_window window{10min, 100, budget, clock.fn()};
  ASSERT_TRUE(is_new(window, "a-1"));
  EXPECT_EQ(window.remember("a-1").kind, seen::running);
  window.finished("a-1", R"({"assignment_id":"a-1","status":"success"})");
  const auto again = window.remember("a-1");
  EXPECT_EQ(again.kind, seen::finished);
  EXPECT_EQ(again.result, R"({"assignment_id":"a-1","status":"success"})");
}

TEST(Cp1DedupeTest, ResultsAreBoundedByBytesOldestDroppedFirst) {
  fake_clock clock;
  dedupe_window window{10min, 100, 10, clock.fn()};
  for (const char* id : {"a-1", "a-2", "a-3"}) {
    ASSERT_TRUE(is_new(window, id));
    window.finished(id, "xxxx"); // 4 bytes each: the third pushes the first out
  }
  EXPECT_EQ(window.result_bytes(), 8u);
  const auto oldest = window.remember("a-1");
  EXPECT_EQ(oldest.kind, seen::finished); // still remembered: not run again
  EXPECT_TRUE(oldest.result.empty());     // but its result is no longer kept
  EXPECT_EQ(window.remember("a-3").result, "xxxx");
  // A result larger than the whole budget is not kept, and pushes nothing out.
  ASSERT_TRUE(is_new(window, "big"));
  window.finished("big", std::string(11, 'y'));
  EXPECT_EQ(window.remember("big").kind, seen::finished);
  EXPECT_TRUE(window.remember("big").result.empty());
  EXPECT_EQ(window.result_bytes(), 8u);
}

TEST(Cp1DedupeTest, AResultForAForgottenIdIsNotKept) {
  fake_clock clock;
  dedupe_window window{10min, 100, budget, clock.fn()};
  ASSERT_TRUE(is_new(window, "a-1"));
  window.forget("a-1");
  window.finished("a-1", "late");
  EXPECT_EQ(window.result_bytes(), 0u);
  EXPECT_TRUE(is_new(window, "a-1"));
}

} // namespace
