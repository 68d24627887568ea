// PostgreSQL tables of the projection layer: dead letters and versions.
#include "estoria/postgres/postgres_projection_stores.h"

#include "estoria/backend/dead_letter_row.h"
#include "estoria/backend/validation.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "pg_advisory.h"
#include "schema.h"

namespace estoria::postgres {

namespace {

std::string Table(std::string_view schema, const char* table) { return QuoteIdentifier(schema) + "." + table; }

using backend::kDeadLetterColumns;

Result<DeadLetter> ReadLetter(const PgResult& res, int row, std::string_view projection) {
  backend::DeadLetterRow r;
  r.global_position = res.Int64(row, 0);
  r.event_id = res.String(row, 1);
  r.stream_id = res.String(row, 2);
  r.stream_version = res.Int64(row, 3);
  r.timestamp_us = res.Int64(row, 4);
  r.content_type = res.String(row, 5);
  r.data = res.String(row, 6);
  r.metadata = res.String(row, 7);
  r.error = res.String(row, 8);
  r.attempts = res.Int64(row, 9);
  r.parked_at_us = res.Int64(row, 10);
  return backend::FromDeadLetterRow(projection, r);
}

Status NotParked(std::string_view projection, int64_t position) {
  return Status::NotFound("no parked event at position " + std::to_string(position) + " for projection " +
                          std::string(projection));
}

}  // namespace

Result<std::unique_ptr<PgConnection>> PostgresProjectionTables::Connect(const PostgresOptions& options) {
  PgConnectOptions o;
  o.conninfo = options.conninfo;
  o.connect_timeout = options.connect_timeout;
  o.query_timeout = options.query_timeout;
  return PgConnection::Connect(o);
}

Status PostgresProjectionTables::EnsureSchema(const PostgresOptions& options) {
  ESTORIA_RETURN_IF_ERROR(internal::ValidateSchemaName(options.schema));
  {  // creates the schema and its checkpoints table
    ESTORIA_ASSIGN_OR_RETURN(auto checkpoints, PostgresCheckpointStore::Open(options));
  }
  ESTORIA_ASSIGN_OR_RETURN(auto conn, Connect(options));
  ESTORIA_ASSIGN_OR_RETURN(auto tx, PgTransaction::Begin(*conn));
  ESTORIA_RETURN_IF_ERROR(
      conn->ExecParams("SELECT pg_advisory_xact_lock($1, 0)", PgParams().Int32(internal::kProjectionLockClass))
          .error());
  ESTORIA_RETURN_IF_ERROR(conn->Exec("CREATE TABLE IF NOT EXISTS " + Table(options.schema, "projection_dead_letters") +
                                     " (projection text NOT NULL, global_position bigint NOT NULL,"
                                     " event_id text NOT NULL, stream_id text NOT NULL, stream_version bigint NOT NULL,"
                                     " timestamp_us bigint NOT NULL, content_type text NOT NULL, data bytea NOT NULL,"
                                     " metadata text NOT NULL, error text NOT NULL, attempts bigint NOT NULL,"
                                     " parked_at_us bigint NOT NULL, PRIMARY KEY (projection, global_position));"
                                     "CREATE TABLE IF NOT EXISTS " +
                                     Table(options.schema, "projection_dead_letter_replays") +
                                     " (projection text NOT NULL, global_position bigint NOT NULL,"
                                     " requested_at_us bigint NOT NULL, PRIMARY KEY (projection, global_position),"
                                     " FOREIGN KEY (projection, global_position) REFERENCES " +
                                     Table(options.schema, "projection_dead_letters") +
                                     " ON DELETE CASCADE);"
                                     "CREATE TABLE IF NOT EXISTS " +
                                     Table(options.schema, "projection_processors") +
                                     " (name text PRIMARY KEY, owner text NOT NULL, failure_policy text NOT NULL,"
                                     " started_at_us bigint NOT NULL);"
                                     "CREATE TABLE IF NOT EXISTS " +
                                     Table(options.schema, "projection_versions") +
                                     " (name text PRIMARY KEY, active_version bigint NOT NULL,"
                                     " updated_at timestamptz NOT NULL DEFAULT now());"
                                     "CREATE TABLE IF NOT EXISTS " +
                                     Table(options.schema, "projection_rebuilds") +
                                     " (seq bigserial PRIMARY KEY, projection text NOT NULL, kind text NOT NULL,"
                                     " version bigint NOT NULL, active_version bigint NOT NULL,"
                                     " previous_version bigint NOT NULL, position bigint NOT NULL,"
                                     " head bigint NOT NULL, detail text NOT NULL, at_us bigint NOT NULL);"
                                     "CREATE INDEX IF NOT EXISTS projection_rebuilds_by_name ON " +
                                     Table(options.schema, "projection_rebuilds") + " (projection, seq)")
                              .error());
  return tx.Commit();
}

Status PostgresProjectionTables::ParkIn(PgConnection& conn, std::string_view schema, const DeadLetter& l) {
  ESTORIA_ASSIGN_OR_RETURN(backend::DeadLetterRow r, backend::ToDeadLetterRow(l));
  PgParams p;
  p.Text(l.projection)
      .Int64(r.global_position)
      .Text(r.event_id)
      .Text(r.stream_id)
      .Int64(r.stream_version)
      .Int64(r.timestamp_us)
      .Text(r.content_type)
      .Bytes(r.data)
      .Text(r.metadata)
      .Text(r.error)
      .Int64(r.attempts)
      .Int64(r.parked_at_us);
  ESTORIA_RETURN_IF_ERROR(
      conn.ExecParams("INSERT INTO " + Table(schema, "projection_dead_letters") + " (projection, " +
                          kDeadLetterColumns +
                          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                          " ON CONFLICT (projection, global_position) DO UPDATE SET event_id = EXCLUDED.event_id,"
                          " stream_id = EXCLUDED.stream_id, stream_version = EXCLUDED.stream_version,"
                          " timestamp_us = EXCLUDED.timestamp_us, content_type = EXCLUDED.content_type,"
                          " data = EXCLUDED.data, metadata = EXCLUDED.metadata, error = EXCLUDED.error,"
                          " attempts = EXCLUDED.attempts, parked_at_us = EXCLUDED.parked_at_us",
                      p)
          .error());
  return ClearReplayRequestIn(conn, schema, l.projection, l.event.global_position);
}

Result<int64_t> PostgresProjectionTables::RequestReplayIn(PgConnection& conn, std::string_view schema,
                                                          std::string_view projection,
                                                          std::optional<int64_t> global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position.value_or(1)));
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult r,
      conn.ExecParams(
          "INSERT INTO " + Table(schema, "projection_dead_letter_replays") +
              " (projection, global_position, requested_at_us)"
              " SELECT projection, global_position, $3 FROM " +
              Table(schema, "projection_dead_letters") +
              " WHERE projection = $1 AND ($2 = 0 OR global_position = $2)"
              " ON CONFLICT (projection, global_position) DO UPDATE SET"
              " requested_at_us = EXCLUDED.requested_at_us",
          PgParams().Text(projection).Int64(global_position.value_or(0)).Int64(Now().time_since_epoch().count())));
  const int64_t n = r.affected_rows();
  if (global_position && n == 0) return NotParked(projection, *global_position);
  return n;
}

