#include "fs/sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

namespace beamline::exec::fs {

void write_json(const bl_api* api, bl_exec_context* ctx, const nlohmann::json& out) {
  const std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (bl_status* st = api->context_write(ctx, reinterpret_cast<const uint8_t*>(text.data()), text.size());
      st != nullptr) {
    uint64_t len = 0;
    const char* msg = api->status_message(st, &len);
    failure f{static_cast<bl_errc>(api->status_code(st)), std::string{msg, len}};
    api->status_release(st);
    throw f;
  }
}

namespace {

std::atomic<bool> force_walk{false};
/// Cleared for good once the kernel answers ENOSYS (or a seccomp filter EPERM) to openat2.
std::atomic<bool> openat2_available{true};

std::string in_quotes(std::string_view path) {
  std::string out{"'"};
  out += path;
  out += '\'';
  return out;
}

uint64_t read_u64(const nlohmann::json& section, const char* key, uint64_t fallback, uint64_t min,
                  uint64_t max) {
  const auto it = section.find(key);
  if (it == section.end() || it->is_null())
    return fallback;
  if (!it->is_number_unsigned() || it->get<uint64_t>() < min || it->get<uint64_t>() > max)
    fail(BL_ERR_INVALID_ARGUMENT, std::string{"executor config fs."} + key + " must be an integer in "
                                    + std::to_string(min) + ".." + std::to_string(max));
  return it->get<uint64_t>();
}

/// Opens (creating when asked) one directory `name` beneath `dir_fd`, never following a link.
int open_child_dir(int dir_fd, const std::string& name, bool create, mode_t mode) {
  for (int attempt = 0;; ++attempt) {
    const int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || !create || attempt > 0)
      return fd;
    if (mkdirat(dir_fd, name.c_str(), mode) != 0 && errno != EEXIST)
      return -1;
  }
}

/// Tells a link apart from a file for ELOOP/ENOTDIR in a walk.
int classify_walk_error(int dir_fd, const std::string& name, int err) {
  if (err != ELOOP && err != ENOTDIR)
    return err;
  struct stat st {};
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return ELOOP;
  return ENOTDIR;
}

unique_fd walk(int root_fd, const std::vector<std::string>& dirs, std::string_view shown,
               bool create) {
  unique_fd current{fcntl(root_fd, F_DUPFD_CLOEXEC, 0)};
  if (!current)
    fail_errno(errno, "open", shown);
  for (const auto& name : dirs) {
    const int fd = open_child_dir(current.get(), name, create, 0755);
    if (fd < 0)
      fail_errno(classify_walk_error(current.get(), name, errno), "open", shown);
    current = unique_fd{fd};
  }
  return current;
}

/// openat2 of `dirs` joined; -1 with errno, or -2 when openat2 is unavailable.
int try_openat2(int root_fd, const std::vector<std::string>& dirs) {
  std::string joined;
  for (const auto& name : dirs) {
    if (!joined.empty())
      joined += '/';
    joined += name;
  }
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  const long fd = syscall(SYS_openat2, root_fd, joined.c_str(), &how, sizeof(how));
  if (fd >= 0)
    return static_cast<int>(fd);
  if (errno == ENOSYS || errno == E2BIG || errno == EPERM) {
    openat2_available.store(false, std::memory_order_relaxed);
    return -2;
  }
  return -1;
}

struct tenant_mutexes {
  std::mutex guard;
  std::map<std::string, std::shared_ptr<std::timed_mutex>, std::less<>> by_tenant;
};

tenant_mutexes& mutexes() {
  static tenant_mutexes m;
  return m;
}

bool deadline_passed(const bl_api* api, const bl_exec_context* ctx) {
  const bl_exec_info* info = api->context_info(ctx);
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count();
  return info != nullptr && info->deadline_mono_ns != 0 && now >= info->deadline_mono_ns;
}

} // namespace

void fail(bl_errc code, std::string message) {
  throw failure{code, std::move(message)};
}

