// The shipped example plugin (worker-native/plugins/example/) and, where CUDA is, the example
// GPU plugin, loaded through the C ABI as the worker and the control plane load them.

#include <beamline/beamline_exec.h>
#include <beamline/worker/v2/exec.pb.h>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace v2 = beamline::worker::v2;

const bl_api* api() {
  static const bl_api* table = bl_get_api(BL_API_VERSION);
  return table;
}

class ExamplePluginTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(api(), nullptr);
    ASSERT_EQ(api()->runtime_create(nullptr, &rt_), nullptr);
  }
  void TearDown() override { api()->runtime_release(rt_); }

  bl_status* load(const std::string& path) {
    return api()->runtime_load_plugin(rt_, path.data(), path.size());
  }

  v2::ExecResult run(const std::string& type, const std::string& payload, int32_t gpu_device = -1) {
    v2::ExecRequest req;
    req.set_block_id("b");
    req.set_tenant_id("t");
    req.set_type(type);
    req.set_payload(payload);
    const auto bytes = req.SerializeAsString();
    bl_exec_overrides overrides{};
    overrides.struct_size = sizeof(overrides);
    overrides.gpu_device = gpu_device;
    bl_buffer out{};
    EXPECT_EQ(api()->execute_ex(rt_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                &overrides, nullptr, nullptr, &out),
              nullptr);
    v2::ExecResult result;
    EXPECT_TRUE(result.ParseFromArray(out.data, static_cast<int>(out.len)));
    api()->buffer_release(&out);
    return result;
  }

  bl_runtime* rt_ = nullptr;
};

TEST_F(ExamplePluginTest, RegistersItsExecutors) {
  ASSERT_EQ(load(BL_EXAMPLE_PLUGIN), nullptr);
  bl_buffer list{};
  ASSERT_EQ(api()->runtime_list_executors(rt_, &list), nullptr);
  const std::string types{reinterpret_cast<const char*>(list.data), static_cast<size_t>(list.len)};
  api()->buffer_release(&list);
  EXPECT_NE(types.find("example.wordcount"), std::string::npos) << types;
  EXPECT_NE(types.find("example.reverse"), std::string::npos) << types;
}

TEST_F(ExamplePluginTest, WordcountCountsBytesWordsAndLines) {
  ASSERT_EQ(load(BL_EXAMPLE_PLUGIN), nullptr);
  auto r = run("example.wordcount", "the quick  brown\nfox\n\njumps");
  EXPECT_EQ(r.status(), v2::EXEC_STATUS_OK) << r.error_message();
  EXPECT_EQ(r.output(), R"({"bytes":27,"words":5,"lines":4})");
  r = run("example.wordcount", "");
  EXPECT_EQ(r.output(), R"({"bytes":0,"words":0,"lines":0})");
}

TEST_F(ExamplePluginTest, ReverseKeepsUtf8CodePointsWhole) {
  ASSERT_EQ(load(BL_EXAMPLE_PLUGIN), nullptr);
  EXPECT_EQ(run("example.reverse", "abc").output(), "cba");
  EXPECT_EQ(run("example.reverse", "h\xC3\xA9llo \xE2\x82\xAC").output(), "\xE2\x82\xAC oll\xC3\xA9h");
  const auto bad = run("example.reverse", "ab\xFF");
  EXPECT_EQ(bad.status(), v2::EXEC_STATUS_ERROR);
  EXPECT_EQ(bad.error_code(), "invalid_input");
}

TEST_F(ExamplePluginTest, GpuExampleRunsOnTheLeasedDevice) {
#ifndef BL_GPU_EXAMPLE_PLUGIN
  GTEST_SKIP() << "the example GPU plugin is not built here (no CUDA toolkit found by CMake)";
#else
  ASSERT_EQ(load(BL_GPU_EXAMPLE_PLUGIN), nullptr);
  // Without a device the block is refused, never run on a device it was not given.
  EXPECT_EQ(run("gpu.device_info", "x").error_code(), "resource_unavailable");
  const auto r = run("gpu.device_info", "round trip", 0);
  if (r.status() != v2::EXEC_STATUS_OK)
    GTEST_SKIP() << "no usable GPU here: " << r.error_message();
  EXPECT_NE(r.output().find("\"device\":0"), std::string::npos) << r.output();
  EXPECT_NE(r.output().find("\"roundtrip_bytes\":10"), std::string::npos) << r.output();
#endif
}

} // namespace
