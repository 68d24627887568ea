// Row encoding of the SQLite event store: see event_rows.h.
#include "event_rows.h"

#include <array>
#include <cstring>

#include "estoria/backend/json_codec.h"
#include "event_sql.h"

namespace estoria::sqlite::internal {

Result<std::string> MetadataColumn(const Metadata& metadata) {
  if (metadata.empty()) return std::string();
  return backend::EncodeMetadataJson(metadata);
}

Result<Uuid> UuidFromBytes(std::string_view bytes) {
  if (bytes.size() != 16) return Status::Corruption("stored event id is not 16 bytes");
  std::array<uint8_t, 16> raw{};
  std::memcpy(raw.data(), bytes.data(), 16);
  return Uuid(raw);
}

Result<Event> DecodeEventRow(const SqliteStatement& row, const TypeId* stream) {
  Event e;
  e.global_position = row.ColumnInt64(0);
  if (stream != nullptr) {
    e.stream_id = *stream;
  } else {
    auto id = TypeId::Parse(row.ColumnTextView(1));
    if (!id) return Status::Corruption("stored stream id is invalid: " + id.error().message());
    e.stream_id = std::move(*id);
  }
  e.stream_version = row.ColumnInt64(2);
  std::string type = row.ColumnText(3);
  if (Status st = TypeId::ValidateTypeName(type); !st.ok()) {
    return Status::Corruption("stored event type is invalid: " + st.message());
  }
  ESTORIA_ASSIGN_OR_RETURN(Uuid uuid, UuidFromBytes(row.ColumnBlob(4)));
  e.id = TypeId(std::move(type), uuid);
  e.timestamp = Timestamp(std::chrono::microseconds(row.ColumnInt64(5)));
  e.content_type = row.ColumnText(6);
  auto metadata = backend::DecodeMetadataJson(row.ColumnTextView(7));
  if (!metadata) return Status::Corruption("stored metadata: " + metadata.error().message());
  e.metadata = *std::move(metadata);
  e.data = row.ColumnBlob(8);
  return e;
}

StreamRow DecodeStreamRow(const SqliteStatement& row) {
  StreamRow s;
  s.key = row.ColumnInt64(0);
  s.name = row.ColumnText(1);
  s.tip = row.ColumnInt64(2);
  s.last = Timestamp(std::chrono::microseconds(row.ColumnInt64(3)));
  if (!row.ColumnIsNull(4) && row.ColumnInt64(4) >= s.tip) {
    s.tip = row.ColumnInt64(4);
    s.last = Timestamp(std::chrono::microseconds(row.ColumnInt64(5)));
  }
  return s;
}

Result<std::optional<StreamRow>> FindStream(SqliteDatabase& db, std::string_view name) {
  static const std::string sql =
      std::string("SELECT ") + kStreamColumns + " FROM estoria_streams s WHERE s.stream_name = ?";
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * find, db.PrepareCached(sql));
  ResetOnExit reset(find);
  ESTORIA_RETURN_IF_ERROR(find->BindText(1, name));
  ESTORIA_ASSIGN_OR_RETURN(bool row, find->Step());
  if (!row) return std::optional<StreamRow>();
  return std::optional<StreamRow>(DecodeStreamRow(*find));
}

Result<int64_t> ReadHead(SqliteDatabase& db) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * stmt, db.PrepareCached(kSelectHead));
  ResetOnExit reset(stmt);
  ESTORIA_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return Status::Internal("head query returned no row in " + db.path());
  return stmt->ColumnInt64(0);
}

}  // namespace estoria::sqlite::internal
