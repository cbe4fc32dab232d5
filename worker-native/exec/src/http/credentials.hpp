#pragma once

// Credentials http.request adds to a request on behalf of a block: a payload names one
// ("credential_ref") and the executing side resolves it from its own configuration ("http".
// "credentials"), so that no secret travels in a block payload (over NATS or anywhere else).
// See docs/executors.md, "http.request", "Credentials".

#include "http/host_policy.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace beamline::exec::http {

/// One resolved credential: the header to send and its value (prefix + secret).
struct credential {
  std::string header;       // as configured, e.g. "Authorization"
  std::string header_lower; // for comparisons with the payload's headers
  std::string value;        // the secret with its prefix; never put in an output, error or log
  /// The hosts the credential may be sent to ("hosts"); none: any host the tenant may reach.
  std::optional<host_policy> hosts;
};

/// Resolves `name` for `tenant` from the "http" config section: the entry must exist, list the
/// tenant (or list none), name a valid header and give its secret through `value_env` (an
/// environment variable, read now) or `value_file` (a file whose trimmed content is the secret,
/// read now, so a rotated file needs no restart). Returns the problem in words (never quoting
/// the secret), or an empty string with `out` set.
[[nodiscard]] std::string resolve_credential(const nlohmann::json& http_config, std::string_view name,
                                             std::string_view tenant, credential& out);

} // namespace beamline::exec::http
