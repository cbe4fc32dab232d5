// http.request against a loopback server: formats, limits, deadlines, redirects, the allow-list
// and the address rules (SSRF), streaming, connection reuse.

#include "block_runner.hpp"
#include "detail/base64.hpp"
#include "http/test_http_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using beamline::exec::detail::base64_decode;
using beamline::exec::detail::base64_encode;
using beamline::test::block_runner;
using beamline::test::test_http_server;
using beamline::test::wire::ExecChunk;
using beamline::test::wire::ExecResult;
namespace wire = beamline::test::wire;
using json = nlohmann::json;

/// Config allowing tenant-a the server's address and port (listed by address, so the loopback
/// address is explicitly allowed).
std::string config_for(const test_http_server& server, json extra = json::object()) {
  json http{{"allow", {{"tenant-a", {"127.0.0.1:" + std::to_string(server.port())}}}},
            {"timeout_ms", 20000}};
  http.update(extra);
  return json{{"http", http}}.dump();
}

std::string get(const std::string& url, json extra = json::object()) {
  json payload{{"url", url}};
  payload.update(extra);
  return payload.dump();
}

json output_of(const ExecResult& result) {
  return json::parse(result.output());
}

std::string body_of(const ExecResult& result) {
  return base64_decode(output_of(result).at("body_base64").get<std::string>()).value_or("<bad base64>");
}

TEST(HttpExecutorTest, ReturnsStatusHeadersAndBodyAsJson) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get(server.url("/json")));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  const auto out = output_of(result);
  EXPECT_EQ(out.at("status"), 200);
  EXPECT_EQ(out.at("headers").at("content-type"), "application/json");
  EXPECT_EQ(out.at("url"), server.url("/json"));
  EXPECT_EQ(body_of(result), R"({"hello":"world"})");
}

TEST(HttpExecutorTest, SendsMethodHeadersAndBody) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run(
    "http.request",
    get(server.url("/echo"), {{"method", "put"},
                              {"headers", {{"X-Trace", "abc"}, {"Content-Type", "text/plain"}}},
                              {"body", "hello body"}}));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  const auto echo = json::parse(body_of(result));
  EXPECT_EQ(echo.at("method"), "PUT");
  EXPECT_EQ(echo.at("body"), "hello body");
  EXPECT_EQ(echo.at("headers").at("x-trace"), "abc");
  EXPECT_EQ(echo.at("headers").at("content-type"), "text/plain");
  EXPECT_FALSE(echo.at("headers").contains("expect"));
}

TEST(HttpExecutorTest, SendsABase64BodyAsBytes) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const std::string bytes{"\x00\x01\x02\x7f", 4};
  const auto result = runner.run(
    "http.request",
    get(server.url("/echo"), {{"method", "POST"}, {"body_base64", base64_encode(bytes)}}));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  const auto echo = json::parse(body_of(result));
  EXPECT_EQ(echo.at("method"), "POST");
  EXPECT_EQ(echo.at("body"), bytes);
  EXPECT_FALSE(echo.at("headers").contains("content-type")); // no implicit form type
}

TEST(HttpExecutorTest, ANonSuccessStatusIsAnOutputNotAnError) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get(server.url("/status/503")));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  const auto out = output_of(result);
  EXPECT_EQ(out.at("status"), 503);
  EXPECT_EQ(out.at("headers").at("x-multi"), "a, b");
  EXPECT_EQ(body_of(result), "status 503");
}

TEST(HttpExecutorTest, RefusesAHostNotInTheAllowList) {
  test_http_server server;
  block_runner runner{config_for(server)};
  // tenant-b has no list and there is no default_allow.
  auto result = runner.run("http.request", get(server.url("/json")), "tenant-b");
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "permission_denied");
  // tenant-a's entry names one port only.
  result = runner.run("http.request", get("http://127.0.0.1:1/json"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("not in the tenant's allow-list"), std::string::npos)
    << result.error_message();
  result = runner.run("http.request", get("http://api.example.com/"));
  EXPECT_EQ(result.error_code(), "permission_denied");
}

