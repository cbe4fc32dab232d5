// The C ABI of libbeamline_exec, exercised through bl_get_api exactly as the control plane
// (P/Invoke) and the worker use it.

#include <beamline/beamline_exec.h>
#include <beamline/worker/v2/exec.pb.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace v2 = beamline::worker::v2;

const bl_api* api() {
  static const bl_api* table = bl_get_api(BL_API_VERSION);
  return table;
}

std::string message_of(const bl_status* st) {
  uint64_t len = 0;
  const char* text = api()->status_message(st, &len);
  return std::string{text, static_cast<size_t>(len)};
}

/// The executor configuration that enables the diagnostic built-ins (debug.sleep).
constexpr char diagnostics_config[] = R"({"debug": {"enabled": true}})";

/// A runtime with the built-ins and the given executor configuration (NULL = none).
bl_runtime* make_runtime(const char* config_json) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.config_json = config_json;
  options.config_json_len = config_json == nullptr ? 0 : std::strlen(config_json);
  bl_runtime* rt = nullptr;
  bl_status* st = api()->runtime_create(&options, &rt);
  EXPECT_EQ(st, nullptr);
  api()->status_release(st);
  return rt;
}

v2::ExecResult parse_result(bl_buffer& out) {
  v2::ExecResult result;
  EXPECT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
  api()->buffer_release(&out);
  return result;
}

v2::ExecResult run_on(bl_runtime* rt, const std::string& bytes) {
  bl_buffer out{};
  bl_status* st = api()->execute(rt, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                 &out);
  EXPECT_EQ(st, nullptr);
  api()->status_release(st);
  return parse_result(out);
}

/// Owns a runtime for each test (tests that make their own ignore it), with the diagnostic
/// executors enabled.
class ExecAbiTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(api(), nullptr);
    rt_ = make_runtime(diagnostics_config);
    ASSERT_NE(rt_, nullptr);
  }
  void TearDown() override { api()->runtime_release(rt_); }

  v2::ExecResult run(const v2::ExecRequest& request) { return run_bytes(request.SerializeAsString()); }

  v2::ExecResult run_bytes(const std::string& bytes) { return run_on(rt_, bytes); }

  /// execute_ex with `overrides` (may be NULL); the call must succeed.
  v2::ExecResult run_ex(const v2::ExecRequest& request, const bl_exec_overrides* overrides) {
    const auto bytes = request.SerializeAsString();
    bl_buffer out{};
    bl_status* st = api()->execute_ex(rt_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                      bytes.size(), overrides, nullptr, nullptr, &out);
    EXPECT_EQ(st, nullptr) << message_of(st);
    api()->status_release(st);
    return parse_result(out);
  }

  bl_status* register_fn(const char* type, bl_execute_fn fn, void* user = nullptr,
                         bl_release_fn release = nullptr) {
    bl_executor_def def{};
    def.struct_size = sizeof(def);
    def.type = type;
    def.type_len = std::char_traits<char>::length(type);
    def.user = user;
    def.execute = fn;
    def.release = release;
    return api()->runtime_register_executor(rt_, &def);
  }

  bl_runtime* rt_ = nullptr;
};

v2::ExecRequest request(const std::string& type, const std::string& payload = {}) {
  v2::ExecRequest req;
  req.set_block_id("blk-1");
  req.set_tenant_id("tenant-a");
  req.set_type(type);
  req.set_payload(payload);
  return req;
}

bl_status* BL_CALL failing_executor(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  static const char message[] = "the table is on fire";
  return api()->status_create(BL_ERR_PERMISSION_DENIED, message, sizeof(message) - 1);
}

bl_status* BL_CALL throwing_executor(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  throw std::runtime_error("boom");
}

