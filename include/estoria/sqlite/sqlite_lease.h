// estoria/sqlite/sqlite_lease.h: SqliteLease, a ProjectionLock for any
// processor (e.g. an at-least-once HandlerSink beside a SQLite event store): a
// lease row (table estoria_projection_leases: name, owner, expires_at) in an
// SQLite file, valid for `ttl` and renewed every ttl/3 (part of
// estoria::sqlite). When the holder dies, another process takes over once the
// lease has expired, i.e. within `ttl`.
//
// A SqliteReadModel is itself a lease-based lock, and fences its commits with
// it; use that for exactly-once read models. SqliteLease does not fence the
// sink's writes (a holder paused past the ttl may still write once).
//
// Thread safety: safe for concurrent use (one connection behind a mutex); one
// object serves one processor.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "estoria/projection/projection_sink.h"
#include "estoria/sqlite/sqlite_projection_stores.h"

namespace estoria::sqlite {

struct SqliteLeaseOptions {
  // Database file holding the lease table (created when missing). Required.
  std::string path;
  // This process's owner id. Default "<hostname>:<pid>:<random>".
  std::string owner{};
  // Lease validity. Default 3 s; must be >= 30 ms.
  std::chrono::milliseconds ttl{3000};
  // Waiting for SQLite's write lock, then Unavailable. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

class SqliteLease final : public ProjectionLock {
 public:
  // Errors: InvalidArgument (empty path, ttl too small), errors of
  // SqliteProjectionTables::Open.
  static Result<std::shared_ptr<SqliteLease>> Open(SqliteLeaseOptions options);

  // ProjectionLock. Errors: Unavailable (database busy, disk full), Internal.
  Result<bool> TryAcquire(std::string_view name) override;
  Result<bool> Renew(std::string_view name) override;
  void Release(std::string_view name) override;
  std::chrono::milliseconds renew_interval() const override { return options_.ttl / 3; }

  const std::string& owner() const { return options_.owner; }

 private:
  SqliteLease(SqliteLeaseOptions options, std::unique_ptr<SqliteDatabase> db)
      : options_(std::move(options)), db_(std::move(db)) {}
  Result<bool> Claim(std::string_view name, bool take);

  SqliteLeaseOptions options_;
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
};

}  // namespace estoria::sqlite
