#include <algorithm>
#include <map>
#include <mutex>

#include "estoria/backend/validation.h"
#include "estoria/memory/memory_stores.h"

namespace estoria::memory {

Status MemorySnapshotStore::Save(const Snapshot& snapshot) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateSnapshot(snapshot));
  std::lock_guard<std::mutex> lock(mu_);
  auto& versions = snapshots_[snapshot.aggregate_id];
  versions[snapshot.version] = snapshot;
  if (options_.retention.keep_last > 0) {
    while (static_cast<int64_t>(versions.size()) > options_.retention.keep_last) versions.erase(versions.begin());
  }
  return Status::Ok();
}

Result<Snapshot> MemorySnapshotStore::Load(const TypeId& id, int64_t max_version) {
  if (max_version < 0) return Status::InvalidArgument("snapshot load: negative max_version");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(id);
  if (it != snapshots_.end() && !it->second.empty()) {
    auto& versions = it->second;
    auto v = max_version == 0 ? versions.end() : versions.upper_bound(max_version);
    if (v != versions.begin()) return std::prev(v)->second;
  }
  return Status::NotFound("no snapshot of " + id.ToString() +
                          (max_version ? " at or below version " + std::to_string(max_version) : ""));
}

Result<std::vector<int64_t>> MemorySnapshotStore::ListVersions(const TypeId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> out;
  auto it = snapshots_.find(id);
  if (it != snapshots_.end())
    for (const auto& [v, s] : it->second) out.push_back(v);
  return out;
}

Status MemorySnapshotStore::DeleteBelow(const TypeId& id, int64_t below_version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(id);
  if (it == snapshots_.end()) return Status::Ok();
  auto& versions = it->second;
  if (below_version == 0) {
    snapshots_.erase(it);
  } else {
    versions.erase(versions.begin(), versions.lower_bound(below_version));
  }
  return Status::Ok();
}

Result<int64_t> MemoryCheckpointStore::Load(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = checkpoints_.find(std::string(name));
  return it == checkpoints_.end() ? 0 : it->second.position;
}
Status MemoryCheckpointStore::Save(std::string_view name, int64_t position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, position));
  std::lock_guard<std::mutex> lock(mu_);
  checkpoints_[std::string(name)] = Checkpoint{std::string(name), position, Now()};
  return Status::Ok();
}
Result<std::vector<Checkpoint>> MemoryCheckpointStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Checkpoint> out;
  for (const auto& [n, c] : checkpoints_) out.push_back(c);
  return out;
}
Status MemoryCheckpointStore::Delete(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (checkpoints_.erase(std::string(name)) == 0) {
    return Status::NotFound("no checkpoint named " + std::string(name));
  }
  return Status::Ok();
}

Result<std::shared_ptr<MemorySnapshotStore>> MemorySnapshotStore::Open(MemorySnapshotStoreOptions options) {
  return std::make_shared<MemorySnapshotStore>(options);
}

Result<std::shared_ptr<MemoryCheckpointStore>> MemoryCheckpointStore::Open() {
  return std::make_shared<MemoryCheckpointStore>();
}

}  // namespace estoria::memory
