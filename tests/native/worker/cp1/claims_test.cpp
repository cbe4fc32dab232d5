#include "cp1/claims.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beamline::worker::cp1 {
namespace {

bool valid_kv_key(const std::string& key) {
  if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
    return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '/' || c == '=' || c == '.';
    if (!ok) return false;
  }
  return true;
}

TEST(Cp1Claims, PlainIdsAreTheirOwnKeyPart) {
  EXPECT_EQ(kv_key_part("3f2a9c1e-0b7d-4e6a-9f00-1234567890ab"), "3f2a9c1e-0b7d-4e6a-9f00-1234567890ab");
  EXPECT_EQ(result_key("a_1"), "result.a_1");
  EXPECT_EQ(claim_key("a_1"), "claim.a_1");
}

TEST(Cp1Claims, OtherIdsAreHexEncodedIntoValidDistinctKeys) {
  const std::vector<std::string> ids = {
      "a.b", "a b", "a*>", "ü", ".", "..", "x.61", "", std::string(1, '\0')};
  for (const auto& id : ids) {
    const auto key = result_key(id);
    EXPECT_TRUE(valid_kv_key(key)) << key;
    EXPECT_NE(key, result_key("a")) << id;
  }
  EXPECT_EQ(kv_key_part("a.b"), "x.612e62");
  // An id that looks like an encoded one is itself encoded: no two ids share a key.
  EXPECT_NE(kv_key_part("x.612e62"), kv_key_part("a.b"));
  EXPECT_NE(kv_key_part(""), kv_key_part("empty"));
}

TEST(Cp1Claims, ClaimRoundTripsItsWorker) {
  const auto claim = encode_claim("w-1", 1700000000000);
  EXPECT_EQ(claim_holder(claim), "w-1");
  EXPECT_EQ(claim_holder("not json"), std::nullopt);
  EXPECT_EQ(claim_holder(R"({"worker_id":3})"), std::nullopt);
  EXPECT_EQ(claim_holder(R"({"status":"success"})"), std::nullopt);
}

TEST(Cp1Claims, ReadsAreIdempotentWritesAreNot) {
  const auto& types = default_idempotent_types();
  for (const char* read : {"echo", "fs.read", "fs.stat", "fs.list", "cpu.hash", "debug.sleep"})
    EXPECT_EQ(types.count(read), 1U) << read;
  for (const char* write : {"fs.write", "fs.append", "fs.delete", "fs.mkdir", "sql.exec", "http.request",
                            "chat", "example.wordcount"})
    EXPECT_EQ(types.count(write), 0U) << write;
}

TEST(Cp1Claims, IdempotentTypesCanBeConfigured) {
  EXPECT_EQ(idempotent_types(std::nullopt), default_idempotent_types());
  EXPECT_TRUE(idempotent_types(std::string{"none"}).empty());
  EXPECT_TRUE(idempotent_types(std::string{""}).empty());
  const auto types = idempotent_types(std::string{"echo, http.request,,"});
  EXPECT_EQ(types.size(), 2U);
  EXPECT_EQ(types.count("http.request"), 1U);
}

TEST(Cp1Claims, AClaimWithoutAResult) {
  // Still running here (a redelivery after a missed ack wait): wait for it, whatever the type.
  EXPECT_EQ(on_claimed(true, false), claimed_step::wait_running);
  EXPECT_EQ(on_claimed(true, true), claimed_step::wait_running);
  // Its worker is gone: only an idempotent block runs again.
  EXPECT_EQ(on_claimed(false, true), claimed_step::run_again);
  EXPECT_EQ(on_claimed(false, false), claimed_step::answer_lost);
}

TEST(Cp1Claims, AClaimWhoseWorkerMayStillAnswerIsWaitedFor) {
  // Another worker's claim that is not stale: wait for its result, whatever the type...
  EXPECT_EQ(on_claimed(false, false, true, false), claimed_step::wait_holder);
  EXPECT_EQ(on_claimed(false, true, true, false), claimed_step::wait_holder);
  // ...unless this is the last delivery, which cannot be put back.
  EXPECT_EQ(on_claimed(false, false, true, true), claimed_step::answer_lost);
  EXPECT_EQ(on_claimed(false, true, true, true), claimed_step::run_again);
  // Running here is still running here.
  EXPECT_EQ(on_claimed(true, false, true, false), claimed_step::wait_running);
}

TEST(Cp1Claims, AClaimGoesStaleAtItsDeadlinePlusTheGrace) {
  EXPECT_EQ(claim_stale_at(1'000, 5'000, 30'000), 36'000);
  EXPECT_EQ(claim_stale_at(1'000, 0, 30'000), 61'000);  // no deadline: one grace to run
  const auto live = encode_claim("w-1", 1'000, 36'000);
  EXPECT_TRUE(claim_live(live, 35'999));
  EXPECT_FALSE(claim_live(live, 36'000));
  EXPECT_FALSE(claim_live(encode_claim("w-1", 1'000), 2'000));  // a claim without a stale time
  EXPECT_FALSE(claim_live("not json", 2'000));
  // Put back until stale (and a little more), within the bounds.
  EXPECT_EQ(wait_for_claim_ms(live, 35'000, 30'000), 1'100);
  EXPECT_EQ(wait_for_claim_ms(live, 1'000, 5'000), 5'000);
  EXPECT_EQ(wait_for_claim_ms(live, 36'000, 5'000), 100);
}

TEST(Cp1Claims, RefusalsRetryUntilTheLastDelivery) {
  EXPECT_EQ(on_refused(1, 5), refused_step::retry);
  EXPECT_EQ(on_refused(4, 5), refused_step::retry);
  EXPECT_EQ(on_refused(5, 5), refused_step::give_up);
  EXPECT_EQ(on_refused(6, 5), refused_step::give_up);
  EXPECT_EQ(on_refused(1, 1), refused_step::give_up);
  EXPECT_EQ(on_refused(1000, -1), refused_step::retry);  // unlimited
}

}  // namespace
}  // namespace beamline::worker::cp1
