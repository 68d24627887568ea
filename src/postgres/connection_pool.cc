// ConnectionPool (see connection_pool.h).
#include "connection_pool.h"

namespace estoria::postgres::internal {
namespace {

backend::ConnectionPool<PgConnection>::Options PoolOptions(const PgConnectOptions& connect, int size) {
  backend::ConnectionPool<PgConnection>::Options o;
  o.open = [connect]() { return PgConnection::Connect(connect); };
  o.check_out = [](PgConnection& c) { return c.EnsureConnected(); };
  o.check_in = [](PgConnection& c) { return !c.broken() && c.transaction_status() == PQTRANS_IDLE; };
  o.max_open = static_cast<size_t>(size < 1 ? 1 : size);
  o.wait_timeout = connect.connect_timeout;
  o.name = "PostgreSQL";
  return o;
}

}  // namespace

ConnectionPool::ConnectionPool(PgConnectOptions options, int size)
    : backend::ConnectionPool<PgConnection>(PoolOptions(options, size)), connect_(std::move(options)) {}

Status ConnectionPool::RunStatus(const std::function<Status(PgConnection&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    ESTORIA_ASSIGN_OR_RETURN(Lease lease, Acquire());
    Status st = fn(*lease);
    if (st.ok() || attempt > 0 || !st.IsUnavailable() || !lease->broken()) return st;
  }
}

}  // namespace estoria::postgres::internal