bl_status* BL_CALL chunking_executor(void*, bl_exec_context* ctx, const uint8_t*, uint64_t) {
  for (const char* piece : {"one", "two", "three"}) {
    bl_status* st = api()->context_emit_chunk(ctx, reinterpret_cast<const uint8_t*>(piece),
                                              std::char_traits<char>::length(piece));
    if (st != nullptr)
      return st;
  }
  return nullptr;
}

struct chunk_sink {
  std::vector<v2::ExecChunk> chunks;
  size_t cancel_after = SIZE_MAX;
};

int32_t BL_CALL collect_chunk(void* user, const uint8_t* data, uint64_t len) {
  auto* sink = static_cast<chunk_sink*>(user);
  v2::ExecChunk chunk;
  if (!chunk.ParseFromArray(data, static_cast<int>(len)))
    return 1;
  sink->chunks.push_back(chunk);
  return sink->chunks.size() >= sink->cancel_after ? 1 : 0;
}

void BL_CALL count_release(void* user) {
  static_cast<std::atomic<int>*>(user)->fetch_add(1);
}

bl_status* BL_CALL noop_executor(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  return nullptr;
}

TEST_F(ExecAbiTest, GetApiReturnsTheTableForEveryVersionUpToTheCurrentOne) {
  static_assert(BL_API_VERSION == 3u, "a new version documents its guarantees in the header");
  const bl_api* table = bl_get_api(BL_API_VERSION);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->version, BL_API_VERSION);
  EXPECT_EQ(table->struct_size, sizeof(bl_api));
  // A caller built against an older header gets the same, append-only table.
  EXPECT_EQ(bl_get_api(1), table);
  EXPECT_EQ(bl_get_api(2), table);
}

TEST_F(ExecAbiTest, GetApiReturnsNullForAFutureOrZeroVersion) {
  EXPECT_EQ(bl_get_api(BL_API_VERSION + 1), nullptr);
  EXPECT_EQ(bl_get_api(0), nullptr);
}

TEST_F(ExecAbiTest, StatusCarriesCodeAndNulTerminatedMessage) {
  bl_status* st = api()->status_create(BL_ERR_NOT_FOUND, "no such thing", 8);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_NOT_FOUND);
  uint64_t len = 99;
  const char* text = api()->status_message(st, &len);
  EXPECT_EQ(len, 8u);
  EXPECT_STREQ(text, "no such ");
  api()->status_release(st);
}

TEST_F(ExecAbiTest, StatusReleaseAcceptsNull) {
  api()->status_release(nullptr);
  EXPECT_EQ(api()->status_code(nullptr), BL_OK);
}

TEST_F(ExecAbiTest, BufferReleaseAcceptsNullAndEmpty) {
  api()->buffer_release(nullptr);
  bl_buffer empty{};
  api()->buffer_release(&empty);
  EXPECT_EQ(empty.data, nullptr);
  EXPECT_EQ(empty.len, 0u);
}

TEST_F(ExecAbiTest, RuntimeCreateRejectsShortOptions) {
  bl_runtime_options options{};
  options.struct_size = 8;
  bl_runtime* rt = nullptr;
  bl_status* st = api()->runtime_create(&options, &rt);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rt, nullptr);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, RuntimeCreateAcceptsTheOlderOptionsWithoutConfig) {
  // A caller compiled before config_json: its struct ends at worker_id_len.
  bl_runtime_options options{};
  options.struct_size = offsetof(bl_runtime_options, config_json);
  options.config_json = "not json: ignored, beyond the caller's struct";
  options.config_json_len = std::strlen(options.config_json);
  bl_runtime* rt = nullptr;
  ASSERT_EQ(api()->runtime_create(&options, &rt), nullptr);
  EXPECT_NE(rt, nullptr);
  api()->runtime_release(rt);
}

TEST_F(ExecAbiTest, RuntimeCreateAcceptsExecutorConfig) {
  const std::string config = R"({"fs": {"root": "/tmp/x"}, "sql": {}})";
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.config_json = config.data();
  options.config_json_len = config.size();
  bl_runtime* rt = nullptr;
  ASSERT_EQ(api()->runtime_create(&options, &rt), nullptr);
  EXPECT_NE(rt, nullptr);
  api()->runtime_release(rt);
}

