// SQLite tables of the projection layer: dead letters, leases, versions.
#include "estoria/sqlite/sqlite_projection_stores.h"

#include "estoria/backend/dead_letter_row.h"
#include "estoria/backend/validation.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"

namespace estoria::sqlite {

namespace {

constexpr const char* kDdl = R"sql(
CREATE TABLE IF NOT EXISTS estoria_dead_letters (
  projection TEXT NOT NULL,
  global_position INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  stream_version INTEGER NOT NULL,
  timestamp_us INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  data BLOB NOT NULL,
  metadata TEXT NOT NULL,
  error TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  parked_at_us INTEGER NOT NULL,
  PRIMARY KEY (projection, global_position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS estoria_dead_letter_replays (
  projection TEXT NOT NULL,
  global_position INTEGER NOT NULL,
  requested_at_us INTEGER NOT NULL,
  PRIMARY KEY (projection, global_position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS estoria_projection_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS estoria_projection_processors (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  failure_policy TEXT NOT NULL,
  started_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS estoria_projection_versions (
  name TEXT PRIMARY KEY,
  active_version INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS estoria_projection_rebuilds (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  projection TEXT NOT NULL,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  active_version INTEGER NOT NULL,
  previous_version INTEGER NOT NULL,
  position INTEGER NOT NULL,
  head INTEGER NOT NULL,
  detail TEXT NOT NULL,
  at_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS estoria_projection_rebuilds_by_name ON estoria_projection_rebuilds (projection, seq);
)sql";

using backend::kDeadLetterColumns;

Result<DeadLetter> ReadLetter(SqliteStatement& st, std::string_view projection) {
  backend::DeadLetterRow r;
  r.global_position = st.ColumnInt64(0);
  r.event_id = st.ColumnText(1);
  r.stream_id = st.ColumnText(2);
  r.stream_version = st.ColumnInt64(3);
  r.timestamp_us = st.ColumnInt64(4);
  r.content_type = st.ColumnText(5);
  r.data = st.ColumnBlob(6);
  r.metadata = st.ColumnText(7);
  r.error = st.ColumnText(8);
  r.attempts = st.ColumnInt64(9);
  r.parked_at_us = st.ColumnInt64(10);
  return backend::FromDeadLetterRow(projection, r);
}

Status NotParked(std::string_view projection, int64_t position) {
  return Status::NotFound("no parked event at position " + std::to_string(position) + " for projection " +
                          std::string(projection));
}

}  // namespace

Status SqliteProjectionTables::EnsureSchema(SqliteDatabase& db) {
  ESTORIA_RETURN_IF_ERROR(db.Exec(kDdl));
  return SqliteCheckpointStore::EnsureSchema(db);
}

Result<std::unique_ptr<SqliteDatabase>> SqliteProjectionTables::Open(const SqliteStoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("sqlite projection store: empty path");
  SqliteDatabaseOptions o;
  o.busy_timeout = options.busy_timeout;
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(options.path, o));
  ESTORIA_RETURN_IF_ERROR(db->Validate());
  ESTORIA_RETURN_IF_ERROR(db->ConfigureWal(options.durability));
  ESTORIA_RETURN_IF_ERROR(EnsureSchema(*db));
  return db;
}

Status SqliteProjectionTables::ParkIn(SqliteDatabase& db, const DeadLetter& l) {
  ESTORIA_ASSIGN_OR_RETURN(backend::DeadLetterRow r, backend::ToDeadLetterRow(l));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * put,
                           db.PrepareCached(std::string("INSERT OR REPLACE INTO estoria_dead_letters (projection, ") +
                                            kDeadLetterColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  Status s = put->BindText(1, l.projection);
  if (s.ok()) s = put->BindInt64(2, r.global_position);
  if (s.ok()) s = put->BindText(3, r.event_id);
  if (s.ok()) s = put->BindText(4, r.stream_id);
  if (s.ok()) s = put->BindInt64(5, r.stream_version);
  if (s.ok()) s = put->BindInt64(6, r.timestamp_us);
  if (s.ok()) s = put->BindText(7, r.content_type);
  if (s.ok()) s = put->BindBlob(8, r.data);
  if (s.ok()) s = put->BindText(9, r.metadata);
  if (s.ok()) s = put->BindText(10, r.error);
  if (s.ok()) s = put->BindInt64(11, r.attempts);
  if (s.ok()) s = put->BindInt64(12, r.parked_at_us);
  if (!s.ok()) {
    put->Reset();
    return s;
  }
  ESTORIA_RETURN_IF_ERROR(put->Run());
  return ClearReplayRequestIn(db, l.projection, l.event.global_position);
}

Result<std::vector<DeadLetter>> SqliteProjectionTables::ListIn(SqliteDatabase& db, std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare(std::string("SELECT ") + kDeadLetterColumns +
                                      " FROM estoria_dead_letters WHERE projection = ? ORDER BY global_position"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, projection));
  std::vector<DeadLetter> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ESTORIA_ASSIGN_OR_RETURN(DeadLetter l, ReadLetter(st, projection));
    out.push_back(std::move(l));
  }
  return out;
}

Result<DeadLetter> SqliteProjectionTables::GetIn(SqliteDatabase& db, std::string_view projection,
                                                 int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare(std::string("SELECT ") + kDeadLetterColumns +
                                      " FROM estoria_dead_letters WHERE projection = ? AND global_position = ?"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, projection));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(2, global_position));
  ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotParked(projection, global_position);
  return ReadLetter(st, projection);
}

Status SqliteProjectionTables::DiscardIn(SqliteDatabase& db, std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare("DELETE FROM estoria_dead_letters WHERE projection = ? AND global_position = ?"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, projection));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(2, global_position));
  ESTORIA_RETURN_IF_ERROR(st.Run());
  if (db.Changes() == 0) return NotParked(projection, global_position);
  return ClearReplayRequestIn(db, projection, global_position);
}

Result<int64_t> SqliteProjectionTables::RequestReplayIn(SqliteDatabase& db, std::string_view projection,
                                                        std::optional<int64_t> global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position.value_or(1)));
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement st,
      db.Prepare("INSERT OR REPLACE INTO estoria_dead_letter_replays (projection, global_position, requested_at_us) "
                 "SELECT projection, global_position, ? FROM estoria_dead_letters WHERE projection = ? AND "
                 "(? = 0 OR global_position = ?)"));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(1, Now().time_since_epoch().count()));
  ESTORIA_RETURN_IF_ERROR(st.BindText(2, projection));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(3, global_position ? 1 : 0));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(4, global_position.value_or(0)));
  ESTORIA_RETURN_IF_ERROR(st.Run());
  const int64_t n = db.Changes();
  if (global_position && n == 0) return NotParked(projection, *global_position);
  return n;
}

