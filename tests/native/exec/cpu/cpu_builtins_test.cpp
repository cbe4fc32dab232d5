// The CPU built-ins: cpu.hash, cpu.compress / cpu.decompress, cpu.regex_scan.

#include "block_runner.hpp"
#include "detail/base64.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <chrono>
#include <random>
#include <string>

namespace {

using beamline::exec::detail::base64_decode;
using beamline::exec::detail::base64_encode;
using beamline::test::block_runner;
using beamline::test::wire::ExecChunk;
namespace wire = beamline::test::wire;
using json = nlohmann::json;

std::string hash_of(block_runner& runner, const json& payload) {
  const auto result = runner.run("cpu.hash", payload.dump());
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  return json::parse(result.output()).at("hex").get<std::string>();
}

TEST(CpuHashTest, Sha256MatchesKnownVectors) {
  block_runner runner;
  EXPECT_EQ(hash_of(runner, {{"algorithm", "sha256"}, {"data", "abc"}}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_of(runner, {{"algorithm", "sha256"}, {"data", ""}}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hash_of(runner, {{"algorithm", "sha256"},
                             {"data", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"}}),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // The default algorithm is sha256, and data_base64 carries the same bytes.
  EXPECT_EQ(hash_of(runner, {{"data_base64", base64_encode("abc")}}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CpuHashTest, Sha256OfAMillionAs) {
  block_runner runner;
  EXPECT_EQ(hash_of(runner, {{"algorithm", "sha256"}, {"data", std::string(1'000'000, 'a')}}),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CpuHashTest, FastHashesMatchKnownVectors) {
  block_runner runner;
  EXPECT_EQ(hash_of(runner, {{"algorithm", "fnv1a64"}, {"data", ""}}), "cbf29ce484222325");
  EXPECT_EQ(hash_of(runner, {{"algorithm", "fnv1a64"}, {"data", "a"}}), "af63dc4c8601ec8c");
  EXPECT_EQ(hash_of(runner, {{"algorithm", "xxh64"}, {"data", ""}}), "ef46db3751d8e999");
  EXPECT_EQ(hash_of(runner, {{"algorithm", "xxh64"}, {"data", "abc"}}), "44bc2cf5ad770999");
  EXPECT_NE(hash_of(runner, {{"algorithm", "xxh64"}, {"data", "abc"}, {"seed", 1}}),
            "44bc2cf5ad770999");
}

TEST(CpuHashTest, RejectsUnknownAlgorithmsAndBadInput) {
  block_runner runner;
  for (const std::string& payload :
       {std::string{R"({"algorithm": "md5", "data": "x"})"}, std::string{R"({"algorithm": "sha256"})"},
        std::string{R"({"data": "x", "data_base64": "eA=="})"}, std::string{R"({"data_base64": "!!"})"},
        std::string{"raw bytes"}}) {
    EXPECT_EQ(runner.run("cpu.hash", payload).error_code(), "invalid_input") << payload;
  }
}

std::string compress(block_runner& runner, const std::string& data, const std::string& format) {
  const auto result = runner.run(
    "cpu.compress", json{{"format", format}, {"data_base64", base64_encode(data)}}.dump());
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  return result.output();
}

TEST(CpuCompressTest, RoundTripsEveryFormat) {
  block_runner runner;
  std::string data;
  for (int i = 0; i < 20000; ++i)
    data += "line " + std::to_string(i % 97) + "\n";
  for (const std::string format : {"zlib", "gzip", "raw"}) {
    const std::string packed = compress(runner, data, format);
    EXPECT_LT(packed.size(), data.size() / 4) << format;
    const auto result = runner.run(
      "cpu.decompress", json{{"format", format}, {"data_base64", base64_encode(packed)}}.dump());
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << format << ": " << result.error_message();
    EXPECT_EQ(result.output(), data) << format;
  }
}

TEST(CpuCompressTest, AutoDetectsZlibAndGzipAndReadsWhatZlibWrote) {
  block_runner runner;
  const std::string data = "hello, hello, hello, hello";
  // Compressed by zlib directly, not by the executor.
  uLongf len = compressBound(static_cast<uLong>(data.size()));
  std::string packed(len, '\0');
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(packed.data()), &len,
                      reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()), 9),
            Z_OK);
  packed.resize(len);
  for (const std::string& input : {packed, compress(runner, data, "gzip")}) {
    const auto result =
      runner.run("cpu.decompress", json{{"data_base64", base64_encode(input)}}.dump());
    ASSERT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
    EXPECT_EQ(result.output(), data);
  }
}

TEST(CpuCompressTest, StopsADecompressionBombAtTheOutputLimit) {
  block_runner runner{R"({"cpu": {"max_output_bytes": 1048576}})"};
  const std::string bomb = compress(runner, std::string(size_t{16} << 20, '\0'), "zlib");
  EXPECT_LT(bomb.size(), size_t{128} << 10);
  // The config's limit holds even when the payload asks for more.
  auto result = runner.run(
    "cpu.decompress",
    json{{"data_base64", base64_encode(bomb)}, {"max_output_bytes", uint64_t{1} << 40}}.dump());
  EXPECT_EQ(result.error_code(), "resource_unavailable");
  EXPECT_NE(result.error_message().find("max_output_bytes"), std::string::npos);
  EXPECT_TRUE(result.output().empty());
  // And the payload may lower it.
  result = runner.run("cpu.decompress",
                      json{{"data_base64", base64_encode(compress(runner, std::string(5000, 'a'), "zlib"))},
                           {"max_output_bytes", 4999}}
                        .dump());
  EXPECT_EQ(result.error_code(), "resource_unavailable");
}

TEST(CpuCompressTest, RejectsCorruptTruncatedAndTrailingData) {
  block_runner runner;
  const std::string packed = compress(runner, std::string(10000, 'q') + "tail", "zlib");
  for (const std::string& input :
       {std::string{"definitely not zlib"}, packed.substr(0, packed.size() / 2), packed + "junk"}) {
    const auto result =
      runner.run("cpu.decompress", json{{"format", "zlib"}, {"data_base64", base64_encode(input)}}.dump());
    EXPECT_EQ(result.error_code(), "invalid_input") << result.error_message();
  }
}

TEST(CpuCompressTest, StreamsDecompressedChunks) {
  block_runner runner;
  const std::string data(size_t{1} << 20, 'z');
  const std::string packed = compress(runner, data, "gzip");
  std::string streamed;
  const auto outcome = runner.run(
    "cpu.decompress", json{{"data_base64", base64_encode(packed)}}.dump(), "tenant-a", 0, true,
    [&](const ExecChunk& c) {
      streamed += c.data();
      return 0;
    });
  ASSERT_EQ(outcome.result.status(), wire::EXEC_STATUS_OK) << outcome.result.error_message();
  EXPECT_EQ(streamed, data);
  EXPECT_GT(outcome.chunks.size(), 1u);
}

json scan(block_runner& runner, const json& payload) {
  const auto result = runner.run("cpu.regex_scan", payload.dump());
  EXPECT_EQ(result.status(), wire::EXEC_STATUS_OK) << result.error_message();
  return result.status() == wire::EXEC_STATUS_OK ? json::parse(result.output()) : json{};
}

TEST(CpuRegexScanTest, ReportsByteOffsetsInOrderOfPosition) {
  block_runner runner;
  const std::string text = "mail ann@example.com or bob@example.org, call 555-1234";
  const auto out = scan(runner, {{"patterns",
                                  {{{"name", "email"}, {"pattern", R"([\w.]+@[\w.]+\.\w+)"}},
                                   R"(\d{3}-\d{4})"}},
                                 {"data", text}});
  ASSERT_EQ(out.at("matches").size(), 3u);
  EXPECT_FALSE(out.at("truncated").get<bool>());
  const auto& m = out.at("matches");
  EXPECT_EQ(m[0].at("name"), "email");
  EXPECT_EQ(m[0].at("pattern"), 0);
  EXPECT_EQ(text.substr(m[0].at("start"), m[0].at("end").get<size_t>() - m[0].at("start").get<size_t>()),
            "ann@example.com");
  EXPECT_EQ(m[1].at("start"), text.find("bob@"));
  EXPECT_EQ(m[2].at("pattern"), 1);
  EXPECT_FALSE(m[2].contains("name"));
  EXPECT_EQ(m[2].at("start"), text.find("555"));
  EXPECT_EQ(m[2].at("end"), text.size());
}

TEST(CpuRegexScanTest, OffsetsAreBytesInUtf8Text) {
  block_runner runner;
  const std::string text = "\xc3\xa9t\xc3\xa9 42"; // "été 42"
  const auto out = scan(runner, {{"patterns", {R"(\d+)", "t"}}, {"data", text}});
  ASSERT_EQ(out.at("matches").size(), 2u);
  EXPECT_EQ(out.at("matches")[0].at("start"), 2);
  EXPECT_EQ(out.at("matches")[1].at("start"), 6);
  EXPECT_EQ(out.at("matches")[1].at("end"), 8);
}

TEST(CpuRegexScanTest, CapsMatchesKeepingTheFirst) {
  block_runner runner{R"({"cpu": {"max_matches": 50}})"};
  const auto out = scan(runner, {{"patterns", {"a", "b"}}, {"data", std::string(100, 'a') + "b"}, {"max_matches", 1000}});
  EXPECT_EQ(out.at("matches").size(), 50u);
  EXPECT_TRUE(out.at("truncated").get<bool>());
  EXPECT_EQ(out.at("matches")[49].at("start"), 49);
}

TEST(CpuRegexScanTest, SkipsEmptyMatchesAndHonoursCaseInsensitivity) {
  block_runner runner;
  const auto out = scan(runner, {{"patterns", {"x*", "SECRET"}}, {"data", "a secret xx"}, {"case_insensitive", true}});
  ASSERT_EQ(out.at("matches").size(), 2u);
  EXPECT_EQ(out.at("matches")[0].at("start"), 2);
  EXPECT_EQ(out.at("matches")[1].at("start"), 9);
  EXPECT_EQ(out.at("matches")[1].at("end"), 11);
}

TEST(CpuRegexScanTest, HandlesPathologicalPatternsInLinearTime) {
  block_runner runner;
  // Catastrophic for a backtracking engine; linear for RE2.
  const auto out = scan(runner, {{"patterns", {"(a+)+$"}}, {"data", std::string(100000, 'a') + "!"}});
  EXPECT_EQ(out.at("matches").size(), 0u);
}

TEST(CpuRegexScanTest, RejectsInvalidPatternsAndBackreferences) {
  block_runner runner;
  for (const json& patterns : {json{"("}, json{R"((a)\1)"}, json::array(), json{42}}) {
    const auto result =
      runner.run("cpu.regex_scan", json{{"patterns", patterns}, {"data", "aa"}}.dump());
    EXPECT_EQ(result.error_code(), "invalid_input") << patterns.dump();
  }
}

// Issue 9, item 2: one pattern whose DFA outgrows its memory falls back to RE2's NFA, which over
// megabytes runs for minutes; the deadline was only looked at between RE2 calls.
TEST(CpuRegexScanTest, StopsAnExpensivePatternNearTheDeadline) {
  block_runner runner;
  std::string text;
  std::mt19937 random{7};
  while (text.size() < (size_t{8} << 20))
    text += "abcdefghij klmnopqrstuvwxyz0123456789"[random() % 37];
  const auto started = std::chrono::steady_clock::now();
  const auto result = runner.run("cpu.regex_scan",
                                 json{{"patterns", {R"((\w+\s?){300}Z)"}}, {"data", text}}.dump(),
                                 "tenant-a", /*deadline_ms=*/1000);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.error_code(), "deadline_exceeded") << result.error_message();
  // Not a performance figure: unbounded, this scan runs for over a minute.
  EXPECT_LT(took, std::chrono::seconds{15});
}

TEST(CpuRegexScanTest, TheEmptyMatchLoopStopsAtTheDeadline) {
  block_runner runner;
  // Every position is an empty match of x*: eight million RE2 calls without a match to report.
  const auto result =
    runner.run("cpu.regex_scan", json{{"patterns", {"x*"}}, {"data", std::string(size_t{16} << 20, 'a')}}.dump(),
               "tenant-a", /*deadline_ms=*/300);
  EXPECT_EQ(result.error_code(), "deadline_exceeded") << result.error_message();
}

TEST(CpuRegexScanTest, RefusesPatternsTimesBytesOverTheWorkLimit) {
  block_runner runner{R"({"cpu": {"regex_max_work_bytes": 1000}})"};
  EXPECT_EQ(scan(runner, {{"patterns", {"a", "b"}}, {"data", std::string(500, 'a')}}).at("matches").size(), 500u);
  const auto result =
    runner.run("cpu.regex_scan", json{{"patterns", {"a", "b"}}, {"data", std::string(501, 'a')}}.dump());
  EXPECT_EQ(result.error_code(), "invalid_input");
  EXPECT_NE(result.error_message().find("regex_max_work_bytes"), std::string::npos) << result.error_message();
}

TEST(CpuRegexScanTest, RefusesAPatternOverTheProgramSizeLimit) {
  block_runner runner{R"({"cpu": {"regex_max_program_size": 100}})"};
  EXPECT_EQ(scan(runner, {{"patterns", {"a{50}"}}, {"data", std::string(60, 'a')}}).at("matches").size(), 1u);
  const auto result = runner.run("cpu.regex_scan", json{{"patterns", {"a{200}"}}, {"data", "a"}}.dump());
  EXPECT_EQ(result.error_code(), "invalid_input");
  EXPECT_NE(result.error_message().find("regex_max_program_size"), std::string::npos) << result.error_message();
}

// Windows of a few bytes (regex_chunk_bytes) overlapping by regex_max_match_bytes find what one
// search over the whole text finds, for every match up to that length: at window edges too, with
// anchors, word boundaries, alternations that prefer a longer match, and empty matches.
TEST(CpuRegexScanTest, FindsMatchesAcrossWindowBoundariesExactly) {
  block_runner whole;
  block_runner windowed{R"({"cpu": {"regex_chunk_bytes": 7, "regex_max_match_bytes": 24}})"};
  const json patterns = {R"(\b\w{3,9}\b)", "ab|abcabcab", R"(\d+(?:\.\d+)?)", "(?m)^x+$", "(?m)^a",
                         "z$", "y*", R"(\s{2,})", "[a-c]+c"};
  std::mt19937 random{42};
  for (int round = 0; round < 40; ++round) {
    std::string text;
    const size_t size = 1 + random() % 600;
    while (text.size() < size)
      text += "abcxyz 0123.\n  "[random() % 16];
    const json payload{{"patterns", patterns}, {"data", text}, {"max_matches", 10000}};
    const json expected = scan(whole, payload);
    for (const auto& m : expected.at("matches"))
      ASSERT_LE(m.at("end").get<size_t>() - m.at("start").get<size_t>(), 24u) << "a longer match: pick other patterns";
    EXPECT_EQ(scan(windowed, payload), expected) << text;
  }
}

} // namespace
