#pragma once

// NKey user seeds (NATS's Ed25519 keys, https://docs.nats.io/running-a-nats-service/configuration/
// securing_nats/auth_intro/nkey_auth): nats.c signs the server's nonce with the seed file itself
// but wants the public key beside it, so the worker derives it from the seed.

#include <string>
#include <string_view>

namespace beamline::worker {

struct nkey_public_key_result {
  /// The user's public key ("U..."); empty on failure.
  std::string public_key;
  /// Why there is none. Never quotes the seed.
  std::string error;
};

/// The public key of an encoded user seed ("SU...", 58 characters).
[[nodiscard]] nkey_public_key_result nkey_public_key(std::string_view seed);

/// The public key of the first user seed in a seed file: the first line that starts with "SU"
/// once leading blanks are skipped, as nats.c finds it (a bare seed, or an nsc .nk file).
[[nodiscard]] nkey_public_key_result nkey_public_key_of_file(const std::string& path);

}  // namespace beamline::worker
