// estoria/postgres/postgres_snapshot_store.h: PostgresSnapshotStore, snapshots
// in the snapshots table of the Estoria schema (never part of the event log).
//
// Thread safety: safe for concurrent use from many threads (a small connection
// pool; no lock is held between calls).
#pragma once

#include <memory>
#include <string_view>

#include "estoria/postgres/postgres_options.h"
#include "estoria/snapshot_store.h"

namespace estoria::postgres {

class PostgresSnapshotStore final : public SnapshotStore {
 public:
  // Connects and creates/migrates the schema like PostgresEventStore::Open; the
  // same errors.
  static Result<std::shared_ptr<PostgresSnapshotStore>> Open(PostgresOptions options, SnapshotRetention retention = {});
  ~PostgresSnapshotStore() override;

  // SnapshotStore: statuses as documented in snapshot_store.h. Save and its
  // retention run in one transaction.
  Status Save(const Snapshot& snapshot) override;
  Result<Snapshot> Load(const TypeId& aggregate_id, int64_t max_version = 0) override;
  Result<std::vector<int64_t>> ListVersions(const TypeId& aggregate_id) override;
  Status DeleteBelow(const TypeId& aggregate_id, int64_t below_version) override;

  struct Core;  // implementation detail

 private:
  explicit PostgresSnapshotStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace estoria::postgres
