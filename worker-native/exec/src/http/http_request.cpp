// http.request: one HTTP(S) request through libcurl, confined by the tenant's host allow-list
// (or, for a call to an operator-configured provider, "provider_ref", by that provider's hosts)
// and the address rules of host_policy, with the block's deadline, a response-size limit and
// optional streaming of the body. Payload and output formats, the error mapping and the SSRF
// rules are in docs/executors.md ("http.request").
//
// One http_call holds a block's request and its rules; it sets up an easy handle hop by hop and
// reads each hop's outcome. The synchronous entry drives it with curl_easy_perform on the
// calling thread; the asynchronous one (execute_async) hands it, as a multi_job, to the
// runtime's event loop (multi_loop.hpp): the same setup and the same checks either way.

#include "builtins/registry.hpp"
#include "config.hpp"
#include "detail/base64.hpp"
#include "execute.hpp"
#include "http/credentials.hpp"
#include "http/curl_handle.hpp"
#include "http/host_policy.hpp"
#include "http/multi_loop.hpp"
#include "runtime.hpp"
#include "status.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beamline::exec::http {

namespace {

using json = nlohmann::json;
using std::chrono::steady_clock;

constexpr uint64_t default_timeout_ms = 30'000;
constexpr uint64_t default_max_response_bytes = uint64_t{16} << 20;
constexpr uint64_t default_max_redirects = 5;
/// Response headers beyond this many bytes (all of them, per response) abort the transfer.
constexpr size_t max_header_bytes = size_t{256} << 10;

bl_status* fail(const bl_api* api, bl_errc code, std::string_view message) {
  const std::string text = "http.request: " + std::string{message};
  return api->status_create(code, text.data(), text.size());
}

/// A positive integer member of `obj`, or nullopt when absent; `bad` is set when present but
/// not a positive integer.
std::optional<uint64_t> positive(const json& obj, const char* key, bool& bad) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return std::nullopt;
  if (it->is_number_unsigned() && it->get<uint64_t>() > 0)
    return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() > 0)
    return static_cast<uint64_t>(it->get<int64_t>());
  bad = true;
  return std::nullopt;
}

uint64_t config_limit(const json& config, const char* key, uint64_t fallback) {
  bool bad = false;
  return positive(config, key, bad).value_or(fallback);
}

bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
         || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string upper(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool is_redirect(long status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// Headers a payload may not set: framing (libcurl sets it from the body), hop-by-hop
/// (RFC 9110 section 7.6.1), proxy headers, and Host: the URL names the host, and a Host header
/// naming another one could reach an internal virtual host behind a shared ingress.
bool refused_header(std::string_view lower_name) noexcept {
  static constexpr std::string_view refused[] = {
    "host",       "content-length",   "transfer-encoding", "connection",         "upgrade",
    "keep-alive", "proxy-connection", "te",                "trailer",            "proxy-authorization",
    "proxy-authenticate"};
  return std::find(std::begin(refused), std::end(refused), lower_name) != std::end(refused);
}

/// The decoded request payload.
struct request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers; // names lower case
  std::optional<std::string> body;
  std::optional<uint64_t> timeout_ms;
  std::optional<uint64_t> max_response_bytes;
  bool follow_redirects = true;
  /// The name of a credential of the config to add (docs/executors.md, "Credentials").
  std::optional<std::string> credential_ref;
  /// The operator-configured provider this block calls ("http".providers): its hosts replace the
  /// tenant's allow-list. Only the control plane's provider blocks name one.
  std::optional<std::string> provider_ref;
  /// A streamed block's first chunk is the final response's status and headers (one JSON line).
  bool stream_head = false;
};

/// Decodes the payload; returns the problem in words, or an empty string.
std::string parse_request(const uint8_t* payload, uint64_t len, request& out) {
  const auto* begin = reinterpret_cast<const char*>(payload);
  const json doc = json::parse(begin, begin + len, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return "the payload must be a JSON object";
  const auto url = doc.find("url");
  if (url == doc.end() || !url->is_string() || url->get_ref<const std::string&>().empty())
    return "'url' (a string) is required";
  out.url = url->get<std::string>();
  if (const auto m = doc.find("method"); m != doc.end()) {
    if (!m->is_string() || !is_token(m->get_ref<const std::string&>()))
      return "'method' must be an HTTP method token";
    out.method = upper(m->get_ref<const std::string&>());
  }
  if (const auto h = doc.find("headers"); h != doc.end() && !h->is_null()) {
    if (!h->is_object())
      return "'headers' must be an object of strings";
    for (auto it = h->begin(); it != h->end(); ++it) {
      if (!is_token(it.key()))
        return "header name '" + it.key() + "' is not a valid token";
      if (!it->is_string())
        return "header '" + it.key() + "' must have a string value";
      const auto& value = it->get_ref<const std::string&>();
      if (value.find_first_of("\r\n", 0) != std::string::npos || value.find('\0') != std::string::npos)
        return "header '" + it.key() + "' contains CR, LF or NUL";
      auto name = lower(it.key());
      if (refused_header(name))
        return "header '" + it.key() + "' is set by the executor and may not be given (framing, "
               "hop-by-hop, proxy and Host headers are refused)";
      out.headers.emplace_back(std::move(name), value);
    }
  }
  const auto body = doc.find("body");
  const auto body64 = doc.find("body_base64");
  const bool has_body = body != doc.end() && !body->is_null();
  const bool has_body64 = body64 != doc.end() && !body64->is_null();
  if (has_body && has_body64)
    return "give 'body' or 'body_base64', not both";
  if (has_body) {
    if (!body->is_string())
      return "'body' must be a string (use 'body_base64' for bytes)";
    out.body = body->get<std::string>();
  } else if (has_body64) {
    if (!body64->is_string())
      return "'body_base64' must be a base64 string";
    out.body = detail::base64_decode(body64->get_ref<const std::string&>());
    if (!out.body)
      return "'body_base64' is not valid base64";
  }
  bool bad = false;
  out.timeout_ms = positive(doc, "timeout_ms", bad);
  if (bad)
    return "'timeout_ms' must be a positive integer";
  out.max_response_bytes = positive(doc, "max_response_bytes", bad);
  if (bad)
    return "'max_response_bytes' must be a positive integer";
  if (const auto c = doc.find("credential_ref"); c != doc.end() && !c->is_null()) {
    if (!c->is_string() || c->get_ref<const std::string&>().empty())
      return "'credential_ref' must be a non-empty string";
    out.credential_ref = c->get<std::string>();
  }
  if (const auto p = doc.find("provider_ref"); p != doc.end() && !p->is_null()) {
    if (!p->is_string() || p->get_ref<const std::string&>().empty())
      return "'provider_ref' must be a non-empty string";
    out.provider_ref = p->get<std::string>();
  }
  if (const auto f = doc.find("follow_redirects"); f != doc.end() && !f->is_null()) {
    if (!f->is_boolean())
      return "'follow_redirects' must be a boolean";
    out.follow_redirects = f->get<bool>();
  }
  if (const auto f = doc.find("stream_head"); f != doc.end() && !f->is_null()) {
    if (!f->is_boolean())
      return "'stream_head' must be a boolean";
    out.stream_head = f->get<bool>();
  }
  return {};
}

/// A parsed URL of one hop.
struct target {
  curl_url_ptr url;
  std::string scheme;
  std::string host; // lower case, without IPv6 brackets
  uint16_t port = 0;
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr)
    return {};
  std::string out{value};
  curl_free(value);
  return out;
}

/// Parses `url`; returns the problem in words, or an empty string.
std::string parse_target(const std::string& url, target& out) {
  out.url.reset(curl_url());
  if (!out.url)
    return "out of memory";
  if (curl_url_set(out.url.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return "'" + url + "' is not a valid absolute URL";
  out.scheme = lower(url_part(out.url.get(), CURLUPART_SCHEME));
  out.host = lower(url_part(out.url.get(), CURLUPART_HOST));
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  // Zone ids (fe80::1%eth0) are refused along with link-local addresses; strip for matching.
  if (const auto zone = out.host.find('%'); zone != std::string::npos)
    out.host.resize(zone);
  const std::string port = url_part(out.url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  out.port = static_cast<uint16_t>(std::strtoul(port.c_str(), nullptr, 10));
  if (out.host.empty() || out.port == 0)
    return "'" + url + "' has no host";
  return {};
}

/// The state of one transfer, shared with libcurl's callbacks.
struct transfer {
  const bl_api* api = nullptr;
  bl_exec_context* ctx = nullptr;
  const host_policy* policy = nullptr;
  bool stream = false;
  bool stream_head = false; // emit the final response's head as the first chunk
  bool head_sent = false;
  bool follow_redirects = true;
  uint64_t max_bytes = 0;

  // The current response (reset by each status line: redirects, 1xx).
  long status = 0;
  bool has_location = false;
  size_t header_bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string body;
  uint64_t body_bytes = 0;

  // Why a transfer was aborted by a callback.
  std::string refused; // an address the policy refused
  bool too_large = false;
  bool headers_too_large = false;
  bool stopped = false; // context_cancelled said stop
  bl_status* emit_error = nullptr;

  [[nodiscard]] bool discarding_body() const noexcept {
    return follow_redirects && is_redirect(status) && has_location;
  }
};

json headers_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  json out = json::object();
  for (const auto& [name, value] : headers) {
    auto& slot = out[name];
    if (slot.is_null())
      slot = value;
    else
      slot = slot.get<std::string>() + ", " + value; // RFC 9110 §5.3: repeated fields combine
  }
  return out;
}

/// Sends the head of the final response, {"status":..,"headers":{..}} and a newline, as the
/// block's first chunk. False when the transfer must stop (t.emit_error says why).
bool emit_head(transfer& t) noexcept {
  t.head_sent = true;
  try {
    json head = json::object();
    head["status"] = t.status;
    head["headers"] = headers_json(t.headers);
    std::string text = head.dump(-1, ' ', false, json::error_handler_t::replace);
    text += '\n';
    if (bl_status* st = t.api->context_emit_chunk(t.ctx, reinterpret_cast<const uint8_t*>(text.data()),
                                                  text.size())) {
      t.emit_error = st;
      return false;
    }
    return true;
  } catch (...) {
    t.emit_error = status_from_current_exception();
    return false;
  }
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<transfer*>(user);
  const size_t n = size * count;
  std::string_view line{data, n};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  if (line.size() > 5 && line.substr(0, 5) == "HTTP/") { // a new response begins
    t.headers.clear();
    t.has_location = false;
    t.header_bytes = 0;
    const auto space = line.find(' ');
    t.status = space == std::string_view::npos
                 ? 0
                 : std::strtol(std::string{line.substr(space + 1, 3)}.c_str(), nullptr, 10);
    return n;
  }
  t.header_bytes += n;
  if (t.header_bytes > max_header_bytes) {
    t.headers_too_large = true;
    return 0;
  }
  if (line.empty()) { // the end of a response's head (or of the trailers)
    const bool final_head = t.status >= 200 && !t.discarding_body();
    if (t.stream && t.stream_head && !t.head_sent && final_head && !emit_head(t))
      return 0;
    return n;
  }
  if ((line.front() == ' ' || line.front() == '\t') && !t.headers.empty()) { // obsolete folding
    const auto first = line.find_first_not_of(" \t");
    t.headers.back().second += ' ';
    t.headers.back().second += line.substr(first == std::string_view::npos ? line.size() : first);
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return n;
  std::string name = lower(line.substr(0, colon));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  if (name == "location")
    t.has_location = true;
  t.headers.emplace_back(std::move(name), std::string{value});
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<transfer*>(user);
  const size_t n = size * count;
  if (t.discarding_body())
    return n; // the body of a redirect that is followed
  if (t.body_bytes + n > t.max_bytes) {
    t.too_large = true;
    return 0; // aborts with CURLE_WRITE_ERROR
  }
  t.body_bytes += n;
  if (t.stream) {
    if (n == 0)
      return 0;
    if (bl_status* st = t.api->context_emit_chunk(t.ctx, reinterpret_cast<const uint8_t*>(data), n)) {
      t.emit_error = st;
      return 0;
    }
    return n;
  }
  t.body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<transfer*>(user);
  if (t.api->context_cancelled(t.ctx) != 0) {
    t.stopped = true;
    return 1;
  }
  return 0;
}

std::optional<ip_address> address_of(const sockaddr* sa, socklen_t len, uint16_t& port) {
  char text[64] = {};
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    port = ntohs(in.sin_port);
    ip_address a;
    std::memcpy(a.bytes.data(), &in.sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    port = ntohs(in6.sin6_port);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text) == nullptr)
      return std::nullopt;
    return parse_ip(text); // folds IPv4-mapped addresses to IPv4
  }
  return std::nullopt;
}

/// Every connection libcurl opens passes here with the resolved address it will connect to.
curl_socket_t on_open_socket(void* user, curlsocktype purpose, curl_sockaddr* addr) {
  auto& t = *static_cast<transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) {
    t.refused = "only outgoing TCP connections are allowed";
    return CURL_SOCKET_BAD;
  }
  uint16_t port = 0;
  const auto ip = address_of(&addr->addr, addr->addrlen, port);
  std::string why;
  if (!ip) {
    t.refused = "the connection's address family is not IPv4 or IPv6";
    return CURL_SOCKET_BAD;
  }
  if (!t.policy->allows_address(*ip, port, why)) {
    t.refused = std::move(why);
    return CURL_SOCKET_BAD;
  }
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/// Runs before every request, on a new or a reused connection: a connection opened for another
/// block (another tenant, other rules) is checked again against this block's policy.
int on_prerequest(void* user, char* primary_ip, char*, int primary_port, int) {
  auto& t = *static_cast<transfer*>(user);
  const auto ip = parse_ip(primary_ip == nullptr ? "" : primary_ip);
  std::string why;
  if (!ip) {
    t.refused = "the connection's address is unknown";
    return CURL_PREREQFUNC_ABORT;
  }
  if (!t.policy->allows_address(*ip, static_cast<uint16_t>(primary_port), why)) {
    t.refused = std::move(why);
    return CURL_PREREQFUNC_ABORT;
  }
  t.refused.clear(); // an address refused before this one does not explain a later failure
  return CURL_PREREQFUNC_OK;
}

bool deadline_passed(const bl_exec_info* info) {
  if (info->deadline_mono_ns == 0)
    return false;
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     steady_clock::now().time_since_epoch())
                     .count();
  return now >= info->deadline_mono_ns;
}

/// Maps a failed curl_easy_perform to a status (see docs/executors.md for the table).
bl_status* map_error(const bl_api* api, const bl_exec_context* ctx, transfer& t, CURLcode rc,
                     const char* error_buffer, const std::string& url, uint64_t timeout_ms) {
  if (t.emit_error != nullptr)
    return std::exchange(t.emit_error, nullptr);
  const bl_exec_info* info = api->context_info(ctx);
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  if (!t.refused.empty())
    return fail(api, BL_ERR_PERMISSION_DENIED, "connection to '" + url + "' refused: " + t.refused);
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return fail(api, BL_ERR_RESOURCE_UNAVAILABLE,
                "the response body from '" + url + "' exceeds max_response_bytes ("
                  + std::to_string(t.max_bytes) + ")");
  if (t.headers_too_large)
    return fail(api, BL_ERR_RESOURCE_UNAVAILABLE,
                "the response headers from '" + url + "' exceed " + std::to_string(max_header_bytes)
                  + " bytes");
  if (t.stopped || rc == CURLE_OPERATION_TIMEDOUT) {
    if (deadline_passed(info))
      return fail(api, BL_ERR_DEADLINE_EXCEEDED, "the block's deadline passed during the request to '" + url + "'");
    if (t.stopped)
      return fail(api, BL_ERR_CANCELLED, "the block was cancelled during the request to '" + url + "'");
    return fail(api, BL_ERR_DEADLINE_EXCEEDED,
                "the request to '" + url + "' timed out after " + std::to_string(timeout_ms) + " ms");
  }
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return fail(api, BL_ERR_INVALID_INPUT, "'" + url + "': " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(api, BL_ERR_NOT_FOUND, "the host of '" + url + "' could not be resolved: " + detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return fail(api, BL_ERR_PERMISSION_DENIED, "TLS verification of '" + url + "' failed: " + detail);
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_FAILED_INIT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
      return fail(api, BL_ERR_INTERNAL, "'" + url + "': " + detail);
    default:
      // Connection refused or reset, TLS handshake failures, malformed or truncated responses,
      // HTTP/2 stream errors: the upstream could not deliver a response.
      return fail(api, BL_ERR_RESOURCE_UNAVAILABLE, "the request to '" + url + "' failed: " + detail);
  }
}

/// One block's request, its rules and its transfer state: set up hop by hop on an easy handle,
/// by the synchronous entry (curl_easy_perform) and the asynchronous one (multi_loop) alike.
class http_call {
public:
  /// Decodes the payload and resolves the tenant's policy and credential: `out` set, or a status
  /// (the block's error).
  static bl_status* create(const bl_api* api, bl_exec_context* ctx, const uint8_t* payload,
                           uint64_t payload_len, std::unique_ptr<http_call>& out) {
    auto call = std::unique_ptr<http_call>{new http_call{api, ctx}};
    if (bl_status* st = call->init(payload, payload_len); st != nullptr)
      return st;
    out = std::move(call);
    return nullptr;
  }

  http_call(const http_call&) = delete;
  http_call& operator=(const http_call&) = delete;

  /// Checks the current URL (scheme, allow-list, credential hosts, time left) and sets up `h`
  /// for it. A status when the hop is refused: the block ends with it.
  bl_status* begin_hop(CURL* h);

  /// After the hop on `h` ended with `rc`: drops the hop's options from `h`. True when a
  /// redirect is to be followed (begin_hop again); false when the block ended, `st` then being
  /// its outcome (nullptr: success, the output written).
  bool end_hop(CURL* h, CURLcode rc, bl_status*& st);

  /// Ends a hop that was taken off the event loop because the block must stop (cancelled,
  /// deadline): its status.
  bl_status* stop_hop(CURL* h) {
    clear_hop(h);
    t_.stopped = true;
    return map_error(api_, ctx_, t_, CURLE_ABORTED_BY_CALLBACK, "", url_, timeout_ms_);
  }

  /// Whether the block must stop: cancelled by the host or the receiver, or past its deadline.
  [[nodiscard]] bool cancelled() const noexcept { return api_->context_cancelled(ctx_) != 0; }

private:
  http_call(const bl_api* api, bl_exec_context* ctx) : api_(api), ctx_(ctx) {}

  bl_status* init(const uint8_t* payload, uint64_t payload_len);
  void clear_hop(CURL* h) noexcept {
    // The buffer, URL handle and header list die with this hop; the handle must not keep them.
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_CURLU, nullptr);
  }

  const bl_api* api_;
  bl_exec_context* ctx_;
  request req_;
  std::optional<host_policy> policy_;
  std::optional<credential> cred_;
  bool send_credential_ = false;
  uint64_t timeout_ms_ = 0;
  uint64_t max_redirects_ = default_max_redirects;
  steady_clock::time_point until_;
  transfer t_;

  std::string url_;    // the current hop's URL
  std::string origin_; // scheme://host:port of the previous hop
  uint64_t hop_ = 0;
  // The current hop's, alive while its transfer runs.
  target tgt_;
  curl_slist_ptr header_list_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

bl_status* http_call::init(const uint8_t* payload, uint64_t payload_len) {
  const auto* api = api_;
  const bl_exec_info* info = api->context_info(ctx_);
  if (auto problem = parse_request(payload, payload_len, req_); !problem.empty())
    return fail(api, BL_ERR_INVALID_INPUT, problem);

  const json& config = executor_config(ctx_, "http");
  const std::string_view tenant{info->tenant_id, static_cast<size_t>(info->tenant_id_len)};
  if (req_.provider_ref) {
    // A provider the operator configured is a trusted destination: its hosts, not the tenant's
    // allow-list, bound every hop (the address rules stay). Clients cannot name one: the control
    // plane refuses their blocks that do.
    auto provider = host_policy::from_provider(config, *req_.provider_ref);
    if (!provider)
      return fail(api, BL_ERR_PERMISSION_DENIED,
                  "provider '" + *req_.provider_ref + "' is not configured on this executor");
    policy_.emplace(std::move(*provider));
  } else {
    policy_.emplace(host_policy::from_config(config, tenant));
  }

  // The secret is resolved here, on the executing side, and only ever goes into the request's
  // header list: never into the output, an error message or a log.
  if (req_.credential_ref) {
    cred_.emplace();
    if (auto problem = resolve_credential(config, *req_.credential_ref, tenant, *cred_); !problem.empty())
      return fail(api, BL_ERR_PERMISSION_DENIED, problem);
    if (refused_header(cred_->header_lower))
      return fail(api, BL_ERR_PERMISSION_DENIED,
                  "credential '" + *req_.credential_ref + "' is misconfigured: header '" + cred_->header
                    + "' may not be set");
    for (const auto& [name, value] : req_.headers)
      if (name == cred_->header_lower)
        return fail(api, BL_ERR_INVALID_INPUT,
                    "header '" + cred_->header + "' is set by credential '" + *req_.credential_ref
                      + "' and may not be given too");
  }
  send_credential_ = cred_.has_value();

  const uint64_t config_timeout = config_limit(config, "timeout_ms", default_timeout_ms);
  timeout_ms_ = std::min(req_.timeout_ms.value_or(config_timeout), config_timeout);
  const uint64_t config_max_bytes = config_limit(config, "max_response_bytes", default_max_response_bytes);
  const uint64_t max_bytes = std::min(req_.max_response_bytes.value_or(config_max_bytes), config_max_bytes);
  if (const auto it = config.find("max_redirects"); it != config.end() && it->is_number_unsigned())
    max_redirects_ = it->get<uint64_t>();

  until_ = steady_clock::now() + std::chrono::milliseconds{timeout_ms_};
  if (info->deadline_mono_ns != 0)
    until_ = std::min(until_, steady_clock::time_point{std::chrono::nanoseconds{info->deadline_mono_ns}});

  t_.api = api;
  t_.ctx = ctx_;
  t_.policy = &*policy_;
  t_.stream = info->stream != 0;
  t_.stream_head = req_.stream_head;
  t_.follow_redirects = req_.follow_redirects;
  t_.max_bytes = max_bytes;
  url_ = req_.url;
  return nullptr;
}

bl_status* http_call::begin_hop(CURL* h) {
  const auto* api = api_;
  const std::string& url = url_;
  const uint64_t hop = hop_;
  target& tgt = tgt_;
  tgt = target{};
  if (auto problem = parse_target(url, tgt); !problem.empty())
    return fail(api, hop == 0 ? BL_ERR_INVALID_INPUT : BL_ERR_PERMISSION_DENIED,
                hop == 0 ? problem : "redirect refused: " + problem);
  if (tgt.scheme != "http" && tgt.scheme != "https")
    return fail(api, hop == 0 ? BL_ERR_INVALID_INPUT : BL_ERR_PERMISSION_DENIED,
                (hop == 0 ? "" : "redirect refused: ") + std::string{"scheme '"} + tgt.scheme
                  + "' is not http or https");
  std::string why;
  if (!policy_->allows_host(tgt.host, tgt.port, why))
    return fail(api, BL_ERR_PERMISSION_DENIED,
                (hop == 0 ? "request to '" : "redirect to '") + url + "' refused: " + why);

  // Credentials do not follow a redirect to another origin.
  const std::string this_origin = tgt.scheme + "://" + tgt.host + ":" + std::to_string(tgt.port);
  if (!origin_.empty() && origin_ != this_origin) {
    send_credential_ = false;
    req_.headers.erase(std::remove_if(req_.headers.begin(), req_.headers.end(),
                                      [](const auto& hd) {
                                        return hd.first == "authorization" || hd.first == "cookie"
                                               || hd.first == "proxy-authorization";
                                      }),
                       req_.headers.end());
  }
  origin_ = this_origin;
  if (send_credential_ && cred_->hosts && !cred_->hosts->allows_host(tgt.host, tgt.port, why))
    return fail(api, BL_ERR_PERMISSION_DENIED,
                "credential '" + *req_.credential_ref + "' may not be sent to '" + tgt.host + ":"
                  + std::to_string(tgt.port) + "' (not in its 'hosts')");

  const auto now = steady_clock::now();
  if (now >= until_)
    return map_error(api, ctx_, t_, CURLE_OPERATION_TIMEDOUT, "", url, timeout_ms_);
  const auto remaining_ms = std::max<int64_t>(
    1, std::chrono::duration_cast<std::chrono::milliseconds>(until_ - now).count());

  header_list_.reset();
  const auto add_header = [&](const std::string& line) {
    if (curl_slist* next = curl_slist_append(header_list_.get(), line.c_str()); next != nullptr) {
      (void)header_list_.release();
      header_list_.reset(next);
      return true;
    }
    return false;
  };
  bool has_expect = false;
  bool has_content_type = false;
  bool ok = true;
  for (const auto& [name, value] : req_.headers) {
    has_expect = has_expect || name == "expect";
    has_content_type = has_content_type || name == "content-type";
    ok = ok && add_header(value.empty() ? name + ";" : name + ": " + value);
  }
  if (send_credential_)
    ok = ok && add_header(cred_->header + ": " + cred_->value);
  if (!has_expect)
    ok = ok && add_header("Expect:"); // no 100-continue round trip
  if (req_.body && !has_content_type)
    ok = ok && add_header("Content-Type:"); // no implicit form type
  if (!ok)
    return fail(api, BL_ERR_INTERNAL, "out of memory");

  error_buffer_[0] = '\0';
  curl_easy_setopt(h, CURLOPT_SHARE, curl_share());
  curl_easy_setopt(h, CURLOPT_CURLU, tgt.url.get());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); // followed here, each hop checked
  curl_easy_setopt(h, CURLOPT_PROXY, "");          // no proxy from the environment
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining_ms));
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t_.max_bytes));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "beamline/0.1");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list_.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t_);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t_);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t_);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t_);
  curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prerequest);
  curl_easy_setopt(h, CURLOPT_PREREQDATA, &t_);
  // A redirect may have changed the method: each hop sets exactly what it needs.
  curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, nullptr);
  if (req_.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req_.body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req_.body->size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req_.body->data());
    if (req_.method != "POST")
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req_.method.c_str());
  } else if (req_.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req_.method.c_str());
  }

  t_.status = 0;
  t_.has_location = false;
  t_.headers.clear();
  t_.refused.clear();
  return nullptr;
}

