// ConnectionPool (see connection_pool.h).
#include "connection_pool.h"

namespace estoria::postgres_internal {

ConnectionPool::ConnectionPool(PgConnectOptions options, int size)
    : options_(std::move(options)), size_(size < 1 ? 1 : size) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_ptr<PgConnection> conn;
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = returned_.wait_for(lock, options_.connect_timeout, [&] { return !idle_.empty() || open_ < size_; });
    if (!got) {
      return Status::Unavailable("PostgreSQL: no pooled connection free within " +
                                 std::to_string(options_.connect_timeout.count()) + " ms");
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // a new connection, made below
    }
  }
  Status st;
  if (conn) {
    st = conn->EnsureConnected();
  } else {
    auto made = PgConnection::Connect(options_);
    if (made) conn = *std::move(made);
    st = made.error();
  }
  if (!st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    returned_.notify_one();
    return st;
  }
  return Lease(this, std::move(conn));
}

void ConnectionPool::Release(std::unique_ptr<PgConnection> conn) {
  bool keep = !conn->broken() && conn->transaction_status() == PQTRANS_IDLE;
  if (!keep) conn.reset();  // close outside the lock is not needed: PQfinish does not block long
  std::lock_guard<std::mutex> lock(mu_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  returned_.notify_one();
}

Status ConnectionPool::RunStatus(const std::function<Status(PgConnection&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    ESTORIA_ASSIGN_OR_RETURN(Lease lease, Acquire());
    Status st = fn(*lease);
    if (st.ok() || attempt > 0 || !st.IsUnavailable() || !lease->broken()) return st;
  }
}

}  // namespace estoria::postgres_internal
