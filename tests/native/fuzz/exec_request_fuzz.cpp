// Fuzzes the C ABI's decoding of an ExecRequest: the bytes go to bl_get_api()->execute (and,
// every other input, execute_stream with a chunk receiver), exactly as a NATS message does.
// Blocks whose executors would touch the network or the disk, or sleep, are not run (their
// own tests cover them); everything else, unknown types included, is.

#include <beamline/beamline_exec.h>

#include "exec_wire.pb.h"

#include <google/protobuf/stubs/logging.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

const bl_api* api() {
  static const bl_api* table = bl_get_api(BL_API_VERSION);
  return table;
}

bl_runtime* runtime() {
  static bl_runtime* rt = [] {
    bl_runtime* created = nullptr;
    if (api() == nullptr || api()->runtime_create(nullptr, &created) != nullptr)
      std::abort();
    return created;
  }();
  return rt;
}

bool touches_the_outside(const std::string& type) {
  return type == "debug.sleep" || type.rfind("http.", 0) == 0 || type.rfind("fs.", 0) == 0
         || type.rfind("sql.", 0) == 0;
}

int32_t BL_CALL take_chunk(void* user, const uint8_t*, uint64_t) {
  auto* count = static_cast<int*>(user);
  return ++*count > 64 ? 1 : 0; // cancels long streams too
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A request with invalid UTF-8 in a string field is refused (invalid_input) and also logged by
  // protobuf, once per input: silence that, it is expected here.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  beamline::exec::wire::ExecRequest peek;
  if (size <= static_cast<size_t>(INT_MAX) && peek.ParseFromArray(data, static_cast<int>(size))
      && touches_the_outside(peek.type()))
    return 0;
  bl_buffer out{};
  bl_status* st = nullptr;
  if (size % 2 == 0) {
    st = api()->execute(runtime(), data, size, &out);
  } else {
    int chunks = 0;
    st = api()->execute_stream(runtime(), data, size, take_chunk, &chunks, &out);
  }
  if (st != nullptr)
    std::abort(); // a malformed request is a failed block, never a failed call
  beamline::exec::wire::ExecResult result;
  if (!result.ParseFromArray(out.data, static_cast<int>(out.len)))
    std::abort(); // every call answers with a decodable ExecResult
  api()->buffer_release(&out);
  return 0;
}