TEST(HttpExecutorTest, DefaultAllowAppliesToTenantsWithoutAList) {
  test_http_server server;
  block_runner runner{config_for(server, {{"default_allow", {"127.0.0.1"}}})};
  const auto result = runner.run("http.request", get(server.url("/json")), "tenant-b");
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
}

TEST(HttpExecutorTest, RefusesANameThatResolvesToALoopbackAddress) {
  test_http_server server;
  const std::string entry = "localhost:" + std::to_string(server.port());
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/json";
  {
    block_runner runner{json{{"http", {{"allow", {{"tenant-a", {entry}}}}}}}.dump()};
    const auto result = runner.run("http.request", get(url));
    EXPECT_EQ(result.error_code(), "permission_denied");
    EXPECT_NE(result.error_message().find("private"), std::string::npos) << result.error_message();
  }
  {
    block_runner runner{json{{"http", {{"allow", {{"tenant-a", {entry}}}}, {"allow_loopback", true}}}}.dump()};
    const auto result = runner.run("http.request", get(url));
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
    EXPECT_EQ(output_of(result).at("status"), 200);
  }
}

// Issue 9, item 10: allow_private also let a tenant reach the worker's own loopback services.
TEST(HttpExecutorTest, AllowPrivateDoesNotCoverLoopback) {
  test_http_server server;
  const std::string entry = "localhost:" + std::to_string(server.port());
  block_runner runner{json{{"http", {{"allow", {{"tenant-a", {entry}}}}, {"allow_private", true}}}}.dump()};
  const auto result =
    runner.run("http.request", get("http://localhost:" + std::to_string(server.port()) + "/json"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("allow_loopback"), std::string::npos) << result.error_message();
  EXPECT_EQ(server.connections(), 0);
}

// Issue 9, item 10: a Host header could reach an internal virtual host on a shared ingress.
TEST(HttpExecutorTest, RefusesHostHopByHopAndProxyHeaders) {
  test_http_server server;
  block_runner runner{config_for(server)};
  for (const char* name : {"Host", "host", "Keep-Alive", "TE", "Trailer", "Proxy-Connection",
                           "Proxy-Authorization", "Proxy-Authenticate", "Connection", "Upgrade",
                           "Transfer-Encoding", "Content-Length"}) {
    const auto result =
      runner.run("http.request", get(server.url("/echo"), {{"headers", {{name, "internal.example"}}}}));
    EXPECT_EQ(result.error_code(), "invalid_input") << name;
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpExecutorTest, AReusedConnectionIsCheckedAgainstTheNextTenantsRules) {
  test_http_server server;
  const std::string port = std::to_string(server.port());
  // tenant-a lists the loopback address explicitly; tenant-b only the name.
  block_runner runner{json{{"http",
                            {{"allow",
                              {{"tenant-a", {"localhost:" + port, "127.0.0.1"}},
                               {"tenant-b", {"localhost:" + port}}}}}}}
                        .dump()};
  const std::string url = "http://localhost:" + port + "/json";
  const auto first = runner.run("http.request", get(url), "tenant-a");
  ASSERT_EQ(first.status(), wire::EXEC_STATUS_OK) << first.error_message();
  const auto second = runner.run("http.request", get(url), "tenant-b");
  EXPECT_EQ(second.error_code(), "permission_denied");
}

TEST(HttpExecutorTest, AbortsASlowResponseAtTheBlockDeadline) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get(server.url("/slow")), "tenant-a", 300);
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
}

TEST(HttpExecutorTest, AbortsASlowResponseAtThePayloadTimeout) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result =
    runner.run("http.request", get(server.url("/slow"), {{"timeout_ms", 200}}));
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_TIMEOUT);
  EXPECT_EQ(result.error_code(), "deadline_exceeded");
  EXPECT_NE(result.error_message().find("200 ms"), std::string::npos) << result.error_message();
}

