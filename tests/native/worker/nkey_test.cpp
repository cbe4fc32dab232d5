// The public key of an NKey user seed (nats.c wants it beside the seed file).

#include "nkey.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

using beamline::worker::nkey_public_key;
using beamline::worker::nkey_public_key_of_file;

// A pair from nats.c's own tests (test/test.c), checked there against nats-server.
constexpr const char* seed = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
constexpr const char* public_key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

TEST(NKeyTest, DerivesTheUsersPublicKeyFromItsSeed) {
  const auto r = nkey_public_key(seed);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.public_key, public_key);
}

TEST(NKeyTest, RefusesWhatIsNotAUserSeedWithoutQuotingIt) {
  std::string bad_crc = seed;
  bad_crc.back() = bad_crc.back() == 'A' ? 'B' : 'A';
  for (const std::string& text :
       {bad_crc, std::string{public_key}, std::string{"SU"}, std::string{"su"} + (seed + 2), std::string{}}) {
    const auto r = nkey_public_key(text);
    EXPECT_TRUE(r.public_key.empty()) << text;
    EXPECT_FALSE(r.error.empty()) << text;
    if (text.size() > 2) {  // "SU" itself is in the message
      EXPECT_EQ(r.error.find(text), std::string::npos) << r.error;
    }
  }
}

TEST(NKeyTest, ReadsTheSeedLineOfAFileAsNatsCDoes) {
  const std::string path = ::testing::TempDir() + "worker-" + std::to_string(::getpid()) + ".nk";
  std::ofstream{path} << "-----BEGIN USER NKEY SEED-----\n  \t" << seed << "\r\n-----END-----\n";
  EXPECT_EQ(nkey_public_key_of_file(path).public_key, public_key);
  std::ofstream{path} << "no seed here\n";
  EXPECT_NE(nkey_public_key_of_file(path).error.find("no NKey user seed"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_NE(nkey_public_key_of_file(path).error.find("cannot open"), std::string::npos);
}

}  // namespace
