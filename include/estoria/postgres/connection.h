// estoria/postgres/connection.h: small RAII wrappers over libpq, used by the
// PostgreSQL stores and usable by other components that write to the same
// database (e.g. a projection writing its read model in the same transaction as
// its checkpoint).
//   PgResult       owns a PGresult; typed accessors for text and binary columns
//   PgParams       query parameters (text or binary, with type OIDs)
//   PgStatement    a named prepared statement, prepared lazily per connection
//   PgConnection   one connection: connect with a deadline, Exec/ExecParams/
//                  ExecPrepared with a per-query deadline, reconnect
//   PgTransaction  BEGIN ... COMMIT guard; ROLLBACK when destroyed uncommitted
//
// Error mapping (used by every call here):
//   connection lost, server shutting down or starting (SQLSTATE 08xxx, 57P0x),
//   a deadline passed, insufficient resources (53xxx), lock not available
//   (55P03), query cancelled (57014), serialization failure (40001) and
//   deadlock (40P01)                        -> Unavailable (retry the whole
//                                              transaction; it was rolled back)
//   unique violation (23505)                -> AlreadyExists (callers decide)
//   other integrity violations (23xxx)      -> FailedPrecondition
//   data exceptions (22xxx)                 -> InvalidArgument
//   anything else                           -> Internal
// Messages carry the SQLSTATE as "[SQLSTATE xxxxx]".
//
// Thread safety: a PgConnection (and the PgTransaction over it) is
// used by one thread at a time. PgResult and PgParams are plain values.
// Nothing here throws.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria::postgres {

enum class PgFormat : int { kText = 0, kBinary = 1 };

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* res) : res_(res) {}
  PgResult(PgResult&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  PGresult* get() const { return res_; }
  int rows() const { return res_ ? PQntuples(res_) : 0; }
  int columns() const { return res_ ? PQnfields(res_) : 0; }
  // Rows affected by INSERT/UPDATE/DELETE (0 when not applicable).
  int64_t affected_rows() const;

  bool IsNull(int row, int col) const { return PQgetisnull(res_, row, col) != 0; }
  // The raw value bytes (text form or binary form, as the column was fetched).
  std::string_view Raw(int row, int col) const;
  // Integers: binary int2/int4/int8 or text. 0 for NULL.
  int64_t Int64(int row, int col) const;
  // Binary uuid (16 bytes) or text form. Nil for NULL or malformed values.
  Uuid UuidAt(int row, int col) const;
  // Binary timestamptz (microseconds since 2000-01-01) or an int8 of Unix
  // microseconds when the column is int8. 'infinity' and '-infinity' (and any
  // value beyond the int64 range of Unix microseconds) saturate to the largest
  // and smallest Timestamp.
  Timestamp TimestampAt(int row, int col) const;
  // Text, jsonb (binary jsonb: version byte stripped), bytea (binary): bytes.
  std::string String(int row, int col) const;

 private:
  PGresult* res_ = nullptr;
};

class PgParams {
 public:
  PgParams& Text(std::string_view value, Oid type = 0);
  PgParams& Bytes(std::string_view value);    // bytea, binary
  PgParams& Int64(int64_t value);             // int8, binary
  PgParams& Int32(int32_t value);             // int4, binary
  PgParams& UuidValue(const Uuid& value);     // uuid, binary
  PgParams& TimestampValue(Timestamp value);  // timestamptz, binary
  PgParams& Null(Oid type = 0);
  // Any value in binary wire format, with its type OID.
  PgParams& Binary(std::string_view bytes, Oid type);

  int size() const { return static_cast<int>(values_.size()); }

  // Arrays for libpq; valid while this object lives and is not modified.
  struct Raw {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    std::vector<Oid> types;
  };
  Raw raw() const;

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  std::vector<Oid> types_;
};

// A statement prepared on first use on each connection, under `name`.
struct PgStatement {
  std::string name;
  std::string sql;
};

class PgConnection;

// Several statements in one round trip: used by the PostgreSQL event store
// (defined in src/postgres/pg_wire.h; not part of the user API).
class PgPipeline;

