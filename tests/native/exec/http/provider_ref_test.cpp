// http.request blocks calling an operator-configured provider ("provider_ref" naming an entry of
// "http".providers): the provider's hosts replace the tenant's allow-list on every hop and for
// the resolved address, the other SSRF rules stay, and an unknown provider is refused. Gateway
// issue: providers an operator configures are trusted destinations, without the tenant's
// allow-list listing their hosts.

#include "block_runner.hpp"
#include "detail/base64.hpp"
#include "http/test_http_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

namespace {

using beamline::exec::detail::base64_decode;
using beamline::test::block_runner;
using beamline::test::test_http_server;
using beamline::test::wire::ExecResult;
namespace wire = beamline::test::wire;
using json = nlohmann::json;

/// An "http" section with `providers` and no allow-list for any tenant.
std::string config_with(json providers, json extra = json::object()) {
  json http{{"timeout_ms", 20000}, {"providers", std::move(providers)}};
  http.update(extra);
  return json{{"http", std::move(http)}}.dump();
}

std::string here(const test_http_server& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

std::string call(const std::string& url, const std::string& provider, json extra = json::object()) {
  json payload{{"url", url}, {"provider_ref", provider}};
  payload.update(extra);
  return payload.dump();
}

std::string body_of(const ExecResult& result) {
  const auto out = json::parse(result.output());
  return base64_decode(out.at("body_base64").get<std::string>()).value_or("<bad base64>");
}

bool mentions(const ExecResult& result, const std::string& text) {
  return result.error_message().find(text) != std::string::npos;
}

TEST(HttpProviderRefTest, ReachesTheProvidersHostWithoutATenantAllowList) {
  test_http_server server;
  block_runner runner{config_with({{"local-llm", {{"hosts", {here(server)}}}}})};
  const auto result = runner.run("http.request", call(server.url("/json"), "local-llm"));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(body_of(result), R"({"hello":"world"})");

  // The same request without the provider_ref: the tenant has no allow-list.
  const auto raw = runner.run("http.request", json{{"url", server.url("/json")}}.dump());
  EXPECT_EQ(raw.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(raw, "no HTTP allow-list is configured for this tenant")) << raw.error_message();
}

TEST(HttpProviderRefTest, RefusesAHostNotInTheProvidersHosts) {
  test_http_server server;
  block_runner runner{config_with({{"openai", {{"hosts", {"api.openai.com"}}}}})};
  const auto result = runner.run("http.request", call(server.url("/json"), "openai"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(result, "not in the hosts of provider 'openai'")) << result.error_message();
}

TEST(HttpProviderRefTest, TheProvidersHostsReplaceTheTenantsAllowList) {
  // tenant-a may reach the server with its own blocks, but a block naming a provider is bound
  // by that provider's hosts alone: not merged with the tenant's list.
  test_http_server server;
  block_runner runner{config_with({{"openai", {{"hosts", {"api.openai.com"}}}}},
                                  {{"allow", {{"tenant-a", {here(server)}}}}})};
  const auto own = runner.run("http.request", json{{"url", server.url("/json")}}.dump());
  ASSERT_EQ(own.status(), wire::EXEC_STATUS_OK) << own.error_message();
  const auto provider = runner.run("http.request", call(server.url("/json"), "openai"));
  EXPECT_EQ(provider.error_code(), "permission_denied") << provider.error_message();
}

TEST(HttpProviderRefTest, RefusesARedirectToAHostTheProviderDoesNotList) {
  test_http_server provider;
  test_http_server elsewhere;
  block_runner runner{config_with({{"p", {{"hosts", {here(provider)}}}}},
                                  {{"default_allow", {here(provider), here(elsewhere)}}})};
  const auto refused =
    runner.run("http.request", call(provider.url("/redirect-to/" + elsewhere.url("/json")), "p"));
  EXPECT_EQ(refused.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(refused, "redirect to '")) << refused.error_message();
  const auto same_host =
    runner.run("http.request", call(provider.url("/redirect-to/" + provider.url("/json")), "p"));
  ASSERT_EQ(same_host.status(), wire::EXEC_STATUS_OK) << same_host.error_message();
}

TEST(HttpProviderRefTest, ReachesLoopbackOnlyWhenTheAddressIsNamedOrAllowed) {
  test_http_server server;
  const std::string port = std::to_string(server.port());
  const std::string url = "http://localhost:" + port + "/json";
  {
    // A name that resolves to a loopback address: refused at connect time, as for a tenant.
    block_runner runner{config_with({{"p", {{"hosts", {"localhost:" + port}}}}})};
    const auto result = runner.run("http.request", call(url, "p"));
    EXPECT_EQ(result.error_code(), "permission_denied");
    EXPECT_TRUE(mentions(result, "loopback")) << result.error_message();
  }
  {
    // The entry naming the address allows exactly it.
    block_runner runner{config_with({{"p", {{"hosts", {"localhost:" + port, "127.0.0.1"}}}}})};
    const auto result = runner.run("http.request", call(url, "p"));
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  }
  {
    // The provider's own allow_loopback; the section's applies when the entry has none.
    block_runner own{config_with({{"p", {{"hosts", {"localhost:" + port}}, {"allow_loopback", true}}}})};
    EXPECT_EQ(own.run("http.request", call(url, "p")).status(), wire::EXEC_STATUS_OK);
    block_runner section{config_with({{"p", {{"hosts", {"localhost:" + port}}}}}, {{"allow_loopback", true}})};
    EXPECT_EQ(section.run("http.request", call(url, "p")).status(), wire::EXEC_STATUS_OK);
    block_runner overridden{config_with({{"p", {{"hosts", {"localhost:" + port}}, {"allow_loopback", false}}}},
                                        {{"allow_loopback", true}})};
    EXPECT_EQ(overridden.run("http.request", call(url, "p")).error_code(), "permission_denied");
  }
}

TEST(HttpProviderRefTest, AConnectionOpenedForAProviderIsNotReusedByATenantsBlock) {
  test_http_server server;
  const std::string port = std::to_string(server.port());
  block_runner runner{config_with({{"p", {{"hosts", {"localhost:" + port, "127.0.0.1"}}}}},
                                  {{"allow", {{"tenant-a", {"localhost:" + port}}}}})};
  const std::string url = "http://localhost:" + port + "/json";
  const auto provider = runner.run("http.request", call(url, "p"));
  ASSERT_EQ(provider.status(), wire::EXEC_STATUS_OK) << provider.error_message();
  const auto tenant = runner.run("http.request", json{{"url", url}}.dump());
  EXPECT_EQ(tenant.error_code(), "permission_denied") << tenant.error_message();
}

TEST(HttpProviderRefTest, MetadataHostsStayRefusedUnlessNamed) {
  block_runner runner{config_with({{"p", {{"hosts", {"*"}}}}})};
  const auto result = runner.run("http.request", call("http://metadata.google.internal/computeMetadata/v1/", "p"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(result, "cloud-metadata")) << result.error_message();
  const auto address = runner.run("http.request", call("http://169.254.169.254/latest/meta-data/", "p"));
  EXPECT_EQ(address.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(address, "link-local")) << address.error_message();
}

TEST(HttpProviderRefTest, RefusesAnUnknownProvider) {
  test_http_server server;
  block_runner runner{config_with({{"p", {{"hosts", {here(server)}}}}},
                                  {{"allow", {{"tenant-a", {here(server)}}}}})};
  for (const char* ref : {"someone-else", "P"}) {
    const auto result = runner.run("http.request", call(server.url("/json"), ref));
    EXPECT_EQ(result.error_code(), "permission_denied") << ref;
    EXPECT_TRUE(mentions(result, "is not configured on this executor")) << result.error_message();
  }
  // No "providers" section at all.
  block_runner bare{json{{"http", {{"allow", {{"tenant-a", {here(server)}}}}}}}.dump()};
  EXPECT_EQ(bare.run("http.request", call(server.url("/json"), "p")).error_code(), "permission_denied");
  // An entry that is not an object is no provider.
  block_runner odd{config_with({{"p", json::array({here(server)})}})};
  EXPECT_EQ(odd.run("http.request", call(server.url("/json"), "p")).error_code(), "permission_denied");
}

TEST(HttpProviderRefTest, RefusesAMalformedProviderRef) {
  test_http_server server;
  block_runner runner{config_with({{"p", {{"hosts", {here(server)}}}}})};
  for (const json& ref : {json(7), json(""), json::array({"p"})}) {
    const auto result = runner.run("http.request", json{{"url", server.url("/json")}, {"provider_ref", ref}}.dump());
    EXPECT_EQ(result.error_code(), "invalid_input") << ref.dump();
  }
}

TEST(HttpProviderRefTest, AProviderWithoutHostsReachesNothing) {
  test_http_server server;
  block_runner runner{config_with({{"p", json::object()}})};
  const auto result = runner.run("http.request", call(server.url("/json"), "p"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_TRUE(mentions(result, "provider 'p' lists no hosts")) << result.error_message();
}

TEST(HttpProviderRefTest, ACredentialStillGoesOnlyToItsHosts) {
  constexpr const char* variable = "BEAMLINE_TEST_PROVIDER_KEY";
  ::setenv(variable, "sk-provider", 1);
  test_http_server server;
  const json key{{"header", "Authorization"}, {"prefix", "Bearer "}, {"value_env", variable}};
  json scoped = key;
  scoped["hosts"] = {"api.openai.com"};
  block_runner runner{json{{"http",
                            {{"providers", {{"p", {{"hosts", {here(server)}}}}}},
                             {"credentials", {{"key", key}, {"scoped", scoped}}}}}}
                        .dump()};
  const auto ok = runner.run("http.request", call(server.url("/echo"), "p", {{"credential_ref", "key"}}));
  ASSERT_EQ(ok.status(), wire::EXEC_STATUS_OK) << ok.error_message();
  EXPECT_EQ(json::parse(body_of(ok)).at("headers").at("authorization"), "Bearer sk-provider");
  const auto refused = runner.run("http.request", call(server.url("/echo"), "p", {{"credential_ref", "scoped"}}));
  EXPECT_EQ(refused.error_code(), "permission_denied");
  ::unsetenv(variable);
}

} // namespace
