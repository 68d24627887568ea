// SqliteStatement and SqliteStatus: see estoria/sqlite/database.h.
#include <errno.h>

#include <string>

#include "estoria/sqlite/database.h"

namespace estoria::sqlite {

Status SqliteStatus(int rc, std::string_view context, std::string_view detail) {
  std::string msg(context);
  msg += ": ";
  msg += sqlite3_errstr(rc);
  if (!detail.empty() && detail != sqlite3_errstr(rc)) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg + "; the database stayed locked past the busy timeout");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_READONLY:
      return Status::FailedPrecondition(msg);
    case SQLITE_CANTOPEN:
      return Status::InvalidArgument(msg);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return Status::AlreadyExists(msg);
      return Status::FailedPrecondition(msg);
    case SQLITE_FULL:
      return Status::Unavailable(msg + "; disk full (or max_page_count reached): retry once space is freed");
    case SQLITE_IOERR:
      return Status::Unavailable(msg);
    case SQLITE_RANGE:
      return Status::InvalidArgument(msg);
    default:
      return Status::Internal(msg);
  }
}

int SqliteResultCode(sqlite3* db, int rc) {
  if ((rc & 0xff) != SQLITE_IOERR || db == nullptr) return rc;
  int os_error = sqlite3_system_errno(db);
  return os_error == ENOSPC || os_error == EDQUOT ? SQLITE_FULL : rc;
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

Status SqliteStatement::Error(int rc, std::string_view what) const {
  sqlite3* db = sqlite3_db_handle(stmt_);
  const char* file = sqlite3_db_filename(db, "main");
  std::string context = std::string(what) + " on " + (file && *file ? file : ":memory:");
  const char* sql = sqlite3_sql(stmt_);
  if (sql) context += " [" + std::string(sql).substr(0, 80) + "]";
  return SqliteStatus(SqliteResultCode(db, rc), context, sqlite3_errmsg(db));
}

Status SqliteStatement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "bind");
}

Status SqliteStatement::BindDouble(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "bind");
}

Status SqliteStatement::BindText(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "bind");
}

Status SqliteStatement::BindBlob(int index, std::string_view bytes) {
  int rc = bytes.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                         : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "bind");
}

Status SqliteStatement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, "bind");
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = Error(rc, "step");
  sqlite3_reset(stmt_);
  return st;
}

Status SqliteStatement::Run() {
  for (;;) {
    auto row = Step();
    if (!row) return row.error();
    if (!*row) break;
  }
  sqlite3_reset(stmt_);
  return Status::Ok();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int SqliteStatement::ColumnCount() const { return sqlite3_column_count(stmt_); }
bool SqliteStatement::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t SqliteStatement::ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }
double SqliteStatement::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }

std::string_view SqliteStatement::ColumnTextView(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string_view();
}

std::string SqliteStatement::ColumnText(int col) const { return std::string(ColumnTextView(col)); }

std::string SqliteStatement::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

}  // namespace estoria::sqlite
