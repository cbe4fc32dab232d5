#include "cp1/messages.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>

namespace beamline::worker::cp1 {

namespace {

using json = nlohmann::json;

/// Parses with bounded nesting; nothing on malformed or too deep input (error says why).
std::optional<json> parse_limited(std::string_view text, std::string& error) noexcept {
  try {
    bool too_deep = false;
    json::parser_callback_t limit = [&too_deep](int depth, json::parse_event_t, json&) {
      if (depth > max_json_depth) {
        too_deep = true;
        return false; // drop it: the DOM stays shallow, and the input is refused below
      }
      return true;
    };
    json parsed = json::parse(text.begin(), text.end(), limit);
    if (too_deep) {
      error = "JSON nesting deeper than " + std::to_string(max_json_depth) + " levels";
      return std::nullopt;
    }
    return parsed;
  } catch (const json::exception& e) {
    error = std::string{"not valid JSON: "} + e.what();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "not valid JSON";
  }
  return std::nullopt;
}

/// Reads an optional string member. False (with error) when present with another type.
bool read_string(const json& obj, const char* key, std::string& out, std::string& error,
                 const char* where = "") {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return true;
  if (!it->is_string()) {
    error = std::string{"field "} + where + key + " must be a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

/// Reads an optional non-negative integer (milliseconds), clamped to uint32.
bool read_ms(const json& obj, const char* key, std::optional<uint32_t>& out, std::string& error,
             const char* where = "") {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return true;
  double value = 0;
  if (it->is_number_unsigned())
    value = static_cast<double>(it->get<uint64_t>());
  else if (it->is_number_integer())
    value = static_cast<double>(it->get<int64_t>());
  else if (it->is_number_float())
    value = it->get<double>();
  else {
    error = std::string{"field "} + where + key + " must be a number of milliseconds";
    return false;
  }
  if (!(value >= 0)) { // also NaN
    error = std::string{"field "} + where + key + " must not be negative";
    return false;
  }
  constexpr double max = std::numeric_limits<uint32_t>::max();
  out = static_cast<uint32_t>(value > max ? max : value);
  return true;
}

const json* object_member(const json& obj, const char* key, std::string& error) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return nullptr;
  if (!it->is_object()) {
    error = std::string{"field "} + key + " must be an object";
    return nullptr;
  }
  return &*it;
}

bool required(const std::string& value, const char* name, std::string& error) {
  if (value.empty()) {
    error = std::string{"missing required field "} + name;
    return false;
  }
  if (value.size() > 256) {
    error = std::string{"field "} + name + " is longer than 256 bytes";
    return false;
  }
  return true;
}

std::string dump(const json& j) {
  // Replace, not throw: an executor's message may hold bytes that are not UTF-8.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_utf8(std::string_view s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size())
      return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

decode_result decode_assignment(std::string_view text) noexcept {
  decode_result out;
  try {
    if (text.size() > max_assignment_bytes) {
      out.error = "assignment larger than " + std::to_string(max_assignment_bytes) + " bytes";
      return out;
    }
    auto parsed = parse_limited(text, out.error);
    if (!parsed)
      return out;
    const json& doc = *parsed;
    if (!doc.is_object()) {
      out.error = "an ExecAssignment must be a JSON object";
      return out;
    }
    exec_assignment a;
    std::string& error = out.error;
    // Ids first, so that even a rejection can name what it rejects.
    std::string ignored;
    read_string(doc, "assignment_id", out.assignment_id, ignored);
    read_string(doc, "request_id", out.request_id, ignored);
    read_string(doc, "tenant_id", out.tenant_id, ignored);
    read_string(doc, "trace_id", out.trace_id, ignored);
    if (const auto corr = doc.find("correlation"); out.trace_id.empty() && corr != doc.end()
                                                   && corr->is_object())
      read_string(*corr, "trace_id", out.trace_id, ignored);

    if (!read_string(doc, "version", a.version, error))
      return out;
    if (a.version.empty())
      a.version = "1";
    if (a.version != "1" && a.version.rfind("1.", 0) != 0) {
      error = "unsupported ExecAssignment version '" + a.version + "' (this worker speaks 1)";
      return out;
    }
    if (!read_string(doc, "assignment_id", a.assignment_id, error)
        || !required(a.assignment_id, "assignment_id", error))
      return out;
    if (!read_string(doc, "request_id", a.request_id, error)
        || !required(a.request_id, "request_id", error))
      return out;
    if (!read_string(doc, "tenant_id", a.tenant_id, error)
        || !required(a.tenant_id, "tenant_id", error))
      return out;
    if (!read_string(doc, "trace_id", a.trace_id, error))
      return out;
    if (const json* corr = object_member(doc, "correlation", error)) {
      if (a.trace_id.empty() && !read_string(*corr, "trace_id", a.trace_id, error, "correlation."))
        return out;
    } else if (!error.empty()) {
      return out;
    }
    if (out.trace_id.empty())
      out.trace_id = a.trace_id;
    if (const json* exec = object_member(doc, "executor", error)) {
      if (!read_string(*exec, "provider_id", a.provider_id, error, "executor."))
        return out;
    } else if (!error.empty()) {
      return out;
    }
    for (auto [key, field] : {std::pair{"run_id", &a.run_id}, std::pair{"flow_id", &a.flow_id},
                              std::pair{"step_id", &a.step_id}})
      if (!read_string(doc, key, *field, error))
        return out;

    const json* job = object_member(doc, "job", error);
    if (job == nullptr) {
      if (error.empty())
        error = "missing required field job";
      return out;
    }
    if (!read_string(*job, "type", a.job_type, error, "job.")
        || !required(a.job_type, "job.type", error))
      return out;
    if (!read_string(*job, "pool", a.pool, error, "job."))
      return out;
    const auto payload = job->find("payload");
    const auto payload_b64 = job->find("payload_base64");
    if (payload != job->end() && payload_b64 != job->end()) {
      error = "give job.payload or job.payload_base64, not both";
      return out;
    }
    if (payload_b64 != job->end()) {
      if (!payload_b64->is_string()) {
        error = "field job.payload_base64 must be a string";
        return out;
      }
      auto bytes = base64_decode(payload_b64->get_ref<const std::string&>());
      if (!bytes) {
        error = "field job.payload_base64 is not valid base64";
        return out;
      }
      a.payload = std::move(*bytes);
    } else if (payload != job->end() && !payload->is_null()) {
      // A string is taken as its bytes; any other JSON value as its compact JSON text.
      a.payload = payload->is_string() ? payload->get<std::string>() : dump(*payload);
    }

    std::optional<uint32_t> deadline;
    if (const json* options = object_member(doc, "options", error)) {
      if (!read_ms(*options, "deadline_ms", deadline, error, "options."))
        return out;
      std::string pool;
      if (!read_string(*options, "pool", pool, error, "options."))
        return out;
      if (!pool.empty())
        a.pool = std::move(pool);
    } else if (!error.empty()) {
      return out;
    }
    if (!deadline && !read_ms(doc, "deadline_ms", deadline, error))
      return out;
    if (!deadline && !read_ms(*job, "timeout_ms", deadline, error, "job."))
      return out;
    a.deadline_ms = deadline.value_or(0);

    error.clear();
    out.assignment = std::move(a);
  } catch (const std::exception& e) {
    out.assignment.reset();
    out.error = std::string{"could not decode the assignment: "} + e.what();
  } catch (...) {
    out.assignment.reset();
    out.error = "could not decode the assignment";
  }
  return out;
}

std::string encode_ack(const ack_message& ack, std::string_view worker_id, int64_t now_unix_ms) {
  json j = json::object();
  j["version"] = "1";
  j["assignment_id"] = ack.assignment_id;
  j["status"] = ack.status == ack_status::accepted ? "accepted" : "rejected";
  if (!ack.request_id.empty())
    j["request_id"] = ack.request_id;
  if (!ack.tenant_id.empty())
    j["tenant_id"] = ack.tenant_id;
  if (!ack.trace_id.empty())
    j["trace_id"] = ack.trace_id;
  if (!ack.reason.empty()) {
    // The router logs `message`; `reason` names the same text for newer readers.
    j["message"] = ack.reason;
    j["reason"] = ack.reason;
  }
  if (ack.duplicate)
    j["duplicate"] = true;
  j["worker_id"] = worker_id;
  j["acknowledged_at"] = now_unix_ms;
  return dump(j);
}

result_context context_of(const exec_assignment& a) {
  return {a.assignment_id, a.request_id, a.tenant_id, a.trace_id, a.provider_id, a.job_type,
          a.run_id,        a.flow_id,    a.step_id};
}

std::string encode_result(const result_context& ctx, const block_outcome& outcome,
                          std::string_view worker_id, int64_t now_unix_ms) {
  json j = json::object();
  j["version"] = "1";
  j["assignment_id"] = ctx.assignment_id;
  j["request_id"] = ctx.request_id;
  if (!ctx.tenant_id.empty())
    j["tenant_id"] = ctx.tenant_id;
  if (!ctx.trace_id.empty())
    j["trace_id"] = ctx.trace_id;
  for (auto [key, value] : {std::pair{"run_id", &ctx.run_id}, std::pair{"flow_id", &ctx.flow_id},
                            std::pair{"step_id", &ctx.step_id}})
    if (!value->empty())
      j[key] = *value;
  j["status"] = outcome.status;
  j["provider_id"] = ctx.provider_id.empty() ? std::string{worker_id} : ctx.provider_id;
  j["job"] = {{"type", ctx.job_type}};
  j["job_type"] = ctx.job_type;
  j["latency_ms"] = outcome.latency_ms;
  j["cost"] = outcome.cost;
  if (outcome.status != "success") {
    j["error_code"] = outcome.error_code;
    j["error_message"] = outcome.error_message;
  }
  if (!outcome.output.empty()) {
    std::string ignored;
    auto as_json = valid_utf8(outcome.output) ? parse_limited(outcome.output, ignored) : std::nullopt;
    if (as_json)
      j["output"] = std::move(*as_json);
    else if (valid_utf8(outcome.output))
      j["output"] = outcome.output;
    else
      j["output_base64"] = base64_encode(outcome.output);
  }
  j["worker_id"] = worker_id;
  j["timestamp"] = now_unix_ms;
  return dump(j);
}

std::string encode_heartbeat(std::string_view worker_id, const std::vector<pool_snapshot>& pools,
                             const std::vector<std::string>& executors, bool draining,
                             int64_t now_unix_ms) {
  uint64_t capacity = 0, in_flight = 0;
  json list = json::array();
  for (const auto& p : pools) {
    capacity += p.capacity;
    in_flight += p.in_flight;
    list.push_back(
      {{"name", p.name}, {"capacity", p.capacity}, {"in_flight", p.in_flight}, {"queued", p.queued}});
  }
  const std::time_t secs = static_cast<std::time_t>(now_unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 96> stamp{};
  std::snprintf(stamp.data(), stamp.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(now_unix_ms % 1000));
  json j = json::object();
  j["version"] = "1";
  j["worker_id"] = worker_id;
  j["status"] = draining ? "draining" : (in_flight == 0 ? "idle" : "busy");
  j["load"] = capacity == 0 ? 0.0 : static_cast<double>(in_flight) / static_cast<double>(capacity);
  j["pools"] = std::move(list);
  j["executors"] = executors;
  j["worker_version"] = BEAMLINE_WORKER_VERSION;
  j["timestamp"] = stamp.data();
  j["timestamp_ms"] = now_unix_ms;
  return dump(j);
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8)
                       | static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=' && text.size() % 4 != 1)
    text.remove_suffix(1);
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

} // namespace beamline::worker::cp1
