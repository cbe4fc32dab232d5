// cpu.hash: a digest of the payload's bytes. SHA-256 through OpenSSL's EVP; xxh64 (libxxhash)
// and fnv1a64 as fast non-cryptographic hashes. Formats in docs/executors.md ("cpu.hash").

#include "builtins/registry.hpp"
#include "cpu/common.hpp"

#include <openssl/evp.h>
#include <xxhash.h>

#include <algorithm>
#include <memory>

namespace beamline::exec::cpu {

namespace {

constexpr std::string_view type = "cpu.hash";
/// Bytes hashed between two cancellation checks.
constexpr size_t step = size_t{1} << 20;

std::string hex(const unsigned char* data, size_t len) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string hex64(uint64_t v) {
  unsigned char bytes[8];
  for (int i = 7; i >= 0; --i, v >>= 8)
    bytes[i] = static_cast<unsigned char>(v & 0xff);
  return hex(bytes, sizeof bytes); // big-endian, as xxhsum prints it
}

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct xxh_state_deleter {
  void operator()(XXH64_state_t* s) const noexcept { XXH64_freeState(s); }
};

bl_status* BL_CALL run_hash(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  const auto doc = parse_object(payload, payload_len);
  if (!doc)
    return fail(api, type, BL_ERR_INVALID_INPUT, "the payload must be a JSON object");
  const auto alg = doc->find("algorithm");
  const std::string algorithm =
    alg != doc->end() && alg->is_string() ? alg->get<std::string>() : std::string{"sha256"};
  if (alg != doc->end() && !alg->is_string())
    return fail(api, type, BL_ERR_INVALID_INPUT, "'algorithm' must be a string");
  std::string problem;
  const auto data = input_bytes(*doc, problem);
  if (!data)
    return fail(api, type, BL_ERR_INVALID_INPUT, problem);

  const auto cancelled = [&] { return api->context_cancelled(ctx) != 0; };
  std::string digest;
  if (algorithm == "sha256") {
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> md{EVP_MD_CTX_new()};
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
      return fail(api, type, BL_ERR_INTERNAL, "OpenSSL could not start a SHA-256 digest");
    for (size_t off = 0; off < data->size(); off += step) {
      if (cancelled())
        return stopped(api, ctx, type);
      if (EVP_DigestUpdate(md.get(), data->data() + off, std::min(step, data->size() - off)) != 1)
        return fail(api, type, BL_ERR_INTERNAL, "OpenSSL failed to hash");
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_len = 0;
    if (EVP_DigestFinal_ex(md.get(), out, &out_len) != 1)
      return fail(api, type, BL_ERR_INTERNAL, "OpenSSL failed to finish the digest");
    digest = hex(out, out_len);
  } else if (algorithm == "xxh64") {
    uint64_t seed = 0;
    if (const auto s = doc->find("seed"); s != doc->end() && !s->is_null()) {
      if (!s->is_number_unsigned())
        return fail(api, type, BL_ERR_INVALID_INPUT, "'seed' must be a non-negative integer");
      seed = s->get<uint64_t>();
    }
    std::unique_ptr<XXH64_state_t, xxh_state_deleter> state{XXH64_createState()};
    if (!state || XXH64_reset(state.get(), seed) != XXH_OK)
      return fail(api, type, BL_ERR_INTERNAL, "xxHash could not start");
    for (size_t off = 0; off < data->size(); off += step) {
      if (cancelled())
        return stopped(api, ctx, type);
      (void)XXH64_update(state.get(), data->data() + off, std::min(step, data->size() - off));
    }
    digest = hex64(XXH64_digest(state.get()));
  } else if (algorithm == "fnv1a64") {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t off = 0; off < data->size(); off += step) {
      if (cancelled())
        return stopped(api, ctx, type);
      const size_t end = std::min(off + step, data->size());
      for (size_t i = off; i < end; ++i) {
        h ^= static_cast<unsigned char>((*data)[i]);
        h *= 0x100000001b3ULL;
      }
    }
    digest = hex64(h);
  } else {
    return fail(api, type, BL_ERR_INVALID_INPUT,
                "unknown algorithm '" + algorithm + "' (sha256, xxh64 or fnv1a64)");
  }
  return write_json(api, ctx, json{{"algorithm", algorithm}, {"hex", digest}});
}

BEAMLINE_REGISTER_BUILTIN("cpu.hash", run_hash);

} // namespace

} // namespace beamline::exec::cpu
