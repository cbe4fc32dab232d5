#pragma once

// Standard base64 (RFC 4648 §4, with padding), for the JSON payloads and outputs of built-in
// executors that carry bytes (http.request, cpu.*).

#include <optional>
#include <string>
#include <string_view>

namespace beamline::exec::detail {

/// Encodes `data` as base64 with padding.
[[nodiscard]] std::string base64_encode(std::string_view data);

/// Decodes padded or unpadded base64; whitespace is not accepted. nullopt when malformed.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

} // namespace beamline::exec::detail
