// schema.h (internal): Estoria's tables in a PostgreSQL schema, their creation
// and migration on open, and the SQL of every statement the stores prepare.
//
// Tables (in the configured schema):
//   schema_version  one row per applied schema version
//   log_head        one row: the highest global position ever assigned
//   log_durable     kDurableSlots rows (slot, head): the durable frontier is
//                   max(head), a position whose commit - and every earlier
//                   one - is flushed to the WAL (append_writer.cc); writers
//                   use the slot of their backend pid so they rarely share a row
//   streams         one row per existing stream: tip version, first position
//                   of its current incarnation, last append time
//   events          the global log: position (primary key), stream, version,
//                   event id (unique), type, time, content type, bytea
//                   payload, jsonb metadata
//   snapshots       aggregate snapshots, keyed by (aggregate_id, version)
//   checkpoints     projection checkpoints, keyed by name
//
// Thread safety: Statements is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "estoria/postgres/connection.h"

namespace estoria::postgres::internal {

using postgres::PgConnection;
using postgres::PgStatement;

// The schema version this build writes. A database at a newer version is
// refused with FailedPrecondition.
inline constexpr int kSchemaVersion = 2;

// Rows of log_durable (schema version 2).
inline constexpr int kDurableSlots = 64;

// OK, or InvalidArgument unless the name matches [a-z_][a-z0-9_]{0,62}.
Status ValidateSchemaName(std::string_view schema);

// A stable 64-bit advisory lock key for (purpose, schema): FNV-1a.
int64_t AdvisoryKey(std::string_view purpose, std::string_view schema);

// Creates the schema and tables, or migrates them, under a transaction-scoped
// advisory lock so that concurrent first opens are safe. FailedPrecondition
// when the database holds a newer schema version; Unavailable; Internal.
Status EnsureSchema(PgConnection& conn, std::string_view schema);

// The SQL of every prepared statement, qualified with the schema.
struct Statements {
  explicit Statements(std::string_view schema);

  std::string schema;
  std::string notify_channel;  // LISTEN/NOTIFY channel of this schema
  int64_t append_lock_key;     // pg_advisory_xact_lock key of the append path

  // Append path (writer connection).
  PgStatement begin, commit, rollback, set_sync_commit, lock, head, stream_versions, stored_ids, insert_events,
      upsert_streams, set_head, notify, guard;
  // Durable frontier (see append_writer.cc): raise one slot to $2; make the
  // whole committed log durable (slot $1, NOTIFY on channel $2, returns the
  // new frontier); read (max(log_durable.head), log_head).
  PgStatement mark_durable, catch_up, frontier;
  // Reads (pool connections).
  PgStatement stream_range, read_stream_forward, read_stream_backward, read_all, read_all_by_stream_type,
      read_all_by_event_type, read_all_by_both, list_streams, list_streams_by_type, event_ids_exist;
  // Deletes.
  PgStatement stream_version_for_delete, delete_events, truncate_events, delete_stream_row;
  // Snapshots.
  PgStatement snapshot_save, snapshot_retain, snapshot_load, snapshot_versions, snapshot_delete_below;
  // Checkpoints.
  PgStatement checkpoint_load, checkpoint_save, checkpoint_list, checkpoint_delete;
};

// Columns selected for an event, in the order EventFromRow expects.
inline constexpr std::string_view kEventColumns =
    "position, stream_id, stream_version, event_id, event_type, created_at, content_type, data, metadata";

}  // namespace estoria::postgres::internal
