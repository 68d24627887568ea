// SqliteLease: a lease row as a ProjectionLock.
#include "estoria/sqlite/sqlite_lease.h"

#include "estoria/sqlite/sqlite_read_model.h"

namespace estoria::sqlite {

Result<std::shared_ptr<SqliteLease>> SqliteLease::Open(SqliteLeaseOptions options) {
  if (options.path.empty() || options.path == ":memory:") {
    return Status::InvalidArgument("SqliteLease: a database file path is required");
  }
  if (options.ttl < std::chrono::milliseconds(30)) return Status::InvalidArgument("SqliteLease: ttl must be >= 30 ms");
  if (options.owner.empty()) options.owner = DefaultLeaseOwner();
  SqliteStoreOptions so;
  so.path = options.path;
  so.busy_timeout = options.busy_timeout;
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteProjectionTables::Open(so));
  return std::shared_ptr<SqliteLease>(new SqliteLease(std::move(options), std::move(db)));
}

Result<bool> SqliteLease::Claim(std::string_view name, bool take) {
  std::lock_guard<std::mutex> lock(mu_);
  ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_, SqliteTransaction::Mode::kImmediate));
  ESTORIA_ASSIGN_OR_RETURN(bool claimed,
                           SqliteProjectionTables::ClaimLeaseIn(*db_, name, options_.owner, options_.ttl, take));
  ESTORIA_RETURN_IF_ERROR(tx.Commit());
  return claimed;
}

Result<bool> SqliteLease::TryAcquire(std::string_view name) { return Claim(name, true); }

Result<bool> SqliteLease::Renew(std::string_view name) { return Claim(name, false); }

void SqliteLease::Release(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)SqliteProjectionTables::ReleaseLeaseIn(*db_, name, options_.owner);
}

}  // namespace estoria::sqlite