TEST(HttpExecutorTest, RejectsAnOversizedChunkedBodyWhileReceiving) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result =
    runner.run("http.request", get(server.url("/huge"), {{"max_response_bytes", 100000}}));
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_ERROR);
  EXPECT_EQ(result.error_code(), "resource_unavailable");
  EXPECT_NE(result.error_message().find("max_response_bytes"), std::string::npos);
}

TEST(HttpExecutorTest, RejectsAnOversizedBodyByTheConfiguredLimit) {
  test_http_server server;
  block_runner runner{config_for(server, {{"max_response_bytes", 1 << 20}})};
  // The payload cannot raise the config's limit.
  const auto result = runner.run(
    "http.request", get(server.url("/huge-length"), {{"max_response_bytes", 1 << 30}}));
  EXPECT_EQ(result.error_code(), "resource_unavailable");
}

TEST(HttpExecutorTest, StopsARedirectLoopAtTheLimit) {
  test_http_server server;
  block_runner runner{config_for(server, {{"max_redirects", 3}})};
  const auto result = runner.run("http.request", get(server.url("/loop")));
  EXPECT_EQ(result.error_code(), "resource_unavailable");
  EXPECT_NE(result.error_message().find("more than 3 redirects"), std::string::npos)
    << result.error_message();
}

TEST(HttpExecutorTest, FollowsARedirectWithinTheAllowList) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result =
    runner.run("http.request", get(server.url("/redirect-to/" + server.url("/json"))));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(output_of(result).at("status"), 200);
  EXPECT_EQ(output_of(result).at("url"), server.url("/json"));
  EXPECT_EQ(body_of(result), R"({"hello":"world"})");
}

TEST(HttpExecutorTest, ReturnsTheRedirectWhenNotFollowing) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result =
    runner.run("http.request", get(server.url("/loop"), {{"follow_redirects", false}}));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(output_of(result).at("status"), 302);
  EXPECT_EQ(output_of(result).at("headers").at("location"), "/loop");
}

TEST(HttpExecutorTest, RefusesARedirectToADisallowedHost) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result =
    runner.run("http.request", get(server.url("/redirect-to/http://evil.example/steal")));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("evil.example"), std::string::npos) << result.error_message();
}

TEST(HttpExecutorTest, RefusesCloudMetadataAfterRedirect) {
  test_http_server server;
  // Even a tenant allowed every host name may not reach the metadata address.
  block_runner runner{config_for(server, {{"allow", {{"tenant-a", {"127.0.0.1", "*"}}}}})};
  const auto result = runner.run(
    "http.request",
    get(server.url("/redirect-to/http://169.254.169.254/latest/meta-data/"), {{"timeout_ms", 5000}}));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("link-local or a cloud-metadata"), std::string::npos)
    << result.error_message();
}

TEST(HttpExecutorTest, RefusesMetadataHostNamesUnlessListedByName) {
  block_runner runner{json{{"http", {{"allow", {{"tenant-a", {"*"}}}}}}}.dump()};
  const auto result = runner.run("http.request", get("http://metadata.google.internal/computeMetadata/v1/"));
  EXPECT_EQ(result.error_code(), "permission_denied");
  EXPECT_NE(result.error_message().find("cloud-metadata host"), std::string::npos)
    << result.error_message();
}

TEST(HttpExecutorTest, RefusesARedirectToAnotherScheme) {
  test_http_server server;
  block_runner runner{config_for(server, {{"allow", {{"tenant-a", {"*"}}}}})};
  const auto result =
    runner.run("http.request", get(server.url("/redirect-to/file:///etc/passwd")));
  EXPECT_EQ(result.error_code(), "permission_denied");
}

