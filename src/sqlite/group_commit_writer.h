// GroupCommitWriter: the single write path of SqliteEventStore (mechanism
// described at the top of group_commit_writer.cc). Internal to estoria::sqlite.
//
// Thread safety: Append may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "connection_pool.h"
#include "estoria/event_store.h"
#include "estoria/logger.h"
#include "estoria/sqlite/sqlite_event_store.h"

namespace estoria::sqlite::internal {

class GroupCommitWriter {
 public:
  // Writes through the connections of `pool` (which must hold at most one, so
  // that this writer is the only writer of the process). `on_commit(head)` runs
  // after each committed batch, before the appenders are released. A batch
  // that fails as a whole (lock timeout, I/O error) is logged as a warning.
  GroupCommitWriter(ConnectionPool* pool, size_t max_batch, std::function<void(int64_t)> on_commit,
                    std::shared_ptr<Logger> logger);

  // Validated arguments; statuses as StreamWriter::AppendStream.
  Result<std::vector<Event>> Append(const TypeId& stream_id, std::span<const WritableEvent> events,
                                    const AppendOptions& options);
  SqliteStats stats() const;

 private:
  struct Request;
  // Runs `batch` in one transaction and sets each request's result. Returns
  // the head position after the batch and whether it committed.
  bool RunBatch(const std::vector<Request*>& batch, int64_t* head);
  // Checks and writes one append. With `savepoint`, a failure rolls back only
  // this append; without, the caller must roll back the transaction.
  Result<std::vector<Event>> ApplyOne(SqliteDatabase& db, Request& r, int64_t* head, Timestamp ts, bool savepoint);
  Result<std::vector<Event>> InsertAppend(SqliteDatabase& db, Request& r, int64_t* head, Timestamp ts);

  ConnectionPool* pool_;
  size_t max_batch_;
  std::function<void(int64_t)> on_commit_;
  std::shared_ptr<Logger> logger_;
  Timestamp last_ts_{};  // touched by the current leader only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;
  bool leader_active_ = false;
  SqliteStats stats_;
};

}  // namespace estoria::sqlite::internal
