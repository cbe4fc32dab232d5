#include "http/host_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace beamline::exec::http {

namespace {

/// Cloud-metadata host names, refused unless an allow-list entry names them exactly.
constexpr std::string_view metadata_names[] = {"metadata.google.internal", "metadata.goog",
                                               "metadata"};

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

std::string_view without_trailing_dot(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.')
    host.remove_suffix(1);
  return host;
}

std::optional<uint16_t> parse_port(std::string_view text) noexcept {
  if (text.empty() || text.size() > 5)
    return std::nullopt;
  uint32_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(v);
}

bool in_v4(const uint8_t* b, uint8_t a0, uint8_t a1, int prefix) noexcept {
  const uint32_t addr = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  const uint32_t net = (uint32_t{a0} << 24) | (uint32_t{a1} << 16);
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (addr & mask) == (net & mask);
}

address_class classify_v4(const uint8_t* b) noexcept {
  if ((b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] == 100 && b[2] == 100 && b[3] == 200)
      || (b[0] == 168 && b[1] == 63 && b[2] == 129 && b[3] == 16))
    return address_class::link_local_or_metadata;
  if (in_v4(b, 0, 0, 8) || in_v4(b, 127, 0, 8))
    return address_class::loopback;
  if (in_v4(b, 10, 0, 8) || in_v4(b, 100, 64, 10) || in_v4(b, 172, 16, 12) || in_v4(b, 192, 168, 16) || (b[0] == 192 && b[1] == 0 && b[2] == 0)
      || in_v4(b, 198, 18, 15) || b[0] >= 224)
    return address_class::private_address;
  return address_class::public_address;
}

} // namespace

std::optional<ip_address> parse_ip(std::string_view text) noexcept {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf)
    return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ip_address out;
  if (inet_pton(AF_INET, buf, out.bytes.data()) == 1)
    return out;
  if (inet_pton(AF_INET6, buf, out.bytes.data()) != 1)
    return std::nullopt;
  out.v6 = true;
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address it stands for.
  static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
    std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
    std::fill(out.bytes.begin() + 4, out.bytes.end(), uint8_t{0});
    out.v6 = false;
  }
  return out;
}

address_class classify(const ip_address& address) noexcept {
  const uint8_t* b = address.bytes.data();
  if (!address.v6)
    return classify_v4(b);
  static constexpr uint8_t ec2_metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                               0,    0,    0,    0,    0, 0, 0x02, 0x54};
  if (std::memcmp(b, ec2_metadata, 16) == 0 || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
    return address_class::link_local_or_metadata;
  // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) embed an IPv4 address: judge that.
  static constexpr uint8_t zeros[12] = {};
  static constexpr uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static constexpr uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr uint8_t unspecified6[16] = {};
  if (std::memcmp(b, loopback6, 16) == 0 || std::memcmp(b, unspecified6, 16) == 0)
    return address_class::loopback;
  if (std::memcmp(b, zeros, 12) == 0 || std::memcmp(b, nat64, 12) == 0) {
    const auto v4 = classify_v4(b + 12);
    if (v4 != address_class::public_address)
      return v4;
    // The rest of ::/96 (IPv4-compatible, deprecated) is never a routable destination.
    return std::memcmp(b, zeros, 12) == 0 ? address_class::private_address : v4;
  }
  if ((b[0] & 0xfe) == 0xfc                       // fc00::/7 unique local
      || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)  // fec0::/10 site local (deprecated)
      || b[0] == 0xff                             // multicast
      || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)) // documentation
    return address_class::private_address;
  return address_class::public_address;
}

std::string to_string(const ip_address& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<host_policy::entry> host_policy::parse_entry(std::string_view text) {
  entry e;
  std::string_view host = text;
  if (!host.empty() && host.front() == '[') { // [v6] or [v6]:port
    const auto close = host.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':')
        return std::nullopt;
      e.port = parse_port(host.substr(close + 2));
      if (!e.port)
        return std::nullopt;
    }
    host = host.substr(0, close + 1);
  } else if (const auto colon = host.find(':');
             colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    e.port = parse_port(host.substr(colon + 1)); // host:port (a bare IPv6 has several colons)
    if (!e.port)
      return std::nullopt;
    host = host.substr(0, colon);
  }
  host = without_trailing_dot(host);
  if (host.empty())
    return std::nullopt;
  if (host == "*") {
    e.any_host = true;
  } else if (auto ip = parse_ip(host)) {
    e.ip = *ip;
  } else if (host.size() > 2 && host.substr(0, 2) == "*.") {
    e.wildcard = true;
    e.host = lower(host.substr(1)); // ".example.com"
  } else if (host.find('*') == std::string_view::npos) {
    e.host = lower(host);
  } else {
    return std::nullopt;
  }
  return e;
}