Result<std::vector<int64_t>> SqliteProjectionTables::ListReplayRequestsIn(SqliteDatabase& db,
                                                                          std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare("SELECT r.global_position FROM estoria_dead_letter_replays r JOIN "
                                      "estoria_dead_letters d ON d.projection = r.projection AND d.global_position = "
                                      "r.global_position WHERE r.projection = ? ORDER BY r.global_position"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, projection));
  std::vector<int64_t> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.ColumnInt64(0));
  }
  return out;
}

Status SqliteProjectionTables::ClearReplayRequestIn(SqliteDatabase& db, std::string_view projection,
                                                    int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * st,
      db.PrepareCached("DELETE FROM estoria_dead_letter_replays WHERE projection = ? AND global_position = ?"));
  Status s = st->BindText(1, projection);
  if (s.ok()) s = st->BindInt64(2, global_position);
  if (!s.ok()) {
    st->Reset();
    return s;
  }
  return st->Run();
}

Result<bool> SqliteProjectionTables::ClaimLeaseIn(SqliteDatabase& db, std::string_view name, std::string_view owner,
                                                  std::chrono::milliseconds ttl, bool take) {
  const int64_t now = Now().time_since_epoch().count();
  const int64_t expires = now + std::chrono::duration_cast<std::chrono::microseconds>(ttl).count();
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * get,
      db.PrepareCached("SELECT owner, expires_at_us FROM estoria_projection_leases WHERE name = ?"));
  Status bound = get->BindText(1, name);
  if (!bound.ok()) {
    get->Reset();
    return bound;
  }
  auto row = get->Step();
  if (!row.ok()) {
    get->Reset();
    return row.error();
  }
  bool exists = *row;
  bool mine = exists && get->ColumnTextView(0) == owner;
  bool expired = exists && get->ColumnInt64(1) <= now;
  get->Reset();
  if (!mine && !(take && (!exists || expired))) return false;
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * put,
                           db.PrepareCached("INSERT OR REPLACE INTO estoria_projection_leases (name, owner, "
                                            "expires_at_us) VALUES (?, ?, ?)"));
  Status s = put->BindText(1, name);
  if (s.ok()) s = put->BindText(2, owner);
  if (s.ok()) s = put->BindInt64(3, expires);
  if (!s.ok()) {
    put->Reset();
    return s;
  }
  ESTORIA_RETURN_IF_ERROR(put->Run());
  return true;
}

