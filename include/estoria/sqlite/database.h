// estoria/sqlite/database.h: small RAII wrappers over the SQLite C API, usable on
// any SQLite file (the event store uses them, and so can SQL read models that
// write in the same transaction as their checkpoint).
//   SqliteDatabase     one connection: open with flags, busy timeout, WAL and
//                      synchronous pragmas, Exec, Prepare, cached statements
//   SqliteStatement    a prepared statement: bind by index (1-based), Step,
//                      column getters (0-based), Reset
//   SqliteTransaction  a transaction guard: rolls back unless committed
//   SqliteStatus       maps an SQLite result code to an estoria::Status
//
// Error mapping (every function returns a Status, nothing throws):
//   SQLITE_BUSY, SQLITE_LOCKED (past the busy timeout)  -> Unavailable
//   SQLITE_CORRUPT, SQLITE_NOTADB                       -> Corruption
//   SQLITE_READONLY                                     -> FailedPrecondition
//   SQLITE_CANTOPEN                                     -> InvalidArgument
//   SQLITE_CONSTRAINT (UNIQUE / PRIMARY KEY)            -> AlreadyExists
//   SQLITE_CONSTRAINT (other)                           -> FailedPrecondition
//   SQLITE_FULL, and SQLITE_IOERR caused by ENOSPC/EDQUOT -> Unavailable, the
//                      message says "disk full" (the file system is full, or
//                      the file reached max_page_count); SQLite undid the
//                      failed statement (or the whole transaction: see
//                      InTransaction), a failed COMMIT wrote nothing, and the
//                      connection stays usable: retry once space is freed
//   SQLITE_IOERR (other)                                -> Unavailable
//   anything else                                       -> Internal
// Messages name the database path.
//
// Thread safety: a SqliteDatabase (and its statements and transactions) is used
// by one thread at a time; SQLite connections are opened with
// SQLITE_OPEN_NOMUTEX. Distinct connections may be used from distinct threads.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria::sqlite {

// The Status for an SQLite result code (extended codes accepted). `context`
// says what failed (e.g. "open /tmp/x.db"); `detail` is sqlite3_errmsg text,
// when known.
Status SqliteStatus(int rc, std::string_view context, std::string_view detail = {});
// The result code to pass to SqliteStatus for `rc` returned on connection `db`:
// SQLITE_FULL for an I/O error whose cause was a full file system (ENOSPC or
// EDQUOT, from sqlite3_system_errno), `rc` otherwise.
int SqliteResultCode(sqlite3* db, int rc);

class SqliteStatement {
 public:
  SqliteStatement() = default;
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binding, 1-based parameter index. Errors: InvalidArgument (bad index),
  // Internal.
  Status BindInt64(int index, int64_t value);
  Status BindDouble(int index, double value);
  Status BindText(int index, std::string_view value);  // copied by SQLite
  Status BindBlob(int index, std::string_view bytes);  // copied; empty = zero-length blob
  Status BindNull(int index);

  // Runs one step: true when a row is available, false when done. Errors as in
  // the table above (Unavailable when busy past the timeout, ...).
  Result<bool> Step();
  // Steps until done (rows are discarded), then resets. Same errors as Step.
  Status Run();
  // Resets the statement and clears its bindings.
  void Reset();

