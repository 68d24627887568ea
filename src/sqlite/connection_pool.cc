// The SQLite backend's connection pool: see connection_pool.h.
#include "connection_pool.h"

namespace estoria::sqlite::internal {

std::unique_ptr<ConnectionPool> NewConnectionPool(std::function<Result<std::unique_ptr<SqliteDatabase>>()> opener,
                                                  size_t max_open, size_t max_idle) {
  ConnectionPool::Options o;
  o.open = std::move(opener);
  o.check_in = [](SqliteDatabase& db) {
    if (db.InTransaction()) (void)db.Exec("ROLLBACK");
    return true;
  };
  o.max_open = max_open;
  o.max_idle = max_idle;
  o.name = "SQLite";
  return std::make_unique<ConnectionPool>(std::move(o));
}

}  // namespace estoria::sqlite::internal
