// Fuzzes the CP1 ExecAssignment decoder (caf.exec.assign.v1), then maps what decodes onto a
// block and encodes the ack and result the worker would publish for it.

#include "cp1/mapping.hpp"
#include "cp1/messages.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace beamline::worker::cp1;
  const auto decoded = decode_assignment(std::string_view{reinterpret_cast<const char*>(data), size});
  if (decoded.assignment.has_value() == !decoded.error.empty())
    std::abort(); // exactly one of: an assignment, or a reason
  ack_message ack;
  ack.assignment_id = decoded.assignment_id;
  ack.request_id = decoded.request_id;
  ack.status = decoded.assignment ? ack_status::accepted : ack_status::rejected;
  ack.reason = decoded.error;
  // What is published must be JSON again, whatever came in.
  (void)nlohmann::json::parse(encode_ack(ack, "fuzz", 0));
  if (decoded.assignment) {
    const auto mapped = map_assignment(*decoded.assignment, {"cpu", "io", "gpu"});
    if (!mapped.plan && mapped.error.empty())
      std::abort();
    block_outcome outcome;
    outcome.status = "success";
    outcome.output = decoded.assignment->payload; // any bytes: JSON, text or base64 in the result
    (void)nlohmann::json::parse(
      encode_result(context_of(*decoded.assignment), outcome, "fuzz", 0));
  }
  return 0;
}
