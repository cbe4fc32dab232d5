// The dedupe window of CP1 assignment ids, on a fake clock.

#include "cp1/dedupe.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using beamline::worker::cp1::dedupe_window;
using namespace std::chrono_literals;

struct fake_clock {
  dedupe_window::clock::time_point now{};
  dedupe_window::clock_fn fn() {
    return [this] { return now; };
  }
};

TEST(Cp1DedupeTest, SecondDeliveryWithinTtlIsADuplicate) {
  fake_clock clock;
  dedupe_window window{10min, 100, clock.fn()};
  EXPECT_TRUE(window.remember_if_new("a-1"));
  clock.now += 9min;
  EXPECT_FALSE(window.remember_if_new("a-1"));
  EXPECT_TRUE(window.remember_if_new("a-2"));
}

TEST(Cp1DedupeTest, AnIdIsForgottenAfterTheTtl) {
  fake_clock clock;
  dedupe_window window{10min, 100, clock.fn()};
  EXPECT_TRUE(window.remember_if_new("a-1"));
  clock.now += 10min;
  EXPECT_EQ(window.size(), 0u);
  EXPECT_TRUE(window.remember_if_new("a-1"));
}

TEST(Cp1DedupeTest, ForgetLetsARefusedAssignmentRunWhenRedelivered) {
  fake_clock clock;
  dedupe_window window{10min, 100, clock.fn()};
  EXPECT_TRUE(window.remember_if_new("a-1"));
  window.forget("a-1");
  EXPECT_TRUE(window.remember_if_new("a-1"));
  EXPECT_FALSE(window.remember_if_new("a-1"));
}

TEST(Cp1DedupeTest, MemoryIsBoundedByCapacity) {
  fake_clock clock;
  dedupe_window window{10min, 3, clock.fn()};
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(window.remember_if_new("a-" + std::to_string(i)));
    clock.now += 1s;
  }
  EXPECT_EQ(window.size(), 3u);
  EXPECT_EQ(window.evicted_early(), 7u);
  // The newest are remembered, the oldest were forgotten early.
  EXPECT_FALSE(window.remember_if_new("a-9"));
  EXPECT_TRUE(window.remember_if_new("a-0"));
}

TEST(Cp1DedupeTest, ForgetAndRememberCyclesStayBounded) {
  fake_clock clock;
  dedupe_window window{10min, 4, clock.fn()};
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_TRUE(window.remember_if_new("same"));
    window.forget("same");
  }
  EXPECT_EQ(window.size(), 0u);
  EXPECT_EQ(window.evicted_early(), 0u);
}

} // namespace
