// Fuzzes http.request's payload: the JSON (url, method, headers, body, limits) is decoded, the
// URL parsed and checked against the allow-list, the request built for libcurl. The only host
// allowed is 127.0.0.1:9 (discard, normally closed: the connection is refused at once), so no
// input reaches the network or resolves a name; everything before the connection is fuzzed.

#include "executor_fuzz.hpp"

#include <cstddef>
#include <cstdint>

namespace {

bl_runtime* runtime() {
  static bl_runtime* rt = beamline::fuzz::make_runtime(
    R"({"http": {"default_allow": ["127.0.0.1:9"], "timeout_ms": 200, "max_redirects": 2,
                 "max_response_bytes": 65536}})");
  return rt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)beamline::fuzz::run(runtime(), "http.request", "fuzz", data, size, 1000);
  return 0;
}