Result<std::vector<int64_t>> PostgresProjectionTables::ListReplayRequestsIn(PgConnection& conn, std::string_view schema,
                                                                            std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult r, conn.ExecParams("SELECT global_position FROM " + Table(schema, "projection_dead_letter_replays") +
                                      " WHERE projection = $1 ORDER BY global_position",
                                  PgParams().Text(projection), PgFormat::kBinary));
  std::vector<int64_t> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Int64(i, 0));
  return out;
}

Status PostgresProjectionTables::ClearReplayRequestIn(PgConnection& conn, std::string_view schema,
                                                      std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  return conn
      .ExecParams("DELETE FROM " + Table(schema, "projection_dead_letter_replays") +
                      " WHERE projection = $1 AND global_position = $2",
                  PgParams().Text(projection).Int64(global_position))
      .error();
}

Result<std::vector<DeadLetter>> PostgresProjectionTables::ListIn(PgConnection& conn, std::string_view schema,
                                                                 std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  ESTORIA_ASSIGN_OR_RETURN(PgResult r, conn.ExecParams(std::string("SELECT ") + kDeadLetterColumns + " FROM " +
                                                           Table(schema, "projection_dead_letters") +
                                                           " WHERE projection = $1 ORDER BY global_position",
                                                       PgParams().Text(projection), PgFormat::kBinary));
  std::vector<DeadLetter> out;
  for (int i = 0; i < r.rows(); ++i) {
    ESTORIA_ASSIGN_OR_RETURN(DeadLetter l, ReadLetter(r, i, projection));
    out.push_back(std::move(l));
  }
  return out;
}

