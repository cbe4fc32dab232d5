#include "nkey.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

namespace beamline::worker {

namespace {

// The nkeys encoding: base32 (RFC 4648, unpadded) of prefix byte(s), the raw key, and a CRC-16
// (XMODEM, little-endian) of what precedes it. A seed carries two prefix bytes: "seed" and, in
// the bits that spill over, the key type.
constexpr uint8_t prefix_seed = 18 << 3;  // 'S'
constexpr uint8_t prefix_user = 20 << 3;  // 'U'
constexpr size_t raw_key_size = 32;

uint16_t crc16(const uint8_t* data, size_t size) noexcept {
  uint16_t crc = 0;
  for (size_t i = 0; i < size; ++i) {
    crc ^= static_cast<uint16_t>(data[i] << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc =
          (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Decoded bytes, wiped when they go (they hold a private key).
struct secret_bytes {
  std::vector<uint8_t> bytes;
  secret_bytes() = default;
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  ~secret_bytes() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

bool base32_decode(std::string_view text, secret_bytes& out) {
  uint32_t buffer = 0;
  int bits = 0;
  out.bytes.reserve(text.size() * 5 / 8);
  for (char c : text) {
    const auto value = base32_alphabet.find(c);
    if (value == std::string_view::npos) return false;
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.bytes.push_back(static_cast<uint8_t>(buffer >> bits));
    }
  }
  return true;
}

std::string base32_encode(const uint8_t* data, size_t size) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(base32_alphabet[(buffer >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};

nkey_public_key_result failure(std::string why) {
  return {{}, std::move(why)};
}

}  // namespace

nkey_public_key_result nkey_public_key(std::string_view seed) {
  secret_bytes raw;
  if (!base32_decode(seed, raw) || raw.bytes.size() != 2 + raw_key_size + 2)
    return failure("not an NKey seed (expected 58 characters of base32, starting with SU)");
  const auto& b = raw.bytes;
  const uint16_t expected = static_cast<uint16_t>(b[34] | (b[35] << 8));
  if (crc16(b.data(), 34) != expected) return failure("the NKey seed's checksum is wrong");
  const auto type = static_cast<uint8_t>(((b[0] & 7) << 5) | ((b[1] & 0xf8) >> 3));
  if ((b[0] & 0xf8) != prefix_seed || type != prefix_user)
    return failure("not an NKey user seed (it must start with SU)");

  std::unique_ptr<EVP_PKEY, pkey_deleter> key{
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, b.data() + 2, raw_key_size)};
  std::array<uint8_t, 1 + raw_key_size + 2> encoded{};
  size_t size = raw_key_size;
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), encoded.data() + 1, &size) != 1 || size != raw_key_size)
    return failure("the NKey seed could not be turned into a key pair (OpenSSL)");
  encoded[0] = prefix_user;
  const uint16_t crc = crc16(encoded.data(), 1 + raw_key_size);
  encoded[1 + raw_key_size] = static_cast<uint8_t>(crc & 0xff);
  encoded[2 + raw_key_size] = static_cast<uint8_t>(crc >> 8);
  return {base32_encode(encoded.data(), encoded.size()), {}};
}

nkey_public_key_result nkey_public_key_of_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return failure("cannot open NKey seed file '" + path + "'");
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  nkey_public_key_result result = failure("no NKey user seed (a line starting with SU) in '" + path + "'");
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line{text.data() + start, end - start};
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.size() >= 2 && line[0] == 'S' && line[1] == 'U') {
      result = nkey_public_key(line);
      if (!result.error.empty()) result.error = "'" + path + "': " + result.error;
      break;
    }
    start = end + 1;
  }
  OPENSSL_cleanse(text.data(), text.size());
  return result;
}

}  // namespace beamline::worker
