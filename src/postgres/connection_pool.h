// connection_pool.h (internal): the PostgreSQL backend's pool of PgConnections
// for reads, deletes, listing and the snapshot/checkpoint stores: the backend
// SDK's pool (estoria/backend/connection_pool.h) with at most `size`
// connections, a wait of at most connect_timeout, idle connections checked
// (and re-established when the server closed them) before use, and connections
// returned broken or inside a transaction closed.
//
// Thread safety: Acquire, Run and RunStatus may be called from many threads; a
// Lease is used by one thread. The pool must outlive its leases (holders keep
// it in a shared_ptr).
#pragma once

#include <functional>

#include "estoria/backend/connection_pool.h"
#include "estoria/postgres/connection.h"

namespace estoria::postgres::internal {

using postgres::PgConnection;
using postgres::PgConnectOptions;

class ConnectionPool : public backend::ConnectionPool<PgConnection> {
 public:
  ConnectionPool(PgConnectOptions options, int size);

  // Runs `fn` on a pooled connection. When it fails with Unavailable because
  // the connection was lost, runs it once more on a fresh connection: use only
  // for work that is safe to repeat (reads, or a whole transaction).
  template <typename T>
  Result<T> Run(const std::function<Result<T>(PgConnection&)>& fn) {
    for (int attempt = 0;; ++attempt) {
      ESTORIA_ASSIGN_OR_RETURN(Lease lease, Acquire());
      Result<T> r = fn(*lease);
      if (r.has_value() || attempt > 0 || !r.error().IsUnavailable() || !lease->broken()) return r;
    }
  }
  Status RunStatus(const std::function<Status(PgConnection&)>& fn);

  const PgConnectOptions& connect_options() const { return connect_; }

 private:
  const PgConnectOptions connect_;
};

}  // namespace estoria::postgres::internal
