// cpu.regex_scan: finds the matches of a list of RE2 patterns in the payload's text, as byte
// offsets, in order of position, up to a cap. RE2 runs in time linear in the input and never
// recurses, so neither a pattern nor a text can hang the worker or exhaust its stack.
//
// Linear is not small, though: a pattern whose DFA outgrows regex_max_mem falls back to RE2's
// NFA, which costs about (bytes x program size), and one such pattern over a few MB runs for
// minutes. So the work is bounded three ways: a program-size limit per pattern, a cap on
// patterns x bytes per block, and the text is searched in windows whose size shrinks as the
// program grows, with the block's deadline and cancellation checked between windows (and on
// every step of the empty-match loop). Windows overlap by regex_max_match_bytes, which makes
// every match up to that length exactly the match an unwindowed search finds (see next_match).
// Formats in docs/executors.md ("cpu.regex_scan").

#include "builtins/registry.hpp"
#include "cpu/common.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

namespace beamline::exec::cpu {

namespace {

constexpr std::string_view type = "cpu.regex_scan";
constexpr uint64_t default_max_matches = 10'000;
constexpr uint64_t default_max_patterns = 256;
constexpr uint64_t default_max_pattern_bytes = 4096;
constexpr uint64_t default_regex_max_mem = uint64_t{8} << 20;
constexpr uint64_t default_max_program_size = 10'000;
constexpr uint64_t default_max_work_bytes = uint64_t{1} << 30;
constexpr uint64_t default_max_match_bytes = 4096;
constexpr uint64_t default_chunk_bytes = uint64_t{1} << 20;
/// Program size x window bytes one RE2 call may cost at most (beyond the overlap): about
/// 25 ms for RE2's NFA at a few ns per instruction and byte, far less for its DFA.
constexpr uint64_t window_work = uint64_t{1} << 23;

struct pattern {
  std::string name;
  std::unique_ptr<RE2> re;
};

/// The next match of one pattern, ordered by position, then by pattern index.
struct hit {
  size_t start;
  size_t end;
  size_t pattern;
  bool operator>(const hit& o) const noexcept {
    return start != o.start ? start > o.start : (pattern != o.pattern ? pattern > o.pattern : end > o.end);
  }
};

/// Length of the UTF-8 sequence starting with `lead` (1 for a stray byte).
size_t utf8_len(unsigned char lead) noexcept {
  if (lead >= 0xf0 && lead < 0xf8)
    return 4;
  if (lead >= 0xe0)
    return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0)
    return 2;
  return 1;
}

/// How one block searches: its window sizes and what tells it to stop.
struct search_limits {
  const bl_api* api;
  bl_exec_context* ctx;
  /// Bytes a window adds beyond its overlap (at least 1).
  size_t chunk;
  /// The overlap of consecutive windows: the longest match found exactly.
  size_t overlap;
};

/// The bytes a window advances by for a pattern of `program_size` instructions: small programs
/// get large windows (up to `max_chunk`), large ones small windows (down to the overlap), so
/// that one RE2 call costs at most about window_work + overlap x program size.
size_t chunk_for(int program_size, uint64_t overlap, uint64_t max_chunk) noexcept {
  const uint64_t by_size = window_work / static_cast<uint64_t>(std::max(program_size, 1));
  return static_cast<size_t>(std::max<uint64_t>(1, std::min(max_chunk, std::max(by_size, overlap))));
}

/// The first non-empty match of `re` in `text` at or after `from`, or nullopt; `stopped` is set
/// (and nullopt returned) when the block was cancelled or its deadline passed.
///
/// RE2 searches [from, end) of the whole text, so ^, $ and \b see the real bytes around the
/// window. A window is [from, from + chunk + overlap); a match it finds is taken only when it
/// starts at least `overlap` bytes before the window's end (or the window reaches the end of the
/// text). Every match a window finds is a match of the whole text, so such a match is exactly the
/// one the unwindowed search finds, provided that one is at most `overlap` bytes long: it starts
/// no later and ends inside the window. Otherwise the next window starts `overlap` bytes before
/// this one's end. Longer matches may be reported shorter, or missed.
std::optional<hit> next_match(const RE2& re, std::string_view text, size_t from, size_t index,
                              const search_limits& limits, bool& stopped) {
  re2::StringPiece whole{text.data(), text.size()};
  const size_t n = text.size();
  while (from <= n) {
    if (limits.api->context_cancelled(limits.ctx) != 0) {
      stopped = true;
      return std::nullopt;
    }
    const size_t end = n - from <= limits.chunk + limits.overlap ? n : from + limits.chunk + limits.overlap;
    re2::StringPiece m;
    if (!re.Match(whole, from, end, RE2::UNANCHORED, &m, 1)) {
      if (end == n)
        return std::nullopt;
      from = end - limits.overlap;
      continue;
    }
    const auto start = static_cast<size_t>(m.data() - text.data());
    if (end != n && start + limits.overlap > end) {
      // Too close to the window's end to be sure of it: search again from further on.
      from = end - limits.overlap;
      continue;
    }
    if (!m.empty())
      return hit{start, start + m.size(), index};
    // An empty match is not reported; look again one character further on.
    if (start >= n)
      return std::nullopt;
    from = start + utf8_len(static_cast<unsigned char>(text[start]));
  }
  return std::nullopt;
}

bl_status* BL_CALL run_regex_scan(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                  uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  const auto doc = parse_object(payload, payload_len);
  if (!doc)
    return fail(api, type, BL_ERR_INVALID_INPUT, "the payload must be a JSON object");

  const uint64_t max_patterns = config_limit(ctx, "max_patterns", default_max_patterns);
  const uint64_t max_pattern_bytes = config_limit(ctx, "max_pattern_bytes", default_max_pattern_bytes);
  const uint64_t max_mem = config_limit(ctx, "regex_max_mem", default_regex_max_mem);
  const uint64_t config_max_matches = config_limit(ctx, "max_matches", default_max_matches);
  const uint64_t max_program_size = config_limit(ctx, "regex_max_program_size", default_max_program_size);
  const uint64_t max_work_bytes = config_limit(ctx, "regex_max_work_bytes", default_max_work_bytes);
  const uint64_t max_match_bytes = config_limit(ctx, "regex_max_match_bytes", default_max_match_bytes);
  const uint64_t max_chunk_bytes = config_limit(ctx, "regex_chunk_bytes", default_chunk_bytes);
  bool bad = false;
  const auto asked = positive(*doc, "max_matches", bad);
  if (bad)
    return fail(api, type, BL_ERR_INVALID_INPUT, "'max_matches' must be a positive integer");
  const uint64_t max_matches = std::min(asked.value_or(config_max_matches), config_max_matches);

  bool case_insensitive = false;
  if (const auto c = doc->find("case_insensitive"); c != doc->end() && !c->is_null()) {
    if (!c->is_boolean())
      return fail(api, type, BL_ERR_INVALID_INPUT, "'case_insensitive' must be a boolean");
    case_insensitive = c->get<bool>();
  }

  const auto list = doc->find("patterns");
  if (list == doc->end() || !list->is_array() || list->empty())
    return fail(api, type, BL_ERR_INVALID_INPUT, "'patterns' must be a non-empty array");
  if (list->size() > max_patterns)
    return fail(api, type, BL_ERR_INVALID_INPUT,
                "at most " + std::to_string(max_patterns) + " patterns are accepted");

  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!case_insensitive);
  options.set_max_mem(static_cast<int64_t>(max_mem));
  std::vector<pattern> patterns;
  patterns.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& item = (*list)[i];
    const json* source = &item;
    std::string name;
    if (item.is_object()) {
      const auto p = item.find("pattern");
      if (p == item.end())
        return fail(api, type, BL_ERR_INVALID_INPUT, "pattern " + std::to_string(i) + " has no 'pattern'");
      source = &*p;
      if (const auto n = item.find("name"); n != item.end() && n->is_string())
        name = n->get<std::string>();
    }
    if (!source->is_string())
      return fail(api, type, BL_ERR_INVALID_INPUT,
                  "pattern " + std::to_string(i) + " must be a string or {\"name\", \"pattern\"}");
    const auto& text = source->get_ref<const std::string&>();
    if (text.size() > max_pattern_bytes)
      return fail(api, type, BL_ERR_INVALID_INPUT,
                  "pattern " + std::to_string(i) + " is longer than " + std::to_string(max_pattern_bytes)
                    + " bytes");
    auto re = std::make_unique<RE2>(re2::StringPiece{text.data(), text.size()}, options);
    if (!re->ok())
      return fail(api, type, BL_ERR_INVALID_INPUT,
                  "pattern " + std::to_string(i) + " does not compile: " + re->error());
    if (static_cast<uint64_t>(std::max(re->ProgramSize(), re->ReverseProgramSize())) > max_program_size)
      return fail(api, type, BL_ERR_INVALID_INPUT,
                  "pattern " + std::to_string(i) + " compiles to "
                    + std::to_string(std::max(re->ProgramSize(), re->ReverseProgramSize()))
                    + " instructions; the limit is " + std::to_string(max_program_size)
                    + " (cpu.regex_max_program_size)");
    patterns.push_back(pattern{std::move(name), std::move(re)});
  }

  std::string problem;
  const auto data = input_bytes(*doc, problem);
  if (!data)
    return fail(api, type, BL_ERR_INVALID_INPUT, problem);
  const std::string_view text{*data};
  if (text.size() > max_work_bytes / patterns.size())
    return fail(api, type, BL_ERR_INVALID_INPUT,
                std::to_string(patterns.size()) + " patterns over " + std::to_string(text.size())
                  + " bytes exceed the limit of " + std::to_string(max_work_bytes)
                  + " pattern-bytes per block (cpu.regex_max_work_bytes)");
  std::vector<search_limits> limits;
  limits.reserve(patterns.size());
  for (const auto& p : patterns)
    limits.push_back(search_limits{api, ctx, chunk_for(p.re->ProgramSize(), max_match_bytes, max_chunk_bytes),
                                   static_cast<size_t>(std::min<uint64_t>(max_match_bytes, SIZE_MAX / 4))});
  bool stopped_early = false;

  // Merge the patterns' match sequences by position: memory stays one pending match per
  // pattern, and the cap keeps exactly the first max_matches matches.
  std::priority_queue<hit, std::vector<hit>, std::greater<>> pending;
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (auto h = next_match(*patterns[i].re, text, 0, i, limits[i], stopped_early))
      pending.push(*h);
    if (stopped_early)
      return stopped(api, ctx, type);
  }
  json matches = json::array();
  while (!pending.empty() && matches.size() < max_matches) {
    if ((matches.size() & 255) == 255 && api->context_cancelled(ctx) != 0)
      return stopped(api, ctx, type);
    const hit h = pending.top();
    pending.pop();
    json m{{"pattern", h.pattern}, {"start", h.start}, {"end", h.end}};
    if (!patterns[h.pattern].name.empty())
      m["name"] = patterns[h.pattern].name;
    matches.push_back(std::move(m));
    if (auto next = next_match(*patterns[h.pattern].re, text, h.end, h.pattern, limits[h.pattern], stopped_early))
      pending.push(*next);
    if (stopped_early)
      return stopped(api, ctx, type);
  }
  return write_json(api, ctx, json{{"matches", std::move(matches)}, {"truncated", !pending.empty()}});
}

BEAMLINE_REGISTER_BUILTIN("cpu.regex_scan", run_regex_scan);

} // namespace

} // namespace beamline::exec::cpu