TEST_F(ExecAbiTest, RuntimeCreateRefusesMalformedConfigNamingTheError) {
  for (const std::string& config : {std::string{R"({"fs": {"root": )"}, std::string{"[1, 2]"},
                                   std::string{R"({"fs": 3})"}}) {
    bl_runtime_options options{};
    options.struct_size = sizeof(options);
    options.config_json = config.data();
    options.config_json_len = config.size();
    bl_runtime* rt = nullptr;
    bl_status* st = api()->runtime_create(&options, &rt);
    ASSERT_NE(st, nullptr) << config;
    EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
    uint64_t len = 0;
    const std::string message{api()->status_message(st, &len)};
    EXPECT_NE(message.find("config_json"), std::string::npos) << message;
    EXPECT_EQ(rt, nullptr);
    api()->status_release(st);
  }
}

TEST_F(ExecAbiTest, EchoReturnsThePayloadWithIdentity) {
  const auto result = run(request("echo", std::string(200, 'x')));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), std::string(200, 'x'));
  EXPECT_EQ(result.block_id(), "blk-1");
  EXPECT_EQ(result.worker_id(), "in-process");
  EXPECT_TRUE(result.error_code().empty());
}

TEST_F(ExecAbiTest, NoopSucceedsWithEmptyOutput) {
  const auto result = run(request("noop", "ignored"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_TRUE(result.output().empty());
}

TEST_F(ExecAbiTest, WorkerIdComesFromTheOptions) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.worker_id = "worker-7";
  options.worker_id_len = 8;
  bl_runtime* rt = nullptr;
  ASSERT_EQ(api()->runtime_create(&options, &rt), nullptr);
  const std::string bytes = request("noop").SerializeAsString();
  bl_buffer out{};
  ASSERT_EQ(api()->execute(rt, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out),
            nullptr);
  v2::ExecResult result;
  ASSERT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
  EXPECT_EQ(result.worker_id(), "worker-7");
  api()->buffer_release(&out);
  api()->runtime_release(rt);
}

TEST_F(ExecAbiTest, NoBuiltinsFlagLeavesTheRegistryEmpty) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.flags = BL_RUNTIME_NO_BUILTINS;
  bl_runtime* rt = nullptr;
  ASSERT_EQ(api()->runtime_create(&options, &rt), nullptr);
  bl_buffer list{};
  ASSERT_EQ(api()->runtime_list_executors(rt, &list), nullptr);
  EXPECT_EQ(list.len, 0u);
  api()->buffer_release(&list);
  api()->runtime_release(rt);
}

TEST_F(ExecAbiTest, RuntimeCreateRefusesANonBooleanDebugEnabled) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.config_json = R"({"debug": {"enabled": "yes"}})";
  options.config_json_len = std::strlen(options.config_json);
  bl_runtime* rt = nullptr;
  bl_status* st = api()->runtime_create(&options, &rt);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(message_of(st).find("debug.enabled"), std::string::npos) << message_of(st);
  EXPECT_EQ(rt, nullptr);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, DiagnosticExecutorsExistOnlyWhenTheConfigEnablesThem) {
  for (const char* config : {static_cast<const char*>(nullptr), "{}", R"({"debug": {}})",
                             R"({"debug": {"enabled": false}})"}) {
    const std::string shown = config == nullptr ? "(none)" : config;
    bl_runtime* rt = make_runtime(config);
    ASSERT_NE(rt, nullptr) << shown;
    const auto result = run_on(rt, request("debug.sleep", "1").SerializeAsString());
    EXPECT_EQ(result.error_code(), "unknown_executor") << shown;
    bl_buffer list{};
    ASSERT_EQ(api()->runtime_list_executors(rt, &list), nullptr);
    const std::string text(reinterpret_cast<char*>(list.data), list.len);
    api()->buffer_release(&list);
    EXPECT_EQ(text.find("debug."), std::string::npos) << shown << ": " << text;
    EXPECT_NE(text.find("echo"), std::string::npos) << shown << ": " << text;
    api()->runtime_release(rt);
  }
  // The fixture's runtime enables them.
  EXPECT_EQ(run(request("debug.sleep", "1")).status(), v2::EXEC_STATUS_OK);
}