host_policy host_policy::from_config(const nlohmann::json& http_config, std::string_view tenant) {
  host_policy policy;
  const nlohmann::json* list = nullptr;
  if (const auto allow = http_config.find("allow");
      allow != http_config.end() && allow->is_object()) {
    for (auto it = allow->begin(); it != allow->end(); ++it) {
      if (it.key() == tenant && it->is_array()) {
        list = &*it;
        break;
      }
    }
  }
  if (list == nullptr) {
    if (const auto fallback = http_config.find("default_allow");
        fallback != http_config.end() && fallback->is_array())
      list = &*fallback;
  }
  if (list != nullptr)
    policy = from_list(*list);
  if (const auto p = http_config.find("allow_private"); p != http_config.end() && p->is_boolean())
    policy.allow_private_ = p->get<bool>();
  if (const auto l = http_config.find("allow_loopback"); l != http_config.end() && l->is_boolean())
    policy.allow_loopback_ = l->get<bool>();
  return policy;
}

std::optional<host_policy> host_policy::from_provider(const nlohmann::json& http_config,
                                                     std::string_view provider) {
  const auto providers = http_config.find("providers");
  if (providers == http_config.end() || !providers->is_object())
    return std::nullopt;
  const auto it = providers->find(std::string{provider});
  if (it == providers->end() || !it->is_object())
    return std::nullopt;
  host_policy policy;
  if (const auto hosts = it->find("hosts"); hosts != it->end())
    policy = from_list(*hosts);
  policy.provider_ = provider;
  // An operator who lets every allowed host reach private (or loopback) addresses means the
  // providers too, unless the provider's entry says otherwise.
  const auto flag = [&](const char* key) {
    if (const auto own = it->find(key); own != it->end() && own->is_boolean())
      return own->get<bool>();
    const auto section = http_config.find(key);
    return section != http_config.end() && section->is_boolean() && section->get<bool>();
  };
  policy.allow_private_ = flag("allow_private");
  policy.allow_loopback_ = flag("allow_loopback");
  return policy;
}

host_policy host_policy::from_list(const nlohmann::json& list) {
  host_policy policy;
  if (!list.is_array())
    return policy;
  for (const auto& item : list) {
    if (!item.is_string())
      continue;
    if (auto e = parse_entry(item.get_ref<const std::string&>()))
      policy.entries_.push_back(std::move(*e));
  }
  return policy;
}

bool host_policy::allows_host(std::string_view host_in, uint16_t port, std::string& why) const {
  const std::string host = lower(without_trailing_dot(host_in));
  const auto ip = parse_ip(host);
  const bool metadata_name =
    std::find(std::begin(metadata_names), std::end(metadata_names), host) != std::end(metadata_names);
  for (const auto& e : entries_) {
    if (e.port && *e.port != port)
      continue;
    if (e.ip) {
      if (ip && *ip == *e.ip)
        return true;
    } else if (e.any_host) {
      if (!metadata_name)
        return true;
    } else if (e.wildcard) {
      if (!metadata_name && host.size() > e.host.size()
          && host.compare(host.size() - e.host.size(), e.host.size(), e.host) == 0)
        return true;
    } else if (host == e.host) {
      return true;
    }
  }
  if (entries_.empty())
    why = provider_.empty() ? "no HTTP allow-list is configured for this tenant"
                            : "provider '" + provider_ + "' lists no hosts";
  else if (metadata_name)
    why = "'" + host + "' is a cloud-metadata host, allowed only when listed by name";
  else
    why = "host '" + host + ":" + std::to_string(port) + "' is not in "
          + (provider_.empty() ? std::string{"the tenant's allow-list"}
                               : "the hosts of provider '" + provider_ + "'");
  return false;
}

bool host_policy::allows_address(const ip_address& address, uint16_t port, std::string& why) const {
  const auto cls = classify(address);
  if (cls == address_class::public_address)
    return true;
  for (const auto& e : entries_) {
    if (e.ip && *e.ip == address && (!e.port || *e.port == port))
      return true; // listed explicitly by address
  }
  if (cls == address_class::private_address) {
    if (allow_private_)
      return true;
    why = "address " + to_string(address)
          + " is private (RFC 1918, unique-local ...); list it explicitly or set allow_private";
    return false;
  }
  if (cls == address_class::loopback) {
    if (allow_loopback_)
      return true;
    why = "address " + to_string(address)
          + " is loopback or unspecified (this host); list it explicitly or set allow_loopback "
            "(allow_private does not cover it)";
    return false;
  }
  why = "address " + to_string(address)
        + " is link-local or a cloud-metadata endpoint; only an allow-list entry naming this "
          "address permits it";
  return false;
}

} // namespace beamline::exec::http
