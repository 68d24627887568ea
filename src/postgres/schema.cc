// Schema creation/migration and statement SQL (see schema.h).
#include "schema.h"

#include <cstdio>

#include "estoria/backend/validation.h"

namespace estoria::postgres::internal {
namespace {

using postgres::PgParams;
using postgres::PgResult;
using postgres::PgTransaction;
using postgres::QuoteIdentifier;

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Version 1: the initial layout. Identifiers compare bytewise (COLLATE "C") so
// that ListStreams orders ids like std::string does.
std::string SchemaV1(const std::string& q) {
  return "CREATE TABLE " + q +
         ".log_head (id int4 PRIMARY KEY CHECK (id = 1), position int8 NOT NULL);"
         "INSERT INTO " +
         q +
         ".log_head VALUES (1, 0);"
         "CREATE TABLE " +
         q +
         ".streams ("
         " stream_id text COLLATE \"C\" PRIMARY KEY, stream_type text COLLATE \"C\" NOT NULL,"
         " version int8 NOT NULL, first_position int8 NOT NULL, last_timestamp timestamptz NOT NULL);"
         "CREATE INDEX streams_type ON " +
         q +
         ".streams (stream_type, stream_id);"
         "CREATE TABLE " +
         q +
         ".events ("
         " position int8 PRIMARY KEY, stream_id text COLLATE \"C\" NOT NULL, stream_type text COLLATE \"C\" NOT NULL,"
         " stream_version int8 NOT NULL, event_id uuid NOT NULL, event_type text COLLATE \"C\" NOT NULL,"
         " created_at timestamptz NOT NULL, content_type text NOT NULL, data bytea NOT NULL, metadata jsonb NOT NULL);"
         "CREATE UNIQUE INDEX events_stream_version ON " +
         q +
         ".events (stream_id, stream_version);"
         "CREATE UNIQUE INDEX events_event_id ON " +
         q +
         ".events (event_id);"
         "CREATE INDEX events_stream_type ON " +
         q +
         ".events (stream_type, position);"
         "CREATE INDEX events_event_type ON " +
         q +
         ".events (event_type, position);"
         "CREATE TABLE " +
         q +
         ".snapshots ("
         " aggregate_id text COLLATE \"C\" NOT NULL, version int8 NOT NULL, taken_at timestamptz NOT NULL,"
         " schema_version int4 NOT NULL, content_type text NOT NULL, data bytea NOT NULL,"
         " PRIMARY KEY (aggregate_id, version));"
         "CREATE TABLE " +
         q +
         ".checkpoints ("
         " name text COLLATE \"C\" PRIMARY KEY, position int8 NOT NULL, updated_at timestamptz NOT NULL);";
}

// Version 2: the durable frontier (log_durable), every slot starting at the
// current head (what a version 1 store acknowledged was flushed already).
std::string SchemaV2(const std::string& q) {
  return "CREATE TABLE " + q +
         ".log_durable (slot int4 PRIMARY KEY, head int8 NOT NULL);"
         "INSERT INTO " +
         q + ".log_durable SELECT s, (SELECT position FROM " + q + ".log_head WHERE id = 1) FROM generate_series(0, " +
         std::to_string(kDurableSlots - 1) + ") s;";
}

Result<int> StoredVersion(PgConnection& conn, const std::string& q) {
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult exists, conn.ExecParams("SELECT to_regclass($1) IS NOT NULL", PgParams().Text(q + ".schema_version")));
  if (exists.Raw(0, 0) != "t") return 0;
  ESTORIA_ASSIGN_OR_RETURN(PgResult v, conn.Exec("SELECT coalesce(max(version), 0) FROM " + q + ".schema_version"));
  return static_cast<int>(v.Int64(0, 0));
}

}  // namespace

Status ValidateSchemaName(std::string_view schema) {
  return backend::ValidateSqlIdentifier("PostgreSQL schema name", schema, 63);
}

int64_t AdvisoryKey(std::string_view purpose, std::string_view schema) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix("estoria.");
  mix(purpose);
  mix(":");
  mix(schema);
  return static_cast<int64_t>(h);
}

