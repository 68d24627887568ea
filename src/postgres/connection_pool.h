// connection_pool.h (internal): a small pool of PgConnections for reads,
// deletes, listing and the snapshot/checkpoint stores.
//
// Acquire() hands out an idle connection (checked, and re-established when the
// server closed it), opens a new one while fewer than `size` exist, or waits up
// to connect_timeout for one to be returned (then Unavailable). A connection
// returned broken or inside a transaction is discarded.
//
// Thread safety: Acquire may be called from many threads; a Lease is used by
// one thread. The pool must outlive its leases (holders keep it in a
// shared_ptr).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "estoria/postgres/connection.h"

namespace estoria::postgres_internal {

using postgres::PgConnection;
using postgres::PgConnectOptions;

class ConnectionPool {
 public:
  ConnectionPool(PgConnectOptions options, int size);

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Unavailable when no connection can be had within connect_timeout.
  Result<Lease> Acquire();

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

  const PgConnectOptions& options() const { return options_; }

 private:
  void Release(std::unique_ptr<PgConnection> conn);

  const PgConnectOptions options_;
  const int size_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // connections handed out or idle
};

}  // namespace estoria::postgres_internal