struct PgConnectOptions {
  // libpq connection string: key=value pairs or a postgres:// URI; PG*
  // environment variables fill what it omits. Default "" (environment only).
  std::string conninfo;
  // Deadline for establishing a connection. Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Deadline for one Exec/ExecParams/ExecPrepared/RunPipeline call, including
  // waiting for locks held by others. Default 30 s. On expiry the connection is
  // dropped (the server rolls back its transaction) and Unavailable returned.
  std::chrono::milliseconds query_timeout{30000};
};

class PgConnection {
 public:
  // Connects within options.connect_timeout. Unavailable when the server cannot
  // be reached or refuses the connection; InvalidArgument for a malformed
  // conninfo.
  static Result<std::unique_ptr<PgConnection>> Connect(const PgConnectOptions& options);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Reconnects when the connection is broken, or was closed by the server while
  // idle (e.g. a server restart). OK or Unavailable.
  Status EnsureConnected();
  // True when the last call lost the connection (the next EnsureConnected
  // reconnects).
  bool broken() const;
  // Idle, in a transaction, or in a failed transaction (PQtransactionStatus).
  PGTransactionStatusType transaction_status() const;
  PGconn* raw() const { return conn_; }
  const PgConnectOptions& options() const { return options_; }

  // One or several SQL commands (simple protocol, text results); the last
  // command's result. Errors as mapped at the top of this file.
  Result<PgResult> Exec(std::string_view sql);
  // One command with parameters (extended protocol).
  Result<PgResult> ExecParams(std::string_view sql, const PgParams& params = {}, PgFormat result = PgFormat::kText);
  // A named statement, prepared on this connection at first use.
  Result<PgResult> ExecPrepared(const PgStatement& statement, const PgParams& params = {},
                                PgFormat result = PgFormat::kText);
  // Backend internals (src/postgres): sends every statement of the pipeline,
  // then one Sync, and returns one
  // result per statement. The first failing statement's error is returned (the
  // server skipped the rest; an open transaction is then in the failed state).
  Result<std::vector<PgResult>> RunPipeline(const PgPipeline& pipeline);

  // Waits for the socket to be readable (e.g. notifications on a LISTEN
  // connection) up to `timeout`, also returning early when `wake_fd` (if >= 0)
  // becomes readable. Reads available input. OK (whether or not data came) or
  // Unavailable when the connection is lost.
  Status WaitReadable(std::chrono::milliseconds timeout, int wake_fd = -1);

 private:
  explicit PgConnection(PgConnectOptions options) : options_(std::move(options)) {}
  Status Open();
  void Drop();
  Status Flush(std::chrono::steady_clock::time_point deadline);
  Status WaitSocket(bool want_write, std::chrono::steady_clock::time_point deadline);
  Result<PgResult> Collect(std::string_view context);
  Status Fail(std::string_view context, const PGresult* res = nullptr);
  Status FailPipeline(std::string_view context);

  PgConnectOptions options_;
  PGconn* conn_ = nullptr;
  std::unordered_set<std::string> prepared_;
};

// BEGIN on Begin(), COMMIT on Commit(), ROLLBACK when destroyed uncommitted.
class PgTransaction {
 public:
  // `begin_sql` e.g. "BEGIN" or "BEGIN ISOLATION LEVEL SERIALIZABLE". Errors as
  // PgConnection::Exec.
  static Result<PgTransaction> Begin(PgConnection& conn, std::string_view begin_sql = "BEGIN");
  PgTransaction(PgTransaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  PgTransaction& operator=(PgTransaction&&) = delete;
  ~PgTransaction();
  // Errors as PgConnection::Exec; the transaction is over either way.
  Status Commit();
  // Rolls back now (also done by the destructor). Errors as Exec.
  Status Rollback();
  PgConnection& connection() { return *conn_; }

 private:
  explicit PgTransaction(PgConnection* conn) : conn_(conn) {}
  PgConnection* conn_;
};

// Quotes an identifier for SQL ("name" with inner quotes doubled).
std::string QuoteIdentifier(std::string_view name);

}  // namespace estoria::postgres
