#include "dedupe/block_rules.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace beamline::worker::dedupe {
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

TEST(BlockDedupe, KeysAreValidAndNoTwoTenantBlockPairsShareOne) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"tenant-a", "b1"}, {"tenant-b", "b1"}, {"tenant-a", "b2"}, {"", "b1"},      {"a.b", "c"},
      {"a", "b.c"},       {"a.b.c", ""},      {"x", "61"},         {"ü", "*>"},     {"t", "x.61"},
      {"tenant-a.b1", ""}, {"tenant-a", "x.62312e"}};
  std::set<std::string> keys;
  for (const auto& [tenant, block] : pairs) {
    const auto key = block_result_key(tenant, block);
    EXPECT_TRUE(valid_kv_key(key)) << key;
    EXPECT_TRUE(keys.insert(key).second) << "shared key " << key;
    EXPECT_TRUE(valid_kv_key(block_claim_key(tenant, block)));
  }
}

TEST(BlockDedupe, TheTenantIsPartOfEveryKey) {
  EXPECT_EQ(block_result_key("tenant-a", "b1"), "result.t74656e616e742d61.b1");
  EXPECT_EQ(block_claim_key("tenant-a", "b1"), "claim.t74656e616e742d61.b1");
  EXPECT_NE(block_result_key("tenant-a", "b1"), block_result_key("tenant-b", "b1"));
  // The tenant part has no dot, so no tenant name can reach into another tenant's keys.
  EXPECT_EQ(tenant_key_part("a.b").find('.'), std::string::npos);
}

TEST(BlockDedupe, AClaimIsLostOnceItsBlocksDeadlineAndTheGraceHavePassed) {
  EXPECT_EQ(claim_stale_at(1000, 3000, 300'000, 500), 4500);
  EXPECT_EQ(claim_stale_at(1000, 0, 300'000, 500), 301'500);  // no deadline: the stand-in
}

TEST(BlockDedupe, ClaimRoundTripsWithItsStaleTime) {
  claim c;
  c.worker_id = "w-1";
  c.claimed_at_ms = 1700000000000;
  c.stale_at_ms = 1700000005000;
  const auto decoded = decode_claim(encode_claim(c));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->worker_id, "w-1");
  EXPECT_EQ(decoded->claimed_at_ms, 1700000000000);
  EXPECT_EQ(decoded->stale_at_ms, 1700000005000);
  EXPECT_FALSE(decode_claim("not json"));
  EXPECT_FALSE(decode_claim(R"({"claimed_at":1})"));
}

TEST(BlockDedupe, ASecondRequestRepliesTheStoredResultWhateverTheClaimSays) {
  claim stale{"w-1", 0, 10};
  EXPECT_EQ(on_block_claimed(true, stale, 100, 50), block_step::reply_stored);
  EXPECT_EQ(on_block_claimed(true, std::nullopt, 100, 0), block_step::reply_stored);
}

TEST(BlockDedupe, ALiveClaimIsWaitedForUntilThisRequestsDeadline) {
  const claim live{"w-1", 0, 10'000};
  EXPECT_EQ(on_block_claimed(false, live, 100, 5000), block_step::wait);
  EXPECT_EQ(on_block_claimed(false, live, 100, 0), block_step::wait);
  EXPECT_EQ(on_block_claimed(false, live, 5000, 5000), block_step::answer_deadline);
}

TEST(BlockDedupe, NoClaimAndNoResult_IsClaimedAgain) {
  // This request's create failed (NATS away) and nobody else claimed it: nothing ran.
  EXPECT_EQ(on_block_claimed(false, std::nullopt, 100, 5000), block_step::claim_again);
  EXPECT_EQ(on_block_claimed(false, std::nullopt, 100, 0), block_step::claim_again);
}

TEST(BlockDedupe, AStaleClaimWithoutAResultIsWorkerLost_NeverARunAgain) {
  const claim live{"w-1", 0, 10'000};
  EXPECT_EQ(on_block_claimed(false, live, 10'000, 20'000), block_step::answer_lost);
  // Lost wins over this request's own deadline: the answer says what is known.
  EXPECT_EQ(on_block_claimed(false, live, 10'000, 5'000), block_step::answer_lost);
}

TEST(BlockDedupe, IdempotentTypesAreSharedWithCp1) {
  EXPECT_EQ(idempotent_types(std::nullopt).count("sql.exec"), 0u);
  EXPECT_EQ(idempotent_types(std::nullopt).count("fs.read"), 1u);
  EXPECT_TRUE(idempotent_types(std::string{"none"}).empty());
}

}  // namespace
}  // namespace beamline::worker::dedupe