  // Column getters, 0-based, valid after Step returned true.
  int ColumnCount() const;
  bool ColumnIsNull(int col) const;
  int64_t ColumnInt64(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  // Valid until the next Step, Reset or column conversion.
  std::string_view ColumnTextView(int col) const;
  // Bytes verbatim (binary safe).
  std::string ColumnBlob(int col) const;

  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  Status Error(int rc, std::string_view what) const;
  sqlite3_stmt* stmt_ = nullptr;
};

struct SqliteDatabaseOptions {
  // Open read-only (SQLITE_OPEN_READONLY): nothing can be written. Default false.
  bool read_only = false;
  // Create the file when it is missing (ignored when read_only). Default true.
  bool create = true;
  // How long a statement waits for a lock held by another connection before
  // failing with Unavailable. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Interpret `path` as an SQLite URI filename ("file:...?..."). Default false.
  bool uri = false;
};

// The options shared by the SQLite checkpoint, snapshot, dead-letter and
// version stores (SqliteCheckpointStore, SqliteSnapshotStore,
// SqliteDeadLetterStore, SqliteVersionRegistry).
struct SqliteStoreOptions {
  // Database file (may be the event store's or a read model's); ":memory:"
  // for a private in-memory store. Required.
  std::string path;
  // kStrict (default) = synchronous FULL, kRelaxed = NORMAL.
  Durability durability = Durability::kStrict;
  // Wait for another process's lock up to this long, then Unavailable.
  // Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

class SqliteDatabase {
 public:
  // Opens (and by default creates) the database at `path` (":memory:" for a
  // private in-memory database). Errors: InvalidArgument when the file cannot
  // be opened (missing directory, a directory, no permission; the message names
  // the path), Corruption when it is not an SQLite database, Internal.
  // Note: SQLite reads the file lazily; a non-SQLite file is only detected by
  // the first statement (see Validate).
  static Result<std::unique_ptr<SqliteDatabase>> Open(std::string path, SqliteDatabaseOptions options = {});

  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase();

  // Reads the schema, which fails on a file that is not a database: OK,
  // Corruption, Unavailable, Internal.
  Status Validate();
  // PRAGMA journal_mode=WAL (an in-memory database keeps its "memory" mode) and
  // synchronous FULL (kStrict) or NORMAL (kRelaxed). Errors: as Exec.
  Status ConfigureWal(Durability durability);
  // Sets the busy timeout. OK or Internal.
  Status SetBusyTimeout(std::chrono::milliseconds timeout);

  // Runs one or more statements without results. Errors per the table above.
  Status Exec(std::string_view sql);
  // Prepares one statement. Errors: InvalidArgument (syntax), others as above.
  Result<SqliteStatement> Prepare(std::string_view sql);
  // A statement prepared once and kept by this connection, returned reset with
  // bindings cleared. Finish with it (or Reset) before asking for the same SQL
  // again. Same errors as Prepare.
  Result<SqliteStatement*> PrepareCached(const std::string& sql);
  // The first column of the first row as an integer; NotFound when there is no
  // row (or the value is NULL). Other errors as Step.
  Result<int64_t> QueryInt64(std::string_view sql);
  // The first column of the first row as text; NotFound when there is no row.
  Result<std::string> QueryText(std::string_view sql);

  int64_t LastInsertRowId() const;
  // SQLite's data version of the main database (SQLITE_FCNTL_DATA_VERSION): it
  // changes whenever the database content changes, by this connection or any
  // other (seen by another connection when it next starts a transaction). Used
  // to validate caches of stored state. 0 when SQLite cannot report it.
  uint32_t DataVersion() const;
  int64_t Changes() const;
  bool InTransaction() const;
  bool read_only() const { return read_only_; }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // The Status for `rc`, with this connection's error message and path.
  Status Error(int rc, std::string_view what) const;

 private:
  SqliteDatabase(sqlite3* db, std::string path, bool read_only);
  sqlite3* db_;
  std::string path_;
  bool read_only_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
};

// A transaction guard. The destructor rolls back a transaction that was neither
// committed nor rolled back.
class SqliteTransaction {
 public:
  enum class Mode {
    kDeferred,   // BEGIN: locks taken on first read/write
    kImmediate,  // BEGIN IMMEDIATE: the write lock now (waits up to busy timeout)
    kExclusive,  // BEGIN EXCLUSIVE
  };

  // Errors: Unavailable when the lock is not obtained within the busy timeout,
  // FailedPrecondition when a transaction is already open on `db`, others as
  // Exec.
  static Result<SqliteTransaction> Begin(SqliteDatabase& db, Mode mode = Mode::kImmediate);

  SqliteTransaction(SqliteTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  SqliteTransaction(const SqliteTransaction&) = delete;
  ~SqliteTransaction();

  // Commits. On error the transaction is rolled back. Errors as Exec.
  Status Commit();
  // Rolls back; OK when already finished. Errors as Exec.
  Status Rollback();
  bool active() const { return db_ != nullptr; }

 private:
  explicit SqliteTransaction(SqliteDatabase* db) : db_(db) {}
  SqliteDatabase* db_;
};

}  // namespace estoria::sqlite
