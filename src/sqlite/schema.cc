// Schema versioning: see schema.h.
#include "schema.h"

#include <sys/stat.h>
#include <unistd.h>

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

Status CheckWritableFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::Ok();  // created later
  if ((st.st_mode & 0222) == 0 || ::access(path.c_str(), W_OK) != 0) {
    return Status::FailedPrecondition("SQLite database " + path +
                                      " is read-only; open it with read_only (URI option ?mode=ro) to read it");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SqliteDatabase>> OpenStoreFile(const StoreFileOptions& options, std::string_view component,
                                                      int64_t version, std::string_view ddl) {
  if (options.path.empty()) return Status::InvalidArgument("SQLite store path is empty");
  if (options.busy_timeout.count() < 0) return Status::InvalidArgument("SQLite busy_timeout is negative");
  bool memory = options.path == ":memory:";
  bool read_only = options.read_only && !memory;
  if (!memory && !read_only) ESTORIA_RETURN_IF_ERROR(CheckWritableFile(options.path));
  SqliteDatabaseOptions dbo;
  dbo.read_only = read_only;
  dbo.create = !read_only;
  dbo.busy_timeout = options.busy_timeout;
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(options.path, dbo));
  ESTORIA_RETURN_IF_ERROR(db->Validate().WithContext("open " + options.path));
  ESTORIA_RETURN_IF_ERROR(CheckSchemaNotNewer(*db, component, version));
  ESTORIA_RETURN_IF_ERROR(db->ConfigureWal(options.durability));
  ESTORIA_RETURN_IF_ERROR(EnsureSchema(*db, component, version, ddl, read_only));
  return db;
}

}  // namespace estoria::sqlite::internal
