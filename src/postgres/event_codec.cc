// Row and parameter conversions (see event_codec.h).
#include "event_codec.h"

#include <nlohmann/json.hpp>

namespace estoria::postgres_internal {
namespace {

bool IsValidUtf8WithoutNul(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

std::string EncodeMetadata(const Metadata& metadata) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : metadata) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Metadata> DecodeMetadata(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("event metadata is not a JSON object");
  Metadata out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return Status::Corruption("event metadata value of \"" + it.key() + "\" is not a string");
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

Status ValidateStorable(const TypeId& stream_id, std::span<const WritableEvent> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& e = events[i];
    std::string where = "append to " + stream_id.ToString() + ": event " + std::to_string(i);
    if (!IsValidUtf8WithoutNul(e.content_type)) {
      return Status::InvalidArgument(where + ": content type must be UTF-8 text without NUL bytes");
    }
    for (const auto& [k, v] : e.metadata) {
      if (!IsValidUtf8WithoutNul(k) || !IsValidUtf8WithoutNul(v)) {
        return Status::InvalidArgument(where + ": metadata \"" + k +
                                       "\": PostgreSQL stores metadata as jsonb, which needs UTF-8 text without NUL");
      }
    }
  }
  return Status::Ok();
}

Result<Event> EventFromRow(const postgres::PgResult& res, int row) {
  Event e;
  e.global_position = res.Int64(row, 0);
  auto stream = TypeId::Parse(res.String(row, 1));
  if (!stream) return Status::Corruption("event at position " + std::to_string(e.global_position) + ": bad stream id");
  e.stream_id = *std::move(stream);
  e.stream_version = res.Int64(row, 2);
  Uuid id = res.UuidAt(row, 3);
  std::string type = res.String(row, 4);
  if (id.IsNil() || type.empty()) {
    return Status::Corruption("event at position " + std::to_string(e.global_position) + ": bad event id or type");
  }
  e.id = TypeId(std::move(type), id);
  e.timestamp = res.TimestampAt(row, 5);
  e.content_type = res.String(row, 6);
  e.data = res.String(row, 7);
  auto metadata = DecodeMetadata(res.String(row, 8));
  if (!metadata) return metadata.error().WithContext("event at position " + std::to_string(e.global_position));
  e.metadata = *std::move(metadata);
  return e;
}

std::string TextArray(std::span<const std::string> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace estoria::postgres_internal
