// Fuzzes the fs.* executors' payloads: the first byte picks the block (fs.read, fs.write, ...),
// the rest is its JSON payload, run in a sandbox beneath a fresh temporary directory with small
// limits. Besides what every executor target checks (executor_fuzz.hpp), nothing may appear or
// change outside the sandbox root: a sentinel file beside it keeps its content, and the
// temporary directory holds only the root and the sentinel.

#include "executor_fuzz.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace {

constexpr const char* blocks[] = {"fs.read", "fs.write", "fs.append", "fs.list",
                                  "fs.stat", "fs.delete", "fs.mkdir"};
constexpr const char* sentinel_text = "outside the sandbox";

struct fixture {
  std::string base;
  bl_runtime* rt = nullptr;

  fixture() {
    base = beamline::fuzz::temp_dir("bl-fuzz-fs");
    std::ofstream{base + "/sentinel"} << sentinel_text;
    const nlohmann::json config{{"fs", {{"root", base + "/root"},
                                        {"max_file_bytes", 65536},
                                        {"tenant_quota_bytes", 1 << 20},
                                        {"tenant_max_entries", 2000},
                                        {"max_list_entries", 100}}}};
    rt = beamline::fuzz::make_runtime(config.dump());
  }

  void check_outside() const {
    std::ifstream in{base + "/sentinel"};
    const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (text != sentinel_text)
      std::abort();
    DIR* d = opendir(base.c_str());
    if (d == nullptr)
      std::abort();
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != ".." && name != "root" && name != "sentinel")
        std::abort(); // something escaped the root
    }
    closedir(d);
  }
};

fixture& the_fixture() {
  static fixture f;
  return f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto& f = the_fixture();
  const std::string type = blocks[data[0] % std::size(blocks)];
  (void)beamline::fuzz::run(f.rt, type, "fuzz", data + 1, size - 1, 2000);
  f.check_outside();
  return 0;
}
