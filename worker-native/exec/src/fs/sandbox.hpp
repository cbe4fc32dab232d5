#pragma once

// The per-tenant filesystem sandbox behind the fs.* and sql.* executors.
//
// Layout: <fs.root>/<tenant>/files/ holds a tenant's files (what fs.* paths are relative to),
// <fs.root>/<tenant>/db.sqlite3 its SQLite database, <fs.root>/<tenant>/.lock the lock that
// serialises its writes across threads and processes.
//
// Escapes are prevented by the kernel, not by looking at strings: every path is resolved
// beneath a directory fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_SYMLINKS) where the kernel has it, and otherwise by opening one component at a
// time with openat(O_NOFOLLOW | O_DIRECTORY) from that fd. No symbolic link is ever followed
// (the API cannot create one, so any link in a sandbox was put there from outside), and '..'
// is refused before resolution as well. The final operation always acts on the resolved
// parent fd plus one plain name (openat/renameat/unlinkat/mkdirat with no-follow semantics),
// so a directory or link swapped in after resolution cannot redirect it.
//
// Inside an executor, failures are thrown as `failure` and turned into a status at its entry.

#include <beamline/beamline_exec.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace beamline::exec::fs {

/// An executor's error: a bl_errc and a message. Thrown inside executors only.
struct failure {
  bl_errc code;
  std::string message;
};

[[noreturn]] void fail(bl_errc code, std::string message);
/// Throws the failure for `err` (an errno value) from operation `op` on sandbox path `path`.
[[noreturn]] void fail_errno(int err, std::string_view op, std::string_view path);
/// Throws deadline_exceeded when the block's deadline passed, else cancelled.
[[noreturn]] void fail_stopped(const bl_api* api, const bl_exec_context* ctx);

/// Writes `out` as the block's JSON output; throws the failure context_write reports.
void write_json(const bl_api* api, bl_exec_context* ctx, const nlohmann::json& out);

/// Runs an executor's body and turns what it throws into the block's status, "<type>: <message>"
/// (a failure keeps its code; anything else is internal_error). No exception leaves it.
template <class F>
[[nodiscard]] bl_status* run_guarded(const bl_api* api, const char* type, F&& body) noexcept {
  std::string message;
  bl_errc code = BL_ERR_INTERNAL;
  try {
    body();
    return nullptr;
  } catch (const failure& f) {
    code = f.code;
    message = f.message;
  } catch (const std::bad_alloc&) {
    code = BL_ERR_RESOURCE_UNAVAILABLE;
    message = "out of memory";
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unexpected exception";
  }
  std::string text = std::string{type} + ": " + message;
  return api->status_create(code, text.data(), text.size());
}

/// RAII owner of a file descriptor.
class unique_fd {
public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_ = -1;
};

/// The "fs" section of the executor configuration (see docs/executors.md).
struct sandbox_config {
  /// Parent of every tenant's sandbox. Created (0700) when missing.
  std::string root = "/tmp/beamline-sandbox";
  /// Largest file fs.write/fs.append may produce, and the most bytes one fs.read returns.
  uint64_t max_file_bytes = 64ull << 20;
  /// Bytes a tenant may hold: its files plus its SQLite database.
  uint64_t tenant_quota_bytes = 1ull << 30;
  /// Entries (files, directories, links) a tenant may hold beneath its sandbox directory,
  /// whatever their size: empty files and directories cost inodes, not bytes.
  uint64_t tenant_max_entries = 100'000;
  /// Most entries one fs.list returns.
  uint64_t max_list_entries = 10'000;

  /// Reads the section; throws failure(BL_ERR_INVALID_ARGUMENT) on a wrong type or value.
  [[nodiscard]] static sandbox_config from_json(const nlohmann::json& section);
};

/// Most components a sandbox path may have.
constexpr size_t max_path_components = 64;
/// Names starting with this are the temporary files of atomic writes: reserved and not listed.
constexpr std::string_view temp_prefix = ".bl-tmp-";

/// Whether `tenant` may name a sandbox: 1..128 of [A-Za-z0-9._-], starting with a letter or
/// digit (so never "", "." or "..").
[[nodiscard]] bool valid_tenant_id(std::string_view tenant) noexcept;

/// Opens <root>/<tenant> (creating both, 0700), refusing a tenant id that is not valid and a
/// tenant directory that is a symbolic link.
[[nodiscard]] unique_fd open_tenant_dir(const sandbox_config& config, std::string_view tenant);

/// Opens (creating) the "files" directory beneath a tenant directory.
[[nodiscard]] unique_fd open_files_dir(int tenant_fd);

/// A relative sandbox path split into components. Empty `leaf` = the sandbox root itself.
struct sandbox_path {
  std::vector<std::string> dirs;
  std::string leaf;
  bool trailing_slash = false;
  /// The path as given, for messages.
  std::string shown;
};

/// Splits and checks a path: refuses NUL bytes, absolute paths, '..', reserved names, over-long
/// names, too many components. "" is refused; "." (or "./") names the root. Throws failure.
[[nodiscard]] sandbox_path parse_path(std::string_view text);

/// How directories are resolved; `walk` forces the openat fallback (for tests).
enum class resolver { automatic, walk };
void set_resolver(resolver r) noexcept;
/// Whether openat2 is in use (false after it answered ENOSYS, or when forced to walk).
[[nodiscard]] bool using_openat2() noexcept;

/// Opens the directory `dirs` beneath `root_fd` without leaving it or following any link.
/// With `create`, missing directories are created (0755) on the way. Throws failure.
[[nodiscard]] unique_fd open_dir_beneath(int root_fd, const std::vector<std::string>& dirs,
                                         std::string_view shown, bool create);

/// What a tenant holds beneath a directory.
struct usage {
  /// The sizes of regular files, links not followed.
  uint64_t bytes = 0;
  /// Every entry: files, directories, links and others.
  uint64_t entries = 0;
};

/// The usage beneath `dir_fd`, removing the temporary files of atomic writes on the way: they
/// are created only under the tenant's lock, so any found by a holder of that lock was orphaned
/// by a crash. Call it only while holding the tenant's lock (tenant_lock).
[[nodiscard]] usage scan_usage_and_sweep(int dir_fd);

/// How many of the directories `dirs` (a path beneath `root_fd`) do not exist yet: the number
/// a creating walk would make. 0 when the first one that is there cannot be opened (the
/// operation itself then fails with the reason).
[[nodiscard]] size_t missing_dirs(int root_fd, const std::vector<std::string>& dirs);

/// Throws resource_unavailable ("quota exceeded") when `adding` more entries would take a
/// tenant holding `held` over config.tenant_max_entries.
void check_entries(const sandbox_config& config, std::string_view tenant, const usage& held,
                   uint64_t adding);

/// Serialises a tenant's writes: a mutex per tenant inside this process plus an flock on
/// <tenant>/.lock across processes. Waits until the block is cancelled or its deadline passes,
/// then throws failure (deadline_exceeded or cancelled).
class tenant_lock {
public:
  tenant_lock(int tenant_fd, std::string_view tenant, const bl_api* api,
              const bl_exec_context* ctx);
  tenant_lock(const tenant_lock&) = delete;
  tenant_lock& operator=(const tenant_lock&) = delete;
  ~tenant_lock();

private:
  std::shared_ptr<void> mutex_;
  unique_fd file_;
};

} // namespace beamline::exec::fs