TEST_F(ExecAbiTest, DiagnosticsNeedTheBuiltins) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.flags = BL_RUNTIME_NO_BUILTINS;
  options.config_json = diagnostics_config;
  options.config_json_len = std::strlen(diagnostics_config);
  bl_runtime* rt = nullptr;
  ASSERT_EQ(api()->runtime_create(&options, &rt), nullptr);
  EXPECT_EQ(run_on(rt, request("debug.sleep", "1").SerializeAsString()).error_code(),
            "unknown_executor");
  api()->runtime_release(rt);
}

TEST_F(ExecAbiTest, ListsExecutorsSortedAndNewlineSeparated) {
  ASSERT_EQ(register_fn("aaa.first", noop_executor), nullptr);
  bl_buffer list{};
  ASSERT_EQ(api()->runtime_list_executors(rt_, &list), nullptr);
  const std::string text(reinterpret_cast<char*>(list.data), list.len);
  api()->buffer_release(&list);
  // The built-ins grow; hold the format and a few members, not the whole set.
  std::vector<std::string> types;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    types.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end())) << text;
  EXPECT_EQ(types.front(), "aaa.first") << text;
  for (const char* type : {"debug.sleep", "echo", "noop", "http.request", "cpu.hash"})
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type << " in " << text;
  EXPECT_EQ(std::find(types.begin(), types.end(), std::string{}), types.end()) << text;
}

TEST_F(ExecAbiTest, RegisteringATakenTypeReturnsAlreadyExists) {
  bl_status* st = register_fn("echo", noop_executor);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_ALREADY_EXISTS);
  EXPECT_NE(message_of(st).find("echo"), std::string::npos);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, RegisteringAcceptsTheVersionOneDefinitionSize) {
  bl_executor_def def{};
  def.struct_size = 48; // sizeof(bl_executor_def) in version 1
  def.type = "v1.sized";
  def.type_len = 8;
  def.execute = noop_executor;
  ASSERT_EQ(api()->runtime_register_executor(rt_, &def), nullptr);
  EXPECT_EQ(run(request("v1.sized")).status(), v2::EXEC_STATUS_OK);
}

TEST_F(ExecAbiTest, RegisteringWithABadStructSizeReturnsInvalidArgument) {
  bl_executor_def def{};
  def.struct_size = sizeof(def) - 8;
  def.type = "short";
  def.type_len = 5;
  def.execute = noop_executor;
  bl_status* st = api()->runtime_register_executor(rt_, &def);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, ReleasesExecutorUserDataWithTheRuntime) {
  std::atomic<int> released{0};
  ASSERT_EQ(register_fn("counted", noop_executor, &released, count_release), nullptr);
  api()->runtime_release(rt_);
  rt_ = nullptr;
  EXPECT_EQ(released.load(), 1);
}

TEST_F(ExecAbiTest, MalformedRequestGivesInvalidInput) {
  const auto result = run_bytes(std::string("\xff\xff\xff\xff\x0f", 5));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "invalid_input");
}

