// Row and parameter conversions (see event_codec.h).
#include "event_codec.h"

#include "estoria/backend/json_codec.h"
#include "pg_wire.h"

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

namespace {

// A text, bytea or jsonb value in place, as PgResult::String returns it
// (binary jsonb: version byte stripped); empty for NULL.
std::string_view ValueView(const postgres::PgResult& res, int row, int col) {
  if (res.IsNull(row, col)) return {};
  std::string_view v = res.Raw(row, col);
  if (PQfformat(res.get(), col) == 1 && PQftype(res.get(), col) == kJsonbOid && !v.empty()) v.remove_prefix(1);
  return v;
}

}  // namespace

Result<Event> EventFromRow(const postgres::PgResult& res, int row) {
  EventRowDecoder decoder;
  Event e;
  ESTORIA_RETURN_IF_ERROR(decoder.Decode(res, row, e));
  return e;
}

Status EventRowDecoder::Decode(const postgres::PgResult& res, int row, Event& e) {
  e.global_position = res.Int64(row, 0);
  std::string_view stream = ValueView(res, row, 1);
  if (stream.empty() || stream != stream_text_) {
    auto id = TypeId::Parse(stream);
    if (!id) return Status::Corruption("event at position " + std::to_string(e.global_position) + ": bad stream id");
    stream_ = *std::move(id);
    stream_text_.assign(stream);
  }
  e.stream_id = stream_;
  e.stream_version = res.Int64(row, 2);
  Uuid id = res.UuidAt(row, 3);
  std::string_view type = ValueView(res, row, 4);
  if (id.IsNil() || ((type.empty() || type != type_text_) && !TypeId::ValidateTypeName(type).ok())) {
    return Status::Corruption("event at position " + std::to_string(e.global_position) + ": bad event id or type");
  }
  type_text_.assign(type);
  e.id = TypeId(std::string(type), id);
  e.timestamp = res.TimestampAt(row, 5);
  e.content_type.assign(ValueView(res, row, 6));
  e.data.assign(ValueView(res, row, 7));
  std::string_view metadata_text = ValueView(res, row, 8);
  if (metadata_text == "{}") {
    e.metadata.clear();
  } else {
    auto metadata = backend::DecodeMetadataJson(metadata_text);
    if (!metadata) {
      return Status::Corruption("event at position " + std::to_string(e.global_position) +
                                ": stored metadata: " + metadata.error().message());
    }
    e.metadata = *std::move(metadata);
  }
  return Status::Ok();
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
