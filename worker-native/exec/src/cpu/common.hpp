#pragma once

// What the CPU built-ins share: their JSON payload, the bytes it carries ("data" as UTF-8 text
// or "data_base64"), limits from the "cpu" config section, and statuses.

#include "config.hpp"
#include "detail/base64.hpp"

#include <beamline/beamline_exec.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::exec::cpu {

using json = nlohmann::json;

/// Creates a status whose message starts with the block type.
[[nodiscard]] inline bl_status* fail(const bl_api* api, std::string_view type, bl_errc code,
                                     std::string_view message) {
  std::string text{type};
  text += ": ";
  text += message;
  return api->status_create(code, text.data(), text.size());
}

/// The status for a block that context_cancelled told to stop: deadline_exceeded when its
/// deadline has passed, else cancelled.
[[nodiscard]] inline bl_status* stopped(const bl_api* api, const bl_exec_context* ctx,
                                        std::string_view type) {
  const bl_exec_info* info = api->context_info(ctx);
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count();
  if (info->deadline_mono_ns != 0 && now >= info->deadline_mono_ns)
    return fail(api, type, BL_ERR_DEADLINE_EXCEEDED, "stopped: the block's deadline passed");
  return fail(api, type, BL_ERR_CANCELLED, "stopped: the block was cancelled");
}

/// Parses the payload as a JSON object; nullopt when it is not one.
[[nodiscard]] inline std::optional<json> parse_object(const uint8_t* payload, uint64_t len) {
  const auto* begin = reinterpret_cast<const char*>(payload);
  json doc = json::parse(begin, begin + len, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  return doc;
}

/// The bytes of "data" (a string, used as its UTF-8 bytes) or "data_base64". Exactly one must
/// be given; on failure `problem` says why.
[[nodiscard]] inline std::optional<std::string> input_bytes(const json& doc, std::string& problem) {
  const auto text = doc.find("data");
  const auto b64 = doc.find("data_base64");
  const bool has_text = text != doc.end() && !text->is_null();
  const bool has_b64 = b64 != doc.end() && !b64->is_null();
  if (has_text == has_b64) {
    problem = "give exactly one of 'data' (a string) and 'data_base64'";
    return std::nullopt;
  }
  if (has_text) {
    if (!text->is_string()) {
      problem = "'data' must be a string";
      return std::nullopt;
    }
    return text->get<std::string>();
  }
  if (!b64->is_string()) {
    problem = "'data_base64' must be a base64 string";
    return std::nullopt;
  }
  auto bytes = detail::base64_decode(b64->get_ref<const std::string&>());
  if (!bytes)
    problem = "'data_base64' is not valid base64";
  return bytes;
}

/// A positive integer member, nullopt when absent; `bad` is set when present but not one.
[[nodiscard]] inline std::optional<uint64_t> positive(const json& obj, const char* key, bool& bad) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return std::nullopt;
  if (it->is_number_unsigned() && it->get<uint64_t>() > 0)
    return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() > 0)
    return static_cast<uint64_t>(it->get<int64_t>());
  bad = true;
  return std::nullopt;
}

/// A limit from the "cpu" config section, or `fallback`.
[[nodiscard]] inline uint64_t config_limit(const bl_exec_context* ctx, const char* key,
                                           uint64_t fallback) {
  bool bad = false;
  return positive(executor_config(ctx, "cpu"), key, bad).value_or(fallback);
}

/// Writes `doc` as compact JSON to the block's output.
[[nodiscard]] inline bl_status* write_json(const bl_api* api, bl_exec_context* ctx, const json& doc) {
  const std::string text = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  return api->context_write(ctx, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

} // namespace beamline::exec::cpu
