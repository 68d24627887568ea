// Row and parameter conversions (see event_codec.h).
#include "event_codec.h"

#include "estoria/backend/json_codec.h"

namespace estoria::postgres::internal {
Status ValidateStorable(const TypeId& stream_id, std::span<const WritableEvent> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& e = events[i];
    std::string where = "append to " + stream_id.ToString() + ": event " + std::to_string(i);
    if (!backend::IsValidUtf8(e.content_type, /*allow_nul=*/false)) {
      return Status::InvalidArgument(where + ": content type must be UTF-8 text without NUL bytes");
    }
    for (const auto& [k, v] : e.metadata) {
      if (!backend::IsValidUtf8(k, /*allow_nul=*/false) || !backend::IsValidUtf8(v, /*allow_nul=*/false)) {
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
  if (id.IsNil() || !TypeId::ValidateTypeName(type).ok()) {
    return Status::Corruption("event at position " + std::to_string(e.global_position) + ": bad event id or type");
  }
  e.id = TypeId(std::move(type), id);
  e.timestamp = res.TimestampAt(row, 5);
  e.content_type = res.String(row, 6);
  e.data = res.String(row, 7);
  auto metadata = backend::DecodeMetadataJson(res.String(row, 8));
  if (!metadata) {
    return Status::Corruption("event at position " + std::to_string(e.global_position) +
                              ": stored metadata: " + metadata.error().message());
  }
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

}  // namespace estoria::postgres::internal
