// Command-line parsing of beamline-worker.

#include "options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using beamline::worker::parse_options;
using beamline::worker::parse_result;

parse_result parse(std::vector<const char*> args) {
  args.insert(args.begin(), "beamline-worker");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(WorkerOptionsTest, DefaultsToOneCpuPoolAndLocalNats) {
  const auto r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->nats_url, "nats://127.0.0.1:4222");
  ASSERT_EQ(r.options->pools.size(), 1u);
  EXPECT_EQ(r.options->pools[0].name, "cpu");
  EXPECT_GE(r.options->pools[0].size, 1u);
  EXPECT_EQ(r.options->queue_limit, 1024u);
  EXPECT_EQ(r.options->heartbeat_ms, 2000u);
  EXPECT_FALSE(r.options->worker_id.empty());
}

TEST(WorkerOptionsTest, AcceptsRepeatedPoolsAndBothValueForms) {
  const auto r = parse({"--pool", "cpu=2", "--pool=io=8", "--worker-id=w1", "--queue-limit", "5",
                        "--nats", "nats://10.0.0.1:4333", "--heartbeat-ms=100"});
  ASSERT_TRUE(r.options) << r.error;
  ASSERT_EQ(r.options->pools.size(), 2u);
  EXPECT_EQ(r.options->pools[1].name, "io");
  EXPECT_EQ(r.options->pools[1].size, 8u);
  EXPECT_EQ(r.options->worker_id, "w1");
  EXPECT_EQ(r.options->queue_limit, 5u);
  EXPECT_EQ(r.options->nats_url, "nats://10.0.0.1:4333");
  EXPECT_EQ(r.options->heartbeat_ms, 100u);
}

TEST(WorkerOptionsTest, RejectsAPoolNameThatWouldBreakTheSubject) {
  EXPECT_FALSE(parse({"--pool", "cpu.fast=2"}).options);
  EXPECT_FALSE(parse({"--pool", "cpu=0"}).options);
  EXPECT_FALSE(parse({"--pool", "cpu"}).options);
  EXPECT_FALSE(parse({"--pool", "a=1", "--pool", "a=2"}).options);
}

TEST(WorkerOptionsTest, RejectsUnknownOptionsAndMissingValues) {
  EXPECT_FALSE(parse({"--frobnicate", "1"}).options);
  EXPECT_FALSE(parse({"--nats"}).options);
  EXPECT_FALSE(parse({"--queue-limit", "-1"}).options);
}

TEST(WorkerOptionsTest, TakesAnExecutorConfigFile) {
  const auto r = parse({"--executor-config", "/etc/beamline/executors.json"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->executor_config, "/etc/beamline/executors.json");
  EXPECT_TRUE(parse({}).options->executor_config.empty());
  EXPECT_FALSE(parse({"--executor-config="}).options);
}

} // namespace
