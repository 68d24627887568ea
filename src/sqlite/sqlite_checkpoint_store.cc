// SqliteCheckpointStore: see estoria/sqlite/sqlite_checkpoint_store.h.
#include "estoria/sqlite/sqlite_checkpoint_store.h"

#include "estoria/backend/validation.h"
#include "event_rows.h"
#include "schema.h"

namespace estoria::sqlite {

namespace {
constexpr int64_t kCheckpointsSchemaVersion = 1;
constexpr char kCheckpointsDdl[] = R"sql(
CREATE TABLE estoria_checkpoints (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql";
}  // namespace

SqliteCheckpointStore::SqliteCheckpointStore(std::unique_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

Result<std::shared_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::Open(SqliteStoreOptions options) {
  internal::StoreFileOptions file{options.path, options.durability, options.busy_timeout, false};
  ESTORIA_ASSIGN_OR_RETURN(auto db,
                           internal::OpenStoreFile(file, "checkpoints", kCheckpointsSchemaVersion, kCheckpointsDdl));
  return std::make_shared<SqliteCheckpointStore>(std::move(db));
}

Status SqliteCheckpointStore::EnsureSchema(SqliteDatabase& db) {
  return internal::EnsureSchema(db, "checkpoints", kCheckpointsSchemaVersion, kCheckpointsDdl, db.read_only());
}

Result<int64_t> SqliteCheckpointStore::LoadIn(SqliteDatabase& db, std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * get,
                           db.PrepareCached("SELECT position FROM estoria_checkpoints WHERE name = ?"));
  internal::ResetOnExit reset(get);
  ESTORIA_RETURN_IF_ERROR(get->BindText(1, name));
  ESTORIA_ASSIGN_OR_RETURN(bool row, get->Step());
  return row ? get->ColumnInt64(0) : int64_t{0};
}

Status SqliteCheckpointStore::SaveIn(SqliteDatabase& db, std::string_view name, int64_t position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, position));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * put,
                           db.PrepareCached("INSERT OR REPLACE INTO estoria_checkpoints (name, position, "
                                            "updated_at_us) VALUES (?, ?, ?)"));
  ESTORIA_RETURN_IF_ERROR(put->BindText(1, name));
  ESTORIA_RETURN_IF_ERROR(put->BindInt64(2, position));
  ESTORIA_RETURN_IF_ERROR(put->BindInt64(3, Now().time_since_epoch().count()));
  return put->Run();
}

Result<int64_t> SqliteCheckpointStore::Load(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadIn(*db_, name);
}

Status SqliteCheckpointStore::Save(std::string_view name, int64_t position) {
  std::lock_guard<std::mutex> lock(mu_);
  return SaveIn(*db_, name, position);
}

Result<std::vector<Checkpoint>> SqliteCheckpointStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(
      SqliteStatement * list,
      db_->PrepareCached("SELECT name, position, updated_at_us FROM estoria_checkpoints ORDER BY name"));
  internal::ResetOnExit reset(list);
  std::vector<Checkpoint> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, list->Step());
    if (!row) break;
    out.push_back(Checkpoint{list->ColumnText(0), list->ColumnInt64(1),
                             Timestamp(std::chrono::microseconds(list->ColumnInt64(2)))});
  }
  return out;
}

Status SqliteCheckpointStore::Delete(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * del, db_->PrepareCached("DELETE FROM estoria_checkpoints WHERE name = ?"));
  ESTORIA_RETURN_IF_ERROR(del->BindText(1, name));
  ESTORIA_RETURN_IF_ERROR(del->Run());
  if (db_->Changes() == 0) return Status::NotFound("checkpoint " + std::string(name) + " not found");
  return Status::Ok();
}

}  // namespace estoria::sqlite
