#pragma once

// Runs blocks through the C ABI (bl_get_api) against a runtime made with a given executor
// config, for the tests of the built-in executors (tests/native/exec/http/, cpu/).

#include <beamline/beamline_exec.h>

#include "exec_wire.pb.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beamline::test {

namespace wire = beamline::exec::wire;

inline const bl_api* api() {
  static const bl_api* table = bl_get_api(BL_API_VERSION);
  return table;
}

/// What one block produced: its result and, when streamed, its chunks in arrival order.
struct block_outcome {
  wire::ExecResult result;
  std::vector<wire::ExecChunk> chunks;
};

class block_runner {
public:
  /// `config_json`: the runtime's executor config (empty: defaults).
  explicit block_runner(const std::string& config_json = {}) {
    bl_runtime_options options{};
    options.struct_size = sizeof(options);
    options.config_json = config_json.empty() ? nullptr : config_json.data();
    options.config_json_len = config_json.size();
    bl_status* st = api()->runtime_create(&options, &rt_);
    EXPECT_EQ(st, nullptr);
    api()->status_release(st);
  }
  block_runner(const block_runner&) = delete;
  block_runner& operator=(const block_runner&) = delete;
  ~block_runner() { api()->runtime_release(rt_); }

  /// Runs `type` with `payload` for `tenant`; with `on_chunk` set, the block is streamed and
  /// each chunk is passed to it as it arrives.
  template <class OnChunk>
  block_outcome run(const std::string& type, const std::string& payload, const std::string& tenant,
                    uint64_t deadline_ms, bool stream, OnChunk&& on_chunk) {
    wire::ExecRequest req;
    req.set_block_id("blk-1");
    req.set_tenant_id(tenant);
    req.set_type(type);
    req.set_payload(payload);
    req.set_deadline_ms(deadline_ms);
    req.set_stream(stream);
    const std::string bytes = req.SerializeAsString();

    struct sink_state {
      block_outcome* outcome;
      OnChunk* callback;
    };
    block_outcome outcome;
    sink_state state{&outcome, &on_chunk};
    const auto sink = [](void* user, const uint8_t* chunk, uint64_t len) -> int32_t {
      auto* s = static_cast<sink_state*>(user);
      wire::ExecChunk c;
      EXPECT_TRUE(c.ParseFromArray(chunk, static_cast<int>(len)));
      s->outcome->chunks.push_back(c);
      return (*s->callback)(c);
    };
    bl_buffer out{};
    bl_status* st = api()->execute_stream(rt_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                          bytes.size(), sink, &state, &out);
    EXPECT_EQ(st, nullptr);
    api()->status_release(st);
    EXPECT_TRUE(outcome.result.ParseFromArray(out.data, static_cast<int>(out.len)));
    api()->buffer_release(&out);
    return outcome;
  }

  /// Runs `type` unstreamed and returns its result.
  wire::ExecResult run(const std::string& type, const std::string& payload,
                       const std::string& tenant = "tenant-a", uint64_t deadline_ms = 0) {
    return run(type, payload, tenant, deadline_ms, false, [](const wire::ExecChunk&) { return 0; })
      .result;
  }

private:
  bl_runtime* rt_ = nullptr;
};

} // namespace beamline::test
