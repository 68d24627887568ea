// estoria/postgres/postgres_advisory_lock.h: PostgresAdvisoryLock, a
// ProjectionLock for any processor (e.g. an at-least-once HandlerSink over a
// PostgreSQL event store): a session-level pg_try_advisory_lock held on a
// dedicated connection (part of estoria::postgres).
//
// When the holder process dies, PostgreSQL ends its session and frees the lock
// at once; a standby takes it on its next try (ProcessorOptions::
// lock_retry_interval). Renew (every renew_interval, default 1 s) checks that
// the session still holds it; a reconnected session does not, and the
// processor stops handling until it acquires the lock again.
//
// Note: this lock does not fence the sink's writes (they run elsewhere); a
// PostgresReadModel used as its own lock does (its transactions share the
// lock's session) and should be preferred for exactly-once read models.
//
// Thread safety: safe for concurrent use (one mutex); one object serves one
// processor.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "estoria/postgres/connection.h"
#include "estoria/projection/projection_sink.h"

namespace estoria::postgres {

struct PostgresAdvisoryLockOptions {
  // libpq connection string. Default "" (PG* environment variables).
  std::string conninfo{};
  // Namespaces the lock key ("<scope>.<projection name>"); use the Estoria
  // schema name. Default "estoria".
  std::string scope = "estoria";
  // Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // How often the processor checks the lock. Default 1 s.
  std::chrono::milliseconds renew_interval{1000};
};

class PostgresAdvisoryLock final : public ProjectionLock {
 public:
  // Connects. Unavailable (server unreachable), InvalidArgument (conninfo).
  static Result<std::shared_ptr<PostgresAdvisoryLock>> Open(PostgresAdvisoryLockOptions options);

  // ProjectionLock. Errors: Unavailable (connection lost; retried by the
  // processor), Internal.
  Result<bool> TryAcquire(std::string_view name) override;
  Result<bool> Renew(std::string_view name) override;
  void Release(std::string_view name) override;
  std::chrono::milliseconds renew_interval() const override { return options_.renew_interval; }

  // The server process id of the lock's session (0 when not connected).
  int backend_pid() const;

 private:
  PostgresAdvisoryLock(PostgresAdvisoryLockOptions options, std::unique_ptr<PgConnection> conn)
      : options_(std::move(options)), conn_(std::move(conn)) {}
  std::string Key(std::string_view name) const { return options_.scope + "." + std::string(name); }

  PostgresAdvisoryLockOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
  int held_pid_ = 0;  // session holding the lock; 0 = not held
};

}  // namespace estoria::postgres