bool http_call::end_hop(CURL* h, CURLcode rc, bl_status*& st) {
  clear_hop(h);
  if (rc != CURLE_OK) {
    st = map_error(api_, ctx_, t_, rc, error_buffer_, url_, timeout_ms_);
    return false;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  t_.status = status;
  const char* next = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
  if (req_.follow_redirects && is_redirect(status) && next != nullptr) {
    if (hop_ + 1 > max_redirects_) {
      st = fail(api_, BL_ERR_RESOURCE_UNAVAILABLE,
                "more than " + std::to_string(max_redirects_) + " redirects, the last to '"
                  + std::string{next} + "'");
      return false;
    }
    url_ = next;
    ++hop_;
    // 303 turns every method but HEAD into GET; 301 and 302 turn POST into GET (what browsers
    // and curl do); 307 and 308 keep the method and the body.
    if ((status == 303 && req_.method != "HEAD")
        || ((status == 301 || status == 302) && req_.method == "POST")) {
      req_.method = "GET";
      req_.body.reset();
      req_.headers.erase(std::remove_if(req_.headers.begin(), req_.headers.end(),
                                        [](const auto& hd) { return hd.first == "content-type"; }),
                         req_.headers.end());
    }
    return true;
  }

  json out = json::object();
  out["status"] = t_.status;
  out["headers"] = headers_json(t_.headers);
  out["url"] = url_;
  if (t_.stream)
    out["body_bytes"] = t_.body_bytes;
  else
    out["body_base64"] = detail::base64_encode(t_.body);
  const std::string text = out.dump(-1, ' ', false, json::error_handler_t::replace);
  st = api_->context_write(ctx_, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  return false;
}

/// The synchronous entry: every hop on this thread's easy handle, with curl_easy_perform.
bl_status* BL_CALL run_http_request(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                    uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  std::unique_ptr<http_call> call;
  if (bl_status* st = http_call::create(api, ctx, payload, payload_len, call); st != nullptr)
    return st;

  easy_lease lease;
  CURL* h = lease.get();
  if (h == nullptr)
    return fail(api, BL_ERR_INTERNAL, "libcurl could not be initialised");
  for (;;) {
    if (bl_status* st = call->begin_hop(h); st != nullptr)
      return st;
    const CURLcode rc = curl_easy_perform(h);
    bl_status* st = nullptr;
    if (!call->end_hop(h, rc, st))
      return st;
  }
}

/// An asynchronous block on the runtime's event loop: the same http_call, its hops driven by
/// the multi handle. Every member runs on the loop thread.
class http_job final : public multi_job {
public:
  http_job(const bl_api* api, bl_exec_context* ctx, std::unique_ptr<http_call> call) noexcept
    : api_(api), ctx_(ctx), call_(std::move(call)) {}

  CURL* start() noexcept override {
    return guard([&]() -> CURL* {
      easy_.reset(curl_easy_init());
      if (!easy_)
        return finish(fail(api_, BL_ERR_INTERNAL, "libcurl could not make a handle"));
      if (bl_status* st = call_->begin_hop(easy_.get()); st != nullptr)
        return finish(st);
      return easy_.get();
    });
  }

  CURL* transfer_done(CURLcode rc) noexcept override {
    return guard([&]() -> CURL* {
      bl_status* st = nullptr;
      if (!call_->end_hop(easy_.get(), rc, st))
        return finish(st);
      if (st = call_->begin_hop(easy_.get()); st != nullptr)
        return finish(st);
      return easy_.get();
    });
  }

  bool should_stop() const noexcept override { return call_->cancelled(); }

  void abort(abort_reason why) noexcept override {
    (void)guard([&]() -> CURL* {
      switch (why) {
        case abort_reason::stopped:
          return finish(call_->stop_hop(easy_.get()));
        case abort_reason::shutdown:
          return finish(fail(api_, BL_ERR_CANCELLED, "the runtime was released while the request ran"));
        case abort_reason::multi_error:
        default:
          return finish(fail(api_, BL_ERR_INTERNAL, "libcurl refused to start the transfer"));
      }
    });
  }

private:
  /// Ends the block (once): nothing of it may be touched afterwards.
  CURL* finish(bl_status* st) noexcept {
    if (!done_) {
      done_ = true;
      complete_async(ctx_, st);
    } else {
      release_status(st);
    }
    return nullptr;
  }

  template <class F>
  CURL* guard(F&& fn) noexcept {
    if (done_)
      return nullptr;
    try {
      return fn();
    } catch (...) {
      return finish(status_from_current_exception());
    }
  }

  const bl_api* api_;
  bl_exec_context* ctx_;
  bool done_ = false;
  std::unique_ptr<http_call> call_; // before easy_: the handle, pointing into it, goes first
  curl_easy_ptr easy_;
};

/// The asynchronous entry (execute_async): decodes and checks the payload here, then hands the
/// transfers to the runtime's event loop.
bl_status* start_http_request(void* user, bl_exec_context* ctx, const uint8_t* payload,
                              uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  std::unique_ptr<http_call> call;
  if (bl_status* st = http_call::create(api, ctx, payload, payload_len, call); st != nullptr)
    return st;
  auto& loop = ctx->rt->service<multi_loop>();
  loop.submit(std::make_unique<http_job>(api, ctx, std::move(call)));
  return nullptr;
}

BEAMLINE_REGISTER_ASYNC_BUILTIN("http.request", run_http_request, start_http_request);

} // namespace

} // namespace beamline::exec::http
