#include "cp1/claims.hpp"

#include <nlohmann/json.hpp>

namespace beamline::worker::cp1 {

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
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "x.";
  out.reserve(2 + id.size() * 2);
  for (const char c : id) {
    const auto b = static_cast<unsigned char>(c);
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
  if (id.empty()) out += "empty";
  return out;
}

std::string result_key(std::string_view id) {
  return "result." + kv_key_part(id);
}

std::string claim_key(std::string_view id) {
  return "claim." + kv_key_part(id);
}

std::string encode_claim(std::string_view worker_id, int64_t unix_ms) {
  nlohmann::json claim = {{"worker_id", std::string{worker_id}}, {"claimed_at", unix_ms}};
  return claim.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> claim_holder(std::string_view value) {
  const auto claim = nlohmann::json::parse(value, nullptr, false);
  if (!claim.is_object()) return std::nullopt;
  const auto it = claim.find("worker_id");
  if (it == claim.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
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

claimed_step on_claimed(bool running_here, bool idempotent) noexcept {
  if (running_here) return claimed_step::wait_running;
  return idempotent ? claimed_step::run_again : claimed_step::answer_lost;
}

refused_step on_refused(uint64_t delivered, int64_t max_deliver) noexcept {
  if (max_deliver > 0 && delivered >= static_cast<uint64_t>(max_deliver)) return refused_step::give_up;
  return refused_step::retry;
}

}  // namespace beamline::worker::cp1
