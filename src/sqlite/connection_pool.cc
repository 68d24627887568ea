// ConnectionPool: see connection_pool.h.
#include "connection_pool.h"

namespace estoria::sqlite::internal {

ConnectionPool::ConnectionPool(Opener opener, size_t max_open, size_t max_idle)
    : opener_(std::move(opener)), max_open_(max_open), max_idle_(max_idle) {}

void ConnectionPool::Add(std::unique_ptr<SqliteDatabase> db) {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
  idle_.push_back(std::move(db));
  freed_.notify_one();
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(std::move(db_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [&] { return !idle_.empty() || max_open_ == 0 || open_ < max_open_; });
    if (!idle_.empty()) {
      std::unique_ptr<SqliteDatabase> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
    ++open_;
  }
  auto db = opener_ ? opener_() : Result<std::unique_ptr<SqliteDatabase>>(Status::Internal("pool has no opener"));
  if (!db) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    freed_.notify_one();
    return db.error();
  }
  return Lease(this, std::move(*db));
}

void ConnectionPool::Release(std::unique_ptr<SqliteDatabase> db) {
  if (db != nullptr && db->InTransaction()) (void)db->Exec("ROLLBACK");
  std::unique_ptr<SqliteDatabase> close;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (db == nullptr || idle_.size() >= max_idle_) {
      --open_;
      close = std::move(db);
    } else {
      idle_.push_back(std::move(db));
    }
  }
  freed_.notify_one();
}

}  // namespace estoria::sqlite::internal
