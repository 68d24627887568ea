// store_core.h (internal): what every PostgreSQL store shares: the statement
// SQL of its schema and a connection pool, opened by OpenStoreCore (connect,
// then create/migrate the schema).
//
// Thread safety: immutable statements; the pool is thread safe.
#pragma once

#include <memory>

#include "connection_pool.h"
#include "estoria/postgres/postgres_options.h"
#include "schema.h"

namespace estoria::postgres::internal {

using postgres::PostgresOptions;

struct StoreCore {
  StoreCore(const PostgresOptions& options, postgres::PgConnectOptions connect)
      : statements(options.schema), pool(std::move(connect), options.pool_size) {}
  Statements statements;
  ConnectionPool pool;
};

postgres::PgConnectOptions ConnectOptionsOf(const PostgresOptions& options);

// Fills defaults (logger), validates, connects once and ensures the schema.
// InvalidArgument, Unavailable, FailedPrecondition, Internal.
Result<std::shared_ptr<StoreCore>> OpenStoreCore(PostgresOptions& options);

}  // namespace estoria::postgres::internal
