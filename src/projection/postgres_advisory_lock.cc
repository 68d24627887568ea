// PostgresAdvisoryLock: a session-level advisory lock on a dedicated connection.
#include "estoria/projection/postgres_advisory_lock.h"

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
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  int pid = PQbackendPID(conn_->raw());
  if (held_pid_ != 0 && held_pid_ == pid) return true;
  ESTORIA_ASSIGN_OR_RETURN(bool got, internal::TryAdvisoryLock(*conn_, Key(name)));
  held_pid_ = got ? pid : 0;
  return got;
}

Result<bool> PostgresAdvisoryLock::Renew(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (held_pid_ == 0) return false;
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  if (PQbackendPID(conn_->raw()) != held_pid_) {
    held_pid_ = 0;
    return false;
  }
  ESTORIA_ASSIGN_OR_RETURN(bool held, internal::HoldsAdvisoryLock(*conn_, Key(name)));
  if (!held) held_pid_ = 0;
  return held;
}

void PostgresAdvisoryLock::Release(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  bool same_session = held_pid_ != 0 && !conn_->broken() && PQbackendPID(conn_->raw()) == held_pid_;
  held_pid_ = 0;
  if (same_session) internal::AdvisoryUnlock(*conn_, Key(name));
}

int PostgresAdvisoryLock::backend_pid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_->raw() != nullptr ? PQbackendPID(conn_->raw()) : 0;
}

}  // namespace estoria::postgres
