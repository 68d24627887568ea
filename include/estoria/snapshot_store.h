// estoria/snapshot_store.h: SnapshotStore, where aggregate snapshots are kept
// (separately from event streams: snapshots never appear in ReadAll), and
// MemorySnapshotStore.
//
// Thread safety: every SnapshotStore implementation is safe for concurrent use
// from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria {

struct Snapshot {
  TypeId aggregate_id{};
  int64_t version = 0;     // the aggregate version the state corresponds to (>= 1)
  Timestamp timestamp{};   // when the snapshot was taken
  int schema_version = 1;  // the state schema version that wrote it
  std::string content_type = std::string(kJsonContentType);
  std::string data{};  // encoded state, stored verbatim
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

struct SnapshotRetention {
  // Keep only the newest N snapshots per aggregate after each Save; 0 = keep all.
  // Default 0.
  int64_t keep_last = 0;
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Stores a snapshot, replacing one of the same aggregate and version, then
  // applies the store's retention. Errors: InvalidArgument (version < 1, invalid
  // aggregate id), Unavailable, Internal.
  virtual Status Save(const Snapshot& snapshot) = 0;
  // The newest snapshot with version <= max_version (0 = no bound). Errors:
  // NotFound when there is none, InvalidArgument (max_version < 0), Unavailable,
  // Corruption, Internal.
  virtual Result<Snapshot> Load(const TypeId& aggregate_id, int64_t max_version = 0) = 0;
  // Versions stored for an aggregate, ascending (empty when none). Unavailable,
  // Internal.
  virtual Result<std::vector<int64_t>> ListVersions(const TypeId& aggregate_id) = 0;
  // Deletes the aggregate's snapshots with version < below_version (all when
  // below_version is 0). OK even when nothing matched. Unavailable, Internal.
  virtual Status DeleteBelow(const TypeId& aggregate_id, int64_t below_version) = 0;
};

}  // namespace estoria
