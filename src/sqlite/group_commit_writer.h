// GroupCommitWriter: the single write path of SqliteEventStore (mechanism
// described at the top of group_commit_writer.cc). Internal to estoria::sqlite.
//
// Thread safety: Append may be called from many threads at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "connection_pool.h"
#include "estoria/backend/group_commit.h"
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
  // Runs the queued requests (up to max_batch) as one batch and finishes them.
  // Called and returns with `lock` (on mu_) held, unless it returns true:
  // `self` was in the batch and is finished.
  bool Lead(std::unique_lock<std::mutex>& lock, Request* self);
  // Runs `batch` in one transaction and sets each request's result. Returns
  // the head position after the batch and whether it committed.
  bool RunBatch(const std::vector<Request*>& batch, int64_t* head);
  // Checks and writes one append. With `savepoint`, a failure rolls back only
  // this append; without, the caller must roll back the transaction.
  Result<std::vector<Event>> ApplyOne(SqliteDatabase& db, Request& r, int64_t* head, Timestamp ts, bool savepoint);
  // Writes the append's rows (a new stream's row first unless `exists`).
  Result<std::vector<Event>> InsertAppend(SqliteDatabase& db, Request& r, bool exists, int64_t key, int64_t version,
                                          int64_t* head, Timestamp ts);
  // Records a stream's key and tip after a successful append (in known_).
  void Learn(const std::string& stream_name, int64_t key, int64_t tip);

  // What the writer knows of the stored state, so that an append needs no
  // query before its INSERT: the head and the key and tip of recently written
  // streams. Valid only while the database's data version is the one recorded
  // after this writer's last commit (any other write, by another process or by
  // another user of the write connection, changes it); touched by the current
  // leader only, which holds the write connection.
  struct StreamTip {
    int64_t key = 0;
    int64_t tip = 0;
  };
  struct Known {
    bool valid = false;
    uint32_t data_version = 0;
    int64_t head = 0;
    std::unordered_map<std::string, StreamTip> streams;
    void Forget() {
      valid = false;
      streams.clear();
    }
  };
  static constexpr size_t kMaxKnownStreams = 65536;

  ConnectionPool* pool_;
  Known known_;
  size_t max_batch_;
  std::function<void(int64_t)> on_commit_;
  std::shared_ptr<Logger> logger_;
  Timestamp last_ts_{};  // touched by the current leader only

  mutable std::mutex mu_;
  std::deque<Request*> queue_;
  // Gathering and follower spin: the backend SDK's policy (see Lead, Append).
  backend::GatherPolicy gather_;
  backend::FollowerSpin spin_;
  bool leader_active_ = false;
  SqliteStats stats_;
};

}  // namespace estoria::sqlite::internal