Status SqliteProjectionTables::ReleaseLeaseIn(SqliteDatabase& db, std::string_view name, std::string_view owner) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare("DELETE FROM estoria_projection_leases WHERE name = ? AND owner = ?"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, name));
  ESTORIA_RETURN_IF_ERROR(st.BindText(2, owner));
  return st.Run();
}

Status SqliteProjectionTables::DropTables(SqliteDatabase& db, const std::vector<std::string>& tables) {
  for (const auto& t : tables) ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(t));
  ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(db));
  for (const auto& t : tables) ESTORIA_RETURN_IF_ERROR(db.Exec("DROP TABLE IF EXISTS \"" + t + "\""));
  return tx.Commit();
}

Result<std::shared_ptr<SqliteDeadLetterStore>> SqliteDeadLetterStore::Open(SqliteStoreOptions options) {
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteProjectionTables::Open(options));
  return std::make_shared<SqliteDeadLetterStore>(std::move(db));
}

Status SqliteDeadLetterStore::Park(const DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::ParkIn(*db_, letter);
}

Result<std::vector<DeadLetter>> SqliteDeadLetterStore::List(std::string_view projection) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::ListIn(*db_, projection);
}

Result<DeadLetter> SqliteDeadLetterStore::Get(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::GetIn(*db_, projection, global_position);
}

Status SqliteDeadLetterStore::Discard(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::DiscardIn(*db_, projection, global_position);
}

Result<int64_t> SqliteDeadLetterStore::RequestReplay(std::string_view projection,
                                                     std::optional<int64_t> global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::RequestReplayIn(*db_, projection, global_position);
}

Result<std::vector<int64_t>> SqliteDeadLetterStore::ListReplayRequests(std::string_view projection) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::ListReplayRequestsIn(*db_, projection);
}

Status SqliteDeadLetterStore::ClearReplayRequest(std::string_view projection, int64_t global_position) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::ClearReplayRequestIn(*db_, projection, global_position);
}

Status SqliteDeadLetterStore::RecordProcessor(std::string_view projection, std::string_view owner,
                                              std::string_view failure_policy) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(projection));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * st,
                           db_->PrepareCached("INSERT OR REPLACE INTO estoria_projection_processors (name, owner, "
                                              "failure_policy, started_at_us) VALUES (?, ?, ?, ?)"));
  ESTORIA_RETURN_IF_ERROR(st->BindText(1, projection));
  ESTORIA_RETURN_IF_ERROR(st->BindText(2, owner));
  ESTORIA_RETURN_IF_ERROR(st->BindText(3, failure_policy));
  ESTORIA_RETURN_IF_ERROR(st->BindInt64(4, Now().time_since_epoch().count()));
  return st->Run();
}

