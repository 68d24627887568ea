// estoria/backend/connection_pool.h: a small pool of database connections
// (backend SDK), used by the SQLite and PostgreSQL backends.
//
// Acquire() hands out an idle connection (after `check_out`, e.g. a reconnect;
// a connection failing it is dropped and its error returned), opens a new one
// while fewer than `max_open` exist (0 = unbounded), or waits for one to be
// returned: forever, or up to `wait_timeout` (then Unavailable). A released
// connection is kept (at most `max_idle` idle) when `check_in` accepts it, and
// closed otherwise.
//
// Thread safety: Acquire may be called from many threads; a Lease is used by
// one thread at a time. The pool must outlive its leases.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "estoria/status.h"

namespace estoria::backend {

template <typename Conn>
class ConnectionPool {
 public:
  struct Options {
    // Opens a new connection. Required.
    std::function<Result<std::unique_ptr<Conn>>()> open;
    // Run on an idle connection before it is handed out. Default: none.
    std::function<Status(Conn&)> check_out;
    // False to close a released connection instead of keeping it. Default: keep.
    std::function<bool(Conn&)> check_in;
    size_t max_open = 0;  // 0 = unbounded
    size_t max_idle = std::numeric_limits<size_t>::max();
    // How long Acquire waits for a connection at the limit; nullopt = forever.
    std::optional<std::chrono::milliseconds> wait_timeout;
    // Names the pool in errors, e.g. "PostgreSQL".
    std::string name = "database";
  };

  explicit ConnectionPool(Options options) : options_(std::move(options)) {}

  // Seeds the pool with an already open connection (counted against max_open).
  void Add(std::unique_ptr<Conn> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    ++open_;
    idle_.push_back(std::move(conn));
    freed_.notify_one();
  }

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(std::move(conn_));
    }
    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }
    // Closes the connection instead of returning it (after a fatal error).
    void Discard() { conn_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // A connection for the caller's exclusive use. Errors: Unavailable (none free
  // within wait_timeout), and whatever `open` or `check_out` return.
  Result<Lease> Acquire() {
    std::unique_ptr<Conn> conn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] { return !idle_.empty() || options_.max_open == 0 || open_ < options_.max_open; };
      if (options_.wait_timeout) {
        if (!freed_.wait_for(lock, *options_.wait_timeout, ready)) {
          return Status::Unavailable(options_.name + ": no pooled connection free within " +
                                     std::to_string(options_.wait_timeout->count()) + " ms");
        }
      } else {
        freed_.wait(lock, ready);
      }
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;  // a new connection, opened below
      }
    }
    Status st;
    if (conn) {
      if (options_.check_out) st = options_.check_out(*conn);
    } else if (!options_.open) {
      st = Status::Internal(options_.name + ": connection pool without an opener");
    } else {
      auto made = options_.open();
      if (made) {
        conn = *std::move(made);
      } else {
        st = made.error();
      }
    }
    if (!st.ok()) {
      conn.reset();
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
      freed_.notify_one();
      return st;
    }
    return Lease(this, std::move(conn));
  }

 private:
  void Release(std::unique_ptr<Conn> conn) {
    if (conn != nullptr && options_.check_in && !options_.check_in(*conn)) conn.reset();
    std::unique_ptr<Conn> close;  // closed outside the lock
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (conn == nullptr || idle_.size() >= options_.max_idle) {
        --open_;
        close = std::move(conn);
      } else {
        idle_.push_back(std::move(conn));
      }
    }
    freed_.notify_one();
  }

  const Options options_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Conn>> idle_;
  size_t open_ = 0;  // connections handed out or idle
};

}  // namespace estoria::backend
