#pragma once

// What CP1's JetStream mode (cp1/service_jetstream.cpp) and CP2 block dedupe (dedupe/block_once.cpp)
// both need from nats.c's KV API: a read that tells "absent" from "unreadable", the wall clock
// their claims are stamped with, and an error text an operator can act on.

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace beamline::worker::jetstream {

/// Milliseconds since the Unix epoch: claims are compared across workers, so wall clock, not
/// steady clock.
inline int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A KV read: `found` with its value and revision, else `status` says whether the key is just
/// absent (NATS_NOT_FOUND) or the bucket could not be read.
struct kv_read {
  natsStatus status = NATS_NOT_FOUND;
  bool found = false;
  std::string value;
  uint64_t revision = 0;
};

kv_read kv_get(kvStore* kv, const std::string& key);

/// nats.c's text for `s` with its last error and JetStream error code; NATS_NO_RESPONDERS names
/// the missing `-js` and the worker flag (`feature_flag`) that asked for JetStream.
std::string error_text(natsStatus s, std::string_view feature_flag,
                       jsErrCode code = static_cast<jsErrCode>(0));

}  // namespace beamline::worker::jetstream
