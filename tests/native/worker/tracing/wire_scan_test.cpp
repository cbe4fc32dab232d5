// Reading ExecRequest/ExecResult fields without decoding, and appending the worker's timings
// (worker-native/worker/src/tracing/wire_scan.*), held against the generated protobuf code.

#include "tracing/wire_scan.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace v2 = beamline::worker::v2;
using beamline::worker::append_timings;
using beamline::worker::scan_request;
using beamline::worker::scan_result;

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(WireScanTest, ReadsTheRequestsIdsAroundEveryOtherField) {
  v2::ExecRequest req;
  req.set_block_id("blk-1");
  req.set_tenant_id("t");
  req.set_type("echo");
  req.set_payload(std::string(70'000, 'x')); // a length prefix of three bytes
  req.mutable_resources()->set_cpu(2);
  req.set_deadline_ms(1234);
  req.set_stream(true);
  req.set_pool("cpu");
  req.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  (*req.mutable_metadata())["k"] = "v";
  const auto wire = req.SerializeAsString();

  const auto fields = scan_request(bytes(wire), wire.size());

  EXPECT_EQ(fields.block_id, "blk-1");
  EXPECT_EQ(fields.type, "echo");
  EXPECT_EQ(fields.pool, "cpu");
  EXPECT_EQ(fields.traceparent, req.traceparent());
  EXPECT_EQ(fields.deadline_ms, 1234u);
}

TEST(WireScanTest, StopsAtMalformedBytesKeepingWhatItRead) {
  v2::ExecRequest req;
  req.set_block_id("blk-2");
  auto wire = req.SerializeAsString();
  wire += "\x22\xff"; // field 4, a length running past the end

  const auto fields = scan_request(bytes(wire), wire.size());

  EXPECT_EQ(fields.block_id, "blk-2");
  EXPECT_TRUE(fields.traceparent.empty());
}

TEST(WireScanTest, AppendedTimingsDecodeAsTheNewFields) {
  v2::ExecResult result;
  result.set_block_id("blk-3");
  result.set_status(v2::EXEC_STATUS_ERROR);
  result.set_error_code("invalid_input");
  result.set_latency_us(5);
  auto wire = result.SerializeAsString();

  append_timings(wire, 300, 1ull << 40);

  v2::ExecResult decoded;
  ASSERT_TRUE(decoded.ParseFromString(wire));
  EXPECT_EQ(decoded.block_id(), "blk-3");
  EXPECT_EQ(decoded.queue_us(), 300u);
  EXPECT_EQ(decoded.exec_us(), 1ull << 40);
  const auto fields = scan_result(bytes(wire), wire.size());
  EXPECT_EQ(fields.status, static_cast<uint64_t>(v2::EXEC_STATUS_ERROR));
  EXPECT_EQ(fields.error_code, "invalid_input");
}

} // namespace
