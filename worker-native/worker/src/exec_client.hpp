#pragma once

// The worker's side of the C ABI: one runtime of libbeamline_exec, used through bl_get_api
// exactly as the control plane uses it in-process, so that results are byte-identical.

#include <beamline/beamline_exec.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace beamline::worker {

/// Owns a bl_buffer from the library.
class exec_buffer {
public:
  exec_buffer(const bl_api* api, bl_buffer buffer) noexcept : api_(api), buffer_(buffer) {}
  exec_buffer(exec_buffer&& other) noexcept : api_(other.api_), buffer_(other.buffer_) {
    other.buffer_ = {};
  }
  exec_buffer(const exec_buffer&) = delete;
  exec_buffer& operator=(const exec_buffer&) = delete;
  exec_buffer& operator=(exec_buffer&&) = delete;
  ~exec_buffer() { api_->buffer_release(&buffer_); }

  [[nodiscard]] const uint8_t* data() const noexcept { return buffer_.data; }
  [[nodiscard]] size_t size() const noexcept { return static_cast<size_t>(buffer_.len); }

private:
  const bl_api* api_;
  bl_buffer buffer_;
};

/// A failed C ABI call (not a failed block: those come back as ExecResults).
class exec_error : public std::runtime_error {
public:
  exec_error(int32_t code, const std::string& message)
    : std::runtime_error(message), code_(code) {}
  [[nodiscard]] int32_t code() const noexcept { return code_; }

private:
  int32_t code_;
};

/// Called with each encoded ExecChunk of a streamed block; return false to cancel the block.
class chunk_listener {
public:
  virtual ~chunk_listener() = default;
  virtual bool on_chunk(const uint8_t* data, size_t size) = 0;
};

class exec_client {
public:
  /// Creates a runtime with the built-in executors, configured by `config_json` (the executor
  /// configuration, see docs/executors.md; empty = defaults). Throws exec_error.
  explicit exec_client(const std::string& worker_id, const std::string& config_json = {});
  exec_client(const exec_client&) = delete;
  exec_client& operator=(const exec_client&) = delete;
  ~exec_client();

  /// Loads one plugin. Throws exec_error with the library's code and message.
  void load_plugin(const std::string& path);

  /// The registered block types, sorted.
  [[nodiscard]] std::vector<std::string> executors() const;

  /// Runs one encoded ExecRequest; chunks go to `listener` when the request asks for a stream.
  /// `gpu_device` is the device ordinal leased for the block (bl_exec_info.gpu_device), -1 for
  /// none. Returns the encoded ExecResult. Throws exec_error only for API misuse or out of memory.
  [[nodiscard]] exec_buffer execute(const uint8_t* request, size_t size, chunk_listener* listener,
                                    int32_t gpu_device = -1) const;

  [[nodiscard]] const bl_api* api() const noexcept { return api_; }

private:
  [[noreturn]] void throw_status(bl_status* st) const;

  const bl_api* api_;
  bl_runtime* runtime_ = nullptr;
};

} // namespace beamline::worker
