// estoria/sqlite/sqlite_snapshot_store.h: SqliteSnapshotStore, aggregate
// snapshots in an SQLite file (table estoria_snapshots), either the event
// store's file or another one.
//
// Thread safety: safe for concurrent use from many threads (one connection
// behind a mutex). Several processes may share the file (SQLite's locking,
// waiting up to busy_timeout, then Unavailable).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "estoria/event_store.h"
#include "estoria/snapshot_store.h"
#include "estoria/sqlite/database.h"

namespace estoria::sqlite {

class SqliteSnapshotStore final : public SnapshotStore {
 public:
  // Opens (creating when missing) the store. Errors as SqliteEventStore::Open:
  // InvalidArgument (empty path, missing directory), FailedPrecondition
  // (read-only file, newer schema; the file is not modified), Corruption (not
  // a database), Unavailable, Internal.
  static Result<std::shared_ptr<SqliteSnapshotStore>> Open(SqliteStoreOptions options,
                                                           SnapshotRetention retention = {});

  // SnapshotStore; statuses as in snapshot_store.h. Timestamps are stored in
  // microseconds, data verbatim.
  Status Save(const Snapshot& snapshot) override;
  Result<Snapshot> Load(const TypeId& aggregate_id, int64_t max_version = 0) override;
  Result<std::vector<int64_t>> ListVersions(const TypeId& aggregate_id) override;
  Status DeleteBelow(const TypeId& aggregate_id, int64_t below_version) override;

  SqliteSnapshotStore(std::unique_ptr<SqliteDatabase> db, SnapshotRetention retention);

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
  SnapshotRetention retention_;
};

}  // namespace estoria::sqlite