Result<std::shared_ptr<SqliteVersionRegistry>> SqliteVersionRegistry::Open(SqliteStoreOptions options) {
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteProjectionTables::Open(options));
  return std::make_shared<SqliteVersionRegistry>(std::move(db));
}

Result<int> SqliteVersionRegistry::ActiveVersion(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db_->Prepare("SELECT active_version FROM estoria_projection_versions WHERE name = ?"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, name));
  ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no active version for projection " + std::string(name));
  return static_cast<int>(st.ColumnInt64(0));
}

Status SqliteVersionRegistry::SetActiveVersion(std::string_view name, int version) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  if (version < 1) return Status::InvalidArgument("projection version must be >= 1");
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db_->Prepare("INSERT OR REPLACE INTO estoria_projection_versions (name, active_version, "
                                        "updated_at_us) VALUES (?, ?, ?)"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, name));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(2, version));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(3, Now().time_since_epoch().count()));
  return st.Run();
}

Result<std::shared_ptr<SqliteRebuildCatalog>> SqliteRebuildCatalog::Open(SqliteStoreOptions options) {
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteProjectionTables::Open(options));
  ESTORIA_ASSIGN_OR_RETURN(auto versions, SqliteVersionRegistry::Open(options));
  ESTORIA_ASSIGN_OR_RETURN(auto checkpoints, SqliteCheckpointStore::Open(options));
  return std::make_shared<SqliteRebuildCatalog>(std::move(versions), std::move(checkpoints), std::move(db));
}

Status SqliteRebuildCatalog::Record(const RebuildStep& step) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(step.projection));
  Timestamp at = step.at == Timestamp{} ? Now() : step.at;
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db_->Prepare("INSERT INTO estoria_projection_rebuilds (projection, kind, version, "
                                        "active_version, previous_version, position, head, detail, at_us) "
                                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, step.projection));
  ESTORIA_RETURN_IF_ERROR(st.BindText(2, RebuildStepKindName(step.kind)));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(3, step.version));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(4, step.active_version));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(5, step.previous_version));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(6, step.position));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(7, step.head));
  ESTORIA_RETURN_IF_ERROR(st.BindText(8, step.detail));
  ESTORIA_RETURN_IF_ERROR(st.BindInt64(9, at.time_since_epoch().count()));
  return st.Run();
}

Result<std::vector<RebuildStep>> SqliteRebuildCatalog::History(std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(projection));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement st,
                           db_->Prepare("SELECT seq, kind, version, active_version, previous_version, position, head, "
                                        "detail, at_us FROM estoria_projection_rebuilds WHERE projection = ? "
                                        "ORDER BY seq"));
  ESTORIA_RETURN_IF_ERROR(st.BindText(1, projection));
  std::vector<RebuildStep> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    RebuildStep s;
    s.seq = st.ColumnInt64(0);
    s.projection = std::string(projection);
    ESTORIA_ASSIGN_OR_RETURN(s.kind, ParseRebuildStepKind(st.ColumnText(1)));
    s.version = static_cast<int>(st.ColumnInt64(2));
    s.active_version = static_cast<int>(st.ColumnInt64(3));
    s.previous_version = static_cast<int>(st.ColumnInt64(4));
    s.position = st.ColumnInt64(5);
    s.head = st.ColumnInt64(6);
    s.detail = st.ColumnText(7);
    s.at = Timestamp(std::chrono::microseconds(st.ColumnInt64(8)));
    out.push_back(std::move(s));
  }
  return out;
}

Status SqliteRebuildCatalog::DropTables(const std::vector<std::string>& tables) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteProjectionTables::DropTables(*db_, tables);
}

}  // namespace estoria::sqlite
