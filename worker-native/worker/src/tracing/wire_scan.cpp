#include "tracing/wire_scan.hpp"

namespace beamline::worker {

namespace {

/// A cursor over protobuf wire format: just enough to walk top-level fields.
class wire_reader {
public:
  wire_reader(const uint8_t* data, size_t size) noexcept : p_(data), end_(data + size) {}

  [[nodiscard]] bool done() const noexcept { return p_ >= end_; }

  bool varint(uint64_t& out) noexcept {
    out = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t byte = *p_++;
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        return true;
    }
    return false;
  }

  /// Reads one field: its number, and its bytes (length-delimited) or value (varint). False
  /// when the data is malformed or uses a wire type a message of ours never has.
  bool field(uint32_t& number, std::string_view& bytes, uint64_t& value) noexcept {
    uint64_t tag = 0;
    if (!varint(tag))
      return false;
    number = static_cast<uint32_t>(tag >> 3);
    bytes = {};
    value = 0;
    switch (tag & 7) {
    case 0: return varint(value);
    case 1: return skip(8);
    case 2: {
      uint64_t length = 0;
      if (!varint(length) || length > static_cast<uint64_t>(end_ - p_))
        return false;
      bytes = {reinterpret_cast<const char*>(p_), static_cast<size_t>(length)};
      p_ += length;
      return true;
    }
    case 5: return skip(4);
    default: return false;
    }
  }

private:
  bool skip(size_t n) noexcept {
    if (n > static_cast<size_t>(end_ - p_))
      return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(value) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

} // namespace

request_fields scan_request(const uint8_t* data, size_t size) noexcept {
  request_fields fields;
  wire_reader reader{data, size};
  uint32_t number = 0;
  std::string_view bytes;
  uint64_t value = 0;
  while (!reader.done() && reader.field(number, bytes, value)) {
    switch (number) {
    case 1: fields.block_id = bytes; break;
    case 3: fields.type = bytes; break;
    case 6: fields.deadline_ms = value; break;
    case 8: fields.pool = bytes; break;
    case 9: fields.traceparent = bytes; break;
    default: break;
    }
  }
  return fields;
}

result_fields scan_result(const uint8_t* data, size_t size) noexcept {
  result_fields fields;
  wire_reader reader{data, size};
  uint32_t number = 0;
  std::string_view bytes;
  uint64_t value = 0;
  while (!reader.done() && reader.field(number, bytes, value)) {
    if (number == 2)
      fields.status = value;
    else if (number == 3)
      fields.error_code = bytes;
  }
  return fields;
}

void append_timings(std::string& result, uint64_t queue_us, uint64_t exec_us) {
  result.push_back(static_cast<char>(9 << 3)); // queue_us, varint
  append_varint(result, queue_us);
  result.push_back(static_cast<char>(10 << 3)); // exec_us, varint
  append_varint(result, exec_us);
}

std::string_view status_name(uint64_t status) noexcept {
  switch (status) {
  case 1: return "ok";
  case 2: return "error";
  case 3: return "timeout";
  case 4: return "cancelled";
  default: return "unspecified";
  }
}

} // namespace beamline::worker
