// The SQLite backend's connection pool: the backend SDK's pool over
// SqliteDatabase (estoria/backend/connection_pool.h). A connection returned
// inside a transaction is rolled back before it is kept.
//
// Thread safety: see estoria/backend/connection_pool.h.
#pragma once

#include <functional>
#include <memory>

#include "estoria/backend/connection_pool.h"
#include "estoria/sqlite/database.h"

namespace estoria::sqlite::internal {

using ConnectionPool = backend::ConnectionPool<SqliteDatabase>;

// Opens connections with `opener` on demand (null: only those added with Add);
// at most `max_open` at once (0 = unbounded; Acquire waits at the limit); keeps
// at most `max_idle` idle.
std::unique_ptr<ConnectionPool> NewConnectionPool(std::function<Result<std::unique_ptr<SqliteDatabase>>()> opener,
                                                  size_t max_open, size_t max_idle);

}  // namespace estoria::sqlite::internal
