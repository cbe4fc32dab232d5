#include "dedupe/claims.hpp"

#include <nlohmann/json.hpp>

namespace beamline::worker::dedupe {

namespace {

void append_hex(std::string& out, std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
}

}  // namespace

std::string kv_key_part(std::string_view id) {
  bool plain = !id.empty();
  for (const char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      plain = false;
      break;
    }
  }
  if (plain) return std::string{id};
  std::string out = "x.";
  out.reserve(2 + id.size() * 2);
  append_hex(out, id);
  if (id.empty()) out += "empty";
  return out;
}

std::string tenant_key_part(std::string_view tenant) {
  std::string out = "t";
  out.reserve(1 + tenant.size() * 2);
  append_hex(out, tenant);
  return out;
}

std::string encode_claim(const claim& c) {
  nlohmann::json value = {{"worker_id", c.worker_id}, {"claimed_at", c.claimed_at_ms}};
  if (c.stale_at_ms > 0) value["stale_at"] = c.stale_at_ms;
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<claim> decode_claim(std::string_view value) {
  const auto json = nlohmann::json::parse(value, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  const auto worker = json.find("worker_id");
  if (worker == json.end() || !worker->is_string()) return std::nullopt;
  claim c;
  c.worker_id = worker->get<std::string>();
  if (const auto at = json.find("claimed_at"); at != json.end() && at->is_number_integer())
    c.claimed_at_ms = at->get<int64_t>();
  if (const auto stale = json.find("stale_at"); stale != json.end() && stale->is_number_integer())
    c.stale_at_ms = stale->get<int64_t>();
  return c;
}

const std::unordered_set<std::string>& default_idempotent_types() {
  static const std::unordered_set<std::string> types = {
      "echo",           "noop",           "debug.sleep", "cpu.hash", "cpu.compress",
      "cpu.decompress", "cpu.regex_scan", "fs.read",     "fs.stat",  "fs.list",
  };
  return types;
}

std::unordered_set<std::string> idempotent_types(const std::optional<std::string>& list) {
  if (!list) return default_idempotent_types();
  std::unordered_set<std::string> types;
  if (*list == "none") return types;
  std::string_view rest = *list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) types.emplace(item);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return types;
}

}  // namespace beamline::worker::dedupe
