// The allow-list matching and address classification behind http.request's SSRF rules.

#include "http/host_policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using beamline::exec::http::address_class;
using beamline::exec::http::classify;
using beamline::exec::http::host_policy;
using beamline::exec::http::parse_ip;
using json = nlohmann::json;

address_class class_of(const char* text) {
  const auto ip = parse_ip(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip ? classify(*ip) : address_class::public_address;
}

TEST(HostPolicyTest, ClassifiesLinkLocalAndMetadataAddresses) {
  for (const char* a : {"169.254.169.254", "169.254.1.2", "fe80::1", "fd00:ec2::254",
                        "::ffff:169.254.169.254", "100.100.100.200", "168.63.129.16",
                        "64:ff9b::a9fe:a9fe"})
    EXPECT_EQ(class_of(a), address_class::link_local_or_metadata) << a;
}

TEST(HostPolicyTest, ClassifiesPrivateAddresses) {
  for (const char* a : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
                        "fc00::1", "fd12::1", "::ffff:10.0.0.1", "224.0.0.1", "255.255.255.255"})
    EXPECT_EQ(class_of(a), address_class::private_address) << a;
}

TEST(HostPolicyTest, ClassifiesLoopbackAndUnspecifiedAddresses) {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3", "::1", "::",
                        "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "::ffff:0.0.0.0"})
    EXPECT_EQ(class_of(a), address_class::loopback) << a;
}

// Issue 9, item 10: allow_private must not also allow loopback and 0.0.0.0/8.
TEST(HostPolicyTest, LoopbackNeedsAllowLoopbackOrAnExplicitEntry) {
  std::string why;
  const auto lax =
    host_policy::from_config(json::parse(R"({"default_allow": ["*"], "allow_private": true})"), "t");
  for (const char* a : {"127.0.0.1", "0.0.0.0", "0.0.0.1", "::1", "::", "::ffff:127.0.0.1"}) {
    EXPECT_FALSE(lax.allows_address(*parse_ip(a), 80, why)) << a;
    EXPECT_NE(why.find("allow_loopback"), std::string::npos) << why;
  }
  const auto loopback =
    host_policy::from_config(json::parse(R"({"default_allow": ["*"], "allow_loopback": true})"), "t");
  EXPECT_TRUE(loopback.allows_address(*parse_ip("127.0.0.1"), 80, why));
  EXPECT_TRUE(loopback.allows_address(*parse_ip("::1"), 80, why));
  EXPECT_FALSE(loopback.allows_address(*parse_ip("10.0.0.5"), 80, why)); // not private ones
  const auto listed =
    host_policy::from_config(json::parse(R"({"default_allow": ["127.0.0.1:8080", "::1"]})"), "t");
  EXPECT_TRUE(listed.allows_address(*parse_ip("127.0.0.1"), 8080, why));
  EXPECT_FALSE(listed.allows_address(*parse_ip("127.0.0.1"), 8081, why));
  EXPECT_FALSE(listed.allows_address(*parse_ip("127.0.0.2"), 8080, why));
  EXPECT_TRUE(listed.allows_address(*parse_ip("::1"), 443, why));
}

TEST(HostPolicyTest, ClassifiesPublicAddresses) {
  for (const char* a : {"8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "1.1.1.1",
                        "::ffff:8.8.4.4"})
    EXPECT_EQ(class_of(a), address_class::public_address) << a;
}

TEST(HostPolicyTest, MatchesExactWildcardAndPortEntries) {
  const auto config = json::parse(R"({"allow": {"t": [
      "api.openai.com", "*.example.com", "127.0.0.1:8080", "[::1]:9000", "Upper.Example.ORG."]}})");
  const auto policy = host_policy::from_config(config, "t");
  std::string why;
  EXPECT_TRUE(policy.allows_host("api.openai.com", 443, why));
  EXPECT_TRUE(policy.allows_host("API.OpenAI.com.", 80, why));
  EXPECT_FALSE(policy.allows_host("openai.com", 443, why));
  EXPECT_FALSE(policy.allows_host("api.openai.com.evil.net", 443, why));
  EXPECT_TRUE(policy.allows_host("a.example.com", 443, why));
  EXPECT_TRUE(policy.allows_host("a.b.example.com", 443, why));
  EXPECT_FALSE(policy.allows_host("example.com", 443, why));
  EXPECT_FALSE(policy.allows_host("badexample.com", 443, why));
  EXPECT_TRUE(policy.allows_host("127.0.0.1", 8080, why));
  EXPECT_FALSE(policy.allows_host("127.0.0.1", 8081, why));
  EXPECT_TRUE(policy.allows_host("::1", 9000, why));
  EXPECT_TRUE(policy.allows_host("0:0::1", 9000, why));
  EXPECT_TRUE(policy.allows_host("upper.example.org", 443, why));
  EXPECT_FALSE(policy.allows_host("other.net", 443, why));
  EXPECT_NE(why.find("not in the tenant's allow-list"), std::string::npos) << why;
}

