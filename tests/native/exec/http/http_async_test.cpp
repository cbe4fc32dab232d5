// http.request through execute_async (C ABI version 3): libcurl's multi interface on one event
// thread per runtime. Many transfers in flight on that one thread, cancellation, deadlines,
// streaming order, errors, and the types that have no asynchronous path.

#include "block_runner.hpp"
#include "detail/base64.hpp"
#include "http/test_http_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using beamline::exec::detail::base64_decode;
using beamline::test::api;
using beamline::test::test_http_server;
namespace wire = beamline::test::wire;
using json = nlohmann::json;

std::string config_for(const test_http_server& server) {
  const std::string here = "127.0.0.1:" + std::to_string(server.port());
  return json{{"http", {{"allow", {{"tenant-a", {here}}}},
                        {"providers", {{"local", {{"hosts", {here}}}}, {"remote", {{"hosts", {"api.openai.com"}}}}}},
                        {"timeout_ms", 20000}}}}
    .dump();
}

/// One asynchronous block: what its callbacks received, and on which threads.
struct pending {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  int results = 0;
  wire::ExecResult result;
  std::vector<wire::ExecChunk> chunks;
  std::set<std::thread::id> threads;
  /// The name of the thread the result came on.
  std::string result_thread_name;
  int32_t cancel_flag = 0;
  /// The chunk callback answers non-zero from this many chunks on (0: never).
  size_t cancel_after_chunks = 0;
  std::function<void(const wire::ExecChunk&)> on_chunk;

  /// Waits (bounded) for the result; false when it did not come.
  bool wait() {
    std::unique_lock lock{mutex};
    return cv.wait_for(lock, std::chrono::seconds{30}, [this] { return done; });
  }
};

int32_t BL_CALL on_chunk(void* user, const uint8_t* data, uint64_t len) {
  auto& p = *static_cast<pending*>(user);
  wire::ExecChunk chunk;
  EXPECT_TRUE(chunk.ParseFromArray(data, static_cast<int>(len)));
  std::lock_guard lock{p.mutex};
  p.threads.insert(std::this_thread::get_id());
  p.chunks.push_back(chunk);
  if (p.on_chunk)
    p.on_chunk(chunk);
  return p.cancel_after_chunks != 0 && p.chunks.size() >= p.cancel_after_chunks ? 1 : 0;
}

void BL_CALL on_result(void* user, const uint8_t* data, uint64_t len) {
  auto& p = *static_cast<pending*>(user);
  {
    std::lock_guard lock{p.mutex};
    p.threads.insert(std::this_thread::get_id());
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    p.result_thread_name = name;
    EXPECT_TRUE(p.result.ParseFromArray(data, static_cast<int>(len)));
    ++p.results;
    p.done = true;
  }
  p.cv.notify_all();
}

class HttpAsyncTest : public ::testing::Test {
protected:
  void SetUp() override {
    const std::string config = config_for(server_);
    bl_runtime_options options{};
    options.struct_size = sizeof(options);
    options.config_json = config.data();
    options.config_json_len = config.size();
    ASSERT_EQ(api()->runtime_create(&options, &rt_), nullptr);
  }
  void TearDown() override { api()->runtime_release(rt_); }

  /// Starts a block; the status execute_async returned (nullptr: taken).
  bl_status* start(pending& p, const std::string& type, const std::string& payload,
                   uint64_t deadline_ms = 0, bool stream = false, const std::string& tenant = "tenant-a") {
    wire::ExecRequest req;
    req.set_block_id("blk-async");
    req.set_tenant_id(tenant);
    req.set_type(type);
    req.set_payload(payload);
    req.set_deadline_ms(deadline_ms);
    req.set_stream(stream);
    const std::string bytes = req.SerializeAsString();
    bl_exec_overrides overrides{};
    overrides.struct_size = sizeof(overrides);
    overrides.gpu_device = -1;
    overrides.cancel_flag = &p.cancel_flag;
    bl_async_callbacks callbacks{};
    callbacks.struct_size = sizeof(callbacks);
    callbacks.on_chunk = on_chunk;
    callbacks.on_result = on_result;
    return api()->execute_async(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                &overrides, &callbacks, &p);
  }

  /// Starts a block that must be taken, and waits for its result.
  void run(pending& p, const std::string& type, const std::string& payload,
           uint64_t deadline_ms = 0, bool stream = false) {
    ASSERT_EQ(start(p, type, payload, deadline_ms, stream), nullptr);
    ASSERT_TRUE(p.wait()) << "no result";
  }

  static std::string get(const std::string& url, json extra = json::object()) {
    json payload{{"url", url}};
    payload.update(extra);
    return payload.dump();
  }

  test_http_server server_;
  bl_runtime* rt_ = nullptr;
};

