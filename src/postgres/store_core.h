// store_core.h (internal): what every PostgreSQL store shares: the statement
// SQL of its schema and a connection pool, opened by OpenStoreCore (connect,
// then create/migrate the schema).
//
// Thread safety: immutable statements; the pool is thread safe; Frontier may
// be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "connection_pool.h"
#include "estoria/postgres/postgres_options.h"
#include "schema.h"

namespace estoria::postgres::internal {

using postgres::PostgresOptions;

struct StoreCore {
  StoreCore(const PostgresOptions& options, postgres::PgConnectOptions connect)
      : statements(options.schema),
        pool(std::move(connect), options.pool_size),
        strict(options.durability == Durability::kStrict) {}
  Statements statements;
  ConnectionPool pool;
  const bool strict;

  // The read frontier, from `durable` (max of log_durable) and `head`
  // (log_head) read together by the caller: relaxed stores read up to the
  // head; strict stores up to the durable frontier, never past it (see
  // append_writer.cc). When the head stays ahead of the durable frontier for
  // longer than a batch's flush can take (its writer died between its commit
  // and its flush, a relaxed writer wrote, the server crashed), the reader
  // makes the committed log durable itself (CatchUp) and reads up to it.
  // Errors: those of CatchUp.
  Result<int64_t> Frontier(int64_t durable, int64_t head);
  // Frontier after reading both values. Unavailable, Internal.
  Result<int64_t> ReadFrontier();

 private:
  std::mutex gap_mu_;
  int64_t gap_head_ = 0;  // a head seen ahead of the durable frontier (0: none)
  std::chrono::steady_clock::time_point gap_since_;
};

// One transaction with synchronous_commit = on that raises the slot of conn's
// backend to log_head and NOTIFYs it: once it returns, every committed
// position up to the returned frontier is flushed to the WAL. Unavailable,
// Internal.
Result<int64_t> CatchUp(postgres::PgConnection& conn, const Statements& statements);

// The log_durable slot of a connection (its backend pid modulo kDurableSlots).
int DurableSlot(postgres::PgConnection& conn);

postgres::PgConnectOptions ConnectOptionsOf(const PostgresOptions& options);

// Fills defaults (logger), validates, connects once and ensures the schema.
// InvalidArgument, Unavailable, FailedPrecondition, Internal.
Result<std::shared_ptr<StoreCore>> OpenStoreCore(PostgresOptions& options);

}  // namespace estoria::postgres::internal
