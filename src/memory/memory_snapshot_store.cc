#include <algorithm>
#include <map>
#include <mutex>

#include "estoria/checkpoint_store.h"
#include "estoria/snapshot_store.h"

namespace estoria {

Status ValidateSnapshot(const Snapshot& s) {
  Status st = TypeId::ValidateTypeName(s.aggregate_id.type());
  if (!st.ok()) return st.WithContext("snapshot: invalid aggregate id");
  if (s.version < 1) return Status::InvalidArgument("snapshot: version must be >= 1, got " + std::to_string(s.version));
  return Status::Ok();
}

Status ValidateCheckpoint(std::string_view name, int64_t position) {
  if (name.empty()) return Status::InvalidArgument("checkpoint: empty name");
  if (position < 0) return Status::InvalidArgument("checkpoint " + std::string(name) + ": negative position");
  return Status::Ok();
}

namespace {

class MemorySnapshotStore : public SnapshotStore {
 public:
  explicit MemorySnapshotStore(MemorySnapshotStoreOptions o) : options_(o) {}

  Status Save(const Snapshot& snapshot) override {
    ESTORIA_RETURN_IF_ERROR(ValidateSnapshot(snapshot));
    std::lock_guard<std::mutex> lock(mu_);
    auto& versions = snapshots_[snapshot.aggregate_id];
    versions[snapshot.version] = snapshot;
    if (options_.retention.keep_last > 0) {
      while (static_cast<int64_t>(versions.size()) > options_.retention.keep_last) versions.erase(versions.begin());
    }
    return Status::Ok();
  }

  Result<Snapshot> Load(const TypeId& id, int64_t max_version) override {
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

  Result<std::vector<int64_t>> ListVersions(const TypeId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> out;
    auto it = snapshots_.find(id);
    if (it != snapshots_.end())
      for (const auto& [v, s] : it->second) out.push_back(v);
    return out;
  }

  Status DeleteBelow(const TypeId& id, int64_t below_version) override {
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

 private:
  MemorySnapshotStoreOptions options_;
  std::mutex mu_;
  std::map<TypeId, std::map<int64_t, Snapshot>> snapshots_;
};

class MemoryCheckpointStore : public CheckpointStore {
 public:
  Result<int64_t> Load(std::string_view name) override {
    ESTORIA_RETURN_IF_ERROR(ValidateCheckpoint(name, 0));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = checkpoints_.find(std::string(name));
    return it == checkpoints_.end() ? 0 : it->second.position;
  }
  Status Save(std::string_view name, int64_t position) override {
    ESTORIA_RETURN_IF_ERROR(ValidateCheckpoint(name, position));
    std::lock_guard<std::mutex> lock(mu_);
    checkpoints_[std::string(name)] = Checkpoint{std::string(name), position, Now()};
    return Status::Ok();
  }
  Result<std::vector<Checkpoint>> List() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Checkpoint> out;
    for (const auto& [n, c] : checkpoints_) out.push_back(c);
    return out;
  }
  Status Delete(std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (checkpoints_.erase(std::string(name)) == 0) {
      return Status::NotFound("no checkpoint named " + std::string(name));
    }
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  std::map<std::string, Checkpoint> checkpoints_;
};

}  // namespace

std::shared_ptr<SnapshotStore> NewMemorySnapshotStore(MemorySnapshotStoreOptions options) {
  return std::make_shared<MemorySnapshotStore>(options);
}
std::shared_ptr<CheckpointStore> NewMemoryCheckpointStore() { return std::make_shared<MemoryCheckpointStore>(); }

}  // namespace estoria