void fail_errno(int err, std::string_view op, std::string_view path) {
  const std::string where = std::string{op} + " " + in_quotes(path) + ": ";
  switch (err) {
  case ENOENT:
    fail(BL_ERR_NOT_FOUND, where + "no such file or directory");
  case ELOOP:
    fail(BL_ERR_PERMISSION_DENIED, where + "symbolic links are not followed in the sandbox");
  case EXDEV:
    fail(BL_ERR_PERMISSION_DENIED, where + "the path leads outside the sandbox");
  case EAGAIN:
    fail(BL_ERR_RESOURCE_UNAVAILABLE, where + "the path changed while it was resolved; retry");
  case ENOTDIR:
    fail(BL_ERR_INVALID_INPUT, where + "a component of the path is not a directory");
  case EISDIR:
    fail(BL_ERR_INVALID_INPUT, where + "is a directory");
  case EEXIST:
    fail(BL_ERR_ALREADY_EXISTS, where + "already exists");
  case ENOTEMPTY:
    fail(BL_ERR_INVALID_INPUT, where + "the directory is not empty");
  case ENAMETOOLONG:
    fail(BL_ERR_INVALID_INPUT, where + "the name is too long");
  case EACCES:
  case EPERM:
  case EROFS:
    fail(BL_ERR_PERMISSION_DENIED, where + std::strerror(err));
  case ENOSPC:
  case EDQUOT:
  case EMFILE:
  case ENFILE:
    fail(BL_ERR_RESOURCE_UNAVAILABLE, where + std::strerror(err));
  case EFBIG:
    fail(BL_ERR_INVALID_INPUT, where + "the file is too large");
  default:
    fail(BL_ERR_INTERNAL, where + std::strerror(err));
  }
}

void fail_stopped(const bl_api* api, const bl_exec_context* ctx) {
  if (deadline_passed(api, ctx))
    fail(BL_ERR_DEADLINE_EXCEEDED, "stopped: the block's deadline passed");
  fail(BL_ERR_CANCELLED, "stopped: the block was cancelled");
}

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0)
    ::close(fd_);
}

sandbox_config sandbox_config::from_json(const nlohmann::json& section) {
  sandbox_config c;
  if (const auto it = section.find("root"); it != section.end() && !it->is_null()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty()
        || it->get_ref<const std::string&>().find('\0') != std::string::npos)
      fail(BL_ERR_INVALID_ARGUMENT, "executor config fs.root must be a non-empty path");
    c.root = it->get<std::string>();
  }
  c.max_file_bytes = read_u64(section, "max_file_bytes", c.max_file_bytes, 0, 1ull << 40);
  c.tenant_quota_bytes =
    read_u64(section, "tenant_quota_bytes", c.tenant_quota_bytes, 0, UINT64_MAX / 2);
  c.max_list_entries = read_u64(section, "max_list_entries", c.max_list_entries, 1, 10'000'000);
  c.tenant_max_entries =
    read_u64(section, "tenant_max_entries", c.tenant_max_entries, 1, uint64_t{1} << 32);
  return c;
}

bool valid_tenant_id(std::string_view tenant) noexcept {
  if (tenant.empty() || tenant.size() > 128)
    return false;
  const auto alnum = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  };
  if (!alnum(tenant.front()))
    return false;
  for (const char ch : tenant)
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-')
      return false;
  return true;
}

