// The hand-off between a pool's NATS callback and its runners.

#include "run_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

using beamline::worker::run_queue;

TEST(RunQueueTest, APushWakesAnIdleRunnerOnlyWhileOneIsIdle) {
  run_queue<int> q{2};
  const auto first = q.push(1);
  const auto second = q.push(2);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*first, *second);
  EXPECT_FALSE(q.push(3).has_value()); // both runners busy: it waits
  EXPECT_EQ(q.waiting(), 3u);
  EXPECT_EQ(q.idle_runners(), 0u);
}

TEST(RunQueueTest, RunnersTakeJobsInArrivalOrderThenListThemselvesIdle) {
  run_queue<int> q{1};
  const auto runner = q.push(1);
  ASSERT_TRUE(runner.has_value());
  EXPECT_FALSE(q.push(2).has_value());
  EXPECT_EQ(q.next_or_idle(*runner), 1);
  EXPECT_EQ(q.next_or_idle(*runner), 2);
  EXPECT_FALSE(q.next_or_idle(*runner).has_value());
  EXPECT_EQ(q.idle_runners(), 1u);
  EXPECT_EQ(q.push(3), runner); // idle again: the next push wakes it
}

TEST(RunQueueTest, ABusyRunnerDoesNotHoldUpJobsWhileAnotherIsIdle) {
  run_queue<int> q{2};
  const auto slow = q.push(1);
  ASSERT_TRUE(slow.has_value());
  ASSERT_EQ(q.next_or_idle(*slow), 1); // runs for a long time from here on
  const auto other = q.push(2);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(*other, *slow);
  EXPECT_EQ(q.next_or_idle(*other), 2);
}

TEST(RunQueueTest, EveryJobRunsOnceUnderConcurrentPushes) {
  constexpr uint32_t runners = 3;
  constexpr int jobs = 5000;
  run_queue<int> q{runners};
  std::vector<std::atomic<int>> wakes(runners);
  std::atomic<long long> sum{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (uint32_t r = 0; r < runners; ++r)
    threads.emplace_back([&, r] {
      while (done.load() < jobs) {
        if (wakes[r].load() == 0) {
          std::this_thread::yield();
          continue;
        }
        wakes[r].fetch_sub(1);
        while (auto job = q.next_or_idle(r)) {
          sum += *job;
          ++done;
        }
      }
    });
  for (int i = 1; i <= jobs; ++i)
    if (auto r = q.push(i))
      wakes[*r].fetch_add(1);
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(done.load(), jobs);
  EXPECT_EQ(sum.load(), static_cast<long long>(jobs) * (jobs + 1) / 2);
  EXPECT_EQ(q.waiting(), 0u);
}

} // namespace
