#pragma once

// Claims and stored results in a JetStream KV bucket, free of NATS so that they are unit-tested
// alone. Shared by CP1 assignments (cp1/claims.hpp, bucket beamline-cp1-results) and by CP2
// blocks run at most once by (tenant, block_id) (dedupe/block_once.hpp, bucket
// beamline-block-results): a run first creates `claim.<key>` (kvStore_Create: only one worker
// wins), stores `result.<key>` before it answers, and a second request finds one or the other.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace beamline::worker::dedupe {

/// The part of a KV key that names `id`: the id itself when it is made of [A-Za-z0-9_-] only
/// (what the control plane's GUIDs are), else `x.` followed by its bytes in hex (KV keys allow
/// only [-/_=.A-Za-z0-9]; a plain id has no dot, so the two forms never meet).
[[nodiscard]] std::string kv_key_part(std::string_view id);

/// `t` followed by the bytes of `tenant` in hex: a key part with no dot, so that a key
/// `<tenant part>.<id part>` names exactly one (tenant, id) pair and no tenant's key is another's.
[[nodiscard]] std::string tenant_key_part(std::string_view tenant);

/// A claim: which worker started a run, when (unix ms), and (blocks) when it is given up as lost.
struct claim {
  std::string worker_id;
  int64_t claimed_at_ms = 0;
  /// 0: never by age (a CP1 assignment: its redelivery tells that the worker was lost).
  int64_t stale_at_ms = 0;
};

/// A claim's value: `{"worker_id":"w-1","claimed_at":1700000000000[,"stale_at":...]}`.
[[nodiscard]] std::string encode_claim(const claim& c);
/// The claim in a value; nullopt when it is not one.
[[nodiscard]] std::optional<claim> decode_claim(std::string_view value);

/// The block types that may run again after their first worker was lost mid-block: those without
/// an effect outside the block (reads, hashes, echo). Everything else — writes, deletes, SQL
/// exec, HTTP requests (a POST), plugins, provider calls — is not.
[[nodiscard]] const std::unordered_set<std::string>& default_idempotent_types();
/// `list` (comma-separated; "none" or empty for none) as a set; nullopt = the defaults.
[[nodiscard]] std::unordered_set<std::string> idempotent_types(const std::optional<std::string>& list);

}  // namespace beamline::worker::dedupe