Result<DeadLetter> PostgresProjectionTables::GetIn(PgConnection& conn, std::string_view schema,
                                                   std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult r,
      conn.ExecParams(std::string("SELECT ") + kDeadLetterColumns + " FROM " +
                          Table(schema, "projection_dead_letters") + " WHERE projection = $1 AND global_position = $2",
                      PgParams().Text(projection).Int64(global_position), PgFormat::kBinary));
  if (r.rows() == 0) return NotParked(projection, global_position);
  return ReadLetter(r, 0, projection);
}

Status PostgresProjectionTables::DiscardIn(PgConnection& conn, std::string_view schema, std::string_view projection,
                                           int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  ESTORIA_ASSIGN_OR_RETURN(PgResult r, conn.ExecParams("DELETE FROM " + Table(schema, "projection_dead_letters") +
                                                           " WHERE projection = $1 AND global_position = $2",
                                                       PgParams().Text(projection).Int64(global_position)));
  if (r.affected_rows() == 0) return NotParked(projection, global_position);
  return Status::Ok();
}

Status PostgresProjectionTables::DropTables(PgConnection& conn, std::string_view table_schema,
                                            const std::vector<std::string>& tables) {
  if (!table_schema.empty()) ESTORIA_RETURN_IF_ERROR(internal::ValidateSchemaName(table_schema));
  for (const auto& t : tables) ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(t));
  ESTORIA_ASSIGN_OR_RETURN(auto tx, PgTransaction::Begin(conn));
  for (const auto& t : tables) {
    std::string name =
        table_schema.empty() ? QuoteIdentifier(t) : QuoteIdentifier(table_schema) + "." + QuoteIdentifier(t);
    ESTORIA_RETURN_IF_ERROR(conn.Exec("DROP TABLE IF EXISTS " + name).error());
  }
  return tx.Commit();
}

Result<std::shared_ptr<PostgresDeadLetterStore>> PostgresDeadLetterStore::Open(PostgresOptions options) {
  ESTORIA_RETURN_IF_ERROR(PostgresProjectionTables::EnsureSchema(options));
  ESTORIA_ASSIGN_OR_RETURN(auto conn, PostgresProjectionTables::Connect(options));
  return std::make_shared<PostgresDeadLetterStore>(std::move(options), std::move(conn));
}

Status PostgresDeadLetterStore::Park(const DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::ParkIn(*conn_, options_.schema, letter);
}

Result<std::vector<DeadLetter>> PostgresDeadLetterStore::List(std::string_view projection) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::ListIn(*conn_, options_.schema, projection);
}

Result<DeadLetter> PostgresDeadLetterStore::Get(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::GetIn(*conn_, options_.schema, projection, global_position);
}

Status PostgresDeadLetterStore::Discard(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::DiscardIn(*conn_, options_.schema, projection, global_position);
}

Result<int64_t> PostgresDeadLetterStore::RequestReplay(std::string_view projection,
                                                       std::optional<int64_t> global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::RequestReplayIn(*conn_, options_.schema, projection, global_position);
}

Result<std::vector<int64_t>> PostgresDeadLetterStore::ListReplayRequests(std::string_view projection) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::ListReplayRequestsIn(*conn_, options_.schema, projection);
}

Status PostgresDeadLetterStore::ClearReplayRequest(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::ClearReplayRequestIn(*conn_, options_.schema, projection, global_position);
}

Status PostgresDeadLetterStore::RecordProcessor(std::string_view projection, std::string_view owner,
                                                std::string_view failure_policy) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(projection));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_
      ->ExecParams("INSERT INTO " + Table(options_.schema, "projection_processors") +
                       " (name, owner, failure_policy, started_at_us) VALUES ($1, $2, $3, $4)"
                       " ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner,"
                       " failure_policy = EXCLUDED.failure_policy, started_at_us = EXCLUDED.started_at_us",
                   PgParams().Text(projection).Text(owner).Text(failure_policy).Int64(Now().time_since_epoch().count()))
      .error();
}

