// ConnectionPool: SqliteDatabase connections handed out one caller at a time.
// Internal to estoria::sqlite.
//
// Thread safety: Acquire may be called from many threads; a Lease is used by
// one thread and returns its connection when destroyed.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "estoria/sqlite/database.h"

namespace estoria::sqlite::internal {

class ConnectionPool {
 public:
  using Opener = std::function<Result<std::unique_ptr<SqliteDatabase>>()>;

  // Opens connections with `opener` on demand; at most `max_open` at once (0 =
  // unbounded; Acquire waits when the limit is reached) and keeps at most
  // `max_idle` idle ones.
  ConnectionPool(Opener opener, size_t max_open, size_t max_idle);
  // Seeds the pool with an already open connection.
  void Add(std::unique_ptr<SqliteDatabase> db);

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<SqliteDatabase> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), db_(std::move(other.db_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    SqliteDatabase& operator*() const { return *db_; }
    SqliteDatabase* operator->() const { return db_.get(); }
    // Drops the connection instead of returning it (after a fatal error).
    void Discard() { db_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<SqliteDatabase> db_;
  };

  // A connection for the caller's exclusive use. Errors: whatever the opener
  // returns.
  Result<Lease> Acquire();

 private:
  void Release(std::unique_ptr<SqliteDatabase> db);

  Opener opener_;
  size_t max_open_;
  size_t max_idle_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<SqliteDatabase>> idle_;
  size_t open_ = 0;
};

}  // namespace estoria::sqlite::internal
