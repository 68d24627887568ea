// Fuzz target: the PostgreSQL backend's binary decoders fed arbitrary bytes:
// PgResult::Int64 / UuidAt / TimestampAt / String (src/postgres/pg_result.cc)
// and EventFromRow / EventRowDecoder (src/postgres/event_codec.cc), on a result built with
// libpq's own PQmakeEmptyPGresult / PQsetResultAttrs / PQsetvalue (no server),
// with the column types of kEventColumns in binary or text format, NULLs and
// values of any length.
// Invariants: no crash and no undefined behaviour; a row decodes or is
// Corruption; a decoded event is a valid event (ids print and parse back,
// metadata encodes again).
#include <libpq-fe.h>

#include "estoria/backend/json_codec.h"
#include "event_codec.h"
#include "fuzz_util.h"
#include "pg_wire.h"

using namespace estoria;
using namespace estoria::postgres;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The columns of kEventColumns: position, stream_id, stream_version,
  // event_id, event_type, created_at, content_type, data, metadata.
  static const Oid kTypes[9] = {kInt8Oid,        kTextOid, kInt8Oid,  kUuidOid, kTextOid,
                                kTimestamptzOid, kTextOid, kByteaOid, kJsonbOid};
  static const char* kNames[9] = {"position",   "stream_id",    "stream_version", "event_id", "event_type",
                                  "created_at", "content_type", "data",           "metadata"};
  fuzz::FuzzInput in(data, size);
  const uint8_t text_format = in.Byte();  // bit i: column i in text format
  const uint8_t nulls = in.Byte();        // bit i: column i is NULL
  const uint8_t variant = in.Byte();      // bit 0: created_at as int8; bit 1: metadata as jsonb

  PGresAttDesc attrs[9] = {};
  for (int c = 0; c < 9; ++c) {
    attrs[c].name = const_cast<char*>(kNames[c]);
    attrs[c].format = (text_format >> (c % 8) & 1) ? 0 : 1;
    attrs[c].typid = kTypes[c];
    attrs[c].typlen = -1;
    attrs[c].atttypmod = -1;
  }
  attrs[5].typid = (variant & 1) ? kInt8Oid : kTimestamptzOid;
  attrs[8].typid = (variant & 2) ? kJsonbOid : kTextOid;

  PgResult res(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
  FUZZ_CHECK(res.get() != nullptr);
  FUZZ_CHECK(PQsetResultAttrs(res.get(), 9, attrs) != 0);
  for (int c = 0; c < 9; ++c) {
    std::string_view value = c == 8 ? in.rest() : in.Next();
    bool null = c < 8 && (nulls >> c & 1);
    FUZZ_CHECK(PQsetvalue(res.get(), 0, c, null ? nullptr : const_cast<char*>(value.data()),
                          null ? -1 : static_cast<int>(value.size())) != 0);
  }
  FUZZ_CHECK(res.rows() == 1 && res.columns() == 9);

  // Every decoder on every column, whatever its type.
  for (int c = 0; c < 9; ++c) {
    (void)res.Int64(0, c);
    (void)res.UuidAt(0, c);
    (void)res.TimestampAt(0, c);
    std::string s = res.String(0, c);
    FUZZ_CHECK(s.size() <= res.Raw(0, c).size());
  }

  auto event = postgres::internal::EventFromRow(res, 0);
  // A scan's decoder, which skips re-validating a stream id or event type equal
  // to the last one it accepted: twice on the row (the second time from what
  // it remembered), the same outcome as EventFromRow.
  postgres::internal::EventRowDecoder decoder;
  for (int pass = 0; pass < 2; ++pass) {
    Event again;
    Status st = decoder.Decode(res, 0, again);
    FUZZ_CHECK_MSG(st.ok() == event.has_value(), st.ToString());
    if (st.ok()) FUZZ_CHECK(again == *event);
  }
  if (!event) {
    FUZZ_CHECK_MSG(event.error().IsCorruption(), event.error().ToString());
    return 0;
  }
  auto id = TypeId::Parse(event->id.ToString());
  FUZZ_CHECK_MSG(id.has_value() && *id == event->id, event->id.ToString());
  auto stream = TypeId::Parse(event->stream_id.ToString());
  FUZZ_CHECK(stream.has_value() && *stream == event->stream_id);
  auto metadata = backend::EncodeMetadataJson(event->metadata);
  FUZZ_CHECK_MSG(metadata.has_value(), metadata.error().ToString());
  (void)FormatTimestamp(event->timestamp);
  return 0;
}