Result<std::shared_ptr<PostgresVersionRegistry>> PostgresVersionRegistry::Open(PostgresOptions options) {
  ESTORIA_RETURN_IF_ERROR(PostgresProjectionTables::EnsureSchema(options));
  ESTORIA_ASSIGN_OR_RETURN(auto conn, PostgresProjectionTables::Connect(options));
  return std::make_shared<PostgresVersionRegistry>(std::move(options), std::move(conn));
}

Result<int> PostgresVersionRegistry::ActiveVersion(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult r, conn_->ExecParams("SELECT active_version FROM " + Table(options_.schema, "projection_versions") +
                                        " WHERE name = $1",
                                    PgParams().Text(name), PgFormat::kBinary));
  if (r.rows() == 0) return Status::NotFound("no active version for projection " + std::string(name));
  return static_cast<int>(r.Int64(0, 0));
}

Status PostgresVersionRegistry::SetActiveVersion(std::string_view name, int version) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  if (version < 1) return Status::InvalidArgument("projection version must be >= 1");
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_
      ->ExecParams("INSERT INTO " + Table(options_.schema, "projection_versions") +
                       " (name, active_version, updated_at) VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE"
                       " SET active_version = EXCLUDED.active_version, updated_at = now()",
                   PgParams().Text(name).Int64(version))
      .error();
}

Result<std::shared_ptr<PostgresRebuildCatalog>> PostgresRebuildCatalog::Open(PostgresOptions options) {
  ESTORIA_ASSIGN_OR_RETURN(auto versions, PostgresVersionRegistry::Open(options));
  ESTORIA_ASSIGN_OR_RETURN(auto checkpoints, PostgresCheckpointStore::Open(options));
  ESTORIA_ASSIGN_OR_RETURN(auto conn, PostgresProjectionTables::Connect(options));
  return std::make_shared<PostgresRebuildCatalog>(std::move(options), std::move(versions), std::move(checkpoints),
                                                  std::move(conn));
}

Status PostgresRebuildCatalog::Record(const RebuildStep& step) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(step.projection));
  Timestamp at = step.at == Timestamp{} ? Now() : step.at;
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_
      ->ExecParams("INSERT INTO " + Table(options_.schema, "projection_rebuilds") +
                       " (projection, kind, version, active_version, previous_version, position, head, detail, at_us)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   PgParams()
                       .Text(step.projection)
                       .Text(RebuildStepKindName(step.kind))
                       .Int64(step.version)
                       .Int64(step.active_version)
                       .Int64(step.previous_version)
                       .Int64(step.position)
                       .Int64(step.head)
                       .Text(step.detail)
                       .Int64(at.time_since_epoch().count()))
      .error();
}

Result<std::vector<RebuildStep>> PostgresRebuildCatalog::History(std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(projection));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  ESTORIA_ASSIGN_OR_RETURN(
      PgResult r,
      conn_->ExecParams("SELECT seq, kind, version, active_version, previous_version, position, head,"
                        " detail, at_us FROM " +
                            Table(options_.schema, "projection_rebuilds") + " WHERE projection = $1 ORDER BY seq",
                        PgParams().Text(projection), PgFormat::kBinary));
  std::vector<RebuildStep> out;
  for (int row = 0; row < r.rows(); ++row) {
    RebuildStep s;
    s.seq = r.Int64(row, 0);
    s.projection = std::string(projection);
    ESTORIA_ASSIGN_OR_RETURN(s.kind, ParseRebuildStepKind(r.String(row, 1)));
    s.version = static_cast<int>(r.Int64(row, 2));
    s.active_version = static_cast<int>(r.Int64(row, 3));
    s.previous_version = static_cast<int>(r.Int64(row, 4));
    s.position = r.Int64(row, 5);
    s.head = r.Int64(row, 6);
    s.detail = r.String(row, 7);
    s.at = Timestamp(std::chrono::microseconds(r.Int64(row, 8)));
    out.push_back(std::move(s));
  }
  return out;
}

Status PostgresRebuildCatalog::DropTables(const std::vector<std::string>& tables) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresProjectionTables::DropTables(*conn_, options_.schema, tables);
}

}  // namespace estoria::postgres