unique_fd open_tenant_dir(const sandbox_config& config, std::string_view tenant) {
  if (!valid_tenant_id(tenant))
    fail(BL_ERR_PERMISSION_DENIED,
         tenant.empty() ? std::string{"the block has no tenant id; a sandbox needs one"}
                        : "tenant id " + in_quotes(tenant)
                            + " cannot name a sandbox (1..128 of [A-Za-z0-9._-], starting "
                              "with a letter or digit)");
  // The root is the operator's: links in it are theirs to make. Create it like mkdir -p.
  unique_fd root{open(config.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!root && errno == ENOENT) {
    std::string prefix;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = config.root.find('/', pos + 1);
      prefix = config.root.substr(0, pos);
      if (!prefix.empty() && mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
        break;
    }
    root = unique_fd{open(config.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  }
  if (!root)
    fail(BL_ERR_INTERNAL, "cannot open the sandbox root " + in_quotes(config.root) + " (executor "
                            "config fs.root): " + std::strerror(errno));
  const std::string name{tenant};
  const int fd = open_child_dir(root.get(), name, true, 0700);
  if (fd < 0)
    fail_errno(classify_walk_error(root.get(), name, errno), "open the sandbox of tenant",
               tenant);
  return unique_fd{fd};
}

unique_fd open_files_dir(int tenant_fd) {
  const int fd = open_child_dir(tenant_fd, "files", true, 0755);
  if (fd < 0)
    fail_errno(classify_walk_error(tenant_fd, "files", errno), "open", "files");
  return unique_fd{fd};
}

sandbox_path parse_path(std::string_view text) {
  sandbox_path p;
  p.shown = std::string{text.substr(0, 256)};
  if (text.size() > 256)
    p.shown += "...";
  if (text.find('\0') != std::string_view::npos) {
    p.shown = "<path with NUL>";
    fail(BL_ERR_INVALID_INPUT, "the path contains a NUL byte");
  }
  if (text.empty())
    fail(BL_ERR_INVALID_INPUT, "'path' is empty; use \".\" for the sandbox root");
  if (text.size() > 4095)
    fail(BL_ERR_INVALID_INPUT, "the path is longer than 4095 bytes");
  if (text.front() == '/')
    fail(BL_ERR_PERMISSION_DENIED, "path " + in_quotes(p.shown)
                                     + " is absolute; paths are relative to the tenant's sandbox");
  p.trailing_slash = text.back() == '/';
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('/', start);
    if (end == std::string_view::npos)
      end = text.size();
    const auto part = text.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".")
      continue;
    if (part == "..")
      fail(BL_ERR_PERMISSION_DENIED,
           "path " + in_quotes(p.shown) + " contains '..'; sandbox paths may not go up");
    if (part.size() > 255)
      fail(BL_ERR_INVALID_INPUT, "path " + in_quotes(p.shown) + " has a name longer than 255 bytes");
    if (part.substr(0, temp_prefix.size()) == temp_prefix)
      fail(BL_ERR_INVALID_INPUT, "path " + in_quotes(p.shown) + ": names starting with '"
                                   + std::string{temp_prefix} + "' are reserved");
    parts.emplace_back(part);
    if (parts.size() > max_path_components)
      fail(BL_ERR_INVALID_INPUT, "path " + in_quotes(p.shown) + " has more than "
                                   + std::to_string(max_path_components) + " components");
  }
  if (!parts.empty()) {
    p.leaf = std::move(parts.back());
    parts.pop_back();
  }
  p.dirs = std::move(parts);
  return p;
}

void set_resolver(resolver r) noexcept {
  force_walk.store(r == resolver::walk, std::memory_order_relaxed);
}

bool using_openat2() noexcept {
  return !force_walk.load(std::memory_order_relaxed)
         && openat2_available.load(std::memory_order_relaxed);
}

unique_fd open_dir_beneath(int root_fd, const std::vector<std::string>& dirs,
                           std::string_view shown, bool create) {
  if (dirs.empty()) {
    unique_fd fd{fcntl(root_fd, F_DUPFD_CLOEXEC, 0)};
    if (!fd)
      fail_errno(errno, "open", shown);
    return fd;
  }
  // Creating walks: mkdirat needs each parent's fd anyway.
  if (!create && using_openat2()) {
    const int fd = try_openat2(root_fd, dirs);
    if (fd >= 0)
      return unique_fd{fd};
    if (fd == -1)
      fail_errno(errno, "open", shown);
    // -2: openat2 is not available; walk.
  }
  return walk(root_fd, dirs, shown, create);
}

usage scan_usage_and_sweep(int dir_fd) {
  // Depth-first over fds; depth is bounded so that a tree made outside cannot exhaust fds.
  constexpr int max_depth = static_cast<int>(max_path_components) + 8;
  usage total;
  std::vector<DIR*> stack;
  const auto push = [&](int fd) {
    DIR* d = fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return;
    }
    stack.push_back(d);
  };
  // Whatever is thrown, the directories opened so far are closed.
  struct closer {
    std::vector<DIR*>& dirs;
    ~closer() {
      for (DIR* d : dirs)
        closedir(d);
    }
  } close_all{stack};
  const int first = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (first < 0)
    fail_errno(errno, "scan", ".");
  push(first);
  while (!stack.empty()) {
    DIR* d = stack.back();
    errno = 0;
    const dirent* e = readdir(d);
    if (e == nullptr) {
      closedir(d);
      stack.pop_back();
      continue;
    }
    const std::string_view name{e->d_name};
    if (name == "." || name == "..")
      continue;
    struct stat st {};
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue; // removed meanwhile
    if (S_ISREG(st.st_mode) && name.substr(0, temp_prefix.size()) == temp_prefix
        && unlinkat(dirfd(d), e->d_name, 0) == 0)
      continue; // an orphan of a crashed write: swept
    ++total.entries;
    if (S_ISREG(st.st_mode)) {
      total.bytes += static_cast<uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode) && static_cast<int>(stack.size()) < max_depth) {
      const int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0)
        push(fd);
    }
  }
  return total;
}

