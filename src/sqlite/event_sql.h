// The SQLite event store's schema and the SQL shared by its writer, readers
// and admin functions. Internal to estoria::sqlite.
//
// Layout (schema version 1). An append writes only rows of estoria_events
// (and one estoria_streams row when the stream is new), so a one-event commit
// touches three B-tree pages: the table and its two indexes.
//  - estoria_events: one row per event; position is the INTEGER PRIMARY KEY.
//  - estoria_streams: stream id text -> stream_key. A stream's tip version is
//    max(tip_floor, its highest stored stream_version); tip_floor (and
//    tip_floor_timestamp_us) record the tip when the stream was last truncated,
//    so that truncation keeps the tip. Deleting the whole stream deletes its row
//    (the id restarts at version 1 with a new stream_key).
//  - estoria_position_floor: the head when events were last deleted. The head
//    (highest position ever assigned) is max(floor, max(position)), so
//    positions of deleted events are never reused.
// Thread safety: constants only.
#pragma once

#include <cstdint>

namespace estoria::sqlite::internal {

inline constexpr int64_t kEventsSchemaVersion = 1;

inline constexpr char kEventsDdl[] = R"sql(
CREATE TABLE estoria_position_floor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  position INTEGER NOT NULL
);
INSERT INTO estoria_position_floor (id, position) VALUES (1, 0);
CREATE TABLE estoria_streams (
  stream_key INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_name TEXT NOT NULL UNIQUE,
  stream_type TEXT NOT NULL,
  tip_floor INTEGER NOT NULL,
  tip_floor_timestamp_us INTEGER NOT NULL
);
CREATE TABLE estoria_events (
  position INTEGER PRIMARY KEY,
  stream_key INTEGER NOT NULL,
  stream_version INTEGER NOT NULL,
  event_uuid BLOB NOT NULL,
  event_type TEXT NOT NULL,
  timestamp_us INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  metadata TEXT,
  data BLOB NOT NULL
);
CREATE UNIQUE INDEX estoria_events_by_stream ON estoria_events (stream_key, stream_version);
CREATE UNIQUE INDEX estoria_events_by_uuid ON estoria_events (event_uuid);
)sql";

// One row: the head position.
inline constexpr char kSelectHead[] =
    "SELECT max((SELECT position FROM estoria_position_floor WHERE id = 1), "
    "coalesce((SELECT max(position) FROM estoria_events), 0))";

// The columns DecodeStreamRow reads, for "FROM estoria_streams s".
inline constexpr char kStreamColumns[] =
    "s.stream_key, s.stream_name, s.tip_floor, s.tip_floor_timestamp_us, "
    "(SELECT e.stream_version FROM estoria_events e WHERE e.stream_key = s.stream_key "
    "ORDER BY e.stream_version DESC LIMIT 1), "
    "(SELECT e.timestamp_us FROM estoria_events e WHERE e.stream_key = s.stream_key "
    "ORDER BY e.stream_version DESC LIMIT 1)";

}  // namespace estoria::sqlite::internal
