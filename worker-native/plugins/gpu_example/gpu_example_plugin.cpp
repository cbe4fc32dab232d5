// gpu.device_info: an example executor for the gpu pool. It runs on the device the worker
// leased to the block (bl_exec_info.gpu_device, never chosen by the request), copies the
// payload to the device and back, and outputs
//   {"device":0,"name":"NVIDIA H100","total_memory_bytes":...,"roundtrip_bytes":N}
// A block that was given no device (it did not run on the gpu pool) fails with
// resource_unavailable.

#include <beamline/beamline_exec.h>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

namespace {

const bl_api* g_api = nullptr;

bl_status* fail(bl_errc code, const std::string& message) noexcept {
  return g_api->status_create(code, message.data(), message.size());
}

bl_status* cuda_fail(const char* what, cudaError_t err) noexcept {
  return fail(BL_ERR_INTERNAL, std::string{what} + ": " + cudaGetErrorString(err));
}

bl_status* BL_CALL device_info(void*, bl_exec_context* ctx, const uint8_t* payload, uint64_t len) {
  try {
    const bl_exec_info* info = g_api->context_info(ctx);
    if (info == nullptr || info->gpu_device < 0)
      return fail(BL_ERR_RESOURCE_UNAVAILABLE, "gpu.device_info runs only on the gpu pool (no device given)");
    if (cudaError_t err = cudaSetDevice(info->gpu_device); err != cudaSuccess)
      return cuda_fail("cudaSetDevice", err);
    cudaDeviceProp props{};
    if (cudaError_t err = cudaGetDeviceProperties(&props, info->gpu_device); err != cudaSuccess)
      return cuda_fail("cudaGetDeviceProperties", err);
    std::string back(static_cast<size_t>(len), '\0');
    if (len > 0) {
      void* device_buffer = nullptr;
      if (cudaError_t err = cudaMalloc(&device_buffer, len); err != cudaSuccess)
        return cuda_fail("cudaMalloc", err);
      cudaError_t err = cudaMemcpy(device_buffer, payload, len, cudaMemcpyHostToDevice);
      if (err == cudaSuccess)
        err = cudaMemcpy(back.data(), device_buffer, len, cudaMemcpyDeviceToHost);
      cudaFree(device_buffer);
      if (err != cudaSuccess)
        return cuda_fail("cudaMemcpy", err);
      if (back.compare(0, back.size(), reinterpret_cast<const char*>(payload), len) != 0)
        return fail(BL_ERR_INTERNAL, "the device round trip changed the payload");
    }
    std::string name = props.name;
    for (char& c : name)
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
        c = '?';
    char out[512];
    const int n = std::snprintf(out, sizeof(out),
                                "{\"device\":%d,\"name\":\"%s\",\"total_memory_bytes\":%llu,"
                                "\"roundtrip_bytes\":%llu}",
                                info->gpu_device, name.c_str(),
                                static_cast<unsigned long long>(props.totalGlobalMem),
                                static_cast<unsigned long long>(len));
    return g_api->context_write(ctx, reinterpret_cast<const uint8_t*>(out), static_cast<uint64_t>(n));
  } catch (...) {
    return fail(BL_ERR_INTERNAL, "gpu.device_info: unexpected exception");
  }
}

} // namespace

extern "C" BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) {
  return BL_API_VERSION;
}

extern "C" BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
  g_api = api;
  static const char type[] = "gpu.device_info";
  bl_executor_def def{};
  def.struct_size = sizeof(def);
  def.type = type;
  def.type_len = sizeof(type) - 1;
  def.execute = device_info;
  return api->runtime_register_executor(runtime, &def);
}
