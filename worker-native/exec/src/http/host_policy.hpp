#pragma once

// Where http.request may go: the tenant's host allow-list (config "http".allow / default_allow),
// or, for a block calling a provider the operator configured ("provider_ref"), that provider's
// hosts ("http".providers), and the classification of the address a connection is actually made to. The two checks are
// separate on purpose: the host check runs on the URL of every hop before anything is sent, the
// address check runs on the resolved address at connect time (and again before each request on
// a reused connection), so that DNS rebinding cannot turn an allowed name into an internal
// address. See docs/executors.md, "http.request".

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::exec::http {

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4.
struct ip_address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{}; // IPv4 uses the first 4
  friend bool operator==(const ip_address& a, const ip_address& b) noexcept {
    return a.v6 == b.v6 && a.bytes == b.bytes;
  }
};

/// Parses a numeric IPv4 or IPv6 address ("[::1]" brackets allowed). nullopt for a name.
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view text) noexcept;

enum class address_class : uint8_t {
  /// A routable public address.
  public_address,
  /// RFC 1918, CGNAT, unique-local, multicast, reserved.
  private_address,
  /// Loopback and "this host": 127.0.0.0/8, 0.0.0.0/8 (which Linux connects to the host itself),
  /// ::1, ::. Not covered by allow_private: the worker's own services live there.
  loopback,
  /// Link-local (169.254.0.0/16, fe80::/10) and cloud-metadata endpoints (169.254.169.254,
  /// fd00:ec2::254, 100.100.100.200, 168.63.129.16).
  link_local_or_metadata,
};

[[nodiscard]] address_class classify(const ip_address& address) noexcept;

/// The allow-list of one tenant, compiled from the "http" config section.
class host_policy {
public:
  /// The tenant's list ("allow"[tenant]) when it has one, else "default_allow"; a missing
  /// list allows nothing. Entries that do not parse are ignored (the config is validated as
  /// JSON, not per executor).
  [[nodiscard]] static host_policy from_config(const nlohmann::json& http_config,
                                               std::string_view tenant);

  /// A policy of the entries of `list` (a JSON array of strings, same syntax), without
  /// allow_private or allow_loopback: for matching hosts against a list ("credentials".hosts).
  [[nodiscard]] static host_policy from_list(const nlohmann::json& list);

  /// The hosts of the operator-configured provider `provider` ("providers"[provider].hosts,
  /// allow-list syntax), in place of the tenant's allow-list; its allow_private and
  /// allow_loopback default to the section's. nullopt when the config has no such provider (or
  /// its entry is not an object).
  [[nodiscard]] static std::optional<host_policy> from_provider(const nlohmann::json& http_config,
                                                                std::string_view provider);

  /// Whether a URL's host (lower case, without brackets) and port may be requested. On refusal
  /// `why` says so in words.
  [[nodiscard]] bool allows_host(std::string_view host, uint16_t port, std::string& why) const;

  /// Whether a connection to `address`:`port` may be used. On refusal `why` says so in words.
  [[nodiscard]] bool allows_address(const ip_address& address, uint16_t port,
                                    std::string& why) const;

  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

private:
  struct entry {
    std::string host;              // lower case; for a wildcard, the suffix after "*"
    bool any_host = false;         // "*"
    bool wildcard = false;         // "*.example.com": subdomains only
    std::optional<ip_address> ip;  // the entry is an IP literal
    std::optional<uint16_t> port;  // none: any port
  };

  [[nodiscard]] static std::optional<entry> parse_entry(std::string_view text);

  std::vector<entry> entries_;
  /// Whose list this is, for messages: empty for a tenant's, else the provider's id.
  std::string provider_;
  bool allow_private_ = false;
  bool allow_loopback_ = false;
};

/// Formats an address for messages ("10.0.0.1", "fe80::1").
[[nodiscard]] std::string to_string(const ip_address& address);

} // namespace beamline::exec::http