TEST(HttpExecutorTest, RejectsMalformedPayloads) {
  block_runner runner{R"({"http": {"default_allow": ["*"]}})"};
  for (const std::string& payload :
       {std::string{"not json"}, std::string{R"({"method": "GET"})"},
        std::string{R"({"url": "ftp://example.com/x"})"},
        std::string{R"({"url": "http://a.example/", "headers": {"X": "a\r\nInjected: 1"}})"},
        std::string{R"({"url": "http://a.example/", "body": "a", "body_base64": "YQ=="})"},
        std::string{R"({"url": "http://a.example/", "timeout_ms": -5})"}}) {
    const auto result = runner.run("http.request", payload);
    EXPECT_EQ(result.error_code(), "invalid_input") << payload;
  }
}

// Found by fuzz_http_request: a refusal quoting a percent-decoded host ("%81" is the byte 0x81)
// made an ExecResult whose error_message was not UTF-8, which protobuf refuses to parse.
TEST(HttpExecutorTest, AnErrorQuotingAnInvalidUtf8HostStillDecodes) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get("http://%81.254.example/x"));
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_ERROR);
  EXPECT_FALSE(result.error_code().empty());
  EXPECT_NE(result.error_message().find("\xef\xbf\xbd"), std::string::npos) << result.error_message();
}

TEST(HttpExecutorTest, StreamsBodyChunksInOrderAsTheyArrive) {
  test_http_server server;
  block_runner runner{config_for(server)};
  std::string streamed;
  const auto outcome = runner.run("http.request", get(server.url("/stream")), "tenant-a", 0,
                                  /*stream=*/true, [&](const ExecChunk& chunk) {
                                    if (streamed.empty())
                                      server.first_chunk_seen();
                                    streamed += chunk.data();
                                    return 0;
                                  });
  ASSERT_EQ(outcome.result.status(), wire::EXEC_STATUS_OK) << outcome.result.error_message();
  EXPECT_EQ(streamed, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
  EXPECT_TRUE(server.stream_released_by_client()) << "the first chunk came only after the end";
  ASSERT_GE(outcome.chunks.size(), 2u);
  for (size_t i = 1; i < outcome.chunks.size(); ++i)
    EXPECT_GT(outcome.chunks[i].seq(), outcome.chunks[i - 1].seq());
  const auto out = json::parse(outcome.result.output());
  EXPECT_EQ(out.at("status"), 200);
  EXPECT_EQ(out.at("headers").at("content-type"), "text/event-stream");
  EXPECT_EQ(out.at("body_bytes"), streamed.size());
  EXPECT_FALSE(out.contains("body_base64"));
}

TEST(HttpExecutorTest, AReceiverThatCancelsStopsTheStream) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto outcome = runner.run("http.request", get(server.url("/huge")), "tenant-a", 0,
                                  /*stream=*/true, [](const ExecChunk&) { return 1; });
  EXPECT_EQ(outcome.result.status(), wire::EXEC_STATUS_CANCELLED);
  EXPECT_EQ(outcome.chunks.size(), 1u);
}

TEST(HttpExecutorTest, ReusesTheConnectionForConsecutiveBlocks) {
  test_http_server server;
  block_runner runner{config_for(server)};
  for (int i = 0; i < 3; ++i) {
    const auto result = runner.run("http.request", get(server.url("/json")));
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpExecutorTest, ServesConcurrentBlocksFromManyThreads) {
  test_http_server server;
  block_runner runner{config_for(server)};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        const auto result = runner.run("http.request", get(server.url("/json")));
        if (result.status() == wire::EXEC_STATUS_OK && body_of(result) == R"({"hello":"world"})")
          ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 80);
}

// --- stream_head: the final response's status and headers as the first chunk ---------------------

/// Runs a streamed GET of `url` with stream_head and returns the chunks' data in order.
std::pair<ExecResult, std::vector<std::string>> streamed_with_head(block_runner& runner,
                                                                   test_http_server& server,
                                                                   const std::string& url) {
  std::vector<std::string> data;
  const auto outcome = runner.run("http.request", get(url, {{"stream_head", true}}), "tenant-a", 0,
                                  /*stream=*/true, [&](const ExecChunk& chunk) {
                                    if (data.size() == 1)
                                      server.first_chunk_seen(); // the head, then the first event
                                    data.push_back(chunk.data());
                                    return 0;
                                  });
  for (size_t i = 1; i < outcome.chunks.size(); ++i)
    EXPECT_EQ(outcome.chunks[i].seq(), outcome.chunks[i - 1].seq() + 1);
  return {outcome.result, data};
}

TEST(HttpExecutorTest, StreamHeadComesFirstThenTheBodyInOrder) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto [result, data] = streamed_with_head(runner, server, server.url("/stream"));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  ASSERT_GE(data.size(), 2u);
  ASSERT_EQ(data[0].back(), '\n');
  EXPECT_EQ(data[0].find('\n'), data[0].size() - 1) << "the head is one line";
  const auto head = json::parse(data[0]);
  EXPECT_EQ(head.at("status"), 200);
  EXPECT_EQ(head.at("headers").at("content-type"), "text/event-stream");
  EXPECT_EQ(head.size(), 2u);
  std::string body;
  for (size_t i = 1; i < data.size(); ++i)
    body += data[i];
  EXPECT_EQ(body, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
  EXPECT_TRUE(server.stream_released_by_client()) << "the head and first event came only at the end";
  const auto out = output_of(result);
  EXPECT_EQ(out.at("status"), 200);
  EXPECT_EQ(out.at("body_bytes"), body.size()) << "the head is not counted as body";
}

TEST(HttpExecutorTest, StreamHeadTellsAnErrorStatusBeforeItsBody) {
  test_http_server server;
  block_runner runner{config_for(server)};
  for (const int code : {404, 429, 500, 503}) {
    const auto [result, data] =
      streamed_with_head(runner, server, server.url("/status/" + std::to_string(code)));
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
    ASSERT_EQ(data.size(), 2u);
    const auto head = json::parse(data[0]);
    EXPECT_EQ(head.at("status"), code);
    EXPECT_EQ(head.at("headers").at("x-multi"), "a, b");
    EXPECT_EQ(data[1], "status " + std::to_string(code));
    EXPECT_EQ(output_of(result).at("status"), code);
  }
}

TEST(HttpExecutorTest, StreamHeadIsTheFinalResponsesAfterRedirects) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto [result, data] = streamed_with_head(
    runner, server, server.url("/redirect-to/" + server.url("/redirect-to/" + server.url("/status/429"))));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  ASSERT_EQ(data.size(), 2u) << "one head only: the redirects' heads and bodies are not sent";
  EXPECT_EQ(json::parse(data[0]).at("status"), 429);
  EXPECT_EQ(data[1], "status 429");
}

TEST(HttpExecutorTest, StreamHeadOfARedirectNotFollowedIsTheRedirect) {
  test_http_server server;
  block_runner runner{config_for(server)};
  std::vector<std::string> data;
  const auto outcome = runner.run(
    "http.request", get(server.url("/loop"), {{"stream_head", true}, {"follow_redirects", false}}),
    "tenant-a", 0, true, [&](const ExecChunk& chunk) {
      data.push_back(chunk.data());
      return 0;
    });
  ASSERT_EQ(outcome.result.status(), wire::EXEC_STATUS_OK) << outcome.result.error_message();
  ASSERT_EQ(data.size(), 2u);
  const auto head = json::parse(data[0]);
  EXPECT_EQ(head.at("status"), 302);
  EXPECT_EQ(head.at("headers").at("location"), "/loop");
}

TEST(HttpExecutorTest, StreamHeadIsIgnoredWhenTheBlockIsNotStreamed) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get(server.url("/json"), {{"stream_head", true}}));
  ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  EXPECT_EQ(body_of(result), R"({"hello":"world"})");
}

TEST(HttpExecutorTest, StreamHeadMustBeABoolean) {
  test_http_server server;
  block_runner runner{config_for(server)};
  const auto result = runner.run("http.request", get(server.url("/json"), {{"stream_head", 1}}));
  EXPECT_EQ(result.error_code(), "invalid_input");
  EXPECT_NE(result.error_message().find("stream_head"), std::string::npos);
}

} // namespace
