// http.request credentials ("credential_ref" resolved from the "http".credentials config):
// the upstream sees the header, the secret never appears in an output or an error, and refs
// that are unknown, another tenant's, misconfigured or colliding with a payload header are
// refused. Hardening issue, item 9: secrets no longer travel in block payloads.

#include "block_runner.hpp"
#include "detail/base64.hpp"
#include "http/test_http_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

using beamline::exec::detail::base64_decode;
using beamline::test::block_runner;
using beamline::test::test_http_server;
using beamline::test::wire::ExecResult;
namespace wire = beamline::test::wire;
using json = nlohmann::json;

constexpr const char* secret = "sk-test-9f8e7d6c5b4a";
constexpr const char* secret_env = "BEAMLINE_TEST_HTTP_CREDENTIAL";

/// tenant-a and tenant-b may reach `server`; `credentials` is the "credentials" object.
std::string config_for(const test_http_server& server, json credentials) {
  const std::string entry = "127.0.0.1:" + std::to_string(server.port());
  return json{{"http",
               {{"allow", {{"tenant-a", {entry}}, {"tenant-b", {entry}}}},
                {"timeout_ms", 20000},
                {"credentials", std::move(credentials)}}}}
    .dump();
}

json bearer(json extra = json::object()) {
  json entry{{"header", "Authorization"}, {"prefix", "Bearer "}, {"value_env", secret_env}};
  entry.update(extra);
  return entry;
}

std::string call(const std::string& url, const std::string& ref, json extra = json::object()) {
  json payload{{"url", url}, {"credential_ref", ref}};
  payload.update(extra);
  return payload.dump();
}

/// The headers the /echo route saw.
json echoed_headers(const ExecResult& result) {
  const auto out = json::parse(result.output());
  return json::parse(base64_decode(out.at("body_base64").get<std::string>()).value_or("{}")).at("headers");
}

class HttpCredentialsTest : public ::testing::Test {
protected:
  void SetUp() override { ::setenv(secret_env, secret, 1); }
  void TearDown() override { ::unsetenv(secret_env); }
};

TEST_F(HttpCredentialsTest, AddsTheNamedCredentialsHeader) {
  test_http_server server;
  block_runner runner{config_for(server, {{"upstream", bearer()}})};
  const auto result = runner.run("http.request", call(server.url("/echo"), "upstream"));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(echoed_headers(result).at("authorization"), std::string{"Bearer "} + secret);
}

TEST_F(HttpCredentialsTest, ReadsTheSecretFromAFileTrimmed) {
  test_http_server server;
  const std::string path = ::testing::TempDir() + "beamline-credential-test.key";
  { std::ofstream{path} << "  file-secret-42\n"; }
  block_runner runner{config_for(server, {{"claude", {{"header", "x-api-key"}, {"value_file", path}}}})};
  const auto result = runner.run("http.request", call(server.url("/echo"), "claude"));
  std::remove(path.c_str());
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(echoed_headers(result).at("x-api-key"), "file-secret-42");
}

TEST_F(HttpCredentialsTest, RefusesAnUnknownCredential) {
  test_http_server server;
  block_runner runner{config_for(server, {{"upstream", bearer()}})};
  const auto result = runner.run("http.request", call(server.url("/echo"), "someone-else"));
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("'someone-else' is not configured"), std::string::npos)
    << result.error_message();
}

TEST_F(HttpCredentialsTest, RefusesACredentialScopedToAnotherTenant) {
  test_http_server server;
  block_runner runner{config_for(server, {{"b-only", bearer({{"tenants", {"tenant-b"}}})}})};
  const auto refused = runner.run("http.request", call(server.url("/echo"), "b-only"), "tenant-a");
  EXPECT_EQ(refused.error_code(), "permission_denied");
  // The same words as an unknown name: a tenant learns nothing of others' credentials.
  EXPECT_NE(refused.error_message().find("is not configured for this tenant"), std::string::npos)
    << refused.error_message();
  const auto allowed = runner.run("http.request", call(server.url("/echo"), "b-only"), "tenant-b");
  ASSERT_EQ(allowed.status(), wire::EXEC_STATUS_OK) << allowed.error_message();
  EXPECT_EQ(echoed_headers(allowed).at("authorization"), std::string{"Bearer "} + secret);
}

TEST_F(HttpCredentialsTest, RefusesAPayloadThatSetsTheCredentialsHeaderItself) {
  test_http_server server;
  block_runner runner{config_for(server, {{"upstream", bearer()}})};
  const auto result = runner.run(
    "http.request",
    call(server.url("/echo"), "upstream", {{"headers", {{"AUTHORIZATION", "Bearer mine"}}}}));
  EXPECT_EQ(result.error_code(), "invalid_input");
  EXPECT_NE(result.error_message().find("may not be given too"), std::string::npos) << result.error_message();
}

