// Fuzz target: the SQLite event store's row decoders (src/sqlite/event_rows.cc)
// on rows another program could have written: arbitrary integers, texts and
// blobs in the event columns (bound to a SELECT on an in-memory database, so
// the decoder reads them through the real SQLite column API), and the
// MetadataColumn / UuidFromBytes encoders.
// Invariants: no crash; a row decodes or is Corruption; a decoded event is a
// valid event (its ids print and parse back, its metadata encodes again).
#include "estoria/backend/json_codec.h"
#include "estoria/sqlite/database.h"
#include "event_rows.h"
#include "fuzz_util.h"

using namespace estoria;
using namespace estoria::sqlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static SqliteDatabase* db = SqliteDatabase::Open(":memory:").value().release();
  fuzz::FuzzInput in(data, size);
  const uint8_t nulls = in.Byte();  // bit i: column i is NULL
  const int64_t position = in.Int64();
  const int64_t version = in.Int64();
  const int64_t timestamp = in.Int64();
  const std::string_view stream = in.Next();
  const std::string_view type = in.Next();
  const std::string_view uuid = in.Next();
  const std::string_view content_type = in.Next();
  const std::string_view metadata = in.Next();
  const std::string_view payload = in.rest();

  auto stmt = db->Prepare("SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?");
  FUZZ_CHECK(stmt.has_value());
  auto bind = [&](int col, auto&& set) {
    Status st = (nulls >> (col % 8) & 1) && col != 8 ? stmt->BindNull(col + 1) : set();
    FUZZ_CHECK_MSG(st.ok(), st.ToString());
  };
  bind(0, [&] { return stmt->BindInt64(1, position); });
  bind(1, [&] { return stmt->BindText(2, stream); });
  bind(2, [&] { return stmt->BindInt64(3, version); });
  bind(3, [&] { return stmt->BindText(4, type); });
  bind(4, [&] { return stmt->BindBlob(5, uuid); });
  bind(5, [&] { return stmt->BindInt64(6, timestamp); });
  bind(6, [&] { return stmt->BindText(7, content_type); });
  bind(7, [&] { return stmt->BindText(8, metadata); });
  bind(8, [&] { return stmt->BindBlob(9, payload); });
  auto row = stmt->Step();
  FUZZ_CHECK(row.has_value() && *row);

  const TypeId given = TypeId("given", Uuid::NewV7());
  for (const TypeId* s : {static_cast<const TypeId*>(nullptr), &given}) {
    auto event = sqlite::internal::DecodeEventRow(*stmt, s);
    // A scan's decoder, which skips re-validating a stream id or event type
    // equal to the last one it accepted: twice on the row (the second time
    // from what it remembered), the same outcome as DecodeEventRow.
    sqlite::internal::EventRowDecoder decoder;
    for (int pass = 0; pass < 2; ++pass) {
      Event again;
      Status st = decoder.Decode(*stmt, s, again);
      FUZZ_CHECK_MSG(st.ok() == event.has_value(), st.ToString());
      if (st.ok()) FUZZ_CHECK(again == *event);
    }
    if (!event) {
      FUZZ_CHECK_MSG(event.error().IsCorruption(), event.error().ToString());
      continue;
    }
    FUZZ_CHECK(event->data == payload);
    auto id = TypeId::Parse(event->id.ToString());
    FUZZ_CHECK_MSG(id.has_value() && *id == event->id, event->id.ToString());
    auto stream_id = TypeId::Parse(event->stream_id.ToString());
    FUZZ_CHECK(stream_id.has_value() && *stream_id == event->stream_id);
    auto column = sqlite::internal::MetadataColumn(event->metadata);
    FUZZ_CHECK_MSG(column.has_value(), column.error().ToString());
    if (!event->metadata.empty()) FUZZ_CHECK(backend::DecodeMetadataJson(*column).value() == event->metadata);
  }

  auto raw = sqlite::internal::UuidFromBytes(uuid);
  FUZZ_CHECK(raw.has_value() ? sqlite::internal::UuidBytes(*raw) == uuid : raw.error().IsCorruption());
  return 0;
}
