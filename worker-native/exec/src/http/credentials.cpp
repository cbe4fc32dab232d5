#include "http/credentials.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace beamline::exec::http {

namespace {

/// A secret file longer than this is refused: it is not an API key.
constexpr std::streamsize max_secret_file_bytes = 64 << 10;

bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
         || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view space = " \t\r\n";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

bool has_control(std::string_view s) noexcept {
  return s.find_first_of(std::string_view{"\r\n\0", 3}) != std::string_view::npos;
}

/// The string member `key` of `entry`, or nullopt when absent; `bad` is set when not a string.
std::optional<std::string> string_member(const nlohmann::json& entry, const char* key, bool& bad) {
  const auto it = entry.find(key);
  if (it == entry.end() || it->is_null())
    return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

/// Reads the secret named by the entry; returns the problem in words, or an empty string.
std::string read_secret(std::string_view name, const std::optional<std::string>& env,
                        const std::optional<std::string>& file, std::string& secret) {
  const std::string what = "credential '" + std::string{name} + "'";
  if (env.has_value() == file.has_value())
    return what + " is misconfigured: give exactly one of 'value_env' and 'value_file'";
  if (env) {
    const char* value = std::getenv(env->c_str());
    if (value == nullptr || trim(value).empty())
      return what + ": the environment variable '" + *env + "' is not set on this worker";
    secret = std::string{trim(value)};
  } else {
    std::ifstream in{*file, std::ios::binary};
    if (!in)
      return what + ": the file '" + *file + "' cannot be read on this worker";
    std::string content(static_cast<size_t>(max_secret_file_bytes) + 1, '\0');
    in.read(content.data(), max_secret_file_bytes + 1);
    if (in.bad())
      return what + ": the file '" + *file + "' cannot be read on this worker";
    content.resize(static_cast<size_t>(in.gcount()));
    if (content.size() > static_cast<size_t>(max_secret_file_bytes))
      return what + ": the file '" + *file + "' is larger than 64 KiB";
    secret = std::string{trim(content)};
    if (secret.empty())
      return what + ": the file '" + *file + "' is empty";
  }
  if (has_control(secret))
    return what + ": the secret contains CR, LF or NUL";
  return {};
}

} // namespace

std::string resolve_credential(const nlohmann::json& http_config, std::string_view name,
                               std::string_view tenant, credential& out) {
  // One message for "no such entry" and "not this tenant's": a tenant learns nothing about the
  // credentials of others.
  const std::string unavailable =
    "credential '" + std::string{name} + "' is not configured for this tenant on this worker";
  const auto all = http_config.find("credentials");
  if (all == http_config.end() || !all->is_object())
    return unavailable;
  const nlohmann::json* entry = nullptr;
  for (auto it = all->begin(); it != all->end(); ++it) {
    if (it.key() == name) {
      entry = &*it;
      break;
    }
  }
  if (entry == nullptr || !entry->is_object())
    return unavailable;
  if (const auto tenants = entry->find("tenants"); tenants != entry->end() && !tenants->is_null()) {
    bool listed = false;
    if (tenants->is_array())
      for (const auto& t : *tenants)
        listed = listed || (t.is_string() && t.get_ref<const std::string&>() == tenant);
    if (!listed)
      return unavailable;
  }

  const std::string what = "credential '" + std::string{name} + "' is misconfigured: ";
  bool bad = false;
  const auto header = string_member(*entry, "header", bad).value_or("Authorization");
  const auto prefix = string_member(*entry, "prefix", bad).value_or("");
  const auto env = string_member(*entry, "value_env", bad);
  const auto file = string_member(*entry, "value_file", bad);
  if (bad)
    return what + "'header', 'prefix', 'value_env' and 'value_file' must be strings";
  if (header.empty() || !std::all_of(header.begin(), header.end(), is_token_char))
    return what + "'header' is not a valid header name";
  if (has_control(prefix))
    return what + "'prefix' contains CR, LF or NUL";
  if (entry->contains("value"))
    return what + "a secret is never written in the configuration; use 'value_env' or 'value_file'";
  std::optional<host_policy> hosts;
  if (const auto h = entry->find("hosts"); h != entry->end() && !h->is_null()) {
    if (!h->is_array())
      return what + "'hosts' must be an array of allow-list entries";
    hosts = host_policy::from_list(*h);
  }

  std::string secret;
  if (auto problem = read_secret(name, env, file, secret); !problem.empty())
    return problem;
  out.header = header;
  out.header_lower = lower(header);
  out.value = prefix + secret;
  out.hosts = std::move(hosts);
  return {};
}

} // namespace beamline::exec::http
