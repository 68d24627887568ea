// Schema versioning: see schema.h.
#include "schema.h"

#include <string>

namespace estoria::sqlite::internal {

Result<int64_t> StoredSchemaVersion(SqliteDatabase& db, std::string_view component) {
  ESTORIA_ASSIGN_OR_RETURN(
      int64_t tables,
      db.QueryInt64("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'estoria_schema'"));
  if (tables == 0) return int64_t{0};
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare("SELECT version FROM estoria_schema WHERE component = ?"));
  ESTORIA_RETURN_IF_ERROR(stmt.BindText(1, component));
  ESTORIA_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : int64_t{0};
}

Status CheckSchemaNotNewer(SqliteDatabase& db, std::string_view component, int64_t supported) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t stored, StoredSchemaVersion(db, component));
  if (stored > supported) {
    return Status::FailedPrecondition("SQLite database " + db.path() + " holds Estoria " + std::string(component) +
                                      " schema version " + std::to_string(stored) + ", newer than version " +
                                      std::to_string(supported) +
                                      " supported by this build; the file was not modified");
  }
  return Status::Ok();
}

Status EnsureSchema(SqliteDatabase& db, std::string_view component, int64_t version, std::string_view ddl,
                    bool read_only) {
  ESTORIA_RETURN_IF_ERROR(CheckSchemaNotNewer(db, component, version));
  ESTORIA_ASSIGN_OR_RETURN(int64_t stored, StoredSchemaVersion(db, component));
  if (stored == version) return Status::Ok();
  if (read_only) {
    return Status::FailedPrecondition("SQLite database " + db.path() + " opened read-only has no Estoria " +
                                      std::string(component) + " schema (version " + std::to_string(stored) +
                                      ", expected " + std::to_string(version) + ")");
  }
  ESTORIA_ASSIGN_OR_RETURN(SqliteTransaction tx, SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate));
  ESTORIA_RETURN_IF_ERROR(CheckSchemaNotNewer(db, component, version));
  ESTORIA_ASSIGN_OR_RETURN(stored, StoredSchemaVersion(db, component));
  if (stored == version) return tx.Rollback();
  if (stored != 0) {
    // No older schema versions exist yet; a future version migrates here.
    return Status::Internal("no migration from " + std::string(component) + " schema version " +
                            std::to_string(stored) + " in " + db.path());
  }
  ESTORIA_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS estoria_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"));
  ESTORIA_RETURN_IF_ERROR(db.Exec(ddl));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement put,
                           db.Prepare("INSERT OR REPLACE INTO estoria_schema (component, version) VALUES (?, ?)"));
  ESTORIA_RETURN_IF_ERROR(put.BindText(1, component));
  ESTORIA_RETURN_IF_ERROR(put.BindInt64(2, version));
  ESTORIA_RETURN_IF_ERROR(put.Run());
  return tx.Commit();
}

}  // namespace estoria::sqlite::internal
