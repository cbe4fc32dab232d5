#include "exec_client.hpp"

#include <cstddef>

namespace beamline::worker {

namespace {

int32_t BL_CALL forward_chunk(void* user, const uint8_t* chunk, uint64_t len) {
  try {
    return static_cast<chunk_listener*>(user)->on_chunk(chunk, static_cast<size_t>(len)) ? 0 : 1;
  } catch (...) {
    return 1; // nothing may unwind through the library: cancel the block instead
  }
}

} // namespace

exec_client::exec_client(const std::string& worker_id, const std::string& config_json)
  : api_(bl_get_api(BL_API_VERSION)) {
  if (api_ == nullptr)
    throw exec_error(BL_ERR_VERSION_MISMATCH,
                     "libbeamline_exec does not implement C ABI version "
                       + std::to_string(BL_API_VERSION));
  bl_runtime_options options{};
  options.struct_size = sizeof(options);
  options.worker_id = worker_id.data();
  options.worker_id_len = worker_id.size();
  options.config_json = config_json.empty() ? nullptr : config_json.data();
  options.config_json_len = config_json.size();
  if (bl_status* st = api_->runtime_create(&options, &runtime_); st != nullptr)
    throw_status(st);
}

exec_client::~exec_client() {
  api_->runtime_release(runtime_);
}

void exec_client::throw_status(bl_status* st) const {
  uint64_t len = 0;
  const char* text = api_->status_message(st, &len);
  const int32_t code = api_->status_code(st);
  std::string message{text, static_cast<size_t>(len)};
  api_->status_release(st);
  throw exec_error(code, message);
}

void exec_client::load_plugin(const std::string& path) {
  if (bl_status* st = api_->runtime_load_plugin(runtime_, path.data(), path.size()); st != nullptr)
    throw_status(st);
}

std::vector<std::string> exec_client::executors() const {
  bl_buffer list{};
  if (bl_status* st = api_->runtime_list_executors(runtime_, &list); st != nullptr)
    throw_status(st);
  exec_buffer owned{api_, list};
  std::vector<std::string> result;
  std::string_view text{reinterpret_cast<const char*>(owned.data()), owned.size()};
  while (!text.empty()) {
    const auto nl = text.find('\n');
    result.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  return result;
}

exec_buffer exec_client::execute(const uint8_t* request, size_t size, chunk_listener* listener,
                                 int32_t gpu_device) const {
  bl_buffer out{};
  bl_status* st = nullptr;
  if (gpu_device >= 0) {
    // execute_ex came later in version 1: a library whose table is shorter cannot place a block
    // on a device, and running it without its device would be wrong.
    if (api_->struct_size < offsetof(bl_api, execute_ex) + sizeof(api_->execute_ex))
      throw exec_error(BL_ERR_VERSION_MISMATCH,
                       "libbeamline_exec is too old to pass a GPU device to a block (no execute_ex)");
    bl_exec_overrides overrides{};
    overrides.struct_size = sizeof(overrides);
    overrides.gpu_device = gpu_device;
    st = api_->execute_ex(runtime_, request, size, &overrides,
                          listener == nullptr ? nullptr : forward_chunk, listener, &out);
  } else {
    st = listener == nullptr
           ? api_->execute(runtime_, request, size, &out)
           : api_->execute_stream(runtime_, request, size, forward_chunk, listener, &out);
  }
  if (st != nullptr)
    throw_status(st);
  return exec_buffer{api_, out};
}

} // namespace beamline::worker
