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

TEST(WorkerOptionsTest, LogFormatIsTextUnlessJsonIsAskedFor) {
  EXPECT_EQ(parse({}).options->log_format, "text");
  EXPECT_EQ(parse({"--log-format", "json"}).options->log_format, "json");
  EXPECT_EQ(parse({"--log-format=text"}).options->log_format, "text");
  const auto bad = parse({"--log-format", "xml"});
  EXPECT_FALSE(bad.options);
  EXPECT_NE(bad.error.find("text or json"), std::string::npos);
}

TEST(WorkerOptionsTest, RejectsUnknownOptionsAndMissingValues) {
  EXPECT_FALSE(parse({"--frobnicate", "1"}).options);
  EXPECT_FALSE(parse({"--nats"}).options);
  EXPECT_FALSE(parse({"--queue-limit", "-1"}).options);
}

TEST(WorkerOptionsTest, EnableDiagnosticsIsASwitchOffByDefault) {
  EXPECT_FALSE(parse({}).options->enable_diagnostics);
  // It takes no value: the next argument is an option of its own.
  const auto r = parse({"--enable-diagnostics", "--pool", "cpu=2"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->enable_diagnostics);
  ASSERT_EQ(r.options->pools.size(), 1u);
  EXPECT_EQ(r.options->pools[0].size, 2u);
  EXPECT_FALSE(parse({"--enable-diagnostics=yes"}).options);
}

TEST(WorkerOptionsTest, RuntimeConfigEnablesDebugOnlyWithDiagnostics) {
  using beamline::worker::runtime_config_json;
  const std::string fs = R"({"fs":{"root":"/srv"}})";
  EXPECT_EQ(runtime_config_json(fs, false).json, fs);
  EXPECT_EQ(runtime_config_json("", false).json, "");
  EXPECT_EQ(runtime_config_json("", true).json, R"({"debug":{"enabled":true}})");
  EXPECT_EQ(runtime_config_json(fs, true).json, R"({"debug":{"enabled":true},"fs":{"root":"/srv"}})");
  EXPECT_EQ(runtime_config_json(R"({"debug":{"enabled":false,"x":1}})", true).json,
            R"({"debug":{"enabled":true,"x":1}})");
  EXPECT_FALSE(runtime_config_json("[1]", true).error.empty());
  EXPECT_FALSE(runtime_config_json("{", true).error.empty());
  EXPECT_FALSE(runtime_config_json(R"({"debug":3})", true).error.empty());
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

TEST_F(WorkerConfigFileTest, EnableDiagnosticsFromTheFileOrTheFlag) {
  auto r = parse({"--config", write(R"({"enable_diagnostics": true})")});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->enable_diagnostics);
  r = parse({"--config", write(R"({"enable_diagnostics": false})"), "--enable-diagnostics"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->enable_diagnostics);
  EXPECT_FALSE(parse({"--config", write(R"({"enable_diagnostics": "yes"})")}).options);
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

// --- NATS servers, credentials and TLS ----------------------------------------------------------

namespace {

using beamline::worker::redact_url;
using beamline::worker::split_servers;

TEST(WorkerOptionsTest, NatsTakesAListOfServers) {
  const auto r = parse({"--nats", "nats://a:4222, nats://b:4222,tls://c:4443"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(split_servers(r.options->nats_url),
            (std::vector<std::string>{"nats://a:4222", "nats://b:4222", "tls://c:4443"}));
  EXPECT_FALSE(parse({"--nats", "nats://a:4222,,nats://b:4222"}).options);
  EXPECT_FALSE(parse({"--nats", "nats://a:4222,"}).options);
  EXPECT_FALSE(parse({"--nats="}).options);
}

TEST(WorkerOptionsTest, TakesCredentialsAndTlsFlags) {
  auto r = parse({"--creds", "/etc/nats/w.creds", "--tls-ca", "ca.pem", "--tls-cert", "c.pem",
                  "--tls-key", "k.pem"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->creds_file, "/etc/nats/w.creds");
  EXPECT_EQ(r.options->tls_ca, "ca.pem");
  EXPECT_EQ(r.options->tls_cert, "c.pem");
  EXPECT_EQ(r.options->tls_key, "k.pem");
  r = parse({"--nkey=/etc/nats/w.nk"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->nkey_seed_file, "/etc/nats/w.nk");
  r = parse({"--user", "worker", "--password", "pw"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->user, "worker");
  EXPECT_EQ(r.options->password, "pw");
  r = parse({"--token", "t0k"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->token, "t0k");
  EXPECT_TRUE(parse({}).options->creds_file.empty());
}

TEST(WorkerOptionsTest, RejectsConflictingCredentialsWithoutShowingSecrets) {
  for (const auto& args : std::vector<std::vector<const char*>>{
         {"--creds", "a.creds", "--nkey", "a.nk"},
         {"--user", "u", "--password", "s3cret", "--token", "s3cret"},
         {"--password", "s3cret"},
         {"--password", ""},
       }) {
    const auto r = parse(args);
    EXPECT_FALSE(r.options) << args[0];
    EXPECT_EQ(r.error.find("s3cret"), std::string::npos) << r.error;
  }
  EXPECT_NE(parse({"--tls-cert", "c.pem"}).error.find("--tls-key"), std::string::npos);
  EXPECT_FALSE(parse({"--tls-key", "k.pem"}).options);
}

TEST(WorkerOptionsTest, RedactsPasswordsAndTokensInUrls) {
  EXPECT_EQ(redact_url("nats://u:pw@h:4222"), "nats://u:***@h:4222");
  EXPECT_EQ(redact_url("nats://s3cret@h:4222"), "nats://***@h:4222");
  EXPECT_EQ(redact_url("nats://h:4222,tls://u:p@w@h2"), "nats://h:4222,tls://u:***@h2");
  EXPECT_EQ(redact_url("nats://h:4222"), "nats://h:4222");
  EXPECT_EQ(redact_url("h:4222"), "h:4222");
}

TEST_F(WorkerConfigFileTest, FileTakesServersCredentialsAndTls) {
  const char* file = write(R"({
    "nats": ["nats://a:4222", "nats://b:4222"], "nkey": "worker.nk",
    "tls_ca": "/etc/nats/ca.pem", "tls_cert": "cert.pem", "tls_key": "key.pem"})");
  auto r = parse({"--config", file});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->nats_url, "nats://a:4222,nats://b:4222");
  EXPECT_EQ(r.options->nkey_seed_file, ::testing::TempDir() + "worker.nk"); // relative to the file
  EXPECT_EQ(r.options->tls_ca, "/etc/nats/ca.pem");
  EXPECT_EQ(r.options->tls_cert, ::testing::TempDir() + "cert.pem");
  EXPECT_EQ(r.options->tls_key, ::testing::TempDir() + "key.pem");

  // Credentials given as flags replace the file's as a whole, so they never conflict with it.
  r = parse({"--config", file, "--user", "u", "--password", "p"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->nkey_seed_file.empty());
  EXPECT_EQ(r.options->user, "u");

  r = parse({"--config", write(R"({"user": "u", "password": "p", "token": "t"})")});
  EXPECT_FALSE(r.options);
  r = parse({"--config", write(R"({"token": "t", "creds": "w.creds"})")});
  EXPECT_FALSE(r.options);
  EXPECT_FALSE(parse({"--config", write(R"({"password": 5})")}).options);
  EXPECT_FALSE(parse({"--config", write(R"({"nats": []})")}).options);
  EXPECT_FALSE(parse({"--config", write(R"({"nats": ["nats://a:4222", 1]})")}).options);
  EXPECT_NE(parse({"--config", write(R"({"tls": true})")}).error.find("unknown key"),
            std::string::npos);
}

TEST(WorkerOptionsTest, Cp1DedupeResultBytes) {
  EXPECT_EQ(parse({}).options->cp1_dedupe_result_bytes, 64u << 20);
  const auto r = parse({"--cp1-dedupe-result-bytes", "0"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->cp1_dedupe_result_bytes, 0u);
  EXPECT_FALSE(parse({"--cp1-dedupe-result-bytes", "-1"}).options);
}

TEST(WorkerOptionsTest, Cp1JetStream) {
  const auto defaults = parse({});
  ASSERT_TRUE(defaults.options) << defaults.error;
  EXPECT_FALSE(defaults.options->cp1_jetstream);
  EXPECT_EQ(defaults.options->cp1_ack_wait_ms, 30'000u);
  EXPECT_EQ(defaults.options->cp1_max_deliver, 5u);
  EXPECT_FALSE(defaults.options->cp1_idempotent_types);
  auto r = parse({"--cp1-jetstream", "on", "--cp1-ack-wait-ms", "1500", "--cp1-max-deliver=3",
                  "--cp1-nak-delay-ms", "0", "--cp1-results-ttl-ms", "60000",
                  "--cp1-idempotent-types", "echo,fs.read"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->cp1_jetstream);
  EXPECT_EQ(r.options->cp1_ack_wait_ms, 1500u);
  EXPECT_EQ(r.options->cp1_max_deliver, 3u);
  EXPECT_EQ(r.options->cp1_nak_delay_ms, 0u);
  EXPECT_EQ(r.options->cp1_results_ttl_ms, 60'000u);
  EXPECT_EQ(r.options->cp1_idempotent_types, "echo,fs.read");
  EXPECT_FALSE(parse({"--cp1-jetstream", "yes"}).options);
  EXPECT_FALSE(parse({"--cp1-ack-wait-ms", "10"}).options);
  EXPECT_FALSE(parse({"--cp1-max-deliver", "0"}).options);
}

TEST(WorkerOptionsTest, BlockDedupeFlags) {
  const auto defaults = parse({});
  ASSERT_TRUE(defaults.options) << defaults.error;
  EXPECT_FALSE(defaults.options->block_dedupe);
  EXPECT_EQ(defaults.options->block_dedupe_grace_ms, 5'000u);
  EXPECT_EQ(defaults.options->block_dedupe_ttl_ms, 86'400'000u);
  auto r = parse({"--block-dedupe", "on", "--block-dedupe-grace-ms", "250", "--block-dedupe-ttl-ms=60000"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->block_dedupe);
  EXPECT_EQ(r.options->block_dedupe_grace_ms, 250u);
  EXPECT_EQ(r.options->block_dedupe_ttl_ms, 60'000u);
  EXPECT_FALSE(parse({"--block-dedupe", "yes"}).options);
  EXPECT_FALSE(parse({"--block-dedupe-ttl-ms", "10"}).options);
}

TEST_F(WorkerConfigFileTest, BlockDedupeKeys) {
  auto r = parse({"--config", write(R"({"block_dedupe": {"enabled": true, "grace_ms": 100, "ttl_ms": 5000}})")});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->block_dedupe);
  EXPECT_EQ(r.options->block_dedupe_grace_ms, 100u);
  EXPECT_EQ(r.options->block_dedupe_ttl_ms, 5000u);
  EXPECT_FALSE(parse({"--config", write(R"({"block_dedupe": {"on": true}})")}).options);
}

TEST_F(WorkerConfigFileTest, Cp1JetStreamKeys) {
  auto r = parse({"--config", write(R"({"cp1": {"jetstream": true, "ack_wait_ms": 2000, "max_deliver": 9,
    "nak_delay_ms": 10, "results_ttl_ms": 5000, "idempotent_types": "none"}})")});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->cp1_jetstream);
  EXPECT_EQ(r.options->cp1_ack_wait_ms, 2000u);
  EXPECT_EQ(r.options->cp1_max_deliver, 9u);
  EXPECT_EQ(r.options->cp1_idempotent_types, "none");
  EXPECT_FALSE(parse({"--config", write(R"({"cp1": {"jetstream": "on"}})")}).options);
}

} // namespace

namespace {

TEST(WorkerOptionsTest, HardDeadlineGraceAndReconnectWait) {
  auto r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->hard_deadline_grace_ms, 5000u);
  EXPECT_EQ(r.options->reconnect_wait_ms, 500u);
  r = parse({"--hard-deadline-grace-ms", "250", "--reconnect-wait-ms=100"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->hard_deadline_grace_ms, 250u);
  EXPECT_EQ(r.options->reconnect_wait_ms, 100u);
  EXPECT_FALSE(parse({"--reconnect-wait-ms", "0"}).options);
  EXPECT_FALSE(parse({"--hard-deadline-grace-ms", "x"}).options);
}

TEST(WorkerOptionsTest, InboxPrefix_WholeTokensOnly) {
  auto r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->inbox_prefix, "");  // nats.c's _INBOX
  r = parse({"--inbox-prefix", "_INBOX_worker"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->inbox_prefix, "_INBOX_worker");
  EXPECT_TRUE(parse({"--inbox-prefix", "_I.worker-1"}).options);
  for (const char* bad : {"", "_INBOX.>", "a.*", "a..b", ".a", "a.", "has space"})
    EXPECT_FALSE(parse({"--inbox-prefix", bad}).options) << bad;
}

TEST_F(WorkerConfigFileTest, InboxPrefixFromTheFile) {
  auto r = parse({"--config", write(R"({"inbox_prefix": "_INBOX_w"})")});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->inbox_prefix, "_INBOX_w");
  EXPECT_FALSE(parse({"--config", write(R"({"inbox_prefix": "_INBOX.*"})")}).options);
}

TEST_F(WorkerConfigFileTest, HardDeadlineGraceAndReconnectWaitFromTheFile) {
  const char* file = write(R"({"hard_deadline_grace_ms": 750, "reconnect_wait_ms": 250})");
  auto r = parse({"--config", file});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->hard_deadline_grace_ms, 750u);
  EXPECT_EQ(r.options->reconnect_wait_ms, 250u);
  EXPECT_FALSE(parse({"--config", write(R"({"reconnect_wait_ms": 5})")}).options);
}

} // namespace