TEST_F(ExecAbiTest, UnknownTypeGivesUnknownExecutorNamingIt) {
  const auto result = run(request("no.such.block"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "unknown_executor");
  EXPECT_NE(result.error_message().find("no.such.block"), std::string::npos);
  EXPECT_EQ(result.block_id(), "blk-1");
}

TEST_F(ExecAbiTest, ExecutorStatusBecomesTheBlockError) {
  ASSERT_EQ(register_fn("test.fail", failing_executor), nullptr);
  const auto result = run(request("test.fail"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_EQ(result.error_message(), "the table is on fire");
}

TEST_F(ExecAbiTest, ExecutorThrowingGivesInternalError) {
  ASSERT_EQ(register_fn("test.throw", throwing_executor), nullptr);
  const auto result = run(request("test.throw"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "internal_error");
  EXPECT_NE(result.error_message().find("boom"), std::string::npos);
}

TEST_F(ExecAbiTest, StreamedChunksCarrySeqFromZero) {
  ASSERT_EQ(register_fn("test.chunks", chunking_executor), nullptr);
  auto req = request("test.chunks");
  req.set_stream(true);
  const auto bytes = req.SerializeAsString();
  chunk_sink sink;
  bl_buffer out{};
  ASSERT_EQ(api()->execute_stream(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                  collect_chunk, &sink, &out),
            nullptr);
  v2::ExecResult result;
  ASSERT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
  api()->buffer_release(&out);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_TRUE(result.output().empty());
  ASSERT_EQ(sink.chunks.size(), 3u);
  const char* expected[] = {"one", "two", "three"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink.chunks[i].seq(), i);
    EXPECT_EQ(sink.chunks[i].data(), expected[i]);
    EXPECT_EQ(sink.chunks[i].block_id(), "blk-1");
  }
}

TEST_F(ExecAbiTest, ChunkCallbackReturningNonZeroCancelsTheBlock) {
  ASSERT_EQ(register_fn("test.chunks", chunking_executor), nullptr);
  auto req = request("test.chunks");
  req.set_stream(true);
  const auto bytes = req.SerializeAsString();
  chunk_sink sink;
  sink.cancel_after = 1;
  bl_buffer out{};
  ASSERT_EQ(api()->execute_stream(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                  collect_chunk, &sink, &out),
            nullptr);
  v2::ExecResult result;
  ASSERT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
  api()->buffer_release(&out);
  EXPECT_EQ(sink.chunks.size(), 1u);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(result.error_code(), "cancelled");
}

TEST_F(ExecAbiTest, ChunksOfAnUnstreamedBlockAreAppendedToTheOutput) {
  ASSERT_EQ(register_fn("test.chunks", chunking_executor), nullptr);
  const auto result = run(request("test.chunks"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "onetwothree");
}

TEST_F(ExecAbiTest, DebugSleepStopsAtTheDeadline) {
  auto req = request("debug.sleep", "10000");
  req.set_deadline_ms(30);
  const auto result = run(req);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
  EXPECT_NE(result.error_message().find("deadline"), std::string::npos);
}

TEST_F(ExecAbiTest, DebugSleepRejectsANonNumericPayload) {
  const auto result = run(request("debug.sleep", "soon"));
  EXPECT_EQ(result.error_code(), "invalid_input");
}

TEST_F(ExecAbiTest, DebugSleepFinishesWithinItsDeadline) {
  auto req = request("debug.sleep", "5");
  req.set_deadline_ms(10000);
  const auto result = run(req);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "5");
}

TEST_F(ExecAbiTest, ExecuteWithNullRuntimeIsAnApiError) {
  bl_buffer out{};
  bl_status* st = api()->execute(nullptr, nullptr, 0, &out);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out.data, nullptr);
  api()->status_release(st);
}

bl_status* load(bl_runtime* rt, const std::string& path) {
  return api()->runtime_load_plugin(rt, path.data(), path.size());
}

TEST_F(ExecAbiTest, LoadingAMissingPluginReturnsNotFound) {
  bl_status* st = load(rt_, BL_TEST_PLUGIN_DIR "/libdoes_not_exist.so");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_NOT_FOUND);
  EXPECT_NE(message_of(st).find("libdoes_not_exist.so"), std::string::npos);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, RefusesPluginBuiltForOtherVersion) {
  const std::string path = BL_TEST_PLUGIN_DIR "/libwrong_version_plugin.so";
  bl_status* st = load(rt_, path);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_VERSION_MISMATCH);
  const auto message = message_of(st);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("version " + std::to_string(BL_API_VERSION + 41)), std::string::npos)
    << message;
  EXPECT_NE(message.find("version " + std::to_string(BL_API_VERSION)), std::string::npos) << message;
  api()->status_release(st);
}

