// Fuzzes the sql.* executors' payloads: the first byte picks sql.query (even) or sql.exec (odd),
// the rest is the JSON payload ({"sql", "params", "max_rows"}), run against one tenant database
// in a fresh temporary sandbox with small limits (timeout, rows, result bytes, quota), so that
// the statement text, the parameter binding and the result encoding all see fuzzed input.

#include "executor_fuzz.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

bl_runtime* runtime() {
  static bl_runtime* rt = [] {
    const std::string base = beamline::fuzz::temp_dir("bl-fuzz-sql");
    const nlohmann::json config{
      {"fs", {{"root", base + "/root"}, {"tenant_quota_bytes", 4 << 20}}},
      {"sql", {{"timeout_ms", 200}, {"max_rows", 100}, {"max_result_bytes", 1 << 20}}}};
    return beamline::fuzz::make_runtime(config.dump());
  }();
  return rt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const auto result = beamline::fuzz::run(runtime(), data[0] % 2 == 0 ? "sql.query" : "sql.exec",
                                          "fuzz", data + 1, size - 1, 2000);
  if (result.error_code().empty() && result.output().size() > (1u << 20))
    std::abort(); // sql.max_result_bytes holds
  return 0;
}