TEST_F(HttpAsyncTest, ManyConcurrentTransfersCompleteOnOneEventThread) {
  // The gate answers only once all of them wait at once: every transfer was in flight together,
  // yet every callback came from one thread, which is not this one.
  constexpr int n = 200;
  std::vector<std::unique_ptr<pending>> blocks;
  for (int i = 0; i < n; ++i) {
    blocks.push_back(std::make_unique<pending>());
    ASSERT_EQ(start(*blocks.back(), "http.request", get(server_.url("/gate/" + std::to_string(n)))),
              nullptr);
  }
  std::set<std::thread::id> threads;
  for (auto& p : blocks) {
    ASSERT_TRUE(p->wait());
    ASSERT_EQ(p->result.status(), wire::EXEC_STATUS_OK) << p->result.error_message();
    const auto out = json::parse(p->result.output());
    EXPECT_EQ(out.at("status"), 200);
    EXPECT_EQ(base64_decode(out.at("body_base64").get<std::string>()), "open");
    EXPECT_EQ(p->results, 1);
    threads.insert(p->threads.begin(), p->threads.end());
  }
  EXPECT_TRUE(server_.gate_opened_by_count()) << "the transfers did not all run at once";
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST_F(HttpAsyncTest, TheEventThreadHasANameOperatorsCanFind) {
  // Without one it keeps the name of whichever thread started it (a .NET pool thread in the host).
  pending p;
  run(p, "http.request", get(server_.url("/json")));
  ASSERT_EQ(p.result.status(), wire::EXEC_STATUS_OK) << p.result.error_message();
  EXPECT_EQ(p.result_thread_name, "bl-http-events");
}

TEST_F(HttpAsyncTest, GivesTheSameOutputAsTheSynchronousPath) {
  pending p;
  run(p, "http.request", get(server_.url("/json")));
  ASSERT_EQ(p.result.status(), wire::EXEC_STATUS_OK) << p.result.error_message();
  EXPECT_EQ(p.result.block_id(), "blk-async");
  beamline::test::block_runner sync{config_for(server_)};
  const auto expected = sync.run("http.request", get(server_.url("/json")));
  EXPECT_EQ(p.result.output(), expected.output());
}

TEST_F(HttpAsyncTest, FollowsRedirectsHopByHop) {
  pending p;
  run(p, "http.request", get(server_.url("/redirect-to/" + server_.url("/json"))));
  ASSERT_EQ(p.result.status(), wire::EXEC_STATUS_OK) << p.result.error_message();
  EXPECT_EQ(json::parse(p.result.output()).at("url"), server_.url("/json"));
}

TEST_F(HttpAsyncTest, TheCancelFlagStopsARunningTransfer) {
  pending p;
  ASSERT_EQ(start(p, "http.request", get(server_.url("/slow"))), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds{100}); // let it reach the server
  __atomic_store_n(&p.cancel_flag, 1, __ATOMIC_RELEASE);
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.result.status(), wire::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(p.result.error_code(), "cancelled");
  EXPECT_NE(p.result.error_message().find("caller cancelled"), std::string::npos)
    << p.result.error_message();
}

TEST_F(HttpAsyncTest, ACancelFlagAlreadySetEndsTheBlockBeforeItStarts) {
  pending p;
  p.cancel_flag = 1;
  ASSERT_EQ(start(p, "http.request", get(server_.url("/json"))), nullptr);
  ASSERT_TRUE(p.done) << "ended on the calling thread, before execute_async returned";
  EXPECT_EQ(p.result.status(), wire::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(p.threads.count(std::this_thread::get_id()), 1u);
}

TEST_F(HttpAsyncTest, TheDeadlineEndsASlowTransfer) {
  pending p;
  run(p, "http.request", get(server_.url("/slow")), /*deadline_ms=*/200);
  EXPECT_EQ(p.result.status(), wire::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(p.result.error_code(), "deadline_exceeded");
}

TEST_F(HttpAsyncTest, StreamsTheHeadThenTheBodyInOrder) {
  pending p;
  p.on_chunk = [this](const wire::ExecChunk&) { server_.first_chunk_seen(); };
  run(p, "http.request", get(server_.url("/stream"), {{"stream_head", true}}), 0, /*stream=*/true);
  ASSERT_EQ(p.result.status(), wire::EXEC_STATUS_OK) << p.result.error_message();
  ASSERT_GE(p.chunks.size(), 2u);
  EXPECT_EQ(json::parse(p.chunks[0].data()).at("status"), 200);
  std::string body;
  for (size_t i = 0; i < p.chunks.size(); ++i) {
    EXPECT_EQ(p.chunks[i].seq(), i);
    if (i > 0)
      body += p.chunks[i].data();
  }
  EXPECT_EQ(body, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
  EXPECT_TRUE(server_.stream_released_by_client());
  EXPECT_EQ(json::parse(p.result.output()).at("body_bytes"), body.size());
}

TEST_F(HttpAsyncTest, StreamHeadAfterRedirectsIsTheFinalResponses) {
  pending p;
  run(p, "http.request",
      get(server_.url("/redirect-to/" + server_.url("/status/503")), {{"stream_head", true}}), 0,
      true);
  ASSERT_EQ(p.result.status(), wire::EXEC_STATUS_OK) << p.result.error_message();
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(json::parse(p.chunks[0].data()).at("status"), 503);
  EXPECT_EQ(p.chunks[1].data(), "status 503");
}

TEST_F(HttpAsyncTest, AReceiverThatCancelsStopsTheStream) {
  pending p;
  p.cancel_after_chunks = 1;
  run(p, "http.request", get(server_.url("/huge")), 0, true);
  EXPECT_EQ(p.result.status(), wire::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(p.chunks.size(), 1u);
}

TEST_F(HttpAsyncTest, RulesAndLimitsApplyAsOnTheSynchronousPath) {
  pending refused;
  run(refused, "http.request", get("http://example.invalid/"));
  EXPECT_EQ(refused.result.error_code(), "permission_denied") << refused.result.error_message();

  pending too_big;
  run(too_big, "http.request", get(server_.url("/huge"), {{"max_response_bytes", 1024}}));
  EXPECT_EQ(too_big.result.error_code(), "resource_unavailable") << too_big.result.error_message();

  pending loop;
  run(loop, "http.request", get(server_.url("/loop")));
  EXPECT_EQ(loop.result.error_code(), "resource_unavailable") << loop.result.error_message();

  pending down;
  run(down, "http.request", get("http://127.0.0.1:1/"));
  EXPECT_EQ(down.result.status(), wire::EXEC_STATUS_ERROR);
}

TEST_F(HttpAsyncTest, AProviderRefIsBoundByTheProvidersHostsAsOnTheSynchronousPath) {
  // tenant-z has no allow-list: the provider's hosts alone let the block through.
  pending allowed;
  ASSERT_EQ(start(allowed, "http.request", get(server_.url("/json"), {{"provider_ref", "local"}}), 0, false,
                  "tenant-z"),
            nullptr);
  ASSERT_TRUE(allowed.wait());
  ASSERT_EQ(allowed.result.status(), wire::EXEC_STATUS_OK) << allowed.result.error_message();

  pending raw;
  ASSERT_EQ(start(raw, "http.request", get(server_.url("/json")), 0, false, "tenant-z"), nullptr);
  ASSERT_TRUE(raw.wait());
  EXPECT_EQ(raw.result.error_code(), "permission_denied") << raw.result.error_message();

  // tenant-a may reach the server itself, but not through a provider that does not list it.
  pending other_host;
  run(other_host, "http.request", get(server_.url("/json"), {{"provider_ref", "remote"}}));
  EXPECT_EQ(other_host.result.error_code(), "permission_denied") << other_host.result.error_message();

  pending unknown;
  run(unknown, "http.request", get(server_.url("/json"), {{"provider_ref", "nobody"}}));
  EXPECT_EQ(unknown.result.error_code(), "permission_denied") << unknown.result.error_message();
}

TEST_F(HttpAsyncTest, AMalformedPayloadEndsOnTheCallingThread) {
  pending p;
  ASSERT_EQ(start(p, "http.request", "not json"), nullptr);
  ASSERT_TRUE(p.done);
  EXPECT_EQ(p.result.error_code(), "invalid_input");
  EXPECT_EQ(p.results, 1);
}

TEST_F(HttpAsyncTest, TypesWithoutAnAsynchronousPathAnswerNotAsync) {
  pending p;
  bl_status* st = start(p, "echo", "hi");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_NOT_ASYNC);
  api()->status_release(st);
  EXPECT_FALSE(p.done) << "no callback for a block that was not taken";
}

TEST_F(HttpAsyncTest, RefusesBadCallbacks) {
  const std::string bytes = wire::ExecRequest{}.SerializeAsString();
  bl_async_callbacks callbacks{};
  callbacks.struct_size = sizeof(callbacks);
  bl_status* st = api()->execute_async(rt_, nullptr, 0, nullptr, &callbacks, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT) << "on_result is required";
  api()->status_release(st);
  callbacks.on_result = on_result;
  callbacks.struct_size = 8;
  st = api()->execute_async(rt_, nullptr, 0, nullptr, &callbacks, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  api()->status_release(st);
}

TEST_F(HttpAsyncTest, ReleasingTheRuntimeEndsARunningTransferCancelled) {
  pending p;
  ASSERT_EQ(start(p, "http.request", get(server_.url("/slow"))), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  api()->runtime_release(rt_);
  rt_ = nullptr;
  ASSERT_TRUE(p.done) << "the result came before runtime_release returned";
  EXPECT_EQ(p.result.status(), wire::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(p.results, 1);
}

} // namespace
