// PostgresAdvisoryLock: a session-level advisory lock on a dedicated connection.
#include "estoria/postgres/postgres_advisory_lock.h"

#include "pg_advisory.h"

namespace estoria::postgres {

Result<std::shared_ptr<PostgresAdvisoryLock>> PostgresAdvisoryLock::Open(PostgresAdvisoryLockOptions options) {
  if (options.renew_interval <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("PostgresAdvisoryLock: renew_interval must be > 0");
  }
  PgConnectOptions co;
  co.conninfo = options.conninfo;
  co.connect_timeout = options.connect_timeout;
  co.query_timeout = std::chrono::milliseconds(10000);
  ESTORIA_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(co));
  return std::shared_ptr<PostgresAdvisoryLock>(new PostgresAdvisoryLock(std::move(options), std::move(conn)));
}

Result<bool> PostgresAdvisoryLock::TryAcquire(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return internal::AcquireSessionLock(*conn_, Key(name), held_pid_);
}

Result<bool> PostgresAdvisoryLock::Renew(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return internal::RenewSessionLock(*conn_, Key(name), held_pid_);
}

void PostgresAdvisoryLock::Release(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  internal::ReleaseSessionLock(*conn_, Key(name), held_pid_, /*unlock=*/true);
}

int PostgresAdvisoryLock::backend_pid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_->raw() != nullptr ? PQbackendPID(conn_->raw()) : 0;
}

}  // namespace estoria::postgres
