// fs.read, fs.write, fs.append, fs.list, fs.stat, fs.delete, fs.mkdir: files in the tenant's
// sandbox, <fs.root>/<tenant>/files (see sandbox.hpp for how nothing escapes it, and
// docs/executors.md for the formats).
//
// Payload: a JSON object. Every block names "path", relative to the sandbox ("." = its root):
//   fs.read   {"path", "offset"?: 0, "length"?: to the end}      → the raw bytes (chunked)
//   fs.write  {"path", "data" | "data_base64", "parents"?: false} → {"path", "size", "bytes_written"}
//   fs.append {"path", "data" | "data_base64", "parents"?: false} → {"path", "size", "bytes_written"}
//   fs.list   {"path", "limit"?}        → {"path", "entries": [{"name", "type", "size", "mtime_ms"}],
//                                          "truncated"}
//   fs.stat   {"path"}                  → {"path", "type", "size", "mode", "mtime_ms"}
//   fs.delete {"path", "recursive"?: false}                      → {"path", "deleted": true}
//   fs.mkdir  {"path", "parents"?: false}                        → {"path", "created": bool}
// "type" is "file", "directory", "symlink" or "other". Writes and appends are atomic: the new
// content goes to a temporary file in the same directory (O_EXCL), is fsynced and renamed over
// the target, and the directory is fsynced; a crash leaves the old or the new file, never a torn
// one. Writes, appends, deletes and mkdirs take the tenant's lock; writes and mkdirs count
// against the tenant's quota of bytes (fs.tenant_quota_bytes) and of entries
// (fs.tenant_max_entries), and sweep the temporary files a crash left behind.

#include "builtins/registry.hpp"
#include "config.hpp"
#include "detail/base64.hpp"
#include "fs/sandbox.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::exec::fs {

namespace {

using json = nlohmann::json;

/// Bytes per read/write call and per emitted chunk.
constexpr size_t io_chunk = 64 * 1024;

/// What every fs block starts from: its payload, config, tenant and sandbox directories.
struct fs_block {
  const bl_api* api;
  bl_exec_context* ctx;
  json doc;
  sandbox_config config;
  std::string tenant;
  unique_fd tenant_dir;
  unique_fd files;
  sandbox_path path;
};

fs_block open_block(const bl_api* api, bl_exec_context* ctx, const uint8_t* payload,
                    uint64_t payload_len) {
  fs_block b{api, ctx, {}, {}, {}, {}, {}, {}};
  const auto* text = reinterpret_cast<const char*>(payload);
  b.doc = json::parse(text, text + payload_len, nullptr, /*allow_exceptions=*/false);
  if (b.doc.is_discarded() || !b.doc.is_object())
    fail(BL_ERR_INVALID_INPUT, "the payload must be a JSON object with a \"path\"");
  const auto path = b.doc.find("path");
  if (path == b.doc.end() || !path->is_string())
    fail(BL_ERR_INVALID_INPUT, "\"path\" (a string) is required");
  b.path = parse_path(path->get_ref<const std::string&>());
  b.config = sandbox_config::from_json(executor_config(ctx, "fs"));
  const bl_exec_info* info = api->context_info(ctx);
  b.tenant.assign(info->tenant_id == nullptr ? "" : info->tenant_id,
                  info->tenant_id == nullptr ? 0 : static_cast<size_t>(info->tenant_id_len));
  b.tenant_dir = open_tenant_dir(b.config, b.tenant);
  b.files = open_files_dir(b.tenant_dir.get());
  return b;
}

bool flag(const json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null())
    return false;
  if (!it->is_boolean())
    fail(BL_ERR_INVALID_INPUT, std::string{"\""} + key + "\" must be true or false");
  return it->get<bool>();
}

std::optional<uint64_t> unsigned_field(const json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null())
    return std::nullopt;
  if (!it->is_number_unsigned())
    fail(BL_ERR_INVALID_INPUT, std::string{"\""} + key + "\" must be a non-negative integer");
  return it->get<uint64_t>();
}

