// estoria/memory/memory_stores.h: the in-memory snapshot, checkpoint,
// dead-letter and projection-version stores (estoria::memory, target
// estoria::memory). For tests, demos and single-process tools; nothing is
// persisted. Their SQLite and PostgreSQL counterparts live in
// estoria/sqlite/ and estoria/postgres/.
//
// Every store is opened like the other backends' stores, with a static Open
// returning Result<std::shared_ptr<...>>. The in-memory Open never fails (it
// returns a new, empty store), so `.value()` on its result is safe.
//
// Thread safety: every store is safe for concurrent use from many threads (one
// mutex per store).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/versioning.h"
#include "estoria/snapshot_store.h"

namespace estoria::memory {

struct MemorySnapshotStoreOptions {
  SnapshotRetention retention;  // Default: keep all.
};

// SnapshotStore: statuses as documented in snapshot_store.h.
class MemorySnapshotStore final : public SnapshotStore {
 public:
  static Result<std::shared_ptr<MemorySnapshotStore>> Open(MemorySnapshotStoreOptions options = {});
  explicit MemorySnapshotStore(MemorySnapshotStoreOptions options) : options_(options) {}

  Status Save(const Snapshot& snapshot) override;
  Result<Snapshot> Load(const TypeId& id, int64_t max_version) override;
  Result<std::vector<int64_t>> ListVersions(const TypeId& id) override;
  Status DeleteBelow(const TypeId& id, int64_t below_version) override;

 private:
  MemorySnapshotStoreOptions options_;
  std::mutex mu_;
  std::map<TypeId, std::map<int64_t, Snapshot>> snapshots_;
};

// CheckpointStore: statuses as documented in checkpoint_store.h.
class MemoryCheckpointStore final : public CheckpointStore {
 public:
  static Result<std::shared_ptr<MemoryCheckpointStore>> Open();

  Result<int64_t> Load(std::string_view name) override;
  Status Save(std::string_view name, int64_t position) override;
  Result<std::vector<Checkpoint>> List() override;
  Status Delete(std::string_view name) override;

 private:
  std::mutex mu_;
  std::map<std::string, Checkpoint> checkpoints_;
};

// DeadLetterStore with replay requests: statuses as documented in
// projection/dead_letter_store.h.
class MemoryDeadLetterStore final : public DeadLetterStore {
 public:
  static Result<std::shared_ptr<MemoryDeadLetterStore>> Open();

  Status Park(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> List(std::string_view projection) override;
  Result<DeadLetter> Get(std::string_view projection, int64_t global_position) override;
  Status Discard(std::string_view projection, int64_t global_position) override;
  Result<int64_t> RequestReplay(std::string_view projection, std::optional<int64_t> global_position) override;
  Result<std::vector<int64_t>> ListReplayRequests(std::string_view projection) override;
  Status ClearReplayRequest(std::string_view projection, int64_t global_position) override;

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, DeadLetter> letters_;
  std::set<std::pair<std::string, int64_t>> requested_;  // pending replay requests (always parked)
};

// VersionRegistry: statuses as documented in projection/versioning.h.
class MemoryVersionRegistry final : public VersionRegistry {
 public:
  static Result<std::shared_ptr<MemoryVersionRegistry>> Open();

  Result<int> ActiveVersion(std::string_view name) override;
  Status SetActiveVersion(std::string_view name, int version) override;

 private:
  std::mutex mu_;
  std::map<std::string, int> versions_;
};

}  // namespace estoria::memory
