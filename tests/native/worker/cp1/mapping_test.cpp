// How a CP1 ExecAssignment becomes a block: type, payload, pool, ids, deadline.

#include "cp1/mapping.hpp"

#include <beamline/worker/v2/exec.pb.h>

#include <gtest/gtest.h>

namespace {

using namespace beamline::worker::cp1;
namespace v2 = beamline::worker::v2;

exec_assignment assignment(const std::string& type) {
  exec_assignment a;
  a.assignment_id = "a-1";
  a.request_id = "r-1";
  a.tenant_id = "tenant-a";
  a.trace_id = "t-1";
  a.job_type = type;
  a.payload = R"({"url":"http://example.com"})";
  a.deadline_ms = 2500;
  return a;
}

TEST(Cp1MappingTest, BuildsTheExecRequest) {
  const auto r = map_assignment(assignment("http.request"), {"cpu", "io"});
  ASSERT_TRUE(r.plan) << r.error;
  EXPECT_EQ(r.plan->pool, "io");
  v2::ExecRequest req;
  ASSERT_TRUE(req.ParseFromString(r.plan->request));
  EXPECT_EQ(req.block_id(), "a-1");
  EXPECT_EQ(req.tenant_id(), "tenant-a");
  EXPECT_EQ(req.type(), "http.request");
  EXPECT_EQ(req.payload(), R"({"url":"http://example.com"})");
  EXPECT_EQ(req.deadline_ms(), 2500u);
  EXPECT_EQ(req.pool(), "io");
  EXPECT_FALSE(req.stream());
  EXPECT_EQ(req.metadata().at("cp1.request_id"), "r-1");
  EXPECT_EQ(req.metadata().at("cp1.trace_id"), "t-1");
}

TEST(Cp1MappingTest, ChoosesThePoolByTypeFamily) {
  EXPECT_EQ(family_pool("http.request"), "io");
  EXPECT_EQ(family_pool("fs.read"), "io");
  EXPECT_EQ(family_pool("sql.query"), "io");
  EXPECT_EQ(family_pool("gpu.device_info"), "gpu");
  EXPECT_EQ(family_pool("echo"), "cpu");
  EXPECT_EQ(family_pool("cpu.hash"), "cpu");
  EXPECT_EQ(family_pool("example.wordcount"), "cpu");
}

TEST(Cp1MappingTest, FallsBackToCpuThenTheFirstPool) {
  EXPECT_EQ(map_assignment(assignment("fs.read"), {"cpu", "gpu"}).plan->pool, "cpu");
  EXPECT_EQ(map_assignment(assignment("fs.read"), {"custom", "gpu"}).plan->pool, "custom");
  EXPECT_EQ(map_assignment(assignment("echo"), {"io"}).plan->pool, "io");
}

TEST(Cp1MappingTest, GpuBlocksNeverFallBackToACpuPool) {
  const auto r = map_assignment(assignment("gpu.device_info"), {"cpu", "io"});
  EXPECT_FALSE(r.plan);
  EXPECT_NE(r.error.find("gpu"), std::string::npos);
  EXPECT_EQ(map_assignment(assignment("gpu.device_info"), {"cpu", "gpu"}).plan->pool, "gpu");
}

TEST(Cp1MappingTest, AnExplicitPoolMustBeOffered) {
  auto a = assignment("echo");
  a.pool = "io";
  EXPECT_EQ(map_assignment(a, {"cpu", "io"}).plan->pool, "io");
  a.pool = "sandbox";
  const auto r = map_assignment(a, {"cpu", "io"});
  EXPECT_FALSE(r.plan);
  EXPECT_NE(r.error.find("sandbox"), std::string::npos);
  EXPECT_FALSE(map_assignment(assignment("echo"), {}).plan);
}

TEST(Cp1MappingTest, DecodedAssignmentMapsEndToEnd) {
  const auto d = decode_assignment(R"({"assignment_id":"x","request_id":"y","tenant_id":"t",
    "job":{"type":"echo","payload":"hello"},"options":{"pool":"cpu","deadline_ms":10}})");
  ASSERT_TRUE(d.assignment) << d.error;
  const auto r = map_assignment(*d.assignment, {"cpu"});
  ASSERT_TRUE(r.plan);
  v2::ExecRequest req;
  ASSERT_TRUE(req.ParseFromString(r.plan->request));
  EXPECT_EQ(req.payload(), "hello");
  EXPECT_EQ(req.deadline_ms(), 10u);
}

} // namespace