Status EnsureSchema(PgConnection& conn, std::string_view schema) {
  ESTORIA_RETURN_IF_ERROR(ValidateSchemaName(schema));
  const std::string q = QuoteIdentifier(schema);
  // Fast path: already at this version (no lock needed).
  {
    ESTORIA_ASSIGN_OR_RETURN(int version, StoredVersion(conn, q));
    if (version == kSchemaVersion) return Status::Ok();
  }
  ESTORIA_ASSIGN_OR_RETURN(PgTransaction tx, PgTransaction::Begin(conn));
  ESTORIA_RETURN_IF_ERROR(
      conn.ExecParams("SELECT pg_advisory_xact_lock($1)", PgParams().Int64(AdvisoryKey("migrate", schema))).error());
  ESTORIA_RETURN_IF_ERROR(conn.Exec("CREATE SCHEMA IF NOT EXISTS " + q).error());
  ESTORIA_ASSIGN_OR_RETURN(int version, StoredVersion(conn, q));
  if (version > kSchemaVersion) {
    return Status::FailedPrecondition("PostgreSQL schema " + std::string(schema) + " is at version " +
                                      std::to_string(version) + "; this build of Estoria knows up to " +
                                      std::to_string(kSchemaVersion));
  }
  if (version == 0) {
    ESTORIA_RETURN_IF_ERROR(conn.Exec("CREATE TABLE " + q +
                                      ".schema_version (version int4 PRIMARY KEY,"
                                      " applied_at timestamptz NOT NULL DEFAULT now())")
                                .error());
    ESTORIA_RETURN_IF_ERROR(conn.Exec(SchemaV1(q)).error());
    ESTORIA_RETURN_IF_ERROR(conn.Exec("INSERT INTO " + q + ".schema_version (version) VALUES (1)").error());
  }
  if (version < 2) {
    ESTORIA_RETURN_IF_ERROR(conn.Exec(SchemaV2(q)).error());
    ESTORIA_RETURN_IF_ERROR(conn.Exec("INSERT INTO " + q + ".schema_version (version) VALUES (2)").error());
  }
  // Later versions migrate here, one step at a time: if (version < 3) {...}
  return tx.Commit();
}