std::string data_field(const json& doc) {
  const auto text = doc.find("data");
  const auto b64 = doc.find("data_base64");
  const bool has_text = text != doc.end() && !text->is_null();
  const bool has_b64 = b64 != doc.end() && !b64->is_null();
  if (has_text == has_b64)
    fail(BL_ERR_INVALID_INPUT, "give exactly one of \"data\" (a string) and \"data_base64\"");
  if (has_text) {
    if (!text->is_string())
      fail(BL_ERR_INVALID_INPUT, "\"data\" must be a string");
    return text->get<std::string>();
  }
  if (!b64->is_string())
    fail(BL_ERR_INVALID_INPUT, "\"data_base64\" must be a base64 string");
  auto bytes = detail::base64_decode(b64->get_ref<const std::string&>());
  if (!bytes)
    fail(BL_ERR_INVALID_INPUT, "\"data_base64\" is not valid base64");
  return std::move(*bytes);
}

void write_output(const fs_block& b, const json& out) {
  write_json(b.api, b.ctx, out);
}

void check_cancelled(const fs_block& b) {
  if (b.api->context_cancelled(b.ctx) != 0)
    fail_stopped(b.api, b.ctx);
}

const char* type_name(mode_t mode) {
  if (S_ISREG(mode))
    return "file";
  if (S_ISDIR(mode))
    return "directory";
  if (S_ISLNK(mode))
    return "symlink";
  return "other";
}

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

/// The leaf's metadata without following a link; nullopt when it does not exist.
std::optional<struct stat> stat_leaf(int dir_fd, const sandbox_path& p) {
  struct stat st {};
  if (fstatat(dir_fd, p.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    return st;
  if (errno == ENOENT)
    return std::nullopt;
  fail_errno(errno, "stat", p.shown);
}

/// A leaf that must be a file (not the root, no trailing slash).
void require_file_leaf(const sandbox_path& p) {
  if (p.leaf.empty())
    fail(BL_ERR_INVALID_INPUT, "path '" + p.shown + "' names the sandbox root, not a file");
  if (p.trailing_slash)
    fail(BL_ERR_INVALID_INPUT, "path '" + p.shown + "' ends with '/' but must name a file");
}

void write_all(int fd, const char* data, size_t len, std::string_view shown) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, std::min(len, io_chunk));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fail_errno(errno, "write", shown);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

std::string temp_name() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
    r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
  return std::string{temp_prefix} + hex;
}

