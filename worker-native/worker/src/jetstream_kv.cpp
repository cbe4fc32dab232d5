#include "jetstream_kv.hpp"

namespace beamline::worker::jetstream {

kv_read kv_get(kvStore* kv, const std::string& key) {
  kv_read read;
  kvEntry* entry = nullptr;
  read.status = kvStore_Get(&entry, kv, key.c_str());
  if (read.status == NATS_OK && entry != nullptr) {
    read.found = true;
    read.value.assign(static_cast<const char*>(kvEntry_Value(entry)),
                      static_cast<size_t>(kvEntry_ValueLen(entry)));
    read.revision = kvEntry_Revision(entry);
  }
  kvEntry_Destroy(entry);
  return read;
}

std::string error_text(natsStatus s, std::string_view feature_flag, jsErrCode code) {
  if (s == NATS_NO_RESPONDERS)
    return "the NATS server has no JetStream (start nats-server with -js, or run the worker without " +
           std::string{feature_flag} + ")";
  std::string text = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0')
    text += std::string{" ("} + last + ")";
  if (code != 0) text += " [jetstream error " + std::to_string(static_cast<int>(code)) + "]";
  return text;
}

}  // namespace beamline::worker::jetstream