Statements::Statements(std::string_view schema_name)
    : schema(schema_name),
      notify_channel("estoria_" + Hex64(static_cast<uint64_t>(AdvisoryKey("notify", schema_name)))),
      append_lock_key(AdvisoryKey("append", schema_name)) {
  const std::string q = QuoteIdentifier(schema);
  const std::string cols(kEventColumns);
  const std::string ev = q + ".events";
  auto s = [](std::string name, std::string sql) { return PgStatement{"estoria_" + name, std::move(sql)}; };
  begin = s("begin", "BEGIN");
  commit = s("commit", "COMMIT");
  rollback = s("rollback", "ROLLBACK");
  set_sync_commit = s("sync_commit", "SELECT set_config('synchronous_commit', $1, true)");
  lock = s("lock", "SELECT pg_advisory_xact_lock($1)");
  head = s("head", "SELECT position FROM " + q + ".log_head WHERE id = 1");
  stream_versions =
      s("stream_versions", "SELECT stream_id, version FROM " + q + ".streams WHERE stream_id = ANY($1::text[])");
  stored_ids =
      s("stored_ids", "SELECT event_id, stream_id, stream_version FROM " + ev + " WHERE event_id = ANY($1::uuid[])");
  // One statement per batch: the events and stream rows arrive as arrays
  // (appends and ImportEvents alike; see AddLogWrites).
  insert_events = s("insert_events", "INSERT INTO " + ev + " (" + cols +
                                         ", stream_type) SELECT u.p, u.s, u.v, u.i, u.t, u.ts, u.c, u.d, u.m, u.st"
                                         " FROM unnest($1::int8[], $2::text[], $3::int8[], $4::uuid[], $5::text[],"
                                         " $6::timestamptz[], $7::text[], $8::bytea[], $9::jsonb[], $10::text[])"
                                         " AS u(p, s, v, i, t, ts, c, d, m, st)");
  upsert_streams = s("upsert_streams", "INSERT INTO " + q +
                                           ".streams (stream_id, stream_type, version, first_position, last_timestamp)"
                                           " SELECT u.s, u.t, u.v, u.f, u.l FROM unnest($1::text[], $2::text[],"
                                           " $3::int8[], $4::int8[], $5::timestamptz[]) AS u(s, t, v, f, l)"
                                           " ON CONFLICT (stream_id) DO UPDATE"
                                           " SET version = EXCLUDED.version, last_timestamp = EXCLUDED.last_timestamp");
  // Fails (division by zero) unless the head and the batch's streams are as
  // the writer predicted: $2 = the streams (sorted), $3 = "id:version" of those
  // that exist (same order).
  guard = s("guard", "SELECT 1 / (CASE WHEN (SELECT position FROM " + q +
                         ".log_head WHERE id = 1) = $1 AND"
                         " (SELECT coalesce(array_agg(stream_id || ':' || version ORDER BY stream_id), '{}') FROM " +
                         q + ".streams WHERE stream_id = ANY($2::text[])) = $3::text[] THEN 1 ELSE 0 END)");
  set_head = s("set_head", "UPDATE " + q + ".log_head SET position = $1 WHERE id = 1");
  notify = s("notify", "SELECT pg_notify($1, $2)");
  mark_durable = s("mark_durable", "UPDATE " + q + ".log_durable SET head = GREATEST(head, $2) WHERE slot = $1");
  catch_up =
      s("catch_up", "WITH u AS (UPDATE " + q + ".log_durable SET head = GREATEST(head, (SELECT position FROM " + q +
                        ".log_head WHERE id = 1)) WHERE slot = $1 RETURNING head)"
                        " SELECT head, pg_notify($2, head::text) FROM u");
  frontier = s("frontier", "SELECT (SELECT max(head) FROM " + q + ".log_durable), (SELECT position FROM " + q +
                               ".log_head WHERE id = 1)");

  stream_range = s("stream_range", "SELECT s.version, h.position, (SELECT max(head) FROM " + q + ".log_durable) FROM " +
                                       q + ".streams s, " + q + ".log_head h WHERE s.stream_id = $1 AND h.id = 1");
  read_stream_forward =
      s("read_stream_fwd", "SELECT " + cols + " FROM " + ev +
                               " WHERE stream_id = $1 AND stream_version > $2 AND stream_version <= $3"
                               " AND position <= $4 ORDER BY stream_version LIMIT $5");
  read_stream_backward =
      s("read_stream_bwd", "SELECT " + cols + " FROM " + ev +
                               " WHERE stream_id = $1 AND stream_version >= $2 AND stream_version <= $3"
                               " AND position <= $4 ORDER BY stream_version DESC LIMIT $5");
  const std::string all = "SELECT " + cols + " FROM " + ev + " WHERE position > $1 AND position <= $2";
  read_all = s("read_all", all + " ORDER BY position LIMIT $3");
  read_all_by_stream_type = s("read_all_st", all + " AND stream_type = ANY($4::text[]) ORDER BY position LIMIT $3");
  read_all_by_event_type = s("read_all_et", all + " AND event_type = ANY($4::text[]) ORDER BY position LIMIT $3");
  read_all_by_both = s("read_all_both", all +
                                            " AND stream_type = ANY($4::text[]) AND event_type = ANY($5::text[])"
                                            " ORDER BY position LIMIT $3");
  const std::string list = "SELECT stream_id, version, last_timestamp FROM " + q + ".streams WHERE stream_id > $1";
  list_streams = s("list_streams", list + " ORDER BY stream_id LIMIT $2");
  list_streams_by_type = s("list_streams_t", list + " AND stream_type = $3 ORDER BY stream_id LIMIT $2");
  event_ids_exist = s("event_ids_exist", "SELECT count(*) FROM " + ev + " WHERE event_id = ANY($1::uuid[])");

  stream_version_for_delete = s("delete_probe", "SELECT version FROM " + q + ".streams WHERE stream_id = $1");
  delete_events = s("delete_events", "DELETE FROM " + ev + " WHERE stream_id = $1");
  truncate_events = s("truncate_events", "DELETE FROM " + ev + " WHERE stream_id = $1 AND stream_version <= $2");
  delete_stream_row = s("delete_stream", "DELETE FROM " + q + ".streams WHERE stream_id = $1");

  const std::string snaps = q + ".snapshots";
  snapshot_save = s("snap_save", "INSERT INTO " + snaps +
                                     " (aggregate_id, version, taken_at, schema_version, content_type, data)"
                                     " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (aggregate_id, version) DO UPDATE"
                                     " SET taken_at = EXCLUDED.taken_at, schema_version = EXCLUDED.schema_version,"
                                     " content_type = EXCLUDED.content_type, data = EXCLUDED.data");
  snapshot_retain = s("snap_retain", "DELETE FROM " + snaps +
                                         " WHERE aggregate_id = $1 AND version < (SELECT min(version)"
                                         " FROM (SELECT version FROM " +
                                         snaps + " WHERE aggregate_id = $1 ORDER BY version DESC LIMIT $2) newest)");
  snapshot_load =
      s("snap_load", "SELECT aggregate_id, version, taken_at, schema_version, content_type, data FROM " + snaps +
                         " WHERE aggregate_id = $1 AND ($2 = 0 OR version <= $2)"
                         " ORDER BY version DESC LIMIT 1");
  snapshot_versions = s("snap_versions", "SELECT version FROM " + snaps + " WHERE aggregate_id = $1 ORDER BY version");
  snapshot_delete_below =
      s("snap_delete", "DELETE FROM " + snaps + " WHERE aggregate_id = $1 AND ($2 = 0 OR version < $2)");

  const std::string cps = q + ".checkpoints";
  checkpoint_load = s("cp_load", "SELECT position FROM " + cps + " WHERE name = $1");
  checkpoint_save = s("cp_save", "INSERT INTO " + cps +
                                     " (name, position, updated_at) VALUES ($1, $2, $3)"
                                     " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,"
                                     " updated_at = EXCLUDED.updated_at");
  checkpoint_list = s("cp_list", "SELECT name, position, updated_at FROM " + cps + " ORDER BY name");
  checkpoint_delete = s("cp_delete", "DELETE FROM " + cps + " WHERE name = $1");
}

}  // namespace estoria::postgres::internal
