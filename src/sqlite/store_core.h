// SqliteEventStore::Core: the state shared by a SqliteEventStore and its
// iterators. Internal to estoria::sqlite.
//
// Thread safety: the pools and the writer are thread safe; known_head is
// guarded by watch_mu.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "connection_pool.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "group_commit_writer.h"

namespace estoria::sqlite {

struct SqliteEventStore::Core {
  SqliteOptions options;
  bool memory = false;
  // The single write connection (in memory mode: the only connection).
  std::unique_ptr<internal::ConnectionPool> write_pool;
  // Read connections (in memory mode: null, reads use write_pool).
  std::unique_ptr<internal::ConnectionPool> read_pool;
  std::unique_ptr<internal::GroupCommitWriter> writer;

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  int64_t known_head = 0;

  internal::ConnectionPool& readers() { return read_pool ? *read_pool : *write_pool; }
  void OnCommit(int64_t head) {
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      known_head = std::max(known_head, head);
    }
    watch_cv.notify_all();
  }
};

}  // namespace estoria::sqlite