TEST_F(ExecAbiTest, RefusesPluginReportingVersionZero) {
  bl_status* st = load(rt_, BL_TEST_PLUGIN_DIR "/libzero_version_plugin.so");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_VERSION_MISMATCH);
  EXPECT_NE(message_of(st).find("version 0"), std::string::npos) << message_of(st);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, LoadsAndRunsAPluginBuiltAgainstVersionOne) {
  // tests/native/plugins/abi_v1: compiled against the frozen version-1 header.
  ASSERT_EQ(load(rt_, BL_TEST_PLUGIN_DIR "/libabi_v1_plugin.so"), nullptr);
  const auto result = run(request("test.v1.describe", "abc"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(result.output(), "test.v1.describe|tenant-a|blk-1|-1|cba");

  // Its executor streams, and sees the host's cancellation, like any other.
  auto streamed = request("test.v1.describe", "xyz");
  streamed.set_stream(true);
  const auto bytes = streamed.SerializeAsString();
  chunk_sink sink;
  bl_buffer out{};
  ASSERT_EQ(api()->execute_stream(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                  collect_chunk, &sink, &out),
            nullptr);
  EXPECT_EQ(parse_result(out).output(), "test.v1.describe|tenant-a|blk-1|-1|");
  ASSERT_EQ(sink.chunks.size(), 3u);
  EXPECT_EQ(sink.chunks[0].data() + sink.chunks[1].data() + sink.chunks[2].data(), "zyx");
}

TEST_F(ExecAbiTest, PluginWithoutInitIsNotFound) {
  bl_status* st = load(rt_, BL_TEST_PLUGIN_DIR "/libmissing_init_plugin.so");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_NOT_FOUND);
  EXPECT_NE(message_of(st).find("bl_plugin_init"), std::string::npos);
  api()->status_release(st);
}

TEST_F(ExecAbiTest, PluginRegistersAnExecutorThatRuns) {
  ASSERT_EQ(load(rt_, BL_TEST_PLUGIN_DIR "/libgood_plugin.so"), nullptr);
  const auto result = run(request("test.reverse", "abc"));
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "cba");
}

// --- execute_ex: what the host decides about a block ---------------------------------------------

