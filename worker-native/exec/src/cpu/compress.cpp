// cpu.compress / cpu.decompress: zlib, gzip or raw deflate. The output is the raw bytes,
// streamed as chunks when the caller asked for a stream. Decompression stops at an output limit
// (decompression bombs). Formats in docs/executors.md ("cpu.compress", "cpu.decompress").

#include "builtins/registry.hpp"
#include "cpu/common.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace beamline::exec::cpu {

namespace {

constexpr uint64_t default_max_output_bytes = uint64_t{64} << 20;
/// Output produced between two chunks (and cancellation checks).
constexpr size_t out_step = size_t{64} << 10;
/// Input fed to zlib at a time (its counters are 32-bit).
constexpr size_t in_step = size_t{1} << 20;

/// zlib's windowBits for a format name; 0 when unknown. `inflating` allows "auto".
int window_bits(const std::string& format, bool inflating) {
  if (format == "zlib")
    return 15;
  if (format == "gzip")
    return 15 + 16;
  if (format == "raw")
    return -15;
  if (format == "auto" && inflating)
    return 15 + 32; // zlib or gzip, from the header
  return 0;
}

std::string format_of(const json& doc, const char* fallback, bool& bad) {
  const auto f = doc.find("format");
  if (f == doc.end() || f->is_null())
    return fallback;
  if (!f->is_string()) {
    bad = true;
    return {};
  }
  return f->get<std::string>();
}

bl_status* BL_CALL run_compress(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                uint64_t payload_len) {
  static constexpr std::string_view type = "cpu.compress";
  const auto* api = static_cast<const bl_api*>(user);
  const auto doc = parse_object(payload, payload_len);
  if (!doc)
    return fail(api, type, BL_ERR_INVALID_INPUT, "the payload must be a JSON object");
  bool bad = false;
  const std::string format = format_of(*doc, "zlib", bad);
  const int bits = bad ? 0 : window_bits(format, false);
  if (bits == 0)
    return fail(api, type, BL_ERR_INVALID_INPUT, "'format' must be \"zlib\", \"gzip\" or \"raw\"");
  int level = Z_DEFAULT_COMPRESSION;
  if (const auto l = doc->find("level"); l != doc->end() && !l->is_null()) {
    if (!l->is_number_integer() || l->get<int64_t>() < 0 || l->get<int64_t>() > 9)
      return fail(api, type, BL_ERR_INVALID_INPUT, "'level' must be an integer from 0 to 9");
    level = static_cast<int>(l->get<int64_t>());
  }
  std::string problem;
  const auto data = input_bytes(*doc, problem);
  if (!data)
    return fail(api, type, BL_ERR_INVALID_INPUT, problem);

  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return fail(api, type, BL_ERR_INTERNAL, "zlib could not start deflate");
  struct end_guard {
    z_stream* s;
    ~end_guard() { deflateEnd(s); }
  } guard{&zs};

  std::vector<unsigned char> out(out_step);
  size_t offset = 0;
  int rc = Z_OK;
  do {
    if (api->context_cancelled(ctx) != 0)
      return stopped(api, ctx, type);
    if (zs.avail_in == 0 && offset < data->size()) {
      const size_t n = std::min(in_step, data->size() - offset);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data->data() + offset));
      zs.avail_in = static_cast<uInt>(n);
      offset += n;
    }
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    rc = deflate(&zs, offset < data->size() ? Z_NO_FLUSH : Z_FINISH);
    if (rc == Z_STREAM_ERROR)
      return fail(api, type, BL_ERR_INTERNAL, "zlib deflate failed");
    if (const size_t produced = out.size() - zs.avail_out; produced > 0) {
      if (bl_status* st = api->context_emit_chunk(ctx, out.data(), produced))
        return st;
    }
  } while (rc != Z_STREAM_END);
  return nullptr;
}

bl_status* BL_CALL run_decompress(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                  uint64_t payload_len) {
  static constexpr std::string_view type = "cpu.decompress";
  const auto* api = static_cast<const bl_api*>(user);
  const auto doc = parse_object(payload, payload_len);
  if (!doc)
    return fail(api, type, BL_ERR_INVALID_INPUT, "the payload must be a JSON object");
  bool bad = false;
  const std::string format = format_of(*doc, "auto", bad);
  const int bits = bad ? 0 : window_bits(format, true);
  if (bits == 0)
    return fail(api, type, BL_ERR_INVALID_INPUT,
                "'format' must be \"auto\", \"zlib\", \"gzip\" or \"raw\"");
  const uint64_t config_max = config_limit(ctx, "max_output_bytes", default_max_output_bytes);
  const auto asked = positive(*doc, "max_output_bytes", bad);
  if (bad)
    return fail(api, type, BL_ERR_INVALID_INPUT, "'max_output_bytes' must be a positive integer");
  const uint64_t max_output = std::min(asked.value_or(config_max), config_max);
  std::string problem;
  const auto data = input_bytes(*doc, problem);
  if (!data)
    return fail(api, type, BL_ERR_INVALID_INPUT, problem);

  z_stream zs{};
  if (inflateInit2(&zs, bits) != Z_OK)
    return fail(api, type, BL_ERR_INTERNAL, "zlib could not start inflate");
  struct end_guard {
    z_stream* s;
    ~end_guard() { inflateEnd(s); }
  } guard{&zs};

  std::vector<unsigned char> out(out_step);
  size_t offset = 0;
  uint64_t total = 0;
  for (;;) {
    if (api->context_cancelled(ctx) != 0)
      return stopped(api, ctx, type);
    if (zs.avail_in == 0 && offset < data->size()) {
      const size_t n = std::min(in_step, data->size() - offset);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data->data() + offset));
      zs.avail_in = static_cast<uInt>(n);
      offset += n;
    }
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = out.size() - zs.avail_out;
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR)
      return fail(api, type, BL_ERR_INVALID_INPUT,
                  std::string{"the data is not valid "} + format + " data"
                    + (zs.msg != nullptr ? std::string{": "} + zs.msg : std::string{}));
    if (rc == Z_MEM_ERROR)
      return fail(api, type, BL_ERR_INTERNAL, "zlib ran out of memory");
    if (produced > max_output - total)
      return fail(api, type, BL_ERR_RESOURCE_UNAVAILABLE,
                  "the decompressed data exceeds max_output_bytes (" + std::to_string(max_output) + ")");
    total += produced;
    if (produced > 0) {
      if (bl_status* st = api->context_emit_chunk(ctx, out.data(), produced))
        return st;
    }
    if (rc == Z_STREAM_END) {
      if (zs.avail_in != 0 || offset < data->size())
        return fail(api, type, BL_ERR_INVALID_INPUT, "trailing bytes after the compressed stream");
      return nullptr;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && offset >= data->size())
      return fail(api, type, BL_ERR_INVALID_INPUT, "the compressed stream is truncated");
  }
}

BEAMLINE_REGISTER_BUILTIN("cpu.compress", run_compress);
BEAMLINE_REGISTER_BUILTIN("cpu.decompress", run_decompress);

} // namespace

} // namespace beamline::exec::cpu