TEST(HostPolicyTest, FallsBackToDefaultAllowAndOtherwiseAllowsNothing) {
  const auto config = json::parse(R"({"allow": {"a": ["a.example"]}, "default_allow": ["d.example"]})");
  std::string why;
  EXPECT_FALSE(host_policy::from_config(config, "a").allows_host("d.example", 443, why));
  EXPECT_TRUE(host_policy::from_config(config, "b").allows_host("d.example", 443, why));
  const auto none = host_policy::from_config(json::object(), "a");
  EXPECT_FALSE(none.allows_host("d.example", 443, why));
  EXPECT_NE(why.find("no HTTP allow-list"), std::string::npos) << why;
}

TEST(HostPolicyTest, PrivateAddressesNeedAllowPrivateOrAnExplicitEntry) {
  std::string why;
  const auto strict = host_policy::from_config(json::parse(R"({"default_allow": ["*"]})"), "t");
  EXPECT_TRUE(strict.allows_address(*parse_ip("93.184.216.34"), 443, why));
  EXPECT_FALSE(strict.allows_address(*parse_ip("10.0.0.5"), 443, why));
  const auto lax =
    host_policy::from_config(json::parse(R"({"default_allow": ["*"], "allow_private": true})"), "t");
  EXPECT_TRUE(lax.allows_address(*parse_ip("10.0.0.5"), 443, why));
  EXPECT_FALSE(lax.allows_address(*parse_ip("169.254.169.254"), 80, why)); // not by allow_private
  const auto listed =
    host_policy::from_config(json::parse(R"({"default_allow": ["10.0.0.5:8443", "169.254.169.254"]})"), "t");
  EXPECT_TRUE(listed.allows_address(*parse_ip("10.0.0.5"), 8443, why));
  EXPECT_FALSE(listed.allows_address(*parse_ip("10.0.0.5"), 443, why));
  EXPECT_TRUE(listed.allows_address(*parse_ip("169.254.169.254"), 80, why));
}

TEST(HostPolicyTest, MetadataHostNamesNeedAnExactEntry) {
  std::string why;
  const auto wildcard =
    host_policy::from_config(json::parse(R"({"default_allow": ["*", "*.internal", "*.google.internal"]})"), "t");
  EXPECT_FALSE(wildcard.allows_host("metadata.google.internal", 80, why));
  const auto exact = host_policy::from_config(json::parse(R"({"default_allow": ["metadata.google.internal"]})"), "t");
  EXPECT_TRUE(exact.allows_host("metadata.google.internal", 80, why));
}

TEST(HostPolicyTest, IgnoresMalformedEntries) {
  const auto policy = host_policy::from_config(
    json::parse(R"({"default_allow": ["a*b.example", "host:99999", "[::1", 42, "ok.example"]})"), "t");
  std::string why;
  EXPECT_TRUE(policy.allows_host("ok.example", 443, why));
  EXPECT_FALSE(policy.allows_host("axb.example", 443, why));
  EXPECT_FALSE(policy.allows_host("host", 443, why));
}

TEST(HostPolicyTest, AProvidersHostsReplaceTheTenantsList) {
  const json config{{"allow", {{"tenant-a", {"*"}}}},
                    {"allow_private", true},
                    {"providers",
                     {{"openai", {{"hosts", {"api.openai.com"}}}},
                      {"local", {{"hosts", {"127.0.0.1:11434"}}, {"allow_private", false}}},
                      {"odd", "not an object"}}}};
  std::string why;
  const auto openai = host_policy::from_provider(config, "openai");
  ASSERT_TRUE(openai.has_value());
  EXPECT_TRUE(openai->allows_host("api.openai.com", 443, why));
  EXPECT_FALSE(openai->allows_host("example.com", 443, why));
  EXPECT_NE(why.find("provider 'openai'"), std::string::npos) << why;
  // allow_private comes from the section unless the entry says otherwise.
  EXPECT_TRUE(openai->allows_address(*parse_ip("10.0.0.5"), 443, why));
  const auto local = host_policy::from_provider(config, "local");
  ASSERT_TRUE(local.has_value());
  EXPECT_FALSE(local->allows_address(*parse_ip("10.0.0.5"), 443, why));
  EXPECT_TRUE(local->allows_address(*parse_ip("127.0.0.1"), 11434, why));
  EXPECT_FALSE(local->allows_address(*parse_ip("127.0.0.1"), 8080, why));
  EXPECT_FALSE(host_policy::from_provider(config, "odd").has_value());
  EXPECT_FALSE(host_policy::from_provider(config, "missing").has_value());
  EXPECT_FALSE(host_policy::from_provider(json::object(), "openai").has_value());
}

} // namespace
