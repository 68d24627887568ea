// SqliteDatabase and SqliteTransaction: see estoria/sqlite/database.h.
#include "estoria/sqlite/database.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

namespace estoria::sqlite {

namespace {
// A clear reason why `path` cannot be opened, or "" when it looks openable.
std::string DiagnoseOpen(const std::string& path, bool read_only, bool create) {
  if (path.empty() || path == ":memory:") return "";
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path dir = p.parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    return "directory " + dir.string() + " does not exist";
  }
  if (std::filesystem::is_directory(p, ec)) return "it is a directory";
  if (!std::filesystem::exists(p, ec)) {
    if (read_only || !create) return "the file does not exist";
  }
  return "";
}
}  // namespace

SqliteDatabase::SqliteDatabase(sqlite3* db, std::string path, bool read_only)
    : db_(db), path_(std::move(path)), read_only_(read_only) {}

SqliteDatabase::~SqliteDatabase() {
  cache_.clear();  // finalize statements before closing
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(std::string path, SqliteDatabaseOptions options) {
  if (!options.uri) {
    std::string why = DiagnoseOpen(path, options.read_only, options.create);
    if (!why.empty()) return Status::InvalidArgument("cannot open SQLite database " + path + ": " + why);
  }
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  if (options.uri) flags |= SQLITE_OPEN_URI;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db ? sqlite3_errmsg(db) : "";
    sqlite3_close_v2(db);
    return SqliteStatus(rc, "cannot open SQLite database " + path, detail);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  return std::unique_ptr<SqliteDatabase>(new SqliteDatabase(db, std::move(path), options.read_only));
}

Status SqliteDatabase::Error(int rc, std::string_view what) const {
  return SqliteStatus(SqliteResultCode(db_, rc),
                      std::string(what) + " on " + (path_.empty() ? std::string(":memory:") : path_),
                      sqlite3_errmsg(db_));
}

Status SqliteDatabase::Validate() {
  auto n = QueryInt64("SELECT count(*) FROM sqlite_schema");
  return n ? Status::Ok() : n.error();
}

Status SqliteDatabase::ConfigureWal(Durability durability) {
  if (!read_only_) {
    ESTORIA_ASSIGN_OR_RETURN(std::string mode, QueryText("PRAGMA journal_mode=WAL"));
    if (mode != "wal" && mode != "memory") {
      return Status::Internal("could not switch " + path_ + " to WAL mode (journal_mode is " + mode + ")");
    }
  }
  return Exec(durability == Durability::kStrict ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

Status SqliteDatabase::SetBusyTimeout(std::chrono::milliseconds timeout) {
  int rc = sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "busy_timeout");
}

Status SqliteDatabase::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = err ? err : "";
  sqlite3_free(err);
  return SqliteStatus(SqliteResultCode(db_, rc), "exec [" + text.substr(0, 80) + "] on " + path_, detail);
}

Result<SqliteStatement> SqliteDatabase::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    Status st = Error(rc, "prepare [" + std::string(sql.substr(0, 80)) + "]");
    if ((rc & 0xff) == SQLITE_ERROR) return Status::InvalidArgument(st.message());
    return st;
  }
  if (stmt == nullptr) return Status::InvalidArgument("prepare: empty SQL statement");
  return SqliteStatement(stmt);
}

Result<SqliteStatement*> SqliteDatabase::PrepareCached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(sql));
  auto owned = std::make_unique<SqliteStatement>(std::move(stmt));
  SqliteStatement* out = owned.get();
  cache_.emplace(sql, std::move(owned));
  return out;
}

Result<int64_t> SqliteDatabase::QueryInt64(std::string_view sql) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(sql));
  ESTORIA_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.ColumnIsNull(0)) return Status::NotFound("no value for [" + std::string(sql) + "]");
  return stmt.ColumnInt64(0);
}

Result<std::string> SqliteDatabase::QueryText(std::string_view sql) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(sql));
  ESTORIA_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("no row for [" + std::string(sql) + "]");
  return stmt.ColumnText(0);
}

int64_t SqliteDatabase::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
uint32_t SqliteDatabase::DataVersion() const {
  unsigned int version = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK) return 0;
  return version;
}
int64_t SqliteDatabase::Changes() const { return sqlite3_changes64(db_); }
bool SqliteDatabase::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- SqliteTransaction ------------------------------------------------------

Result<SqliteTransaction> SqliteTransaction::Begin(SqliteDatabase& db, Mode mode) {
  if (db.InTransaction()) {
    return Status::FailedPrecondition("a transaction is already open on " + db.path());
  }
  const char* sql = mode == Mode::kImmediate   ? "BEGIN IMMEDIATE"
                    : mode == Mode::kExclusive ? "BEGIN EXCLUSIVE"
                                               : "BEGIN";
  // Cached: a transaction per append must not re-parse BEGIN and COMMIT.
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * begin, db.PrepareCached(sql));
  ESTORIA_RETURN_IF_ERROR(begin->Run());
  return SqliteTransaction(&db);
}

SqliteTransaction::~SqliteTransaction() {
  if (db_ != nullptr && db_->InTransaction()) (void)db_->Exec("ROLLBACK");
}

Status SqliteTransaction::Commit() {
  if (db_ == nullptr) return Status::FailedPrecondition("transaction already finished");
  SqliteDatabase* db = db_;
  auto commit = db->PrepareCached("COMMIT");
  Status st = commit ? (*commit)->Run() : commit.error();
  if (!st.ok() && db->InTransaction()) (void)db->Exec("ROLLBACK");
  db_ = nullptr;
  return st;
}

Status SqliteTransaction::Rollback() {
  if (db_ == nullptr) return Status::Ok();
  SqliteDatabase* db = db_;
  db_ = nullptr;
  if (!db->InTransaction()) return Status::Ok();
  return db->Exec("ROLLBACK");
}

}  // namespace estoria::sqlite
