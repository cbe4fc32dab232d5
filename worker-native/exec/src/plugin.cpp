#include "plugin.hpp"

#include "status.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace beamline::exec {

namespace {

std::string last_dl_error() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown dlopen error";
}

} // namespace

bl_status* load_plugin(bl_runtime& rt, const bl_api* api, const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int err = errno;
    return make_status(err == ENOENT || err == ENOTDIR ? BL_ERR_NOT_FOUND : BL_ERR_PERMISSION_DENIED,
                       "plugin '" + path + "' cannot be opened: " + std::strerror(err));
  }
  dlerror(); // clear any stale error
  plugin_library library{dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (library.handle() == nullptr)
    return make_status(BL_ERR_INVALID_ARGUMENT,
                       "plugin '" + path + "' is not a loadable library: " + last_dl_error());

  dlerror();
  void* version_sym = dlsym(library.handle(), BL_PLUGIN_API_VERSION_SYMBOL);
  if (version_sym == nullptr)
    return make_status(BL_ERR_NOT_FOUND, "plugin '" + path + "' does not export "
                                           BL_PLUGIN_API_VERSION_SYMBOL "()");
  void* init_sym = dlsym(library.handle(), BL_PLUGIN_INIT_SYMBOL);
  if (init_sym == nullptr)
    return make_status(BL_ERR_NOT_FOUND,
                       "plugin '" + path + "' does not export " BL_PLUGIN_INIT_SYMBOL "()");

  // POSIX guarantees that a data pointer from dlsym converts to a function pointer.
  bl_plugin_api_version_fn version_fn;
  bl_plugin_init_fn init_fn;
  static_assert(sizeof(version_fn) == sizeof(version_sym), "function and data pointers differ");
  std::memcpy(&version_fn, &version_sym, sizeof(version_fn));
  std::memcpy(&init_fn, &init_sym, sizeof(init_fn));

  // Every version only appended to the one before, so a plugin built against an older header
  // works with this table and passes structs this library still accepts; a newer one may call
  // members or pass fields that do not exist here.
  const uint32_t plugin_version = version_fn();
  if (plugin_version < 1 || plugin_version > BL_API_VERSION)
    return make_status(BL_ERR_VERSION_MISMATCH,
                       "plugin '" + path + "' was built for Beamline C ABI version "
                         + std::to_string(plugin_version)
                         + ", but this library loads plugins of version 1 up to version "
                         + std::to_string(BL_API_VERSION));

  bl_runtime* handle = &rt;
  bl_status* init_status = nullptr;
  try {
    init_status = init_fn(api, handle);
  } catch (...) {
    init_status = make_status(BL_ERR_INTERNAL,
                              "plugin '" + path + "': " BL_PLUGIN_INIT_SYMBOL "() threw an exception");
  }
  rt.keep(std::move(library));
  if (init_status != nullptr && init_status->code != BL_OK) {
    std::string message = "plugin '" + path + "' failed to initialise: " + init_status->message;
    const int32_t code = init_status->code;
    release_status(init_status);
    return make_status(code, message);
  }
  release_status(init_status);
  return nullptr;
}

} // namespace beamline::exec
