// Row encoding of the SQLite event store: see event_rows.h.
#include "event_rows.h"

#include <sqlite3.h>

#include <array>
#include <cstring>

#include "estoria/backend/json_codec.h"
#include "event_sql.h"

namespace estoria::sqlite::internal {
namespace {

// A BLOB column's bytes, valid until the next Step or Reset (no copy).
std::string_view BlobView(const SqliteStatement& row, int col) {
  const void* p = sqlite3_column_blob(row.get(), col);
  const int n = sqlite3_column_bytes(row.get(), col);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string_view();
}

}  // namespace

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
  EventRowDecoder decoder;
  Event e;
  ESTORIA_RETURN_IF_ERROR(decoder.Decode(row, stream, e));
  return e;
}

Status EventRowDecoder::Decode(const SqliteStatement& row, const TypeId* stream, Event& e) {
  e.global_position = row.ColumnInt64(0);
  if (stream != nullptr) {
    e.stream_id = *stream;
  } else {
    std::string_view text = row.ColumnTextView(1);
    if (text.empty() || text != stream_text_) {
      auto id = TypeId::Parse(text);
      if (!id) return Status::Corruption("stored stream id is invalid: " + id.error().message());
      stream_ = *std::move(id);
      stream_text_.assign(text);
    }
    e.stream_id = stream_;
  }
  e.stream_version = row.ColumnInt64(2);
  std::string_view type = row.ColumnTextView(3);
  if (type.empty() || type != type_text_) {
    if (Status st = TypeId::ValidateTypeName(type); !st.ok()) {
      return Status::Corruption("stored event type is invalid: " + st.message());
    }
    type_text_.assign(type);
  }
  std::string_view uuid_bytes = BlobView(row, 4);
  if (uuid_bytes.size() != 16) return Status::Corruption("stored event id is not 16 bytes");
  std::array<uint8_t, 16> raw{};
  std::memcpy(raw.data(), uuid_bytes.data(), 16);
  e.id = TypeId(std::string(type), Uuid(raw));
  e.timestamp = Timestamp(std::chrono::microseconds(row.ColumnInt64(5)));
  e.content_type.assign(row.ColumnTextView(6));
  std::string_view metadata_text = row.ColumnTextView(7);
  if (metadata_text.empty()) {
    e.metadata.clear();
  } else {
    auto metadata = backend::DecodeMetadataJson(metadata_text);
    if (!metadata) return Status::Corruption("stored metadata: " + metadata.error().message());
    e.metadata = *std::move(metadata);
  }
  e.data.assign(BlobView(row, 8));
  return Status::Ok();
}

Result<const TypeId*> StreamIdCache::Get(SqliteDatabase& db, int64_t key) {
  if (has_last_ && key == last_key_) return &last_;
  auto it = ids_.find(key);
  if (it == ids_.end()) {
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * find,
                             db.PrepareCached("SELECT stream_name FROM estoria_streams WHERE stream_key = ?"));
    ResetOnExit reset(find);
    ESTORIA_RETURN_IF_ERROR(find->BindInt64(1, key));
    ESTORIA_ASSIGN_OR_RETURN(bool row, find->Step());
    if (!row) return Status::Corruption("stored event names stream key " + std::to_string(key) + ", which has no row");
    auto id = TypeId::Parse(find->ColumnTextView(0));
    if (!id) return Status::Corruption("stored stream id is invalid: " + id.error().message());
    if (ids_.size() >= 4096) ids_.clear();
    it = ids_.emplace(key, *std::move(id)).first;
  }
  has_last_ = true;
  last_key_ = key;
  last_ = it->second;
  return &last_;
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
