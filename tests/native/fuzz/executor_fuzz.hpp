#pragma once

// What the executor payload fuzz targets (fs_request_fuzz.cpp, sql_request_fuzz.cpp,
// http_request_fuzz.cpp) share: a runtime with a given executor config, and running one block
// through the C ABI exactly as a NATS message would arrive, with the fuzzer's bytes as payload.

#include <beamline/beamline_exec.h>

#include "exec_wire.pb.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace beamline::fuzz {

/// A fresh directory beneath /tmp, removed (with all the fuzzer made in it) when the process
/// exits normally; a crash leaves it for a look.
inline std::string temp_dir(const char* prefix) {
  static std::vector<std::string> made;
  std::string path = std::string{"/tmp/"} + prefix + "-XXXXXX";
  if (mkdtemp(path.data()) == nullptr)
    std::abort();
  if (made.empty())
    std::atexit([] {
      std::error_code ignored;
      for (const auto& dir : made)
        std::filesystem::remove_all(dir, ignored);
    });
  made.push_back(path);
  return path;
}

inline const bl_api* api() {
  static const bl_api* table = bl_get_api(BL_API_VERSION);
  return table;
}

/// A runtime for `config_json`; aborts when it cannot be made. Lives until the process exits.
inline bl_runtime* make_runtime(const std::string& config_json) {
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.config_json = config_json.data();
  options.config_json_len = config_json.size();
  bl_runtime* rt = nullptr;
  if (api() == nullptr || api()->runtime_create(&options, &rt) != nullptr)
    std::abort();
  return rt;
}

/// Runs block `type` of `tenant` with `payload`. Aborts when the call itself fails (a bad
/// payload is a failed block, never a failed call), when the result does not decode, or when
/// the block failed with internal_error: a payload, however malformed, is the caller's error
/// (invalid_input, permission_denied, ...), so an internal error means a bug.
inline exec::wire::ExecResult run(bl_runtime* rt, const std::string& type, const std::string& tenant,
                                  const uint8_t* payload, size_t size, uint64_t deadline_ms) {
  exec::wire::ExecRequest req;
  req.set_block_id("fuzz");
  req.set_tenant_id(tenant);
  req.set_type(type);
  req.set_payload(reinterpret_cast<const char*>(payload), size);
  req.set_deadline_ms(deadline_ms);
  const std::string bytes = req.SerializeAsString();
  bl_buffer out{};
  if (api()->execute(rt, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out) != nullptr)
    std::abort();
  exec::wire::ExecResult result;
  if (!result.ParseFromArray(out.data, static_cast<int>(out.len)))
    std::abort();
  api()->buffer_release(&out);
  if (result.error_code() == "internal_error") {
    std::fprintf(stderr, "%s failed with internal_error: %s\n", type.c_str(),
                 result.error_message().c_str());
    std::abort();
  }
  return result;
}

} // namespace beamline::fuzz