/// Replaces `leaf` in `dir_fd` atomically with the first `keep` bytes of `old_fd` (when it is
/// not -1) followed by `data`.
void replace_atomically(const fs_block& b, int dir_fd, const std::string& leaf, int old_fd,
                        uint64_t keep, std::string_view data) {
  std::string tmp;
  unique_fd out;
  for (int attempt = 0; attempt < 8 && !out; ++attempt) {
    tmp = temp_name();
    out = unique_fd{openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0644)};
    if (!out && errno != EEXIST)
      fail_errno(errno, "create a temporary file for", b.path.shown);
  }
  if (!out)
    fail(BL_ERR_INTERNAL, "cannot create a unique temporary file for '" + b.path.shown + "'");
  // Whatever fails from here on, the temporary file goes.
  struct remover {
    int dir;
    const std::string* name;
    bool armed = true;
    ~remover() {
      if (armed)
        unlinkat(dir, name->c_str(), 0);
    }
  } cleanup{dir_fd, &tmp};

  if (old_fd >= 0) {
    std::string buf(io_chunk, '\0');
    for (uint64_t off = 0; off < keep;) {
      check_cancelled(b);
      const ssize_t n = pread(old_fd, buf.data(), std::min<uint64_t>(io_chunk, keep - off),
                              static_cast<off_t>(off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        fail_errno(errno, "read", b.path.shown);
      if (n == 0)
        fail(BL_ERR_RESOURCE_UNAVAILABLE, "'" + b.path.shown + "' shrank while it was appended to");
      write_all(out.get(), buf.data(), static_cast<size_t>(n), b.path.shown);
      off += static_cast<uint64_t>(n);
    }
  }
  for (size_t off = 0; off < data.size(); off += io_chunk) {
    check_cancelled(b);
    write_all(out.get(), data.data() + off, std::min(io_chunk, data.size() - off), b.path.shown);
  }
  if (fsync(out.get()) != 0)
    fail_errno(errno, "fsync", b.path.shown);
  if (renameat(dir_fd, tmp.c_str(), dir_fd, leaf.c_str()) != 0)
    fail_errno(errno, "replace", b.path.shown);
  cleanup.armed = false;
  // The rename is durable once the directory is.
  if (fsync(dir_fd) != 0)
    fail_errno(errno, "fsync the directory of", b.path.shown);
}

void write_or_append(const fs_block& b, bool append) {
  require_file_leaf(b.path);
  const std::string data = data_field(b.doc);
  const bool parents = flag(b.doc, "parents");
  tenant_lock lock{b.tenant_dir.get(), b.tenant, b.api, b.ctx};
  const usage used = scan_usage_and_sweep(b.tenant_dir.get());
  // Directories "parents" would make, and the new file, count before anything is made.
  const size_t new_dirs = parents ? missing_dirs(b.files.get(), b.path.dirs) : 0;
  if (new_dirs > 0)
    check_entries(b.config, b.tenant, used, new_dirs + 1);
  const unique_fd dir = open_dir_beneath(b.files.get(), b.path.dirs, b.path.shown, parents);

  unique_fd old;
  uint64_t old_size = 0;
  const auto existing = stat_leaf(dir.get(), b.path);
  if (!existing)
    check_entries(b.config, b.tenant, used, new_dirs > 0 ? 0 : 1);
  if (const auto& st = existing) {
    if (S_ISDIR(st->st_mode))
      fail_errno(EISDIR, append ? "append to" : "write", b.path.shown);
    if (S_ISLNK(st->st_mode))
      fail_errno(ELOOP, append ? "append to" : "write", b.path.shown);
    if (!S_ISREG(st->st_mode))
      fail(BL_ERR_INVALID_INPUT, "'" + b.path.shown + "' is not a regular file");
    if (append) {
      old = unique_fd{openat(dir.get(), b.path.leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
      if (!old)
        fail_errno(errno, "open", b.path.shown);
      struct stat ost {};
      if (fstat(old.get(), &ost) != 0)
        fail_errno(errno, "stat", b.path.shown);
      if (!S_ISREG(ost.st_mode))
        fail(BL_ERR_INVALID_INPUT, "'" + b.path.shown + "' is not a regular file");
      old_size = static_cast<uint64_t>(ost.st_size);
    } else {
      old_size = static_cast<uint64_t>(st->st_size);
    }
  }
  const uint64_t new_size = (append ? old_size : 0) + data.size();
  if (new_size > b.config.max_file_bytes)
    fail(BL_ERR_INVALID_INPUT, "'" + b.path.shown + "' would be " + std::to_string(new_size)
                                 + " bytes; the limit is " + std::to_string(b.config.max_file_bytes)
                                 + " (fs.max_file_bytes)");
  const uint64_t after = used.bytes - std::min(used.bytes, old_size) + new_size;
  if (after > b.config.tenant_quota_bytes)
    fail(BL_ERR_RESOURCE_UNAVAILABLE,
         "quota exceeded: tenant '" + b.tenant + "' holds " + std::to_string(used.bytes) + " of "
           + std::to_string(b.config.tenant_quota_bytes) + " bytes (fs.tenant_quota_bytes); this "
           "write would bring it to " + std::to_string(after));
  replace_atomically(b, dir.get(), b.path.leaf, old.get(), old_size, data);
  write_output(b, json{{"path", b.path.shown},
                       {"size", new_size},
                       {"bytes_written", data.size()}});
}

/// Removes everything inside `dir_fd` (not the directory itself), following no link.
void remove_contents(const fs_block& b, int dir_fd, int depth) {
  if (depth > static_cast<int>(max_path_components) + 8)
    fail(BL_ERR_INVALID_INPUT, "'" + b.path.shown + "' is nested too deeply to delete");
  const int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    fail_errno(errno, "delete", b.path.shown);
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    fail_errno(errno, "delete", b.path.shown);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (const dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
      continue;
    struct stat st {};
    if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      entries.emplace_back(e->d_name, S_ISDIR(st.st_mode));
  }
  closedir(d);
  for (const auto& [name, is_dir] : entries) {
    check_cancelled(b);
    if (is_dir) {
      const unique_fd child{
        openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (!child)
        fail_errno(errno, "delete", b.path.shown);
      remove_contents(b, child.get(), depth + 1);
    }
    if (unlinkat(dir_fd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
      fail_errno(errno, "delete", b.path.shown);
  }
}


// --- the executors ---------------------------------------------------------------------------

bl_status* BL_CALL run_read(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.read", [&] {
    const fs_block b = open_block(api, ctx, payload, payload_len);
    require_file_leaf(b.path);
    const auto asked_offset = unsigned_field(b.doc, "offset");
    const auto asked_length = unsigned_field(b.doc, "length");
    const unique_fd dir = open_dir_beneath(b.files.get(), b.path.dirs, b.path.shown, false);
    // O_NONBLOCK: opening a FIFO someone put there must not hang; it is refused below.
    const unique_fd file{
      openat(dir.get(), b.path.leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
    if (!file)
      fail_errno(errno, "read", b.path.shown);
    struct stat st {};
    if (fstat(file.get(), &st) != 0)
      fail_errno(errno, "stat", b.path.shown);
    if (S_ISDIR(st.st_mode))
      fail_errno(EISDIR, "read", b.path.shown);
    if (!S_ISREG(st.st_mode))
      fail(BL_ERR_INVALID_INPUT, "'" + b.path.shown + "' is not a regular file");
    const auto size = static_cast<uint64_t>(st.st_size);
    const uint64_t offset = asked_offset.value_or(0);
    const uint64_t available = offset >= size ? 0 : size - offset;
    const uint64_t length = std::min(available, asked_length.value_or(available));
    if (length > b.config.max_file_bytes)
      fail(BL_ERR_INVALID_INPUT, "reading " + std::to_string(length) + " bytes of '" + b.path.shown
                                   + "' exceeds the limit of " + std::to_string(b.config.max_file_bytes)
                                   + " (fs.max_file_bytes); read a range with offset and length");
    std::string buf(static_cast<size_t>(std::min<uint64_t>(length, io_chunk)), '\0');
    for (uint64_t done = 0; done < length;) {
      check_cancelled(b);
      const ssize_t n = pread(file.get(), buf.data(), std::min<uint64_t>(buf.size(), length - done),
                              static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        fail_errno(errno, "read", b.path.shown);
      if (n == 0)
        break; // truncated meanwhile: return what there was
      if (bl_status* st2 =
            api->context_emit_chunk(ctx, reinterpret_cast<const uint8_t*>(buf.data()),
                                    static_cast<uint64_t>(n));
          st2 != nullptr) {
        api->status_release(st2);
        fail(BL_ERR_CANCELLED, "the receiver cancelled the read");
      }
      done += static_cast<uint64_t>(n);
    }
  });
}

bl_status* BL_CALL run_write(void* user, bl_exec_context* ctx, const uint8_t* payload,
                             uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.write", [&] {
    write_or_append(open_block(api, ctx, payload, payload_len), false);
  });
}

bl_status* BL_CALL run_append(void* user, bl_exec_context* ctx, const uint8_t* payload,
                              uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.append", [&] {
    write_or_append(open_block(api, ctx, payload, payload_len), true);
  });
}

bl_status* BL_CALL run_list(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.list", [&] {
    const fs_block b = open_block(api, ctx, payload, payload_len);
    std::vector<std::string> all = b.path.dirs;
    if (!b.path.leaf.empty())
      all.push_back(b.path.leaf);
    const unique_fd dir = open_dir_beneath(b.files.get(), all, b.path.shown, false);
    uint64_t limit = b.config.max_list_entries;
    if (const auto asked = unsigned_field(b.doc, "limit"))
      limit = std::min(limit, *asked);

    const int fd = fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
      fail_errno(errno, "list", b.path.shown);
    DIR* d = fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      fail_errno(errno, "list", b.path.shown);
    }
    std::vector<std::string> names;
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name == "." || name == ".." || name.substr(0, temp_prefix.size()) == temp_prefix)
        continue;
      names.emplace_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    const bool truncated = names.size() > limit;
    if (truncated)
      names.resize(static_cast<size_t>(limit));
    json entries = json::array();
    for (const auto& name : names) {
      struct stat st {};
      if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue; // removed meanwhile
      entries.push_back(json{{"name", name},
                             {"type", type_name(st.st_mode)},
                             {"size", static_cast<uint64_t>(st.st_size)},
                             {"mtime_ms", mtime_ms(st)}});
    }
    write_output(b, json{{"path", b.path.shown}, {"entries", std::move(entries)},
                         {"truncated", truncated}});
  });
}

