// Encoding of events in the SQLite event store's rows: metadata as JSON text,
// UUIDs as 16-byte BLOBs, timestamps as INTEGER microseconds, payload as BLOB.
// Internal to estoria::sqlite.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "estoria/event.h"
#include "estoria/sqlite/database.h"

namespace estoria::sqlite::internal {

// The columns DecodeEventRow expects, in order, for a query over
// "estoria_events e CROSS JOIN estoria_streams s ON s.stream_key = e.stream_key".
inline constexpr std::string_view kEventColumns =
    "e.position, s.stream_name, e.stream_version, e.event_type, e.event_uuid, e.timestamp_us, e.content_type, "
    "e.metadata, e.data";
// The same columns without the join (stream name left empty; pass the stream).
inline constexpr std::string_view kEventColumnsNoJoin =
    "e.position, '', e.stream_version, e.event_type, e.event_uuid, e.timestamp_us, e.content_type, e.metadata, "
    "e.data";

// The same columns without the join, column 1 being e.stream_key (resolve it
// with StreamIdCache and pass the stream to the decoder).
inline constexpr std::string_view kEventColumnsByKey =
    "e.position, e.stream_key, e.stream_version, e.event_type, e.event_uuid, e.timestamp_us, e.content_type, "
    "e.metadata, e.data";

// The metadata column: "" when empty, else the backend SDK's metadata JSON.
// InvalidArgument when a key or value is not UTF-8.
Result<std::string> MetadataColumn(const Metadata& metadata);

inline std::string_view UuidBytes(const Uuid& id) {
  return std::string_view(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size());
}
// Corruption unless exactly 16 bytes.
Result<Uuid> UuidFromBytes(std::string_view bytes);

// Resets a (cached) statement when leaving a scope, so that an early return
// never leaves a read transaction open on a pooled connection.
class ResetOnExit {
 public:
  explicit ResetOnExit(SqliteStatement* stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { stmt_->Reset(); }

 private:
  SqliteStatement* stmt_;
};

// A stream as stored: its key, tip version (surviving truncation) and the
// timestamp of its last append.
struct StreamRow {
  int64_t key = 0;
  std::string name;
  int64_t tip = 0;
  Timestamp last{};
};
// Decodes the current row (columns kStreamColumns of event_sql.h).
StreamRow DecodeStreamRow(const SqliteStatement& row);
// The stream named `name` (id text), nullopt when it does not exist. Errors as
// SqliteStatement::Step.
Result<std::optional<StreamRow>> FindStream(SqliteDatabase& db, std::string_view name);
// The head: the highest position ever assigned (0 when none).
Result<int64_t> ReadHead(SqliteDatabase& db);

// Decodes the current row (columns kEventColumns). `stream` is used instead of
// column 1 when not null. Corruption for undecodable values.
Result<Event> DecodeEventRow(const SqliteStatement& row, const TypeId* stream);

// The stream ids of one scan by stream_key, read from estoria_streams on first
// use. A stream_key is never reused (AUTOINCREMENT; a stream deleted and
// created again gets a new key), so an id read once stays right for the whole
// scan, across its read transactions. Remembers at most 4096 streams (then
// starts over).
//
// Thread safety: one thread at a time (it is a scan's own state).
class StreamIdCache {
 public:
  // The id of the stream `key`, looked up on `db`, which must be the connection
  // of the statement whose row names the key (same read transaction, so the row
  // exists unless the file is inconsistent). Corruption when the stream row is
  // missing or its name is not a valid id; errors as SqliteStatement::Step.
  Result<const TypeId*> Get(SqliteDatabase& db, int64_t key);

 private:
  bool has_last_ = false;
  int64_t last_key_ = 0;
  TypeId last_;  // the id of last_key_ (a copy: this object may be copied)
  std::unordered_map<int64_t, TypeId> ids_;
};

// Decodes the rows of one scan, as DecodeEventRow does (same events, same
// Corruption for the same rows), into an Event the caller provides. It keeps
// the last stream id and event type it validated, so that a row repeating
// them (consecutive events of one stream, of one type) is not parsed again:
// a byte-for-byte equal text validated before is valid again. Every other
// value is decoded and checked as in DecodeEventRow.
//
// Thread safety: one thread at a time (it is a scan's own state).
class EventRowDecoder {
 public:
  // `out` should be empty or moved-from; every field is assigned. Corruption
  // for undecodable values (then `out` holds a partly decoded event).
  Status Decode(const SqliteStatement& row, const TypeId* stream, Event& out);

 private:
  std::string stream_text_;  // column 1 of the last row whose stream id parsed
  TypeId stream_;
  std::string type_text_;  // the last event type that validated
};

}  // namespace estoria::sqlite::internal
