// Non-template helpers of CachedStore: the bytes of a cached entry.
#include "estoria/cached_store.h"

#include <charconv>

namespace estoria::internal {

namespace {
constexpr std::string_view kMagic = "estoria-cached-state 1\n";

// Reads a decimal integer up to '\n' from `data` at *pos.
template <typename T>
bool ReadNumberLine(std::string_view data, size_t* pos, T* out) {
  size_t end = data.find('\n', *pos);
  if (end == std::string_view::npos) return false;
  auto [ptr, ec] = std::from_chars(data.data() + *pos, data.data() + end, *out);
  if (ec != std::errc() || ptr != data.data() + end) return false;
  *pos = end + 1;
  return true;
}
}  // namespace

std::string EncodeCachedState(int schema_version, Timestamp last_event_time, std::string_view content_type,
                              std::string_view state) {
  std::string out;
  out.reserve(kMagic.size() + 40 + content_type.size() + state.size());
  out.append(kMagic);
  out.append(std::to_string(schema_version)).push_back('\n');
  out.append(std::to_string(last_event_time.time_since_epoch().count())).push_back('\n');
  out.append(content_type).push_back('\n');
  out.append(state);
  return out;
}

Result<CachedStateView> DecodeCachedState(std::string_view data) {
  if (data.substr(0, kMagic.size()) != kMagic) return Status::Corruption("cached entry: unknown format");
  size_t pos = kMagic.size();
  CachedStateView view;
  int64_t micros = 0;
  if (!ReadNumberLine(data, &pos, &view.schema_version) || !ReadNumberLine(data, &pos, &micros)) {
    return Status::Corruption("cached entry: bad header");
  }
  view.last_event_time = Timestamp(std::chrono::microseconds(micros));
  size_t end = data.find('\n', pos);
  if (end == std::string_view::npos) return Status::Corruption("cached entry: no content type");
  view.content_type = data.substr(pos, end - pos);
  view.state = data.substr(end + 1);
  return view;
}

}  // namespace estoria::internal