bl_status* BL_CALL run_stat(void* user, bl_exec_context* ctx, const uint8_t* payload,
                            uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.stat", [&] {
    const fs_block b = open_block(api, ctx, payload, payload_len);
    const unique_fd dir = open_dir_beneath(b.files.get(), b.path.dirs, b.path.shown, false);
    struct stat st {};
    if (b.path.leaf.empty()) {
      if (fstat(dir.get(), &st) != 0)
        fail_errno(errno, "stat", b.path.shown);
    } else if (fstatat(dir.get(), b.path.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      fail_errno(errno, "stat", b.path.shown);
    }
    if (b.path.trailing_slash && !S_ISDIR(st.st_mode))
      fail_errno(ENOTDIR, "stat", b.path.shown);
    write_output(b, json{{"path", b.path.shown},
                         {"type", type_name(st.st_mode)},
                         {"size", static_cast<uint64_t>(st.st_size)},
                         {"mode", static_cast<uint32_t>(st.st_mode & 07777)},
                         {"mtime_ms", mtime_ms(st)}});
  });
}

bl_status* BL_CALL run_delete(void* user, bl_exec_context* ctx, const uint8_t* payload,
                              uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.delete", [&] {
    const fs_block b = open_block(api, ctx, payload, payload_len);
    if (b.path.leaf.empty())
      fail(BL_ERR_PERMISSION_DENIED, "the sandbox root cannot be deleted");
    const bool recursive = flag(b.doc, "recursive");
    tenant_lock lock{b.tenant_dir.get(), b.tenant, api, ctx};
    const unique_fd dir = open_dir_beneath(b.files.get(), b.path.dirs, b.path.shown, false);
    const auto st = stat_leaf(dir.get(), b.path);
    if (!st)
      fail_errno(ENOENT, "delete", b.path.shown);
    const bool is_dir = S_ISDIR(st->st_mode);
    if (b.path.trailing_slash && !is_dir)
      fail_errno(ENOTDIR, "delete", b.path.shown);
    if (is_dir && recursive) {
      const unique_fd child{
        openat(dir.get(), b.path.leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (!child)
        fail_errno(errno, "delete", b.path.shown);
      remove_contents(b, child.get(), 0);
    }
    // A link is removed itself, never what it points to.
    if (unlinkat(dir.get(), b.path.leaf.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0)
      fail_errno(errno, "delete", b.path.shown);
    if (fsync(dir.get()) != 0)
      fail_errno(errno, "fsync the directory of", b.path.shown);
    write_output(b, json{{"path", b.path.shown}, {"deleted", true}});
  });
}

bl_status* BL_CALL run_mkdir(void* user, bl_exec_context* ctx, const uint8_t* payload,
                             uint64_t payload_len) {
  const auto* api = static_cast<const bl_api*>(user);
  return run_guarded(api, "fs.mkdir", [&] {
    const fs_block b = open_block(api, ctx, payload, payload_len);
    const bool parents = flag(b.doc, "parents");
    bool created = false;
    if (b.path.leaf.empty()) {
      if (!parents)
        fail_errno(EEXIST, "mkdir", b.path.shown);
    } else {
      // Like a write: under the tenant's lock, and what it makes counts against the entry limit
      // before any of it is made.
      tenant_lock lock{b.tenant_dir.get(), b.tenant, api, ctx};
      const usage used = scan_usage_and_sweep(b.tenant_dir.get());
      std::vector<std::string> all = b.path.dirs;
      all.push_back(b.path.leaf);
      const size_t missing = missing_dirs(b.files.get(), all);
      check_entries(b.config, b.tenant, used, parents ? missing : std::min<size_t>(missing, 1));
      const unique_fd dir = open_dir_beneath(b.files.get(), b.path.dirs, b.path.shown, parents);
      if (mkdirat(dir.get(), b.path.leaf.c_str(), 0755) == 0) {
        created = true;
        if (fsync(dir.get()) != 0)
          fail_errno(errno, "fsync the directory of", b.path.shown);
      } else {
        const int err = errno;
        const auto st = stat_leaf(dir.get(), b.path);
        if (err != EEXIST || !parents || !st || !S_ISDIR(st->st_mode))
          fail_errno(err == EEXIST && st && S_ISLNK(st->st_mode) ? ELOOP : err, "mkdir",
                     b.path.shown);
      }
    }
    write_output(b, json{{"path", b.path.shown}, {"created", created}});
  });
}

BEAMLINE_REGISTER_BUILTIN("fs.read", run_read);
BEAMLINE_REGISTER_BUILTIN("fs.write", run_write);
BEAMLINE_REGISTER_BUILTIN("fs.append", run_append);
BEAMLINE_REGISTER_BUILTIN("fs.list", run_list);
BEAMLINE_REGISTER_BUILTIN("fs.stat", run_stat);
BEAMLINE_REGISTER_BUILTIN("fs.delete", run_delete);
BEAMLINE_REGISTER_BUILTIN("fs.mkdir", run_mkdir);

} // namespace

} // namespace beamline::exec::fs