TEST_F(HttpCredentialsTest, RefusesACredentialWhoseVariableIsUnset) {
  test_http_server server;
  ::unsetenv(secret_env);
  block_runner runner{config_for(server, {{"upstream", bearer()}})};
  const auto result = runner.run("http.request", call(server.url("/echo"), "upstream"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find(secret_env), std::string::npos) << result.error_message();
}

TEST_F(HttpCredentialsTest, RefusesMisconfiguredEntriesAndMalformedRefs) {
  test_http_server server;
  block_runner runner{config_for(
    server, {{"inline", {{"header", "x-api-key"}, {"value", "literal"}}},
             {"both", bearer({{"value_file", "/nonexistent"}})},
             {"host-header", bearer({{"header", "Host"}})}})};
  for (const char* ref : {"inline", "both", "host-header"}) {
    const auto result = runner.run("http.request", call(server.url("/echo"), ref));
    EXPECT_EQ(result.error_code(), "permission_denied") << ref;
    EXPECT_NE(result.error_message().find("misconfigured"), std::string::npos) << result.error_message();
  }
  const auto number = runner.run("http.request", json{{"url", server.url("/echo")}, {"credential_ref", 7}}.dump());
  EXPECT_EQ(number.error_code(), "invalid_input");
}

TEST_F(HttpCredentialsTest, SendsTheCredentialOnlyToItsHosts) {
  test_http_server server;
  const std::string here = "127.0.0.1:" + std::to_string(server.port());
  block_runner runner{config_for(server, {{"elsewhere", bearer({{"hosts", {"api.example.com"}}})},
                                          {"here", bearer({{"hosts", {here}}})}})};
  const auto refused = runner.run("http.request", call(server.url("/echo"), "elsewhere"));
  EXPECT_EQ(refused.error_code(), "permission_denied");
  EXPECT_NE(refused.error_message().find("not in its 'hosts'"), std::string::npos) << refused.error_message();
  const auto allowed = runner.run("http.request", call(server.url("/echo"), "here"));
  ASSERT_EQ(allowed.status(), wire::EXEC_STATUS_OK) << allowed.error_message();
  EXPECT_EQ(echoed_headers(allowed).at("authorization"), std::string{"Bearer "} + secret);
}

TEST_F(HttpCredentialsTest, DropsTheCredentialOnARedirectToAnotherOrigin) {
  test_http_server first;
  test_http_server second;
  const json allow{"127.0.0.1:" + std::to_string(first.port()), "127.0.0.1:" + std::to_string(second.port())};
  // A custom header name: the credential is dropped as a credential, not as "Authorization".
  block_runner runner{json{{"http",
                            {{"allow", {{"tenant-a", allow}}},
                             {"credentials", {{"key", {{"header", "x-api-key"}, {"value_env", secret_env}}}}}}}}
                        .dump()};
  const auto result = runner.run("http.request", call(first.url("/redirect-to/" + second.url("/echo")), "key"));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_FALSE(echoed_headers(result).contains("x-api-key")) << result.output();
  const auto same_origin = runner.run("http.request", call(first.url("/redirect-to/" + first.url("/echo")), "key"));
  ASSERT_EQ(same_origin.status(), wire::EXEC_STATUS_OK) << same_origin.error_message();
  EXPECT_EQ(echoed_headers(same_origin).at("x-api-key"), secret);
}

TEST_F(HttpCredentialsTest, TheSecretNeverAppearsInAnOutputOrAnError) {
  test_http_server server;
  block_runner runner{config_for(server, {{"upstream", bearer()},
                                          {"elsewhere", bearer({{"hosts", {"api.example.com"}}})}})};
  const auto ok = runner.run("http.request", call(server.url("/json"), "upstream"));
  ASSERT_EQ(ok.status(), wire::EXEC_STATUS_OK) << ok.error_message();
  EXPECT_EQ(ok.output().find(secret), std::string::npos) << ok.output();
  const ExecResult failures[] = {
    runner.run("http.request", call(server.url("/slow"), "upstream", {{"timeout_ms", 200}})),
    runner.run("http.request", call("http://127.0.0.1:1/json", "upstream")),
    runner.run("http.request", call(server.url("/redirect-to/http://api.example.com/"), "upstream")),
    runner.run("http.request", call(server.url("/echo"), "elsewhere")),
    runner.run("http.request", call(server.url("/echo"), "upstream", {{"headers", {{"authorization", "x"}}}})),
  };
  for (const auto& failure : failures) {
    EXPECT_NE(failure.status(), wire::EXEC_STATUS_OK);
    EXPECT_FALSE(failure.error_message().empty());
    EXPECT_EQ(failure.error_message().find(secret), std::string::npos) << failure.error_message();
    EXPECT_EQ(failure.output().find(secret), std::string::npos);
  }
}

} // namespace