bl_status* BL_CALL report_gpu_device(void*, bl_exec_context* ctx, const uint8_t*, uint64_t) {
  const std::string text = std::to_string(api()->context_info(ctx)->gpu_device);
  return api()->context_write(ctx, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

TEST_F(ExecAbiTest, ExecuteEx_IsAppendedAtTheEndOfTheTable) {
  EXPECT_EQ(offsetof(bl_api, execute_ex), offsetof(bl_api, context_cancelled) + sizeof(void*));
  EXPECT_GE(api()->struct_size, offsetof(bl_api, execute_ex) + sizeof(void*));
  EXPECT_NE(api()->execute_ex, nullptr);
}

TEST_F(ExecAbiTest, ExecuteEx_PassesTheGpuDeviceToTheExecutor) {
  ASSERT_EQ(register_fn("test.gpu_device", report_gpu_device), nullptr);
  const auto bytes = request("test.gpu_device").SerializeAsString();
  for (int32_t device : {-1, 0, 3}) {
    bl_exec_overrides overrides{};
    overrides.struct_size = sizeof(overrides);
    overrides.gpu_device = device;
    bl_buffer out{};
    ASSERT_EQ(api()->execute_ex(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                &overrides, nullptr, nullptr, &out),
              nullptr);
    v2::ExecResult result;
    ASSERT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
    api()->buffer_release(&out);
    EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
    EXPECT_EQ(result.output(), std::to_string(device));
  }
  // Without overrides (and through execute), a block has no device.
  EXPECT_EQ(run(request("test.gpu_device")).output(), "-1");
}

TEST_F(ExecAbiTest, ExecuteEx_RefusesBadOverrides) {
  const auto bytes = request("noop").SerializeAsString();
  bl_exec_overrides overrides{};
  overrides.struct_size = 4; // too short to hold gpu_device
  bl_buffer out{};
  bl_status* st = api()->execute_ex(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                    &overrides, nullptr, nullptr, &out);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  api()->status_release(st);
  EXPECT_EQ(out.data, nullptr); // outputs untouched on error
  overrides.struct_size = sizeof(overrides);
  overrides.gpu_device = -2;
  st = api()->execute_ex(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &overrides,
                         nullptr, nullptr, &out);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(api()->status_code(st), BL_ERR_INVALID_ARGUMENT);
  api()->status_release(st);
}

// --- execute_ex: the host's cancel flag (version 2) -------------------------------------------

std::atomic<int> g_counted_runs{0};

bl_status* BL_CALL counting_executor(void*, bl_exec_context*, const uint8_t*, uint64_t) {
  g_counted_runs.fetch_add(1);
  return nullptr;
}

bl_exec_overrides with_cancel_flag(const int32_t* flag) {
  bl_exec_overrides overrides{};
  overrides.struct_size = sizeof(overrides);
  overrides.gpu_device = -1;
  overrides.cancel_flag = flag;
  return overrides;
}

TEST_F(ExecAbiTest, ExecuteEx_CancelFlagSetFromAnotherThreadCancelsARunningBlock) {
  int32_t flag = 0;
  const auto overrides = with_cancel_flag(&flag);
  std::thread canceller{[&flag] {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
  }};
  const auto result = run_ex(request("debug.sleep", "10000"), &overrides);
  canceller.join();
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(result.error_code(), "cancelled");
  EXPECT_NE(result.error_message().find("caller cancelled"), std::string::npos)
    << result.error_message();
  EXPECT_EQ(result.block_id(), "blk-1");
}

TEST_F(ExecAbiTest, ExecuteEx_CancelFlagAlreadySetDoesNotRunTheBlock) {
  ASSERT_EQ(register_fn("test.counted", counting_executor), nullptr);
  const int32_t flag = 1;
  const auto overrides = with_cancel_flag(&flag);
  const int before = g_counted_runs.load();
  const auto result = run_ex(request("test.counted"), &overrides);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(result.error_code(), "cancelled");
  EXPECT_NE(result.error_message().find("caller cancelled"), std::string::npos);
  EXPECT_EQ(g_counted_runs.load(), before);
}

TEST_F(ExecAbiTest, ExecuteEx_CancelFlagLeftAtZeroLetsTheBlockFinish) {
  const int32_t flag = 0;
  const auto overrides = with_cancel_flag(&flag);
  const auto result = run_ex(request("debug.sleep", "5"), &overrides);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK);
  EXPECT_EQ(result.output(), "5");
}

TEST_F(ExecAbiTest, ExecuteEx_VersionOneOverridesAreAcceptedAndTheirTailIgnored) {
  // A host compiled against version 1 passes the 8-byte struct: cancel_flag lies beyond it and
  // must not be read, whatever the memory there holds.
  ASSERT_EQ(register_fn("test.counted", counting_executor), nullptr);
  const int32_t flag = 1;
  auto overrides = with_cancel_flag(&flag);
  overrides.struct_size = 8;
  overrides.gpu_device = 2;
  const auto result = run_ex(request("test.counted"), &overrides);
  EXPECT_EQ(result.status(), v2::EXEC_STATUS_OK) << result.error_message();
}

} // namespace