size_t missing_dirs(int root_fd, const std::vector<std::string>& dirs) {
  unique_fd current{fcntl(root_fd, F_DUPFD_CLOEXEC, 0)};
  if (!current)
    return 0;
  for (size_t i = 0; i < dirs.size(); ++i) {
    const int fd =
      openat(current.get(), dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return errno == ENOENT ? dirs.size() - i : 0;
    current = unique_fd{fd};
  }
  return 0;
}

void check_entries(const sandbox_config& config, std::string_view tenant, const usage& held,
                   uint64_t adding) {
  if (adding == 0 || held.entries + adding <= config.tenant_max_entries)
    return;
  fail(BL_ERR_RESOURCE_UNAVAILABLE,
       "quota exceeded: tenant " + in_quotes(tenant) + " holds " + std::to_string(held.entries)
         + " of " + std::to_string(config.tenant_max_entries)
         + " entries (fs.tenant_max_entries); this would add " + std::to_string(adding));
}

tenant_lock::tenant_lock(int tenant_fd, std::string_view tenant, const bl_api* api,
                         const bl_exec_context* ctx) {
  std::shared_ptr<std::timed_mutex> m;
  {
    auto& all = mutexes();
    std::lock_guard<std::mutex> guard{all.guard};
    auto it = all.by_tenant.find(tenant);
    if (it == all.by_tenant.end())
      it = all.by_tenant.emplace(std::string{tenant}, std::make_shared<std::timed_mutex>()).first;
    m = it->second;
  }
  while (!m->try_lock_for(std::chrono::milliseconds{5})) {
    if (api->context_cancelled(ctx) != 0)
      fail_stopped(api, ctx);
  }
  // From here on the mutex is held: release it whatever happens.
  mutex_ = std::shared_ptr<void>(m.get(), [m](void*) { m->unlock(); });
  file_ = unique_fd{openat(tenant_fd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)};
  if (!file_)
    fail_errno(errno, "open the lock of tenant", tenant);
  while (flock(file_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      fail_errno(errno, "lock the sandbox of tenant", tenant);
    if (api->context_cancelled(ctx) != 0)
      fail_stopped(api, ctx);
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

tenant_lock::~tenant_lock() {
  if (file_)
    flock(file_.get(), LOCK_UN);
}

} // namespace beamline::exec::fs
