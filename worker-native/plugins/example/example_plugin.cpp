// An example native plugin: two block executors behind the Beamline C ABI.
//
//   example.wordcount  payload: any bytes (text).  output: {"bytes":N,"words":N,"lines":N}
//   example.reverse    payload: UTF-8 text.        output: the text, code points in reverse order
//
// It shows what every plugin does (see README.md beside this file and docs/native-blocks.md):
// export bl_plugin_api_version and bl_plugin_init; register executors with user data instead
// of globals; check context_cancelled in long loops; return a status for every failure; and
// never let a C++ exception cross the C ABI.

#include <beamline/beamline_exec.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

namespace {

/// The executors' user data: the function table they call back into. Freed by release.
struct plugin_state {
  const bl_api* api;
};

bl_status* fail(const bl_api* api, bl_errc code, const std::string& message) noexcept {
  return api->status_create(code, message.data(), message.size());
}

/// Runs `body`, turning any exception into a status: nothing may unwind into the runtime.
template <class Body>
bl_status* guarded(const bl_api* api, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(api, BL_ERR_RESOURCE_UNAVAILABLE, "out of memory");
  } catch (const std::exception& e) {
    return fail(api, BL_ERR_INTERNAL, e.what());
  } catch (...) {
    return fail(api, BL_ERR_INTERNAL, "unknown exception");
  }
}

constexpr uint64_t check_every = 64 * 1024; // bytes between two cancellation checks

bool is_space(uint8_t c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bl_status* BL_CALL wordcount(void* user, bl_exec_context* ctx, const uint8_t* payload,
                             uint64_t len) {
  const bl_api* api = static_cast<plugin_state*>(user)->api;
  return guarded(api, [&]() -> bl_status* {
    uint64_t words = 0, lines = 0;
    bool in_word = false;
    for (uint64_t i = 0; i < len; ++i) {
      if (i % check_every == 0 && api->context_cancelled(ctx) != 0)
        return fail(api, BL_ERR_DEADLINE_EXCEEDED, "example.wordcount: stopped (deadline or cancel)");
      const uint8_t c = payload[i];
      if (c == '\n')
        ++lines;
      if (is_space(c)) {
        in_word = false;
      } else if (!in_word) {
        in_word = true;
        ++words;
      }
    }
    if (len > 0 && payload[len - 1] != '\n')
      ++lines; // a last line without a newline still counts
    char out[96];
    const int n = std::snprintf(out, sizeof(out), "{\"bytes\":%llu,\"words\":%llu,\"lines\":%llu}",
                                static_cast<unsigned long long>(len),
                                static_cast<unsigned long long>(words),
                                static_cast<unsigned long long>(lines));
    return api->context_write(ctx, reinterpret_cast<const uint8_t*>(out), static_cast<uint64_t>(n));
  });
}

/// Length of the UTF-8 sequence starting at p[i] (1..4), or 0 when it is not valid UTF-8.
uint64_t utf8_length(const uint8_t* p, uint64_t i, uint64_t len) noexcept {
  const uint8_t c = p[i];
  uint64_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > len || (n == 2 && c < 0xC2))
    return 0;
  for (uint64_t k = 1; k < n; ++k)
    if ((p[i + k] & 0xC0) != 0x80)
      return 0;
  return n;
}

bl_status* BL_CALL reverse(void* user, bl_exec_context* ctx, const uint8_t* payload, uint64_t len) {
  const bl_api* api = static_cast<plugin_state*>(user)->api;
  return guarded(api, [&]() -> bl_status* {
    std::string out(static_cast<size_t>(len), '\0');
    uint64_t i = 0;
    while (i < len) {
      if (i % check_every == 0 && api->context_cancelled(ctx) != 0)
        return fail(api, BL_ERR_DEADLINE_EXCEEDED, "example.reverse: stopped (deadline or cancel)");
      const uint64_t n = utf8_length(payload, i, len);
      if (n == 0)
        return fail(api, BL_ERR_INVALID_INPUT,
                    "example.reverse: the payload is not valid UTF-8 at byte " + std::to_string(i));
      // The code point at [i, i+n) goes, unchanged, to the mirrored place.
      for (uint64_t k = 0; k < n; ++k)
        out[static_cast<size_t>(len - i - n + k)] = static_cast<char>(payload[i + k]);
      i += n;
    }
    return api->context_write(ctx, reinterpret_cast<const uint8_t*>(out.data()), out.size());
  });
}

void BL_CALL release_state(void* user) {
  delete static_cast<plugin_state*>(user);
}

bl_status* register_one(const bl_api* api, bl_runtime* runtime, const std::string& type,
                        bl_execute_fn execute) {
  auto* state = new plugin_state{api};
  bl_executor_def def{};
  def.struct_size = sizeof(def);
  def.type = type.data();
  def.type_len = type.size();
  def.user = state;
  def.execute = execute;
  def.release = release_state;
  bl_status* st = api->runtime_register_executor(runtime, &def);
  if (st != nullptr)
    delete state; // not registered: the runtime will never release it
  return st;
}

} // namespace

extern "C" BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return BL_API_VERSION;
}

extern "C" BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
  if (api == nullptr || runtime == nullptr)
    return nullptr; // nothing to report a status with; the runtime never does this
  return guarded(api, [&]() -> bl_status* {
    if (bl_status* st = register_one(api, runtime, "example.wordcount", wordcount))
      return st;
    return register_one(api, runtime, "example.reverse", reverse);
  });
}
