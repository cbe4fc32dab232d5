// W3C traceparent parsing and formatting (worker-native/worker/src/tracing/trace_context.*).

#include "tracing/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using beamline::worker::format_traceparent;
using beamline::worker::new_span_id;
using beamline::worker::parse_traceparent;
using beamline::worker::to_hex;

constexpr const char* example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesTheSpecificationsExample) {
  const auto ctx = parse_traceparent(example);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(to_hex(ctx->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(ctx->parent_span_id), "00f067aa0ba902b7");
  EXPECT_EQ(ctx->flags, 0x01);
  EXPECT_TRUE(ctx->sampled());
}

TEST(TraceparentTest, NotSampledWithoutFlag01) {
  const auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(ctx);
  EXPECT_FALSE(ctx->sampled());
}

TEST(TraceparentTest, RefusesMalformedValues) {
  for (const char* bad : {
         "",
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 is exactly 55
         "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
         "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
         "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
         "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
         "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
         "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",   // flags not hex
         "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // a later version: '-' next
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(TraceparentTest, ReadsTheFirstFieldsOfALaterVersion) {
  const auto ctx = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(to_hex(ctx->parent_span_id), "00f067aa0ba902b7");
}

TEST(TraceparentTest, FormatsAChildInTheSameTrace) {
  const auto parent = parse_traceparent(example);
  ASSERT_TRUE(parent);
  const auto child = new_span_id();
  const auto text = format_traceparent(*parent, child);

  EXPECT_EQ(text, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + to_hex(child) + "-01");
  const auto round_trip = parse_traceparent(text);
  ASSERT_TRUE(round_trip);
  EXPECT_EQ(round_trip->trace_id, parent->trace_id);
  EXPECT_EQ(round_trip->parent_span_id, child);
}

TEST(TraceparentTest, NewSpanIdsAreNonZeroAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = to_hex(new_span_id());
    EXPECT_NE(id, "0000000000000000");
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

} // namespace
