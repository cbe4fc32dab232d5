// Command-line parsing of beamline-worker.

#include "options.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
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

// --- --config, GPU and CP1 options ----------------------------------------------------------------

namespace {

class WorkerConfigFileTest : public ::testing::Test {
protected:
  void TearDown() override {
    if (!path_.empty())
      std::remove(path_.c_str());
  }
  const char* write(const std::string& text) {
    path_ = ::testing::TempDir() + "worker-config-" + std::to_string(::getpid()) + ".json";
    std::ofstream{path_} << text;
    return path_.c_str();
  }
  std::string path_;
};

TEST_F(WorkerConfigFileTest, FileSetsOptionsAndFlagsOverrideIt) {
  const char* file = write(R"({
    "worker_id": "from-file", "pools": {"cpu": 3, "io": 5}, "queue_limit": 7,
    "gpu_devices": [0, 1], "gpu_slots_per_device": 2, "plugin_dir": "plugins",
    "executors": {"fs": {"root": "/srv"}}, "heartbeat_ms": 500,
    "cp1": {"enabled": false, "queue_group": "g", "dedupe_ttl_ms": 1000, "dedupe_capacity": 9}})");
  auto r = parse({"--config", file});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->worker_id, "from-file");
  ASSERT_EQ(r.options->pools.size(), 2u);
  EXPECT_EQ(r.options->queue_limit, 7u);
  EXPECT_EQ(r.options->gpu_devices, "0,1");
  EXPECT_EQ(r.options->gpu_slots_per_device, 2u);
  EXPECT_EQ(r.options->plugin_dir, ::testing::TempDir() + "plugins"); // relative to the file
  EXPECT_EQ(r.options->executor_config_json, R"({"fs":{"root":"/srv"}})");
  EXPECT_EQ(r.options->heartbeat_ms, 500u);
  EXPECT_FALSE(r.options->cp1);
  EXPECT_EQ(r.options->cp1_queue_group, "g");
  EXPECT_EQ(r.options->cp1_dedupe_ttl_ms, 1000u);
  EXPECT_EQ(r.options->cp1_dedupe_capacity, 9u);

  // Flags win, wherever they stand; --pool flags replace the file's pools.
  r = parse({"--worker-id", "from-flag", "--pool", "cpu=1", "--config", file, "--gpu-devices", "none",
             "--cp1=on"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->worker_id, "from-flag");
  ASSERT_EQ(r.options->pools.size(), 1u);
  EXPECT_EQ(r.options->pools[0].size, 1u);
  EXPECT_EQ(r.options->gpu_devices, "none");
  EXPECT_TRUE(r.options->cp1);
}

TEST_F(WorkerConfigFileTest, RejectsUnknownKeysAndBadValues) {
  EXPECT_NE(parse({"--config", write(R"({"pool": {"cpu": 1}})")}).error.find("unknown key"),
            std::string::npos);
  EXPECT_FALSE(parse({"--config", write(R"({"pools": {"gpu": 1}})")}).options);
  EXPECT_FALSE(parse({"--config", write(R"({"queue_limit": -1})")}).options);
  EXPECT_FALSE(parse({"--config", write(R"({"gpu_devices": "some"})")}).options);
  EXPECT_FALSE(parse({"--config", write(R"({"cp1": {"enabled": "yes"}})")}).options);
  EXPECT_FALSE(parse({"--config", write("not json")}).options);
  EXPECT_FALSE(parse({"--config", "/nonexistent/worker.json"}).options);
}

TEST(WorkerOptionsTest, GpuAndCp1Flags) {
  auto r = parse({});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->gpu_devices, "auto");
  EXPECT_EQ(r.options->gpu_slots_per_device, 1u);
  EXPECT_TRUE(r.options->cp1);
  EXPECT_EQ(r.options->cp1_queue_group, "caf-workers-cp1");
  r = parse({"--gpu-devices", "0,2", "--gpu-slots-per-device=4", "--cp1", "off"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->gpu_devices, "0,2");
  EXPECT_EQ(r.options->gpu_slots_per_device, 4u);
  EXPECT_FALSE(r.options->cp1);
  EXPECT_FALSE(parse({"--gpu-devices", "first"}).options);
  EXPECT_FALSE(parse({"--gpu-devices", "0,"}).options);
  EXPECT_FALSE(parse({"--gpu-slots-per-device", "0"}).options);
  EXPECT_FALSE(parse({"--cp1", "maybe"}).options);
  EXPECT_NE(parse({"--pool", "gpu=2"}).error.find("--gpu-devices"), std::string::npos);
}

} // namespace
