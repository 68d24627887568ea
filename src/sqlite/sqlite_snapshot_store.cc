// SqliteSnapshotStore: see estoria/sqlite/sqlite_snapshot_store.h.
#include "estoria/sqlite/sqlite_snapshot_store.h"

#include "estoria/backend/validation.h"
#include "event_rows.h"
#include "schema.h"

namespace estoria::sqlite {

namespace {
constexpr int64_t kSnapshotsSchemaVersion = 1;
constexpr char kSnapshotsDdl[] = R"sql(
CREATE TABLE estoria_snapshots (
  aggregate_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  timestamp_us INTEGER NOT NULL,
  schema_version INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (aggregate_id, version)
) WITHOUT ROWID;
)sql";

Status ValidateId(const TypeId& id) {
  Status st = TypeId::ValidateTypeName(id.type());
  return st.ok() ? st : st.WithContext("invalid aggregate id");
}
}  // namespace

SqliteSnapshotStore::SqliteSnapshotStore(std::unique_ptr<SqliteDatabase> db, SnapshotRetention retention)
    : db_(std::move(db)), retention_(retention) {}

Result<std::shared_ptr<SqliteSnapshotStore>> SqliteSnapshotStore::Open(SqliteStoreOptions options,
                                                                       SnapshotRetention retention) {
  if (retention.keep_last < 0) return Status::InvalidArgument("SnapshotRetention.keep_last is negative");
  internal::StoreFileOptions file{options.path, options.durability, options.busy_timeout, false};
  ESTORIA_ASSIGN_OR_RETURN(auto db, internal::OpenStoreFile(file, "snapshots", kSnapshotsSchemaVersion, kSnapshotsDdl));
  return std::make_shared<SqliteSnapshotStore>(std::move(db), retention);
}

Status SqliteSnapshotStore::Save(const Snapshot& s) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateSnapshot(s));
  std::string id = s.aggregate_id.ToString();
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteTransaction tx, SqliteTransaction::Begin(*db_));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * put,
                           db_->PrepareCached("INSERT OR REPLACE INTO estoria_snapshots (aggregate_id, version, "
                                              "timestamp_us, schema_version, content_type, data) "
                                              "VALUES (?, ?, ?, ?, ?, ?)"));
  ESTORIA_RETURN_IF_ERROR(put->BindText(1, id));
  ESTORIA_RETURN_IF_ERROR(put->BindInt64(2, s.version));
  ESTORIA_RETURN_IF_ERROR(put->BindInt64(3, s.timestamp.time_since_epoch().count()));
  ESTORIA_RETURN_IF_ERROR(put->BindInt64(4, s.schema_version));
  ESTORIA_RETURN_IF_ERROR(put->BindText(5, s.content_type));
  ESTORIA_RETURN_IF_ERROR(put->BindBlob(6, s.data));
  ESTORIA_RETURN_IF_ERROR(put->Run());
  if (retention_.keep_last > 0) {
    ESTORIA_ASSIGN_OR_RETURN(
        SqliteStatement * trim,
        db_->PrepareCached("DELETE FROM estoria_snapshots WHERE aggregate_id = ?1 AND version NOT IN "
                           "(SELECT version FROM estoria_snapshots WHERE aggregate_id = ?1 "
                           "ORDER BY version DESC LIMIT ?2)"));
    ESTORIA_RETURN_IF_ERROR(trim->BindText(1, id));
    ESTORIA_RETURN_IF_ERROR(trim->BindInt64(2, retention_.keep_last));
    ESTORIA_RETURN_IF_ERROR(trim->Run());
  }
  return tx.Commit();
}

Result<Snapshot> SqliteSnapshotStore::Load(const TypeId& aggregate_id, int64_t max_version) {
  ESTORIA_RETURN_IF_ERROR(ValidateId(aggregate_id));
  if (max_version < 0) return Status::InvalidArgument("snapshot Load: negative max_version");
  std::string id = aggregate_id.ToString();
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * get,
      db_->PrepareCached("SELECT version, timestamp_us, schema_version, content_type, data FROM estoria_snapshots "
                         "WHERE aggregate_id = ?1 AND (?2 = 0 OR version <= ?2) ORDER BY version DESC LIMIT 1"));
  internal::ResetOnExit reset(get);
  ESTORIA_RETURN_IF_ERROR(get->BindText(1, id));
  ESTORIA_RETURN_IF_ERROR(get->BindInt64(2, max_version));
  ESTORIA_ASSIGN_OR_RETURN(bool row, get->Step());
  if (!row) return Status::NotFound("no snapshot of " + id);
  Snapshot s;
  s.aggregate_id = aggregate_id;
  s.version = get->ColumnInt64(0);
  s.timestamp = Timestamp(std::chrono::microseconds(get->ColumnInt64(1)));
  s.schema_version = static_cast<int>(get->ColumnInt64(2));
  s.content_type = get->ColumnText(3);
  s.data = get->ColumnBlob(4);
  return s;
}

Result<std::vector<int64_t>> SqliteSnapshotStore::ListVersions(const TypeId& aggregate_id) {
  ESTORIA_RETURN_IF_ERROR(ValidateId(aggregate_id));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * list,
      db_->PrepareCached("SELECT version FROM estoria_snapshots WHERE aggregate_id = ? ORDER BY version"));
  internal::ResetOnExit reset(list);
  ESTORIA_RETURN_IF_ERROR(list->BindText(1, aggregate_id.ToString()));
  std::vector<int64_t> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, list->Step());
    if (!row) break;
    out.push_back(list->ColumnInt64(0));
  }
  return out;
}

Status SqliteSnapshotStore::DeleteBelow(const TypeId& aggregate_id, int64_t below_version) {
  ESTORIA_RETURN_IF_ERROR(ValidateId(aggregate_id));
  if (below_version < 0) return Status::InvalidArgument("snapshot DeleteBelow: negative version");
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * del,
      db_->PrepareCached("DELETE FROM estoria_snapshots WHERE aggregate_id = ?1 AND (?2 = 0 OR version < ?2)"));
  ESTORIA_RETURN_IF_ERROR(del->BindText(1, aggregate_id.ToString()));
  ESTORIA_RETURN_IF_ERROR(del->BindInt64(2, below_version));
  return del->Run();
}

}  // namespace estoria::sqlite
